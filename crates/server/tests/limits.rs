//! Unlinkability rule 5: anonymous posting is limited per login without
//! naming it — in Redis and in the in-process stand-in alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use serde_json::json;

async fn post_until_limited(t: &TestApp, limit: usize) -> (String, i64) {
    let (account_id, _) = t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    for i in 0..limit {
        t.post_status(&anon, json!({ "status": format!("post {i}") }))
            .await;
    }
    refused(t, &anon, "at most 3 per 60 minutes").await;
    (anon, account_id)
}

/// One post too many: 429 saying `why`, and nothing written.
async fn refused(t: &TestApp, token: &str, why: &str) {
    let before = t.row_counts().await;
    let r = t
        .post(
            "/api/v1/statuses",
            Some(token),
            json!({ "status": "one too many" }),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(
        r.json["error"].as_str().unwrap().contains(why),
        "{}",
        r.text
    );
    assert_eq!(
        t.row_counts().await,
        before,
        "a refused post writes nothing"
    );
}

fn limited_env(redis: Option<&str>) -> Vec<(&'static str, String)> {
    let mut env = vec![("GUISE_INSTANCE__ANONYMOUS_POSTS_PER_EPOCH", "3".to_string())];
    if let Some(url) = redis {
        env.push(("GUISE_REDIS_URL", url.to_string()));
    }
    env
}

#[actix_web::test]
async fn in_process_limits_anonymous_posts() {
    let env = limited_env(None);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = TestApp::with_env(&pairs).await;
    let (anon, _) = post_until_limited(&t, 3).await;
    // The next epoch on the grid starts afresh.
    t.clock.advance(chrono::Duration::hours(1));
    t.post_status(&anon, json!({ "status": "next hour" })).await;
}

#[actix_web::test]
async fn redis_limits_anonymous_posts_under_a_key_that_names_nobody() {
    let url = std::env::var("GUISE_TEST_REDIS_URL").expect("GUISE_TEST_REDIS_URL: run ./dev test");
    let env = limited_env(Some(&url));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = TestApp::with_env(&pairs).await;
    // EXPIREAT in the past would drop the key at once: run this test's clock in the present.
    let now = chrono::Utc::now();
    t.clock.set(now);
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys_before: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (_, account_id) = post_until_limited(&t, 3).await;
    let keys_after: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let new: Vec<&String> = keys_after
        .iter()
        .filter(|k| !keys_before.contains(k))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let key = new[0];
    assert_eq!(key.len(), 64);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!key.contains(&account_id.to_string()));
    // The value says nothing of how many: not a count, but a MAC of it
    // under the owner's key, shaped like any other owner's.
    let value: String = redis::cmd("GET")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(value.len(), 64, "{value}");
    assert!(value.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(value.parse::<u64>().is_err());
    t.create_account("bob").await;
    let bob = t.token_as("bob", "anonymous", "read write").await;
    t.post_status(&bob, json!({ "status": "just one" })).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let bobs: Vec<&String> = keys
        .iter()
        .filter(|k| !keys_before.contains(k) && *k != key)
        .collect();
    assert_eq!(bobs.len(), 1);
    let bob_value: String = redis::cmd("GET")
        .arg(bobs[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(bob_value.len(), value.len());
    assert_ne!(bob_value, value);
    // It expires at the end of its hour on the grid, not an hour after the first post.
    // PTTL rather than EXPIRETIME, which Redis before 7 lacks.
    let pttl: i64 = redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let expire_at = ((chrono::Utc::now().timestamp_millis() + pttl) as f64 / 1000.0).round() as i64;
    let ts = now.timestamp();
    assert_eq!(expire_at, (ts.div_euclid(3600) + 1) * 3600);
}

/// Per-tier posting limits, set live in the instance policy: a
/// pseudonymous face past its tier's limit gets 429 and nothing is written;
/// each face has its own budget; a tier without a limit and the anonymous
/// limit are untouched; the next epoch starts afresh; NodeInfo shows them.
#[actix_web::test]
async fn each_tier_has_its_own_posting_limit_set_live() {
    let t = TestApp::new().await;
    let (admin_login, _) = t.create_account("boss").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {admin_login}"
    ))
    .await;
    let admin = t.token("boss", "read write admin:read admin:write").await;
    let r = t
        .call(
            actix_web::http::Method::PUT,
            "/api/v1/admin/guise/instance_policy",
            Some(&admin),
            Some(common::Body::Json(
                json!({ "pseudonymous_posts_per_epoch": 2, "version": 1 }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["policy"]["real_name_posts_per_epoch"], 0);
    let (_, bob) = t.user("bob").await;
    let all = t.token_as("bob", "all", "read write").await;
    let second = t
        .post(
            "/api/v1/guise/faces",
            Some(&all),
            json!({ "handle": "bobs_other", "display_name": "Other Bob" }),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    for i in 0..2 {
        t.post_status(&bob, json!({ "status": format!("post {i}") }))
            .await;
    }
    refused(
        &t,
        &bob,
        "a pseudonymous face may make at most 2 per 60 minutes",
    )
    .await;
    // Another face has its own budget; anonymous posting its own limit.
    let other = t
        .post(
            "/api/v1/statuses",
            Some(&all),
            json!({ "status": "from the other face", "identity_id": second.json["id"] }),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    for i in 0..3 {
        t.post_status(&anon, json!({ "status": format!("anon {i}") }))
            .await;
    }
    let nodeinfo = t.get("/nodeinfo/2.1", None).await.json;
    assert_eq!(
        nodeinfo["metadata"]["guise"]["policy"]["pseudonymous_posts_per_epoch"],
        2
    );
    // The next epoch on the grid starts afresh.
    t.clock.advance(chrono::Duration::hours(1));
    t.post_status(&bob, json!({ "status": "next hour" })).await;
}
