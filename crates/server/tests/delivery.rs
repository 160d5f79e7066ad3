//! The delivery worker against a real local inbox, on the test clock: how
//! long it keeps trying, when it gives up, and what it remembers of a host.
//! `./dev test` runs this at dates far from today as well.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use guise_core::queue::{self, NewDelivery};
use guise_core::Clock;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An inbox on 127.0.0.1 answering every POST with `status` (changeable),
/// counting what it received.
struct Inbox {
    url: String,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicUsize>,
}

async fn inbox(status: u16) -> Inbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let status = Arc::new(AtomicU16::new(status));
    let hits = Arc::new(AtomicUsize::new(0));
    let (answer, counter) = (status.clone(), hits.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (answer, counter) = (answer.clone(), counter.clone());
            tokio::spawn(async move {
                // Read the whole request (head and body) before answering.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let code = answer.load(Ordering::SeqCst);
                let resp =
                    format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    Inbox {
        url: format!("http://127.0.0.1:{port}/inbox"),
        status,
        hits,
    }
}

async fn app() -> TestApp {
    TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await
}

async fn enqueue(t: &TestApp, inbox_url: &str) {
    let mut conn = t.state.db.conn().await.unwrap();
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://guise.test/activities/1", "type": "Delete",
        "actor": "https://guise.test/actor", "object": "https://guise.test/x"
    });
    queue::enqueue(
        &mut conn,
        t.clock.as_ref(),
        &[NewDelivery {
            inbox_url: inbox_url.to_owned(),
            signer_identity_id: None,
            activity: activity.into(),
            not_before: None,
        }],
    )
    .await
    .unwrap();
}

async fn deliver(t: &TestApp) -> usize {
    let urls = guise_federation::Urls::new("https://guise.test");
    guise_federation::delivery::deliver_once(
        &t.state.db,
        t.clock.as_ref(),
        &urls,
        &t.state.fetcher,
        10,
        &guise_federation::delivery::Settings::default(),
    )
    .await
    .unwrap()
}

/// The one queued delivery's next try, if it is still queued.
async fn next_at(t: &TestApp) -> Option<chrono::DateTime<chrono::Utc>> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::deliveries;
    let mut conn = t.state.db.conn().await.unwrap();
    deliveries::table
        .select(deliveries::next_at)
        .first(&mut conn)
        .await
        .optional()
        .unwrap()
}

#[actix_web::test]
async fn a_failing_inbox_is_retried_with_growing_delays_for_three_days_then_given_up() {
    let t = app().await;
    let ib = inbox(503).await;
    enqueue(&t, &ib.url).await;
    let start = t.clock.now();
    assert_eq!(deliver(&t).await, 1);
    assert_eq!(ib.hits.load(Ordering::SeqCst), 1);
    let mut delays = Vec::new();
    let mut tried_at = t.clock.now();
    while let Some(at) = next_at(&t).await {
        let delay = at - tried_at;
        delays.push(delay.num_seconds());
        // Not a moment early.
        t.clock.set(at - chrono::Duration::seconds(2));
        assert_eq!(deliver(&t).await, 0, "tried before its time");
        t.clock.set(at);
        tried_at = at;
        assert_eq!(deliver(&t).await, 1);
        assert!(delays.len() < 100, "never gave up: {delays:?}");
    }
    let span = tried_at - start;
    assert!(
        span >= chrono::Duration::days(3) && span <= chrono::Duration::hours(3 * 24 + 9),
        "gave up after {span:?}: {delays:?}"
    );
    // A minute first, growing, never past six hours and a half (jitter).
    assert!((59..=91).contains(&delays[0]), "{delays:?}");
    assert!(delays
        .windows(2)
        .all(|w| w[1] + 1 >= w[0] || w[1] >= 6 * 3600));
    assert!(delays.iter().all(|d| *d <= 9 * 3600), "{delays:?}");
    assert_eq!(ib.hits.load(Ordering::SeqCst), delays.len() + 1);
    // Each day it failed on is remembered for the host, by the test clock.
    let mut conn = t.state.db.conn().await.unwrap();
    let days = queue::host_failed_days(&mut conn, "127.0.0.1")
        .await
        .unwrap();
    let first_day = start.timestamp().div_euclid(86_400);
    let last_day = tried_at.timestamp().div_euclid(86_400);
    assert_eq!(days.first(), Some(&first_day), "{days:?}");
    assert_eq!(days.last(), Some(&last_day), "{days:?}");
}

#[actix_web::test]
async fn a_delivered_activity_leaves_nothing_and_a_success_clears_the_hosts_failures() {
    let t = app().await;
    let ib = inbox(500).await;
    enqueue(&t, &ib.url).await;
    assert_eq!(deliver(&t).await, 1);
    let mut conn = t.state.db.conn().await.unwrap();
    assert_eq!(
        queue::host_failed_days(&mut conn, "127.0.0.1")
            .await
            .unwrap(),
        vec![t.clock.now().timestamp().div_euclid(86_400)]
    );
    ib.status.store(202, Ordering::SeqCst);
    t.clock.set(next_at(&t).await.unwrap());
    assert_eq!(deliver(&t).await, 1);
    assert_eq!(next_at(&t).await, None);
    assert_eq!(ib.hits.load(Ordering::SeqCst), 2);
    assert!(queue::host_failed_days(&mut conn, "127.0.0.1")
        .await
        .unwrap()
        .is_empty());
}

/// A host failing on seven distinct days is unavailable: its deliveries are
/// skipped (counted, not kept), but for one probe a day, and the first
/// answer brings it back.
#[actix_web::test]
async fn an_unavailable_host_is_skipped_but_probed_once_a_day_and_comes_back() {
    let t = app().await;
    let ib = inbox(503).await;
    let today = t.clock.now().timestamp().div_euclid(86_400);
    let mut conn = t.state.db.conn().await.unwrap();
    let week: Vec<i64> = (1..=7).map(|d| today - d).collect();
    queue::set_host_failed_days(&mut conn, "127.0.0.1", &week)
        .await
        .unwrap();
    for _ in 0..3 {
        enqueue(&t, &ib.url).await;
    }
    assert_eq!(deliver(&t).await, 3);
    assert_eq!(ib.hits.load(Ordering::SeqCst), 1, "one probe");
    // The others waited for its answer; it failed, so today they are skipped.
    assert_eq!(deliveries_left(&t).await, 3);
    t.clock.advance(chrono::Duration::minutes(2));
    deliver(&t).await;
    assert_eq!(ib.hits.load(Ordering::SeqCst), 1);
    assert_eq!(deliveries_left(&t).await, 0);
    let counts = queue::counts(&mut conn).await.unwrap();
    assert!(
        counts.contains(&("deliveries_skipped_unavailable".to_owned(), 3)),
        "{counts:?}"
    );
    // The same day, nothing more reaches it.
    enqueue(&t, &ib.url).await;
    deliver(&t).await;
    assert_eq!(ib.hits.load(Ordering::SeqCst), 1);
    // The next day it is probed again, answers, and is available again.
    ib.status.store(202, Ordering::SeqCst);
    t.clock.advance(chrono::Duration::days(1));
    t.sql("DELETE FROM deliveries").await;
    enqueue(&t, &ib.url).await;
    enqueue(&t, &ib.url).await;
    deliver(&t).await;
    assert_eq!(ib.hits.load(Ordering::SeqCst), 2, "one probe only");
    assert!(queue::host_failed_days(&mut conn, "127.0.0.1")
        .await
        .unwrap()
        .is_empty());
    // The other waited for the probe's answer, and goes a minute later.
    assert_eq!(deliveries_left(&t).await, 1);
    t.clock.advance(chrono::Duration::seconds(61));
    deliver(&t).await;
    assert_eq!(deliveries_left(&t).await, 0, "once back, everything goes");
    assert_eq!(ib.hits.load(Ordering::SeqCst), 3);
}

async fn deliveries_left(t: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::deliveries;
    let mut conn = t.state.db.conn().await.unwrap();
    deliveries::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

/// The inboxes each activity of one event went to, as (type, inbox).
async fn queued(t: &TestApp) -> Vec<(String, String)> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::deliveries;
    let mut conn = t.state.db.conn().await.unwrap();
    let rows: Vec<(String, serde_json::Value)> = deliveries::table
        .select((deliveries::inbox_url, deliveries::activity))
        .load(&mut conn)
        .await
        .unwrap();
    let mut out: Vec<(String, String)> = rows
        .into_iter()
        .map(|(inbox, a)| (a["type"].as_str().unwrap_or("").to_owned(), inbox))
        .collect();
    out.sort();
    out
}

/// A server that follows only the shared announcer gets its Announce of a
/// public anonymous thread, and the post's later Update — never the
/// anonymous face's Create, which it would refuse as unsolicited.
#[actix_web::test]
async fn the_announcers_followers_get_its_announce_not_the_authors_create() {
    let t = app().await;
    t.keep_a_key_ready().await;
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::announcer::ensure(&mut conn, t.clock.as_ref(), true)
        .await
        .unwrap();
    let announcer = guise_core::announcer::active(&mut conn)
        .await
        .unwrap()
        .unwrap();
    let remote = remote_face_at(&t, &mut conn, "mitra.test", "m").await;
    // A remote actor's `discoverable` is kept as it said (it once read false).
    assert!(remote.discoverable);
    guise_core::remote::follow(
        &mut conn,
        t.clock.as_ref(),
        &remote,
        &announcer,
        "https://mitra.test/follows/1",
    )
    .await
    .unwrap();
    drop(conn);
    t.create_account("carol").await;
    let anon = t.token_as("carol", "anonymous", "read write").await;
    let urls = guise_federation::Urls::new("https://guise.test");
    let expand = || async {
        while guise_federation::delivery::expand_once(&t.state.db, t.clock.as_ref(), &urls, 10)
            .await
            .unwrap()
            > 0
        {}
    };
    expand().await;
    let before = queued(&t).await;
    let s = t
        .post_status(
            &anon,
            serde_json::json!({ "status": "a thread, anonymously", "visibility": "public" }),
        )
        .await;
    expand().await;
    let sent: Vec<(String, String)> = queued(&t)
        .await
        .into_iter()
        .filter(|x| !before.contains(x))
        .collect();
    let inbox = "https://mitra.test/users/m/inbox".to_owned();
    assert_eq!(
        sent,
        vec![("Announce".to_owned(), inbox.clone())],
        "{sent:?}"
    );
    // An edit does reach them: they hold the post through the Announce.
    let id = s["id"].as_str().unwrap();
    let r = t
        .call(
            actix_web::http::Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(&anon),
            Some(common::Body::Json(
                serde_json::json!({ "status": "a thread, edited" }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    expand().await;
    let after: Vec<(String, String)> = queued(&t).await;
    assert!(after.contains(&("Update".to_owned(), inbox)), "{after:?}");
}

/// A remote face on its own host, `{name}.test`, with its own inbox.
async fn remote_face(t: &TestApp, name: &str) -> guise_core::models::Identity {
    let mut conn = t.state.db.conn().await.unwrap();
    remote_face_at(t, &mut conn, &format!("{name}.test"), name).await
}

/// Every kind of activity Guise sends, each to exactly the inboxes with a
/// reason to take it — counted per inbox against a table. `n.test` knows
/// alice (it is stored here) but has no relation to her, and must hear
/// nothing at all.
#[actix_web::test]
async fn each_activity_goes_only_to_the_inboxes_that_want_it() {
    let t = app().await;
    t.keep_a_key_ready().await;
    let (alice_id, alice) = t.user("alice").await;
    let f = remote_face(&t, "f").await; // follows alice
    let m = remote_face(&t, "m").await; // mentioned by alice
    let a = remote_face(&t, "a").await; // follows the announcer only
    let x = remote_face(&t, "x").await; // wrote a note alice acts on
    let _n = remote_face(&t, "n").await; // no relation
    {
        let mut conn = t.state.db.conn().await.unwrap();
        let clock = t.clock.as_ref();
        let alice_face = guise_core::accounts::get_identity(&mut conn, alice_id.parse().unwrap())
            .await
            .unwrap();
        guise_core::remote::follow(
            &mut conn,
            clock,
            &f,
            &alice_face,
            "https://f.test/follows/1",
        )
        .await
        .unwrap();
        guise_core::announcer::ensure(&mut conn, clock, true)
            .await
            .unwrap();
        let announcer = guise_core::announcer::active(&mut conn)
            .await
            .unwrap()
            .unwrap();
        guise_core::remote::follow(&mut conn, clock, &a, &announcer, "https://a.test/follows/1")
            .await
            .unwrap();
        guise_core::remote::store_note(
            &mut conn,
            clock,
            &t.state.base_url,
            &x,
            guise_core::remote::RemoteNote {
                uri: "https://x.test/notes/1".into(),
                url: None,
                text: "x's note".into(),
                summary: String::new(),
                sensitive: false,
                visibility: guise_policy::Visibility::Public,
                published: t.clock.now(),
                in_reply_to: None,
                mentions: Vec::new(),
                hashtags: Vec::new(),
                attachments: serde_json::json!([]),
                emojis: serde_json::json!([]),
                poll: None,
                html: None,
            },
        )
        .await
        .unwrap();
    }
    let x_note = t
        .get("/api/v1/timelines/public?remote=true", Some(&alice))
        .await
        .json[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let x_id = x.id.to_string();
    let m_id = m.id.to_string();
    let urls = guise_federation::Urls::new("https://guise.test");
    // What one action queued: (activity type, inbox host), sorted.
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut sent = async |what: &str| -> Vec<(String, String)> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use guise_core::schema::deliveries;
        while guise_federation::delivery::expand_once(&t.state.db, t.clock.as_ref(), &urls, 10)
            .await
            .unwrap()
            > 0
        {}
        let mut conn = t.state.db.conn().await.unwrap();
        let rows: Vec<(i64, String, serde_json::Value)> = deliveries::table
            .select((deliveries::id, deliveries::inbox_url, deliveries::activity))
            .load(&mut conn)
            .await
            .unwrap();
        let mut new: Vec<(String, String)> = rows
            .iter()
            .filter(|(id, _, _)| seen.insert(*id))
            .map(|(_, inbox, a)| {
                (
                    a["type"].as_str().unwrap_or_default().to_owned(),
                    inbox.split('/').nth(2).unwrap_or_default().to_owned(),
                )
            })
            .collect();
        new.sort();
        assert!(
            !new.iter().any(|(_, h)| h == "n.test"),
            "{what} went to a server with no reason to take it: {new:?}"
        );
        new
    };
    let to = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, h)| (k.to_string(), format!("{h}.test")))
            .collect()
    };
    sent("setup").await;

    let p1 = t
        .post_status(
            &alice,
            serde_json::json!({ "status": "hello", "visibility": "public" }),
        )
        .await;
    assert_eq!(sent("a public post").await, to(&[("Create", "f")]));
    t.post_status(
        &alice,
        serde_json::json!({ "status": "hi @m@m.test", "visibility": "public" }),
    )
    .await;
    assert_eq!(
        sent("a public post mentioning m").await,
        to(&[("Create", "f"), ("Create", "m")])
    );
    t.post_status(
        &alice,
        serde_json::json!({ "status": "@m@m.test psst", "visibility": "direct" }),
    )
    .await;
    assert_eq!(sent("a direct post to m").await, to(&[("Create", "m")]));
    t.post_status(
        &alice,
        serde_json::json!({ "status": "friends", "visibility": "private" }),
    )
    .await;
    assert_eq!(sent("a followers-only post").await, to(&[("Create", "f")]));
    let p1_id = p1["id"].as_str().unwrap();
    let r = t
        .call(
            actix_web::http::Method::PUT,
            &format!("/api/v1/statuses/{p1_id}"),
            Some(&alice),
            Some(common::Body::Json(
                serde_json::json!({ "status": "hello, edited" }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sent("an edit").await, to(&[("Update", "f")]));
    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/statuses/{p1_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sent("a deletion").await, to(&[("Delete", "f")]));
    t.post(
        &format!("/api/v1/statuses/{x_note}/favourite"),
        Some(&alice),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(sent("a favourite of x's note").await, to(&[("Like", "x")]));
    t.post(
        &format!("/api/v1/statuses/{x_note}/reblog"),
        Some(&alice),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        sent("a boost of x's note").await,
        to(&[("Announce", "f"), ("Announce", "x")])
    );
    t.post(
        &format!("/api/v1/statuses/{x_note}/unfavourite"),
        Some(&alice),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(sent("an unfavourite").await, to(&[("Undo", "x")]));
    t.post(
        &format!("/api/v1/accounts/{x_id}/follow"),
        Some(&alice),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(sent("a follow of x").await, to(&[("Follow", "x")]));
    t.post(
        &format!("/api/v1/accounts/{m_id}/block"),
        Some(&alice),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(sent("a block of m").await, to(&[("Block", "m")]));
    let r = t
        .call(
            actix_web::http::Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(common::Body::Json(
                serde_json::json!({ "display_name": "Alice A." }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sent("a profile edit").await, to(&[("Update", "f")]));
    // An anonymous public thread: the announcer's followers get its boost.
    t.create_account("carol").await;
    let anon = t.token_as("carol", "anonymous", "read write").await;
    t.post_status(
        &anon,
        serde_json::json!({ "status": "anonymously", "visibility": "public" }),
    )
    .await;
    assert_eq!(sent("an anonymous thread").await, to(&[("Announce", "a")]));
}

/// A fan-out to many inboxes of one host does not hold back other hosts:
/// each host's first delivery is due at once, the rest of one host's follow
/// 200 µs apart, so the oldest-first lease interleaves hosts. One batch of
/// 60 then reaches every inbox (the big host's in one statement).
#[actix_web::test]
async fn a_big_fan_out_to_one_host_interleaves_with_other_hosts() {
    let t = app().await;
    let big = inbox(202).await;
    let small = inbox(202).await;
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://guise.test/activities/1", "type": "Delete",
        "actor": "https://guise.test/actor", "object": "https://guise.test/x"
    });
    let mut items: Vec<NewDelivery> = (0..50)
        .map(|i| NewDelivery {
            inbox_url: format!("{}/{i}", big.url),
            signer_identity_id: None,
            activity: activity.clone().into(),
            not_before: None,
        })
        .collect();
    items.push(NewDelivery {
        inbox_url: small.url.clone(),
        signer_identity_id: None,
        activity: activity.into(),
        not_before: None,
    });
    let mut conn = t.state.db.conn().await.unwrap();
    // The test clock moves a millisecond per read: hold it at one instant.
    let at = t.clock.now();
    t.clock.set(at);
    queue::enqueue(&mut conn, t.clock.as_ref(), &items)
        .await
        .unwrap();
    t.clock.set(at);
    let first = queue::lease_due(
        &mut conn,
        t.clock.as_ref(),
        10,
        chrono::Duration::minutes(5),
    )
    .await
    .unwrap();
    let hosts: Vec<&str> = first.iter().map(|d| d.inbox_url.as_str()).collect();
    assert_eq!(hosts.len(), 2, "one of each host is due now: {hosts:?}");
    assert!(hosts.contains(&small.url.as_str()), "{hosts:?}");
    drop(conn);
    t.clock.advance(chrono::Duration::minutes(10));
    let urls = guise_federation::Urls::new("https://guise.test");
    let tried = guise_federation::delivery::deliver_once(
        &t.state.db,
        t.clock.as_ref(),
        &urls,
        &t.state.fetcher,
        60,
        &guise_federation::delivery::Settings::default(),
    )
    .await
    .unwrap();
    assert_eq!(tried, 51);
    assert_eq!(big.hits.load(Ordering::SeqCst), 50);
    assert_eq!(small.hits.load(Ordering::SeqCst), 1);
    assert_eq!(next_at(&t).await, None, "all of them done");
}

/// A fan-out of thousands enqueued at one instant: ids of one millisecond
/// differ only in 20 random bits, so without care two of 5 000 would almost
/// surely collide and the whole expansion fail.
#[actix_web::test]
async fn thousands_of_deliveries_enqueued_at_one_instant_all_get_queued() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let t = app().await;
    let activity = serde_json::json!({ "type": "Delete" });
    let items: Vec<NewDelivery> = (0..5_000)
        .map(|i| NewDelivery {
            inbox_url: format!("https://host{}.test/inbox/{i}", i % 7),
            signer_identity_id: None,
            activity: activity.clone().into(),
            not_before: None,
        })
        .collect();
    let mut conn = t.state.db.conn().await.unwrap();
    queue::enqueue(&mut conn, t.clock.as_ref(), &items)
        .await
        .unwrap();
    let n: i64 = guise_core::schema::deliveries::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 5_000);
}

/// Two workers draining one queue at once (`SKIP LOCKED` leases) send each
/// delivery exactly once.
#[actix_web::test]
async fn two_workers_at_once_send_each_delivery_exactly_once() {
    let t = app().await;
    let target = inbox(202).await;
    let activity = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://guise.test/activities/1", "type": "Delete",
        "actor": "https://guise.test/actor", "object": "https://guise.test/x"
    });
    let items: Vec<NewDelivery> = (0..300)
        .map(|i| NewDelivery {
            inbox_url: format!("{}/{i}", target.url),
            signer_identity_id: None,
            activity: activity.clone().into(),
            not_before: None,
        })
        .collect();
    {
        let mut conn = t.state.db.conn().await.unwrap();
        queue::enqueue(&mut conn, t.clock.as_ref(), &items)
            .await
            .unwrap();
    }
    t.clock.advance(chrono::Duration::minutes(1));
    let urls = guise_federation::Urls::new("https://guise.test");
    let settings = guise_federation::delivery::Settings::default();
    let worker = || async {
        let mut tried = 0;
        loop {
            let n = guise_federation::delivery::deliver_once(
                &t.state.db,
                t.clock.as_ref(),
                &urls,
                &t.state.fetcher,
                25,
                &settings,
            )
            .await
            .unwrap();
            if n == 0 {
                return tried;
            }
            tried += n;
        }
    };
    let (a, b) = tokio::join!(worker(), worker());
    assert_eq!(a + b, 300, "tried: {a} + {b}");
    assert!(a > 0 && b > 0, "both workers took part: {a} + {b}");
    assert_eq!(target.hits.load(Ordering::SeqCst), 300);
    assert_eq!(next_at(&t).await, None);
}

/// Deliveries to a domain an admin blocks over the API stop at once:
/// queued ones are dropped unsent; once the block is lifted new ones go.
#[actix_web::test]
async fn a_domain_blocked_over_the_admin_api_gets_no_deliveries() {
    let t = app().await;
    let ib = inbox(202).await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    let made = t
        .post(
            "/api/v1/admin/domain_blocks",
            Some(&admin),
            serde_json::json!({ "domain": "127.0.0.1", "severity": "suspend" }),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    enqueue(&t, &ib.url).await;
    deliver(&t).await;
    assert_eq!(ib.hits.load(Ordering::SeqCst), 0, "nothing sent");
    assert_eq!(deliveries_left(&t).await, 0, "dropped, not kept");

    let id = made.json["id"].as_str().unwrap();
    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/admin/domain_blocks/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    enqueue(&t, &ib.url).await;
    assert_eq!(deliver(&t).await, 1);
    assert_eq!(ib.hits.load(Ordering::SeqCst), 1);
}

/// A report about a remote face, asked to be forwarded, goes to that
/// face's server as a `Flag` from the instance actor, naming the face and
/// the reported post — never the reporter, whose face is not in it.
/// Without `forward` nothing leaves.
#[actix_web::test]
async fn a_forwarded_report_reaches_the_faces_server_from_the_instance() {
    let t = app().await;
    let (bob_face, bob) = t.user("bob").await;
    let remy = remote_face(&t, "remy").await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use guise_core::schema::statuses as st;
        let mut conn = t.state.db.conn().await.unwrap();
        diesel::insert_into(st::table)
            .values((
                st::id.eq(900_000_001_i64),
                st::identity_id.eq(remy.id),
                st::content.eq("<p>rude</p>"),
                st::visibility.eq("public"),
                st::local.eq(false),
                st::uri.eq("https://remy.test/notes/1"),
                st::thread_root_id.eq(900_000_001_i64),
                st::source_text.eq("rude"),
                st::spoiler_text.eq(""),
                st::sensitive.eq(false),
                st::attachments.eq(serde_json::json!([])),
                st::emojis.eq(serde_json::json!([])),
                st::created_at.eq(t.clock.now()),
            ))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let report = |forward: bool| {
        let (t, bob) = (&t, bob.clone());
        async move {
            let r = t
                .post(
                    "/api/v1/reports",
                    Some(&bob),
                    serde_json::json!({ "account_id": remy.id.to_string(), "status_ids": ["900000001"],
                                        "comment": "please look", "forward": forward }),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json
        }
    };
    assert_eq!(report(false).await["forwarded"], false);
    assert!(queued(&t).await.is_empty(), "nothing leaves unasked");
    assert_eq!(report(true).await["forwarded"], true);
    assert_eq!(
        queued(&t).await,
        [(
            "Flag".to_owned(),
            "https://remy.test/users/remy/inbox".to_owned()
        )]
    );
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::deliveries;
    let mut conn = t.state.db.conn().await.unwrap();
    let (signer, flag): (Option<i64>, serde_json::Value) = deliveries::table
        .select((deliveries::signer_identity_id, deliveries::activity))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(signer, None, "signed by the instance actor");
    assert_eq!(flag["actor"], "https://guise.test/actor");
    assert_eq!(flag["content"], "please look");
    assert_eq!(
        flag["object"],
        serde_json::json!(["https://remy.test/users/remy", "https://remy.test/notes/1"])
    );
    let text = flag.to_string();
    assert!(!text.contains("bob") && !text.contains(&bob_face), "{text}");
}

/// Outbox expansion runs in lanes when there is a backlog: each event is
/// expanded exactly once, `limit` is kept across the lanes, and the count
/// of expanded events is what they returned.
#[actix_web::test]
async fn expansion_lanes_take_each_event_once() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::{outbox_events, worker_counts};
    let t = TestApp::new().await;
    let (alice, token) = t.user("alice").await;
    let mut conn = t.state.db.conn().await.unwrap();
    let alice = guise_core::accounts::get_identity(&mut conn, alice.parse().unwrap())
        .await
        .unwrap();
    let remote = remote_face_at(&t, &mut conn, "lanes.test", "l").await;
    guise_core::remote::follow(
        &mut conn,
        t.clock.as_ref(),
        &remote,
        &alice,
        "https://lanes.test/follows/1",
    )
    .await
    .unwrap();
    for n in 0..25 {
        t.post_status(&token, serde_json::json!({ "status": format!("post {n}") }))
            .await;
    }
    let waiting: i64 = outbox_events::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(waiting >= 25, "{waiting} events");
    let counted = async |conn: &mut guise_core::DbConn| -> i64 {
        worker_counts::table
            .filter(worker_counts::name.eq("outbox_events_expanded"))
            .select(worker_counts::value)
            .first(conn)
            .await
            .optional()
            .unwrap()
            .unwrap_or(0)
    };
    let before = counted(&mut conn).await;
    let urls = guise_federation::Urls::new("https://guise.test");
    let expand = async |limit| {
        guise_federation::delivery::expand_once(&t.state.db, t.clock.as_ref(), &urls, limit)
            .await
            .unwrap()
    };
    assert_eq!(expand(7).await, 7, "a limit holds across lanes");
    let rest = expand(1000).await;
    assert_eq!(7 + rest, usize::try_from(waiting).unwrap());
    assert_eq!(expand(1000).await, 0);
    assert_eq!(counted(&mut conn).await - before, waiting);
    // Each post went to the follower's inbox once.
    let creates: Vec<String> = queued(&t)
        .await
        .into_iter()
        .filter(|(kind, inbox)| kind == "Create" && inbox.contains("lanes.test"))
        .map(|(_, inbox)| inbox)
        .collect();
    assert_eq!(creates.len(), 25, "{creates:?}");
}

/// A remote pseudonymous face `user` of `host`, discoverable, with its own inbox.
async fn remote_face_at(
    t: &TestApp,
    conn: &mut guise_core::DbConn,
    host: &str,
    user: &str,
) -> guise_core::models::Identity {
    guise_core::remote::upsert(
        conn,
        t.clock.as_ref(),
        &guise_core::remote::RemoteFace {
            actor_url: format!("https://{host}/users/{user}"),
            domain: host.into(),
            username: user.into(),
            display_name: user.to_uppercase(),
            note: String::new(),
            inbox_url: format!("https://{host}/users/{user}/inbox"),
            shared_inbox_url: None,
            public_key_pem: String::new(),
            locked: false,
            bot: false,
            discoverable: true,
            avatar_url: None,
            header_url: None,
            tier: guise_policy::Tier::Pseudonymous,
            verified_by: None,
            profile: Default::default(),
            fields: serde_json::json!([]),
            published: None,
        },
    )
    .await
    .unwrap()
}
