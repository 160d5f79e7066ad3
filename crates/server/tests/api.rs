//! The Mastodon API, black-box, against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::{Method, StatusCode};
use common::{Body, TestApp};
use serde_json::json;

#[actix_web::test]
async fn post_read_and_delete_a_status() {
    let t = TestApp::new().await;
    let (alice_id, alice) = t.user("alice").await;
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&alice))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["id"], alice_id);
    assert_eq!(me.json["username"], "alice");
    assert_eq!(me.json["acct"], "alice");
    assert_eq!(me.json["guise"]["tier"], "pseudonymous");
    assert_eq!(me.json["source"]["privacy"], "public");
    assert_eq!(
        me.json["created_at"],
        common::start().format("%Y-%m-%dT00:00:00.000Z").to_string()
    );
    // The login is never public.
    assert!(!me.text.contains("alice@mail.test"));

    let s = t
        .post_status(
            &alice,
            json!({ "status": "Hello <b>world</b> #Guise", "visibility": "public" }),
        )
        .await;
    assert_eq!(s["content"], "<p>Hello &lt;b&gt;world&lt;/b&gt; <a href=\"https://guise.test/tags/guise\" class=\"mention hashtag\" rel=\"tag\">#<span>Guise</span></a></p>");
    assert_eq!(s["account"]["id"], alice_id);
    assert_eq!(s["visibility"], "public");
    assert_eq!(s["tags"][0]["name"], "guise");
    assert_eq!(s["guise"]["tier"], "pseudonymous");
    assert_eq!(
        s["uri"],
        format!(
            "https://guise.test/users/alice/statuses/{}",
            s["id"].as_str().unwrap()
        )
    );
    let id = s["id"].as_str().unwrap().to_owned();

    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.status, 200);
    assert_eq!(home.json[0]["id"], id);
    let public = t.get("/api/v1/timelines/public", None).await;
    assert_eq!(public.json[0]["id"], id);
    assert!(
        public.json[0].get("favourited").is_none(),
        "no viewer flags without a viewer"
    );
    let local = t.get("/api/v1/timelines/public?local=true", None).await;
    assert_eq!(local.json.as_array().unwrap().len(), 1);

    let acc = t.get(&format!("/api/v1/accounts/{alice_id}"), None).await;
    assert_eq!(acc.json["statuses_count"], 1);
    assert_eq!(
        acc.json["last_status_at"],
        common::start().format("%Y-%m-%d").to_string()
    );
    let one = t.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(one.json["id"], id);

    let del = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(del.status, 200, "{}", del.text);
    assert_eq!(del.json["text"], "Hello <b>world</b> #Guise");
    let gone = t.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json, json!({ "error": "Record not found" }));
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.json, json!([]));
    let acc = t.get(&format!("/api/v1/accounts/{alice_id}"), None).await;
    assert_eq!(
        acc.json["statuses_count"], 0,
        "the counter follows deletions"
    );
}

#[actix_web::test]
async fn form_multipart_and_flexible_booleans() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let r = t
        .form(
            "/api/v1/statuses",
            Some(&alice),
            "status=via+form&sensitive=1&spoiler_text=cw&visibility=unlisted",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["sensitive"], true);
    assert_eq!(r.json["visibility"], "unlisted");
    let body = b"--B\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nvia multipart\r\n--B\r\nContent-Disposition: form-data; name=\"sensitive\"\r\n\r\nfalse\r\n--B--\r\n".to_vec();
    let r = t
        .call(
            Method::POST,
            "/api/v1/statuses",
            Some(&alice),
            Some(Body::Raw("multipart/form-data; boundary=B", body)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["content"], "<p>via multipart</p>");
    assert_eq!(r.json["sensitive"], false);
    // Trailing slashes are accepted (Mastodon.py asks for /api/v1/instance/).
    let i = t.get("/api/v1/instance/", None).await;
    assert_eq!(i.status, 200);
    assert_eq!(i.json["version"], "4.3.0 (compatible; Guise 0.1.0)");
}

#[actix_web::test]
async fn idempotency_key_returns_the_same_status() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
        let req = actix_web::test::TestRequest::post()
            .uri("/api/v1/statuses")
            .insert_header(("Authorization", format!("Bearer {alice}")))
            .insert_header(("Idempotency-Key", "abc-123"))
            .set_json(json!({ "status": "once" }))
            .to_request();
        let v: serde_json::Value = actix_web::test::call_and_read_body_json(&app, req).await;
        ids.push(v["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(t.row_counts().await["statuses"], 1);
}

/// (method, path, token, body, expected status, text the error must contain)
type RefusalCase<'a> = (
    Method,
    String,
    Option<&'a str>,
    Option<serde_json::Value>,
    u16,
    &'a str,
);

#[actix_web::test]
async fn refused_requests_change_nothing() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (bob_id, _bob) = t.user("bob").await;
    let read_only = t.token("alice", "read").await;
    let s = t.post_status(&alice, json!({ "status": "x" })).await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let before = t.row_counts().await;
    let long = "x".repeat(501);
    let cases: Vec<RefusalCase> = vec![
        (
            Method::POST,
            "/api/v1/statuses".into(),
            None,
            Some(json!({"status": "hi"})),
            401,
            "The access token is invalid",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some("bogus"),
            Some(json!({"status": "hi"})),
            401,
            "The access token is invalid",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&read_only),
            Some(json!({"status": "hi"})),
            403,
            "This action is outside the authorized scopes",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "  "})),
            422,
            "Text can't be blank",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": long})),
            422,
            "character limit of 500",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "visibility": "everyone"})),
            422,
            "visibility",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "tier": "wizard"})),
            422,
            "tier",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "tier": "anonymous"})),
            422,
            "tier",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "identity_id": bob_id})),
            422,
            "identity_id",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "in_reply_to_id": "1"})),
            422,
            "in_reply_to_id",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            Some(&alice),
            Some(json!({"status": "hi", "media_ids": ["1"]})),
            422,
            "media_ids",
        ),
        (
            Method::DELETE,
            "/api/v1/statuses/12345".into(),
            Some(&alice),
            None,
            404,
            "Record not found",
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&read_only),
            None,
            403,
            "outside the authorized scopes",
        ),
        (
            Method::POST,
            "/api/v1/accounts/999/follow".into(),
            Some(&alice),
            None,
            404,
            "Record not found",
        ),
        (
            Method::PUT,
            format!("/api/v1/statuses/{sid}"),
            Some(&alice),
            Some(json!({"status": ""})),
            422,
            "blank",
        ),
        (
            Method::GET,
            "/api/v1/nothing/here".into(),
            None,
            None,
            404,
            "Not Found",
        ),
    ];
    for (method, path, token, body, status, needle) in cases {
        let r = t
            .call(method.clone(), &path, token, body.map(Body::Json))
            .await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.text);
        let msg = r.json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no JSON error in {}", r.text));
        assert!(
            msg.contains(needle),
            "{method} {path}: {msg:?} lacks {needle:?}"
        );
        assert_eq!(
            t.row_counts().await,
            before,
            "{method} {path} wrote something"
        );
    }
    // A revoked token stops working.
    let (cid, csec) = t.register_app("read write").await;
    let tok = t
        .post("/oauth/token", None, json!({"grant_type": "password", "client_id": cid, "client_secret": csec, "username": "alice", "password": "password123", "scope": "read"}))
        .await
        .json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(&tok))
            .await
            .status,
        200
    );
    let r = t
        .post(
            "/oauth/revoke",
            None,
            json!({"client_id": cid, "client_secret": csec, "token": tok}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(&tok))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "The access token is invalid");
}

#[actix_web::test]
async fn oversized_bodies_are_refused() {
    let t = TestApp::with_env(&[("GUISE_SERVER__MAX_BODY_BYTES", "1000")]).await;
    let (_, alice) = t.user("alice").await;
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "y".repeat(2000) }),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["error"], "Request body too large");
}

/// Each endpoint needs its scope, and a token with only a sibling scope is refused.
#[actix_web::test]
async fn scope_table() {
    let t = TestApp::new().await;
    let (bob_id, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let s = t.post_status(&bob, json!({ "status": "target" })).await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let table: Vec<(Method, String, &str, &str)> = vec![
        (
            Method::GET,
            "/api/v1/timelines/home".into(),
            "read:statuses",
            "read:accounts",
        ),
        (
            Method::GET,
            "/api/v1/accounts/verify_credentials".into(),
            "read:accounts",
            "read:statuses",
        ),
        (
            Method::GET,
            "/api/v1/notifications".into(),
            "read:notifications",
            "read:statuses",
        ),
        (
            Method::GET,
            format!("/api/v1/accounts/relationships?id[]={bob_id}"),
            "read:follows",
            "read:accounts",
        ),
        (
            Method::GET,
            "/api/v1/blocks".into(),
            "read:blocks",
            "read:mutes",
        ),
        (
            Method::GET,
            "/api/v1/mutes".into(),
            "read:mutes",
            "read:blocks",
        ),
        (
            Method::POST,
            "/api/v1/statuses".into(),
            "write:statuses",
            "write:favourites",
        ),
        (
            Method::POST,
            format!("/api/v1/statuses/{sid}/favourite"),
            "write:favourites",
            "write:statuses",
        ),
        (
            Method::POST,
            format!("/api/v1/statuses/{sid}/reblog"),
            "write:statuses",
            "write:favourites",
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{bob_id}/follow"),
            "write:follows",
            "write:blocks",
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{bob_id}/block"),
            "write:blocks",
            "write:follows",
        ),
        (
            Method::POST,
            format!("/api/v1/accounts/{bob_id}/mute"),
            "write:mutes",
            "write:blocks",
        ),
        (
            Method::POST,
            "/api/v1/notifications/clear".into(),
            "write:notifications",
            "write:statuses",
        ),
    ];
    for (method, path, good, bad) in table {
        let body = || {
            if method == Method::POST {
                Some(Body::Json(json!({ "status": "scoped" })))
            } else {
                None
            }
        };
        let denied = t.token("alice", bad).await;
        let r = t.call(method.clone(), &path, Some(&denied), body()).await;
        assert_eq!(r.status, 403, "{method} {path} with {bad}: {}", r.text);
        let allowed = t.token("alice", good).await;
        let r = t.call(method.clone(), &path, Some(&allowed), body()).await;
        assert_eq!(r.status, 200, "{method} {path} with {good}: {}", r.text);
        let parent = good.split(':').next().unwrap();
        let broad = t.token("alice", parent).await;
        let r = t.call(method.clone(), &path, Some(&broad), body()).await;
        assert!(r.status == 200, "{method} {path} with {parent}: {}", r.text);
    }
}

#[actix_web::test]
async fn follows_blocks_mutes_and_relationships() {
    let t = TestApp::new().await;
    let (alice_id, alice) = t.user("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["following"], true);
    assert_eq!(r.json["id"], bob_id);
    let bobs = t
        .post_status(
            &bob,
            json!({ "status": "for followers", "visibility": "private" }),
        )
        .await;
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.json[0]["id"], bobs["id"]);
    let followers = t
        .get(&format!("/api/v1/accounts/{bob_id}/followers"), None)
        .await;
    assert_eq!(followers.json[0]["id"], alice_id);
    let bob_acc = t.get(&format!("/api/v1/accounts/{bob_id}"), None).await;
    assert_eq!(bob_acc.json["followers_count"], 1);
    // Private posts are hidden from the public.
    assert_eq!(
        t.get(
            &format!("/api/v1/statuses/{}", bobs["id"].as_str().unwrap()),
            None
        )
        .await
        .status,
        404
    );
    let n = t.get("/api/v1/notifications", Some(&bob)).await;
    assert_eq!(n.json[0]["type"], "follow");
    assert_eq!(n.json[0]["account"]["id"], alice_id);

    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={alice_id}"),
            Some(&bob),
        )
        .await;
    assert_eq!(rel.json[0]["followed_by"], true);
    assert_eq!(rel.json[0]["following"], false);

    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_id}/block"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.json["blocking"], true);
    assert_eq!(r.json["followed_by"], false, "blocking removes the follow");
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.json, json!([]));
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_id}/unblock"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.json["blocking"], false);
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/mute"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.json["muting"], true);
    assert_eq!(r.json["muting_notifications"], true);
    let r = t.get("/api/v1/mutes", Some(&alice)).await;
    assert_eq!(r.json[0]["id"], bob_id);
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_id}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 422);
}

#[actix_web::test]
async fn locked_faces_get_follow_requests() {
    let t = TestApp::new().await;
    let (alice_id, alice) = t.user("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = t.state.db.conn().await.unwrap();
        diesel::update(guise_core::schema::identities::table.find(bob_id.parse::<i64>().unwrap()))
            .set(guise_core::schema::identities::locked.eq(true))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.json["requested"], true);
    assert_eq!(r.json["following"], false);
    let reqs = t.get("/api/v1/follow_requests", Some(&bob)).await;
    assert_eq!(reqs.json[0]["id"], alice_id);
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&bob))
        .await
        .json;
    assert_eq!(me["source"]["follow_requests_count"], 1, "{me}");
    let n = t
        .get("/api/v1/notifications?types[]=follow_request", Some(&bob))
        .await;
    assert_eq!(n.json.as_array().unwrap().len(), 1);
    let r = t
        .post(
            &format!("/api/v1/follow_requests/{alice_id}/authorize"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["followed_by"], true);
    let r = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={bob_id}"),
            Some(&alice),
        )
        .await;
    assert_eq!(r.json[0]["following"], true);
    let r = t
        .post(
            &format!("/api/v1/follow_requests/{alice_id}/reject"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn replies_mentions_favourites_reblogs_and_notifications() {
    let t = TestApp::new().await;
    let (alice_id, alice) = t.user("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    let root = t.post_status(&alice, json!({ "status": "root" })).await;
    let root_id = root["id"].as_str().unwrap();
    let reply = t
        .post_status(
            &bob,
            json!({ "status": "@alice hi back", "in_reply_to_id": root_id }),
        )
        .await;
    assert_eq!(reply["in_reply_to_id"], root_id);
    assert_eq!(reply["in_reply_to_account_id"], alice_id);
    assert_eq!(reply["mentions"][0]["id"], alice_id);
    assert!(reply["content"]
        .as_str()
        .unwrap()
        .contains("class=\"u-url mention\""));
    let reply_id = reply["id"].as_str().unwrap();
    let ctx = t
        .get(&format!("/api/v1/statuses/{reply_id}/context"), None)
        .await;
    assert_eq!(ctx.json["ancestors"][0]["id"], root_id);
    let ctx = t
        .get(&format!("/api/v1/statuses/{root_id}/context"), None)
        .await;
    assert_eq!(ctx.json["descendants"][0]["id"], reply_id);

    // Ids within one millisecond are deliberately unordered (random low bits): step the clock.
    t.clock.advance(chrono::Duration::seconds(1));
    let fav = t
        .post(
            &format!("/api/v1/statuses/{root_id}/favourite"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(fav.json["favourited"], true);
    assert_eq!(fav.json["favourites_count"], 1);
    t.clock.advance(chrono::Duration::seconds(1));
    let rb = t
        .post(
            &format!("/api/v1/statuses/{root_id}/reblog"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(rb.status, 200, "{}", rb.text);
    assert_eq!(rb.json["reblog"]["id"], root_id);
    assert_eq!(rb.json["reblog"]["reblogged"], true);
    let by = t
        .get(&format!("/api/v1/statuses/{root_id}/favourited_by"), None)
        .await;
    assert_eq!(by.json[0]["id"], bob_id);
    let by = t
        .get(&format!("/api/v1/statuses/{root_id}/reblogged_by"), None)
        .await;
    assert_eq!(by.json[0]["id"], bob_id);
    let root_now = t
        .get(&format!("/api/v1/statuses/{root_id}"), Some(&alice))
        .await;
    assert_eq!(root_now.json["replies_count"], 1);
    assert_eq!(root_now.json["reblogs_count"], 1);

    let n = t.get("/api/v1/notifications", Some(&alice)).await;
    let kinds: Vec<&str> = n
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["reblog", "favourite", "mention"]);
    let n = t
        .get(
            "/api/v1/notifications?exclude_types[]=mention&limit=1",
            Some(&alice),
        )
        .await;
    assert_eq!(n.json.as_array().unwrap().len(), 1);
    assert!(n
        .headers
        .get("Link")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("max_id="));
    let nid = n.json[0]["id"].as_str().unwrap();
    assert_eq!(
        t.get(&format!("/api/v1/notifications/{nid}"), Some(&alice))
            .await
            .json["id"],
        nid
    );
    assert_eq!(
        t.get(&format!("/api/v1/notifications/{nid}"), Some(&bob))
            .await
            .status,
        404
    );
    assert_eq!(
        t.post(
            &format!("/api/v1/notifications/{nid}/dismiss"),
            Some(&alice),
            json!({})
        )
        .await
        .status,
        200
    );
    assert_eq!(
        t.post("/api/v1/notifications/clear", Some(&alice), json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        t.get("/api/v1/notifications", Some(&alice)).await.json,
        json!([])
    );

    let un = t
        .post(
            &format!("/api/v1/statuses/{root_id}/unreblog"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(un.json["reblogged"], false);
    let un = t
        .post(
            &format!("/api/v1/statuses/{root_id}/unfavourite"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(un.json["favourited"], false);
    assert_eq!(un.json["favourites_count"], 0);
}

#[actix_web::test]
async fn edits_keep_history_and_source() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let s = t.post_status(&alice, json!({ "status": "first" })).await;
    let id = s["id"].as_str().unwrap();
    t.clock.advance(chrono::Duration::minutes(5));
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(&alice),
            Some(Body::Json(json!({ "status": "second" }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["content"], "<p>second</p>");
    // The test clock moves a millisecond per reading: the edit lands just after 12:05.
    assert!(
        r.json["edited_at"].as_str().unwrap().starts_with(
            &(common::start() + chrono::Duration::minutes(5))
                .format("%Y-%m-%dT%H:%M:%S.")
                .to_string()
        ),
        "{}",
        r.json["edited_at"]
    );
    let h = t.get(&format!("/api/v1/statuses/{id}/history"), None).await;
    let versions: Vec<&str> = h
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["content"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["<p>first</p>", "<p>second</p>"]);
    let src = t
        .get(&format!("/api/v1/statuses/{id}/source"), Some(&alice))
        .await;
    assert_eq!(src.json["text"], "second");
    // Someone else's status cannot be edited or deleted.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(&bob),
            Some(Body::Json(json!({ "status": "hijack" }))),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{id}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
}

#[actix_web::test]
async fn timelines_paginate_with_link_headers() {
    let t = TestApp::new().await;
    let (alice_id, alice) = t.user("alice").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        t.clock.advance(chrono::Duration::seconds(1));
        ids.push(
            t.post_status(&alice, json!({ "status": format!("post {i}") }))
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page1 = t.get("/api/v1/timelines/home?limit=2", Some(&alice)).await;
    let got: Vec<&str> = page1
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
    let link = page1
        .headers
        .get("Link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        link.contains(&format!(
            "https://guise.test/api/v1/timelines/home?limit=2&max_id={}>; rel=\"next\"",
            ids[3]
        )),
        "{link}"
    );
    assert!(
        link.contains(&format!("min_id={}>; rel=\"prev\"", ids[4])),
        "{link}"
    );
    let page2 = t
        .get(
            &format!("/api/v1/timelines/home?limit=2&max_id={}", ids[3]),
            Some(&alice),
        )
        .await;
    let got: Vec<&str> = page2
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    // min_id returns the page just above, newest first.
    let up = t
        .get(
            &format!("/api/v1/timelines/public?limit=2&min_id={}", ids[0]),
            None,
        )
        .await;
    let got: Vec<&str> = up
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()]);
    let since = t
        .get(
            &format!("/api/v1/timelines/public?since_id={}", ids[2]),
            None,
        )
        .await;
    assert_eq!(since.json.as_array().unwrap().len(), 2);
    let by_author = t
        .get(
            &format!("/api/v1/accounts/{alice_id}/statuses?limit=1"),
            None,
        )
        .await;
    assert_eq!(by_author.json[0]["id"], ids[4]);
    let lookup = t
        .get("/api/v1/accounts/lookup?acct=alice@guise.test", None)
        .await;
    assert_eq!(lookup.json["id"], alice_id);
}

#[actix_web::test]
async fn start_up_endpoints_answer_the_right_shape() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    for (path, want) in [
        ("/api/v1/custom_emojis", json!([])),
        ("/api/v1/filters", json!([])),
        ("/api/v2/filters", json!([])),
        ("/api/v1/markers", json!({})),
        ("/api/v1/announcements", json!([])),
        ("/api/v1/lists", json!([])),
        ("/api/v1/followed_tags", json!([])),
        ("/api/v1/trends/tags", json!([])),
        ("/api/v2/suggestions", json!([])),
    ] {
        let r = t.get(path, Some(&alice)).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json, want, "{path}");
    }
    let v2 = t.get("/api/v2/instance", None).await;
    assert_eq!(v2.json["domain"], "guise.test");
    assert_eq!(v2.json["configuration"]["statuses"]["max_characters"], 500);
    assert_eq!(v2.json["api_versions"]["mastodon"], 2);
    assert_eq!(
        v2.json["configuration"]["urls"]["streaming"],
        "wss://guise.test"
    );
    let v1 = t.get("/api/v1/instance", None).await;
    assert_eq!(v1.json["urls"]["streaming_api"], "wss://guise.test");
    let ni = t.get("/.well-known/nodeinfo", None).await;
    assert_eq!(
        ni.json["links"][1]["href"],
        "https://guise.test/nodeinfo/2.1"
    );
    let doc = t.get("/nodeinfo/2.1", None).await;
    assert_eq!(doc.json["software"]["name"], "guise");
    assert_eq!(doc.json["usage"]["users"]["total"], 1);
    assert_eq!(doc.json["metadata"]["guise"]["ip_logging"], false);
    assert_eq!(
        doc.json["metadata"]["guise"]["anonymous_ownership"],
        "sealed"
    );
    assert_eq!(
        doc.json["metadata"]["guise"]["tiers"],
        json!(["real_name", "pseudonymous", "anonymous"])
    );
    let prefs = t.get("/api/v1/preferences", Some(&alice)).await;
    assert_eq!(prefs.json["posting:default:visibility"], "public");
    let meta = t.get("/.well-known/oauth-authorization-server", None).await;
    assert_eq!(
        meta.json["token_endpoint"],
        "https://guise.test/oauth/token"
    );
}

/// The browser flow: sign in, pick a face, get a code, trade it with PKCE.
#[actix_web::test]
async fn authorization_code_flow_with_pkce_binds_the_picked_face() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    let r = t
        .post("/api/v1/apps", None, json!({ "client_name": "web", "redirect_uris": "https://app.test/cb", "scopes": "read write" }))
        .await;
    let cid = r.json["client_id"].as_str().unwrap().to_owned();
    let csec = r.json["client_secret"].as_str().unwrap().to_owned();
    let verifier = "a-long-random-verifier-string-for-pkce-0123456789";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let q = format!("response_type=code&client_id={cid}&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&scope=read+write&state=xyz&code_challenge={challenge}&code_challenge_method=S256");
    let page = t.get(&format!("/oauth/authorize?{q}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("name=\"password\""));
    let wrong = t
        .form(
            "/oauth/authorize",
            None,
            &format!("{q}&login=alice&password=nope"),
        )
        .await;
    assert!(wrong.text.contains("Invalid email, username or password"));
    let (picker, pending) = t.sign_in(&q, "alice%40mail.test").await;
    assert!(
        picker.text.contains(&format!("value=\"{face}\"")),
        "{}",
        picker.text
    );
    let done = t.pick_face(&q, &pending, face).await;
    assert_eq!(done.status, 302);
    let location = done.headers.get("Location").unwrap().to_str().unwrap();
    assert!(
        location.starts_with("https://app.test/cb?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz"));
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let bad = t
        .post("/oauth/token", None, json!({ "grant_type": "authorization_code", "client_id": cid, "code": code, "redirect_uri": "https://app.test/cb", "code_verifier": "wrong" }))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["error"], "invalid_grant");
    // The code was consumed by the failed attempt: do the dance again.
    let (_, pending) = t.sign_in(&q, "alice").await;
    let done = t.pick_face(&q, &pending, face).await;
    let code = common::code_in_location(&done);
    let code = code.as_str();
    let tok = t
        .post("/oauth/token", None, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": code, "redirect_uri": "https://app.test/cb", "code_verifier": verifier }))
        .await;
    assert_eq!(tok.status, 200, "{}", tok.text);
    assert_eq!(tok.json["scope"], "read write");
    assert_eq!(tok.json["token_type"], "Bearer");
    let access = tok.json["access_token"].as_str().unwrap();
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(access))
        .await;
    assert_eq!(me.json["id"], face.to_string());
    // Codes are single-use.
    let again = t
        .post("/oauth/token", None, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": code, "redirect_uri": "https://app.test/cb", "code_verifier": verifier }))
        .await;
    assert_eq!(again.status, 400);
    // Refresh keeps the binding and retires the old token.
    let refreshed = t
        .post("/oauth/token", None, json!({ "grant_type": "refresh_token", "client_id": cid, "client_secret": csec, "refresh_token": tok.json["refresh_token"] }))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let new_access = refreshed.json["access_token"].as_str().unwrap();
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(new_access))
            .await
            .json["id"],
        face.to_string()
    );
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(access))
            .await
            .status,
        401
    );
}

#[actix_web::test]
async fn codes_expire_by_the_clock() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    let (cid, csec) = t.register_app("read").await;
    let q = format!("response_type=code&client_id={cid}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read");
    let (_, pending) = t.sign_in(&q, "alice").await;
    let done = t.pick_face(&q, &pending, face).await;
    assert!(
        done.text.contains(&pending),
        "out-of-band flow shows the code"
    );
    t.clock.advance(chrono::Duration::minutes(11));
    let tok = t
        .post("/oauth/token", None, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": pending, "redirect_uri": "urn:ietf:wg:oauth:2.0:oob" }))
        .await;
    assert_eq!(tok.status, 400);
    assert_eq!(tok.json["error"], "invalid_grant");
}

#[actix_web::test]
async fn tokens_cannot_be_bound_to_someone_elses_face() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (_, bob_face) = t.create_account("bob").await;
    let (cid, csec) = t.register_app("read").await;
    let r = t
        .post("/oauth/token", None, json!({ "grant_type": "password", "client_id": cid, "client_secret": csec, "username": "alice", "password": "password123", "face": bob_face.to_string() }))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let q = format!("response_type=code&client_id={cid}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read");
    let (_, pending) = t.sign_in(&q, "alice").await;
    let r = t.pick_face(&q, &pending, bob_face).await;
    assert_eq!(r.status, 422, "{}", r.text);
    // Scopes beyond the app's are refused; client_credentials act as no one.
    let r = t.post("/oauth/token", None, json!({ "grant_type": "client_credentials", "client_id": cid, "client_secret": csec, "scope": "write" })).await;
    assert_eq!(r.json["error"], "invalid_scope");
    let r = t
        .post(
            "/oauth/token",
            None,
            json!({ "grant_type": "client_credentials", "client_id": cid, "client_secret": csec }),
        )
        .await;
    let app_token = r.json["access_token"].as_str().unwrap();
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(app_token))
        .await;
    assert_eq!(r.status, 422);
    let r = t
        .get("/api/v1/apps/verify_credentials", Some(app_token))
        .await;
    assert_eq!(r.json["name"], "test");
    let r = t.post("/oauth/token", None, json!({ "grant_type": "password", "client_id": cid, "client_secret": "wrong", "username": "alice", "password": "password123" })).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json["error"], "invalid_client");
}

#[actix_web::test]
async fn following_with_notify_brings_status_notifications() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&alice),
            json!({ "notify": true, "reblogs": false }),
        )
        .await;
    assert_eq!(r.json["notifying"], true);
    assert_eq!(r.json["showing_reblogs"], false);
    let s = t.post_status(&bob, json!({ "status": "news" })).await;
    t.post_status(&bob, json!({ "status": "secret", "visibility": "direct" }))
        .await;
    let n = t
        .get("/api/v1/notifications?types[]=status", Some(&alice))
        .await;
    assert_eq!(n.json.as_array().unwrap().len(), 1, "{}", n.text);
    assert_eq!(n.json[0]["status"]["id"], s["id"]);
}

/// A thread's context costs the same few queries however long the thread.
#[actix_web::test]
async fn a_threads_context_costs_a_fixed_number_of_queries() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Count(Arc<AtomicUsize>);
    impl diesel::connection::Instrumentation for Count {
        fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
            if matches!(
                event,
                diesel::connection::InstrumentationEvent::StartQuery { .. }
            ) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let mut queries = Vec::new();
    for len in [3, 40] {
        let root = t.post_status(&alice, json!({ "status": "root" })).await;
        let mut last = root["id"].as_str().unwrap().to_owned();
        let mut middle = last.clone();
        for i in 0..len {
            let who = if i % 2 == 0 { &bob } else { &alice };
            let s = t
                .post_status(who, json!({ "status": format!("reply {i}"), "in_reply_to_id": last, "visibility": if i % 5 == 0 { "private" } else { "public" } }))
                .await;
            last = s["id"].as_str().unwrap().to_owned();
            if i == len / 2 {
                middle = last.clone();
            }
        }
        let mut conn = t.state.db.conn().await.unwrap();
        let status = guise_core::statuses::get_status(&mut conn, middle.parse().unwrap())
            .await
            .unwrap();
        let n = Arc::new(AtomicUsize::new(0));
        diesel_async::AsyncConnection::set_instrumentation(&mut *conn, Count(n.clone()));
        let (anc, desc) = guise_core::statuses::context(&mut conn, None, &status)
            .await
            .unwrap();
        assert!(!anc.is_empty() && !desc.is_empty());
        diesel_async::AsyncConnection::set_instrumentation(
            &mut *conn,
            diesel::connection::get_default_instrumentation(),
        );
        queries.push(n.load(Ordering::SeqCst));
    }
    assert_eq!(queries[0], queries[1], "{queries:?}");
    assert!(queries[1] <= 3, "{queries:?}");
}
