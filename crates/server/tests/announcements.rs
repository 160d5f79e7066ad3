//! Announcements: written by staff, read by every token, dismissed per face
//! (sealed for "Anonymous" tokens), reacted to by faces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::json;

async fn admin(t: &TestApp) -> String {
    let (account, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {account}"
    ))
    .await;
    t.token("root", "read write admin:read admin:write").await
}

#[actix_web::test]
async fn staff_announce_faces_dismiss_and_react() {
    let t = TestApp::new().await;
    let staff = admin(&t).await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    // Only staff announce.
    let r = t
        .post(
            "/api/v1/admin/guise/announcements",
            Some(&alice),
            json!({ "text": "hi" }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let ends = (guise_core::clock::Clock::now(t.clock.as_ref()) + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = t
        .post(
            "/api/v1/admin/guise/announcements",
            Some(&staff),
            json!({ "text": "Maintenance tonight, see https://status.example.test #ops", "ends_at": ends }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = r.json["id"].as_str().unwrap().to_owned();
    assert!(r.json["content"]
        .as_str()
        .unwrap()
        .contains("href=\"https://status.example.test\""));
    let r = t
        .post(
            "/api/v1/admin/guise/announcements",
            Some(&staff),
            json!({ "text": "Welcome" }),
        )
        .await;
    let second = r.json["id"].as_str().unwrap().to_owned();
    let bad = t
        .post(
            "/api/v1/admin/guise/announcements",
            Some(&staff),
            json!({ "text": "" }),
        )
        .await;
    assert_eq!(bad.status, 422);

    let list = t.get("/api/v1/announcements", Some(&alice)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let ids: Vec<_> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(first), json!(second)]);
    assert_eq!(list.json[0]["read"], false);
    assert_eq!(list.json[0]["reactions"], json!([]));
    assert!(list.json[0]["ends_at"].is_string());

    // Reactions: counted across faces, `me` per viewer; only emoji.
    for (who, name) in [(&alice, "🎉"), (&bob, "🎉"), (&bob, "👍")] {
        let r = t
            .call(
                Method::PUT,
                &format!(
                    "/api/v1/announcements/{first}/reactions/{}",
                    urlencoding(name)
                ),
                Some(who),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/announcements/{first}/reactions/blobcat"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let list = t.get("/api/v1/announcements", Some(&alice)).await;
    assert_eq!(
        list.json[0]["reactions"],
        json!([{ "name": "🎉", "count": 2, "me": true }, { "name": "👍", "count": 1, "me": false }])
    );
    let r = t
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/announcements/{first}/reactions/{}",
                urlencoding("🎉")
            ),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let list = t.get("/api/v1/announcements", Some(&bob)).await;
    assert_eq!(
        list.json[0]["reactions"],
        json!([{ "name": "🎉", "count": 1, "me": false }, { "name": "👍", "count": 1, "me": true }])
    );

    // Dismissed: gone for alice (unless asked for), still there for bob.
    let r = t
        .post(
            &format!("/api/v1/announcements/{first}/dismiss"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = t.get("/api/v1/announcements", Some(&alice)).await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
    let list = t
        .get("/api/v1/announcements?with_dismissed=true", Some(&alice))
        .await;
    assert_eq!(list.json[0]["read"], true);
    assert_eq!(
        t.get("/api/v1/announcements", Some(&bob))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // An "Anonymous" token reads them, dismisses without a row, cannot react.
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let before = t.dump().await;
    let r = t
        .post(
            &format!("/api/v1/announcements/{second}/dismiss"),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(t.dump().await, before);
    let list = t
        .get("/api/v1/announcements?with_dismissed=true", Some(&anon))
        .await;
    let read: Vec<_> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["read"].clone())
        .collect();
    assert_eq!(read, vec![json!(false), json!(true)]);
    let r = t
        .call(
            Method::PUT,
            &format!(
                "/api/v1/announcements/{second}/reactions/{}",
                urlencoding("👍")
            ),
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(r.status, 422);

    // Edited, then ended: an ended announcement is no longer shown.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/admin/guise/announcements/{second}"),
            Some(&staff),
            Some(Body::Json(json!({ "text": "Welcome, all" }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["content"], "<p>Welcome, all</p>");
    t.clock.advance(chrono::Duration::days(2));
    let list = t.get("/api/v1/announcements", Some(&bob)).await;
    let ids: Vec<_> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(second)]);
    let r = t
        .post(
            &format!("/api/v1/announcements/{first}/dismiss"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/guise/announcements/{second}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.get("/api/v1/announcements", Some(&bob)).await.json,
        json!([])
    );
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
