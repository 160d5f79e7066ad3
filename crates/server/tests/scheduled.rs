//! Scheduled statuses: kept for persistent faces, published once when due.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use chrono::Duration;
use common::{Body, TestApp};
use guise_core::clock::Clock;
use serde_json::json;

fn at(t: &TestApp, ahead: Duration) -> String {
    (t.clock.now() + ahead).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[actix_web::test]
async fn a_scheduled_post_waits_can_move_and_is_published_when_due() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "later", "spoiler_text": "cw", "visibility": "unlisted",
                    "scheduled_at": at(&t, Duration::minutes(10)) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sid = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["params"]["text"], "later");
    assert_eq!(r.json["params"]["visibility"], "unlisted");
    assert_eq!(r.json["params"]["spoiler_text"], "cw");
    assert_eq!(r.json["media_attachments"], json!([]));
    assert!(r.json["scheduled_at"].as_str().unwrap().ends_with('Z'));
    // Nothing is posted yet.
    let page = t
        .get(
            &format!("/api/v1/accounts/{alice_face}/statuses"),
            Some(&alice),
        )
        .await;
    assert_eq!(page.json, json!([]));
    let list = t.get("/api/v1/scheduled_statuses", Some(&alice)).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
    assert_eq!(
        t.get(&format!("/api/v1/scheduled_statuses/{sid}"), Some(&alice))
            .await
            .json["id"],
        sid.as_str()
    );
    // Not bob's to see or move.
    assert_eq!(
        t.get(&format!("/api/v1/scheduled_statuses/{sid}"), Some(&bob))
            .await
            .status,
        404
    );
    assert_eq!(
        t.get("/api/v1/scheduled_statuses", Some(&bob)).await.json,
        json!([])
    );
    // Too soon, or not a time: 422, and nothing changes.
    for when in [at(&t, Duration::minutes(2)), "tomorrow".to_owned()] {
        let r = t
            .call(
                Method::PUT,
                &format!("/api/v1/scheduled_statuses/{sid}"),
                Some(&alice),
                Some(Body::Json(json!({ "scheduled_at": when }))),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.json["error"].is_string());
    }
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/scheduled_statuses/{sid}"),
            Some(&alice),
            Some(Body::Json(
                json!({ "scheduled_at": at(&t, Duration::hours(1)) }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Half an hour on: still waiting.
    t.clock.advance(Duration::minutes(30));
    let done = guise_server::jobs::run_once(&t.state).await.unwrap();
    assert_eq!(done.published, 0);
    // An hour on: published, once.
    t.clock.advance(Duration::minutes(31));
    let done = guise_server::jobs::run_once(&t.state).await.unwrap();
    assert_eq!(done.published, 1);
    let done = guise_server::jobs::run_once(&t.state).await.unwrap();
    assert_eq!(done.published, 0);
    let page = t
        .get(
            &format!("/api/v1/accounts/{alice_face}/statuses"),
            Some(&bob),
        )
        .await;
    assert_eq!(page.json.as_array().unwrap().len(), 1);
    assert_eq!(page.json[0]["spoiler_text"], "cw");
    assert_eq!(page.json[0]["visibility"], "unlisted");
    assert_eq!(
        t.get("/api/v1/scheduled_statuses", Some(&alice)).await.json,
        json!([])
    );
    // Cancelled: never published.
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "never", "scheduled_at": at(&t, Duration::minutes(6)) }),
        )
        .await;
    let sid = r.json["id"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/scheduled_statuses/{sid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    t.clock.advance(Duration::minutes(10));
    assert_eq!(
        guise_server::jobs::run_once(&t.state)
            .await
            .unwrap()
            .published,
        0
    );
}

#[actix_web::test]
async fn anonymous_posts_cannot_be_scheduled_and_an_anonymous_token_holds_none() {
    let t = TestApp::new().await;
    t.user("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let all = t.token_as("alice", "all", "read write").await;
    let before = t.dump().await;
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "later", "scheduled_at": at(&t, Duration::hours(1)) }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&all),
            json!({ "status": "later", "tier": "anonymous", "scheduled_at": at(&t, Duration::hours(1)) }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(t.dump().await, before);
    assert_eq!(
        t.get("/api/v1/scheduled_statuses", Some(&anon)).await.json,
        json!([])
    );
}

#[actix_web::test]
async fn two_workers_publish_each_due_post_once_and_drop_what_is_refused() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let parent = t.post_status(&bob, json!({ "status": "root" })).await;
    for i in 0..6 {
        let r = t
            .post(
                "/api/v1/statuses",
                Some(&alice),
                json!({ "status": format!("post {i}"), "scheduled_at": at(&t, Duration::minutes(6 + i)) }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A reply whose post is gone when it is due is dropped.
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "a reply", "in_reply_to_id": parent["id"],
                    "scheduled_at": at(&t, Duration::minutes(7)) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", parent["id"].as_str().unwrap()),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    t.clock.advance(Duration::minutes(20));
    let (a, b) = futures::join!(
        guise_server::jobs::run_once(&t.state),
        guise_server::jobs::run_once(&t.state)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.published + b.published, 6, "{a:?} {b:?}");
    assert_eq!(a.dropped + b.dropped, 1, "{a:?} {b:?}");
    let page = t
        .get(
            &format!("/api/v1/accounts/{alice_face}/statuses?limit=40"),
            Some(&alice),
        )
        .await;
    let mut texts: Vec<String> = page
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    assert_eq!(texts.len(), 6, "{texts:?}");
    assert!(texts.iter().all(|s| s.contains("post ")), "{texts:?}");
}
