//! Per-face counters (issue 13, item 3): exact at every moment, and kept
//! without a shared row that every post of a face would queue on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn pending(t: &TestApp) -> i64 {
    let mut conn = t.state.db.conn().await.unwrap();
    diesel::sql_query("SELECT count(*) AS n FROM identity_stat_deltas")
        .get_result::<N>(&mut conn)
        .await
        .unwrap()
        .n
}

async fn fold(t: &TestApp) -> i64 {
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::social::fold_stat_deltas(&mut conn)
        .await
        .unwrap()
}

async fn counts(t: &TestApp, face: &str) -> (i64, i64, i64) {
    let r = t.get(&format!("/api/v1/accounts/{face}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.json["statuses_count"].as_i64().unwrap(),
        r.json["followers_count"].as_i64().unwrap(),
        r.json["following_count"].as_i64().unwrap(),
    )
}

#[actix_web::test]
async fn counters_are_exact_before_and_after_folding() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let s = t
            .post_status(&alice, json!({ "status": format!("post {i}") }))
            .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    // Direct posts are not counted, as in Mastodon.
    t.post_status(
        &alice,
        json!({ "status": "@bob hi", "visibility": "direct" }),
    )
    .await;
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_face}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    assert!(pending(&t).await > 0, "the changes wait as deltas");
    assert_eq!(counts(&t, &alice_face).await, (3, 1, 0));
    assert_eq!(counts(&t, &bob_face).await, (0, 0, 1));
    assert!(fold(&t).await > 0);
    assert_eq!(pending(&t).await, 0);
    assert_eq!(counts(&t, &alice_face).await, (3, 1, 0));
    assert_eq!(counts(&t, &bob_face).await, (0, 0, 1));

    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/statuses/{}", ids[0]),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_face}/unfollow"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(counts(&t, &alice_face).await, (2, 0, 0));
    assert_eq!(counts(&t, &bob_face).await, (0, 0, 0));
    fold(&t).await;
    assert_eq!(counts(&t, &alice_face).await, (2, 0, 0));
    assert_eq!(counts(&t, &bob_face).await, (0, 0, 0));
    assert_eq!(fold(&t).await, 0, "nothing left to fold");
}

fn insert_statuses(face: &str, from: i64, n: i64) -> String {
    format!(
        "INSERT INTO statuses (id, identity_id, source_text, content, spoiler_text, sensitive, \
                               visibility, thread_root_id, local, created_at, attachments, emojis) \
         SELECT g, {face}, 'bulk', '<p>bulk</p>', '', false, 'public', g, true, now(), '[]', '[]' \
           FROM generate_series({from}::int8, {}::int8) AS g",
        from + n - 1
    )
}

/// The old row triggers made a second transaction posting as the same face
/// wait for the first to end (both updated one identity_stats row); an
/// import in one long transaction blocked that face's every post.
#[actix_web::test]
async fn posts_of_one_face_in_open_transactions_do_not_wait_on_each_other() {
    let t = TestApp::new().await;
    let (face, _) = t.user("alice").await;
    let base = 9_000_000_000_000_000_i64;
    let mut a = AsyncPgConnection::establish(&t.db_url).await.unwrap();
    let mut b = AsyncPgConnection::establish(&t.db_url).await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut a).await.unwrap();
    // A bulk import, still open: 20 000 statuses in one statement.
    diesel::sql_query(insert_statuses(&face, base, 20_000))
        .execute(&mut a)
        .await
        .unwrap();
    diesel::sql_query("SET lock_timeout = '2s'")
        .execute(&mut b)
        .await
        .unwrap();
    diesel::sql_query(insert_statuses(&face, base + 100_000, 1))
        .execute(&mut b)
        .await
        .expect("a post of the same face must not wait for the open import");
    assert_eq!(
        counts(&t, &face).await.0,
        1,
        "the import is not visible yet"
    );
    diesel::sql_query("COMMIT").execute(&mut a).await.unwrap();
    assert_eq!(counts(&t, &face).await.0, 20_001);
    fold(&t).await;
    assert_eq!(counts(&t, &face).await.0, 20_001);
    // Deleting them all in one statement counts down in one delta.
    diesel::sql_query(format!("DELETE FROM statuses WHERE identity_id = {face}"))
        .execute(&mut b)
        .await
        .unwrap();
    assert_eq!(pending(&t).await, 1);
    assert_eq!(counts(&t, &face).await.0, 0);
}

/// Rule 10: folding writes an anonymous face's counters in a transaction of
/// their own, never beside its owner's persistent faces' (one `xmin` would
/// tie them outright).
#[actix_web::test]
async fn folding_never_writes_anonymous_and_persistent_counters_together() {
    #[derive(diesel::QueryableByName)]
    struct X {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tier: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        x: String,
    }
    let t = TestApp::new().await;
    let (face, alice) = t.user("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let p = t.post_status(&anon, json!({ "status": "unsigned" })).await;
    t.post_status(&alice, json!({ "status": "signed" })).await;
    assert_eq!(fold(&t).await, 2);
    let mut conn = t.state.db.conn().await.unwrap();
    let rows: Vec<X> = diesel::sql_query(
        "SELECT i.tier, s.xmin::text AS x FROM identity_stats s JOIN identities i ON i.id = s.identity_id",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let anon_face = p["account"]["id"].as_str().unwrap();
    assert_ne!(anon_face, face);
    let of = |anonymous: bool| -> Vec<&str> {
        rows.iter()
            .filter(|r| (r.tier == "anonymous") == anonymous)
            .map(|r| r.x.as_str())
            .collect()
    };
    let (anonymous, others) = (of(true), of(false));
    assert_eq!(
        anonymous.len(),
        1,
        "the anonymous face's counters were folded"
    );
    assert!(!others.is_empty());
    for x in &anonymous {
        assert!(!others.contains(x), "one transaction wrote both: {x}");
    }
}

/// Folded deltas do not wait a minute or more for autovacuum: once
/// PostgreSQL counts more than the threshold of dead rows in a churned
/// table, `vacuum_churned` vacuums it (the jobs ask every ten seconds).
#[actix_web::test]
async fn folded_deltas_are_vacuumed_away() {
    let t = TestApp::new().await;
    let (face, _) = t.user("poster").await;
    t.sql(&format!(
        "INSERT INTO identity_stat_deltas (identity_id, statuses)
         SELECT {face}, 1 FROM generate_series(1, 3000)"
    ))
    .await;
    assert!(fold(&t).await >= 3000);
    assert_eq!(pending(&t).await, 0);
    let mut conn = t.state.db.conn().await.unwrap();
    let dead = async |conn: &mut AsyncPgConnection| -> i64 {
        diesel::sql_query(
            "SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = 'identity_stat_deltas'",
        )
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
    };
    // The deleting backend reports its counts when idle (within ten
    // seconds); asked to, it reports at once.
    for _ in 0..200 {
        if dead(&mut conn).await > 1_000 {
            break;
        }
        diesel::sql_query("SELECT pg_stat_force_next_flush()")
            .execute(&mut conn)
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        dead(&mut conn).await > 1_000,
        "PostgreSQL counted the dead deltas"
    );
    let done = guise_core::db::vacuum_churned(&mut conn, 1_000)
        .await
        .unwrap();
    assert!(done.iter().any(|t| t == "identity_stat_deltas"), "{done:?}");
    assert!(dead(&mut conn).await < 1_000, "vacuumed");
    // Below the threshold nothing is vacuumed again.
    let again = guise_core::db::vacuum_churned(&mut conn, 1_000)
        .await
        .unwrap();
    assert!(
        !again.iter().any(|t| t == "identity_stat_deltas"),
        "{again:?}"
    );
}
