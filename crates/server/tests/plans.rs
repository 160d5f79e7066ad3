//! Hot queries stay bounded by the page, not by the instance (issue 13).
//!
//! The template is seeded with some 50 000 statuses of one busy face (and
//! 20 000 notifications, favourites and bookmarks of another reader), all
//! newer than the quiet faces' posts a reader follows: a query that walks
//! the statuses table backwards and filters would read all of them before
//! it found one page. Each hot read runs on a connection with PostgreSQL's
//! `auto_explain` (ANALYZE, FORMAT JSON) sending every statement's plan
//! back as a notice; the rows each plan's scans read (returned plus
//! removed by filters, times loops) must stay within a small multiple of
//! the page. Not timed: rows read do not depend on the machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use diesel_async::AsyncPgConnection;
use futures::StreamExt;
use guise_core::statuses::Page;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

type Notices = Arc<Mutex<Vec<String>>>;

/// A connection whose every statement's plan comes back as a notice.
async fn explaining(url: &str) -> (AsyncPgConnection, Notices) {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let notices: Notices = Arc::default();
    let sink = notices.clone();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(n) = m {
                sink.lock().unwrap().push(n.message().to_owned());
            }
        }
    });
    client
        .batch_execute(
            "LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0;
             SET auto_explain.log_analyze = on;
             SET auto_explain.log_timing = off;
             SET auto_explain.log_nested_statements = on;
             SET auto_explain.log_format = json;
             SET auto_explain.log_level = notice;
             SET client_min_messages = notice;",
        )
        .await
        .unwrap();
    (AsyncPgConnection::try_from(client).await.unwrap(), notices)
}

/// Rows read by the scans of one plan node and its children.
fn rows_read(node: &Value) -> f64 {
    let own = if node.get("Relation Name").is_some() {
        let n = |k: &str| node.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        (n("Actual Rows") + n("Rows Removed by Filter") + n("Rows Removed by Index Recheck"))
            * n("Actual Loops")
    } else {
        0.0
    };
    own + node
        .get("Plans")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(rows_read).sum())
        .unwrap_or(0.0)
}

/// (rows read, query texts) over the plans noticed since `from`.
fn read_since(notices: &Notices, from: usize) -> (f64, Vec<(f64, String)>) {
    let all = notices.lock().unwrap();
    let mut total = 0.0;
    let mut each = Vec::new();
    for n in all.iter().skip(from) {
        let Some((_, plan)) = n.split_once("plan:") else {
            continue;
        };
        let plan: Value = serde_json::from_str(plan.trim()).expect(plan);
        let read = rows_read(&plan["Plan"]);
        total += read;
        let text = plan["Query Text"].as_str().unwrap_or("").to_owned();
        each.push((read, text.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    (total, each)
}

struct Checker {
    notices: Notices,
    report: Vec<String>,
    over: Vec<String>,
}

impl Checker {
    /// Runs nothing itself: measures what the caller ran since `mark`.
    fn mark(&self) -> usize {
        self.notices.lock().unwrap().len()
    }

    fn check(&mut self, what: &str, mark: usize, returned: usize, limit: usize) -> f64 {
        let (read, each) = read_since(&self.notices, mark);
        // A page of `limit` from a merge over a few authors reads up to
        // about `limit` rows per author that reaches the page; anything
        // that walks the table reads tens of thousands.
        let budget = (25 * limit.max(returned) + 300) as f64;
        self.report.push(format!(
            "{what}: {returned} returned, {read} rows read (budget {budget})"
        ));
        if read > budget {
            let mut worst = each;
            worst.sort_by(|a, b| b.0.total_cmp(&a.0));
            self.over.push(format!(
                "{what}: {read} rows read for {returned} returned (budget {budget}); heaviest: {:?}",
                worst.first()
            ));
        }
        read
    }
}

fn page(limit: i64) -> Page {
    Page {
        max_id: None,
        since_id: None,
        min_id: None,
        limit,
    }
}

#[actix_web::test]
async fn hot_queries_read_rows_bounded_by_the_page_not_the_instance() {
    let t = TestApp::new().await;
    let (reader_face, reader) = t.user("reader").await;
    let (busy_face, _) = t.user("busy").await;
    let (other_face, _) = t.user("other").await;
    let reader_id: i64 = reader_face.parse().unwrap();
    let mut quiet = Vec::new();
    for q in 0..10 {
        let (face, token) = t.user(&format!("quiet{q}")).await;
        for i in 0..3 {
            let text = if q == 0 {
                format!("rare {i} #rare")
            } else {
                format!("quiet {q} {i}")
            };
            t.post_status(&token, json!({ "status": text })).await;
        }
        let r = t
            .post(
                &format!("/api/v1/accounts/{face}/follow"),
                Some(&reader),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        quiet.push((face, token));
    }
    let list = t
        .post("/api/v1/lists", Some(&reader), json!({ "title": "some" }))
        .await;
    let list_id: i64 = list.json["id"].as_str().unwrap().parse().unwrap();
    let members: Vec<&str> = quiet.iter().take(5).map(|(f, _)| f.as_str()).collect();
    let r = t
        .post(
            &format!("/api/v1/lists/{list_id}/accounts"),
            Some(&reader),
            json!({ "account_ids": members }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let root = t
        .post_status(&reader, json!({ "status": "a thread" }))
        .await;
    let root_id = root["id"].as_str().unwrap();
    let reply = t
        .post_status(
            &quiet[1].1,
            json!({ "status": "@reader a reply", "in_reply_to_id": root_id }),
        )
        .await;
    for action in ["favourite", "bookmark"] {
        let r = t
            .post(
                &format!(
                    "/api/v1/statuses/{}/{action}",
                    reply["id"].as_str().unwrap()
                ),
                Some(&reader),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = t
        .post(
            &format!("/api/v1/statuses/{root_id}/favourite"),
            Some(&quiet[2].1),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // The rest of the instance, all newer than the above: 50 000 public
    // statuses of the busy face (half of them remote, a fifth #common, the
    // last 2 000 one long thread), and another reader's 20 000
    // notifications, favourites and bookmarks.
    let base = {
        #[derive(diesel::QueryableByName)]
        struct B {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            b: i64,
        }
        let mut conn = t.state.db.conn().await.unwrap();
        diesel_async::RunQueryDsl::get_result::<B>(
            diesel::sql_query("SELECT max(id) + 1000 AS b FROM statuses"),
            &mut conn,
        )
        .await
        .unwrap()
        .b
    };
    for sql in [
        format!(
            "INSERT INTO statuses (id, identity_id, source_text, content, spoiler_text, sensitive,
                                   visibility, thread_root_id, in_reply_to_id, in_reply_to_identity_id,
                                   local, created_at, attachments, emojis)
             SELECT {base} + g, {busy_face}, 'busy', '<p>busy</p>', '', false, 'public',
                    CASE WHEN g > 48000 THEN {base} + 48001 ELSE {base} + g END,
                    CASE WHEN g > 48001 THEN {base} + g - 1 END,
                    CASE WHEN g > 48001 THEN {busy_face} END,
                    g % 2 = 0, now(), '[]', '[]'
               FROM generate_series(1, 50000) AS g"
        ),
        format!(
            "INSERT INTO status_tags (status_id, name)
             SELECT {base} + g, 'common' FROM generate_series(1, 50000, 5) AS g"
        ),
        format!(
            "INSERT INTO notifications (id, identity_id, from_identity_id, kind, status_id, created_at)
             SELECT {base} + g, {other_face}, {busy_face}, 'mention', {base} + g, now()
               FROM generate_series(1, 20000) AS g"
        ),
        format!(
            "INSERT INTO favourites (id, identity_id, status_id)
             SELECT {base} + g, {other_face}, {base} + g FROM generate_series(1, 20000) AS g"
        ),
        format!(
            "INSERT INTO bookmarks (id, identity_id, status_id)
             SELECT {base} + g, {other_face}, {base} + g FROM generate_series(1, 20000) AS g"
        ),
        "ANALYZE".to_owned(),
    ] {
        t.sql(&sql).await;
    }

    let (mut conn, notices) = explaining(&t.db_url).await;
    let mut c = Checker {
        notices,
        report: Vec::new(),
        over: Vec::new(),
    };
    let conn = &mut conn;
    let viewer = Some(reader_id);

    // Home, then hydrated as the API does.
    let m = c.mark();
    let ids = guise_core::statuses::home_timeline(conn, reader_id, &page(20))
        .await
        .unwrap();
    c.check("home timeline", m, ids.len(), 20);
    assert_eq!(ids.len(), 20, "the reader's own and followed posts");
    let m = c.mark();
    let older = Page {
        max_id: ids.last().copied(),
        ..page(20)
    };
    let second = guise_core::statuses::home_timeline(conn, reader_id, &older)
        .await
        .unwrap();
    c.check("home timeline, second page", m, second.len(), 20);
    assert_eq!(
        second.len(),
        12,
        "32 in all: 30 quiet posts, the thread and its reply"
    );
    let m = c.mark();
    let views = guise_core::statuses::load_views(conn, viewer, &ids)
        .await
        .unwrap();
    c.check("hydrating the home page", m, views.len(), 20);

    let m = c.mark();
    let ids = guise_core::timelines::merged(
        conn,
        reader_id,
        &guise_core::timelines::Source::List {
            list_id,
            replies_policy: "list".into(),
        },
        &page(20),
    )
    .await
    .unwrap();
    c.check("list timeline", m, ids.len(), 20);
    assert_eq!(
        ids.len(),
        16,
        "five members' posts and one's reply to the reader"
    );

    for (what, who, local) in [
        ("public timeline", viewer, None),
        ("local timeline", viewer, Some(true)),
        ("remote timeline", viewer, Some(false)),
        ("local timeline, signed out", None, Some(true)),
    ] {
        let m = c.mark();
        let ids = guise_core::statuses::public_timeline(conn, who, local, &page(40))
            .await
            .unwrap();
        c.check(what, m, ids.len(), 40);
        assert_eq!(ids.len(), 40, "{what}");
    }

    for (tag, expect) in [("rare", 3), ("common", 40)] {
        let m = c.mark();
        let ids = guise_core::statuses::tag_timeline(conn, viewer, tag, &page(40))
            .await
            .unwrap();
        c.check(&format!("#{tag} timeline"), m, ids.len(), 40);
        assert_eq!(ids.len(), expect, "#{tag}");
    }

    for (what, author, expect) in [
        ("a quiet face's posts", quiet[3].0.parse().unwrap(), 3),
        ("the busy face's posts", busy_face.parse().unwrap(), 40),
    ] {
        let m = c.mark();
        let ids = guise_core::statuses::author_timeline(
            conn,
            viewer,
            author,
            guise_core::statuses::AuthorFilter::default(),
            &page(40),
        )
        .await
        .unwrap();
        c.check(what, m, ids.len(), 40);
        assert_eq!(ids.len(), expect, "{what}");
    }

    let m = c.mark();
    let n =
        guise_core::social::list_notifications(conn, &[reader_id], &Default::default(), &page(40))
            .await
            .unwrap();
    c.check("notifications", m, n.len(), 40);
    assert_eq!(n.len(), 2, "a mention and a favourite");

    let m = c.mark();
    let n = guise_core::social::list_notifications(
        conn,
        &[other_face.parse().unwrap()],
        &Default::default(),
        &page(40),
    )
    .await
    .unwrap();
    c.check("notifications of a busy reader", m, n.len(), 40);
    assert_eq!(n.len(), 40);

    let m = c.mark();
    let f = guise_core::keepings::favourites_of(conn, reader_id, &page(40))
        .await
        .unwrap();
    c.check("favourites", m, f.len(), 40);
    let m = c.mark();
    let bm = guise_core::keepings::bookmarks_of(conn, reader_id, &page(40))
        .await
        .unwrap();
    c.check("bookmarks", m, bm.len(), 40);
    assert_eq!((f.len(), bm.len()), (1, 1));

    let root = guise_core::statuses::get_status(conn, root_id.parse().unwrap())
        .await
        .unwrap();
    let m = c.mark();
    let (up, down) = guise_core::statuses::context(conn, viewer, &root)
        .await
        .unwrap();
    c.check("a short thread's context", m, up.len() + down.len(), 40);
    assert_eq!((up.len(), down.len()), (0, 1));

    // A post deep in a 2 000-post thread: its 256 nearest ancestors and
    // its replies, from the thread's index.
    let deep = guise_core::statuses::get_status(conn, base + 49_000)
        .await
        .unwrap();
    let m = c.mark();
    let (up, down) = guise_core::statuses::context(conn, viewer, &deep)
        .await
        .unwrap();
    c.check("a long thread's context", m, up.len() + down.len(), 40);
    assert_eq!((up.len(), down.len()), (256, 1000));

    // Hot statements stay prepared (`prepared::cached`), and after a few
    // runs PostgreSQL plans a prepared statement once for any values (a
    // generic plan) when that costs no more than planning each call — which
    // the page bounds (`statuses::cursor`) are written to allow, as
    // planning the home query cost three times running it. Forced here,
    // for first pages and deep ones, so a generic plan that walks the table
    // is caught whether or not the planner's costs would pick it today.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("SET plan_cache_mode = force_generic_plan"),
        conn,
    )
    .await
    .unwrap();
    let m = c.mark();
    let ids = guise_core::statuses::home_timeline(conn, reader_id, &page(20))
        .await
        .unwrap();
    c.check("home timeline, generic plan", m, ids.len(), 20);
    assert_eq!(ids.len(), 20);
    let m = c.mark();
    let older = Page {
        max_id: ids.last().copied(),
        ..page(20)
    };
    let second = guise_core::statuses::home_timeline(conn, reader_id, &older)
        .await
        .unwrap();
    c.check(
        "home timeline, second page, generic plan",
        m,
        second.len(),
        20,
    );
    assert_eq!(second.len(), 12);
    // Deep in the busy face's posts: a bound the plan must start from, not
    // filter on.
    let deep = Page {
        max_id: Some(base + 20_000),
        ..page(40)
    };
    let m = c.mark();
    let ids = guise_core::statuses::public_timeline(conn, viewer, Some(true), &deep)
        .await
        .unwrap();
    c.check("local timeline, deep page, generic plan", m, ids.len(), 40);
    assert_eq!(ids.first(), Some(&(base + 19_998)), "even ids are local");
    let m = c.mark();
    let since = Page {
        min_id: Some(base + 49_000),
        ..page(40)
    };
    let ids = guise_core::statuses::author_timeline(
        conn,
        viewer,
        busy_face.parse().unwrap(),
        guise_core::statuses::AuthorFilter::default(),
        &since,
    )
    .await
    .unwrap();
    c.check(
        "the busy face's posts, min_id, generic plan",
        m,
        ids.len(),
        40,
    );
    assert_eq!(
        (ids.first(), ids.last()),
        (Some(&(base + 49_040)), Some(&(base + 49_001))),
        "the 40 just above min_id, newest first"
    );
    let m = c.mark();
    let ids = guise_core::statuses::public_timeline(conn, viewer, Some(true), &page(40))
        .await
        .unwrap();
    c.check("local timeline, generic plan", m, ids.len(), 40);
    assert_eq!(ids.len(), 40);
    let m = c.mark();
    let ids = guise_core::statuses::tag_timeline(conn, viewer, "rare", &page(40))
        .await
        .unwrap();
    c.check("#rare timeline, generic plan", m, ids.len(), 40);
    assert_eq!(ids.len(), 3);
    let m = c.mark();
    let ids = guise_core::statuses::author_timeline(
        conn,
        viewer,
        quiet[3].0.parse().unwrap(),
        guise_core::statuses::AuthorFilter::default(),
        &page(40),
    )
    .await
    .unwrap();
    c.check("a quiet face's posts, generic plan", m, ids.len(), 40);
    assert_eq!(ids.len(), 3);
    let m = c.mark();
    let views = guise_core::statuses::load_views(conn, viewer, &ids)
        .await
        .unwrap();
    c.check("hydrating, generic plan", m, views.len(), 40);
    // The delivery worker leases a batch from the queue every round. Its
    // statement is prepared once per connection and, after an idle worker
    // has run it on an empty queue a few times, planned generically: the
    // lease walked the whole queue (seq scan, hash join) for each batch,
    // 119 ms a batch behind one post to 10 000 followers.
    let due_from = guise_core::Clock::now(t.clock.as_ref()).timestamp() - 3600;
    for sql in [
        "ANALYZE deliveries".to_owned(),
        format!(
            "INSERT INTO deliveries (id, inbox_url, activity, next_at)
             SELECT g, 'https://h' || (g % 10) || '.example/users/u' || g || '/inbox',
                    '{{\"type\": \"Create\"}}', to_timestamp({due_from}) + g * interval '1 ms'
               FROM generate_series(1, 5000) g"
        ),
    ] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), conn)
            .await
            .unwrap();
    }
    let m = c.mark();
    let leased =
        guise_core::queue::lease_due(conn, t.clock.as_ref(), 16, chrono::Duration::minutes(10))
            .await
            .unwrap();
    c.check(
        "leasing 16 of 5 000 due deliveries, generic plan",
        m,
        leased.len(),
        16,
    );
    assert_eq!(leased.len(), 16);
    diesel_async::RunQueryDsl::execute(diesel::sql_query("RESET plan_cache_mode"), conn)
        .await
        .unwrap();

    println!("{}", c.report.join("\n"));
    assert!(c.over.is_empty(), "{}", c.over.join("\n"));

    // The measure itself can fail: with index scans forbidden, the rare tag
    // walks the table and is caught.
    for off in ["SET enable_indexscan = off", "SET enable_bitmapscan = off"] {
        diesel_async::RunQueryDsl::execute(diesel::sql_query(off), conn)
            .await
            .unwrap();
    }
    let m = c.mark();
    let ids = guise_core::statuses::tag_timeline(conn, viewer, "rare", &page(40))
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let read = c.check("#rare with index scans off", m, ids.len(), 40);
    assert!(read > 50_000.0, "a walk reads the table: {read}");
}

/// The server's connections run without JIT compilation: at a million
/// statuses the planner's cost estimate for a home timeline crossed the JIT
/// thresholds and PostgreSQL spent 8 s compiling a 60 ms query.
#[actix_web::test]
async fn the_pool_connections_run_without_jit() {
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        jit: String,
    }
    let t = TestApp::new().await;
    let mut conn = t.state.db.conn().await.unwrap();
    let s: S = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT current_setting('jit') AS jit"),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(s.jit, "off");
}

/// The home and list merges run under their generic plan from the first
/// call: left to choose, PostgreSQL planned the home merge anew on every
/// call for a reader following few faces (its custom plan is costed lower
/// than the generic one), and planning took 63% of the machine in
/// `guise-bench profile growth`. The setting ends with the statement.
#[actix_web::test]
async fn timeline_merges_are_planned_once_per_connection() {
    #[derive(diesel::QueryableByName)]
    struct Plans {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic_plans: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        custom_plans: i64,
    }
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        mode: String,
    }
    let t = TestApp::new().await;
    let (reader_face, reader) = t.user("reader").await;
    let (quiet_face, quiet) = t.user("quiet").await;
    t.post_status(&quiet, json!({ "status": "now and then" }))
        .await;
    let r = t
        .post(
            &format!("/api/v1/accounts/{quiet_face}/follow"),
            Some(&reader),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let reader_id: i64 = reader_face.parse().unwrap();
    let mut conn = t.state.db.conn().await.unwrap();
    for _ in 0..8 {
        let ids = guise_core::statuses::home_timeline(&mut conn, reader_id, &page(20))
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
        let list = guise_core::timelines::Source::List {
            list_id: 0,
            replies_policy: "list".into(),
        };
        guise_core::timelines::merged(&mut conn, reader_id, &list, &page(20))
            .await
            .unwrap();
    }
    let plans: Vec<Plans> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements
              WHERE statement LIKE 'WITH a AS%'",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(plans.len(), 2, "the home and the list merge stay prepared");
    for p in plans {
        assert_eq!((p.generic_plans, p.custom_plans), (8, 0));
    }
    let s: S = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT current_setting('plan_cache_mode') AS mode"),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(s.mode, "auto", "the setting ends with the statement");
}

/// Hydrating one status (posting, an action on a post, a post's page) is
/// a statement PostgreSQL plans once: through `id = ANY($1)` with one
/// element its custom plan always looked cheaper than the generic one
/// (costed for a longer array), so it was planned anew on every call.
#[actix_web::test]
async fn one_status_is_hydrated_under_a_kept_plan() {
    #[derive(diesel::QueryableByName)]
    struct Plans {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic_plans: i64,
    }
    let t = TestApp::new().await;
    let (_, token) = t.user("poster").await;
    let posted = t.post_status(&token, json!({ "status": "once" })).await;
    let id: i64 = posted["id"].as_str().unwrap().parse().unwrap();
    let mut conn = t.state.db.conn().await.unwrap();
    for _ in 0..8 {
        let views = guise_core::statuses::load_views(&mut conn, None, &[id])
            .await
            .unwrap();
        assert_eq!(views.len(), 1);
    }
    let plans: Vec<Plans> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT generic_plans FROM pg_prepared_statements
              WHERE statement LIKE 'SELECT \"statuses\".\"id\", %FROM (\"statuses\" LEFT OUTER JOIN%'",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(!plans.is_empty(), "the status lookup stays prepared");
    assert!(
        plans.iter().any(|p| p.generic_plans > 0),
        "after five custom plans PostgreSQL keeps the generic one"
    );
}

/// The merge's transaction and setting go in one message, begun through
/// diesel's transaction manager: after a page the connection is out of
/// any transaction (the pool would discard one left in it), and inside a
/// caller's transaction the merge runs in a savepoint whose setting does
/// not outlive that transaction.
#[actix_web::test]
async fn a_merge_leaves_no_transaction_and_works_inside_one() {
    use diesel_async::AsyncConnection;
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        mode: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        at: String,
    }
    // In a transaction `now()` stands still from one statement to the next;
    // outside one every statement is a transaction of its own. (Within one
    // statement `now()` and `statement_timestamp()` differ under the
    // extended protocol, so they cannot tell.)
    async fn now(conn: &mut AsyncPgConnection) -> (String, String) {
        let mut read = Vec::new();
        for _ in 0..2 {
            let s: S = diesel_async::RunQueryDsl::get_result(
                diesel::sql_query(
                    "SELECT current_setting('plan_cache_mode') AS mode, now()::text AS at",
                ),
                &mut *conn,
            )
            .await
            .unwrap();
            read.push(s);
        }
        let state = if read[0].at == read[1].at {
            "in"
        } else {
            "out"
        };
        (read[1].mode.clone(), state.into())
    }
    let t = TestApp::new().await;
    let (reader_face, reader) = t.user("reader").await;
    t.post_status(&reader, json!({ "status": "mine" })).await;
    let reader_id: i64 = reader_face.parse().unwrap();
    let mut conn = t.state.db.conn().await.unwrap();
    assert_eq!(now(&mut conn).await, ("auto".into(), "out".into()));
    let ids = guise_core::statuses::home_timeline(&mut conn, reader_id, &page(20))
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(now(&mut conn).await, ("auto".into(), "out".into()));
    let inside = conn
        .transaction::<_, diesel::result::Error, _>(async |c| {
            let ids = guise_core::statuses::home_timeline(c, reader_id, &page(20))
                .await
                .unwrap();
            Ok((ids.len(), now(c).await))
        })
        .await
        .unwrap();
    assert_eq!(inside.0, 1);
    assert_eq!(inside.1 .1, "in", "still the caller's transaction");
    assert_eq!(now(&mut conn).await, ("auto".into(), "out".into()));
}

/// A page's boost counts are read through the boosted statuses' key. The
/// unique key on boosts led with the booster; with statistics taken before
/// one face boosted thousands of posts (the shared announcer does), the
/// kept plan of a page's counts walked all of that face's boosts: 2 000
/// rows for a page of 20, 1.1 ms of every home page in the bench.
#[actix_web::test]
async fn boosts_are_counted_by_the_boosted_status() {
    let t = TestApp::new().await;
    let (reader_face, _) = t.user("reader").await;
    let (author_face, author) = t.user("author").await;
    let (booster_face, _) = t.user("booster").await;
    let reader_id: i64 = reader_face.parse().unwrap();
    let posted = t
        .post_status(&author, json!({ "status": "boost me" }))
        .await;
    let page_id: i64 = posted["id"].as_str().unwrap().parse().unwrap();
    // Statistics from before the boosts, as on an instance between two
    // ANALYZE runs: 3 000 posts of the author, each boosted by the booster.
    t.sql("ANALYZE statuses").await;
    let base = page_id + 1_000;
    t.sql(&format!(
        "INSERT INTO statuses (id, identity_id, source_text, content, spoiler_text, sensitive,
                               visibility, thread_root_id, reblog_of_id, local, created_at,
                               attachments, emojis)
         SELECT {base} + g, {author_face}, 'post', '<p>post</p>', '', false, 'public',
                {base} + g, NULL::int8, true, now(), '[]'::jsonb, '[]'::jsonb
           FROM generate_series(1, 3000) AS g
         UNION ALL
         SELECT {base} + 3000 + g, {booster_face}, '', '', '', false, 'public',
                {base} + 3000 + g, {base} + g, true, now(), '[]', '[]'
           FROM generate_series(1, 3000) AS g"
    ))
    .await;
    let (mut conn, notices) = explaining(&t.db_url).await;
    let mut c = Checker {
        notices,
        report: Vec::new(),
        over: Vec::new(),
    };
    // Past the first five runs PostgreSQL may keep a generic plan.
    for run in 0..8 {
        let m = c.mark();
        let views = guise_core::statuses::load_views(&mut conn, Some(reader_id), &[page_id])
            .await
            .unwrap();
        assert_eq!(views.len(), 1);
        c.check(&format!("one post hydrated, run {run}"), m, 1, 1);
    }
    assert!(c.over.is_empty(), "{:#?}\n{:#?}", c.over, c.report);
}
