//! Password change, recovery and reset, and what each does to the key of
//! the account's anonymous posts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use serde_json::json;

async fn grant(t: &TestApp, user: &str, password: &str, face: &str) -> (u16, Option<String>) {
    let (cid, csec) = t.register_app("read write").await;
    let r = t
        .post("/oauth/token", None, json!({ "grant_type": "password", "client_id": cid, "client_secret": csec, "username": user, "password": password, "face": face, "scope": "read write" }))
        .await;
    (
        r.status.as_u16(),
        r.json["access_token"].as_str().map(str::to_owned),
    )
}

#[actix_web::test]
async fn changing_the_password_keeps_the_anonymous_posts_reachable() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t.post_status(&anon, json!({ "status": "before" })).await;
    let face_tok = t.token("alice", "read write").await;
    let r = t
        .post(
            "/api/v1/guise/password",
            Some(&face_tok),
            json!({ "current_password": "nope", "password": "new password 1" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            "/api/v1/guise/password",
            Some(&face_tok),
            json!({ "current_password": "password123", "password": "new password 1" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(grant(&t, "alice", "password123", "anonymous").await.0, 400);
    let (status, tok) = grant(&t, "alice", "new password 1", "anonymous").await;
    assert_eq!(status, 200);
    let mine = t
        .get("/api/v1/guise/anonymous/statuses", tok.as_deref())
        .await;
    assert_eq!(mine.json[0]["id"], s["id"]);
}

#[actix_web::test]
async fn the_recovery_code_restores_access_and_is_used_up() {
    let t = TestApp::new().await;
    let (_, _, code) = t.create_account_with_recovery("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t.post_status(&anon, json!({ "status": "kept" })).await;
    let r = t
        .post(
            "/api/v1/guise/password/recover",
            None,
            json!({ "login": "alice", "recovery_code": "wrong", "password": "fresh password" }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = t.post("/api/v1/guise/password/recover", None, json!({ "login": "alice@mail.test", "recovery_code": code, "password": "fresh password" })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.json["recovery_code"].as_str().unwrap().to_owned();
    assert_ne!(next, code);
    assert_eq!(
        t.get("/api/v1/timelines/home", Some(&anon)).await.status,
        401,
        "old tokens are revoked"
    );
    let (_, tok) = grant(&t, "alice", "fresh password", "anonymous").await;
    let mine = t
        .get("/api/v1/guise/anonymous/statuses", tok.as_deref())
        .await;
    assert_eq!(mine.json[0]["id"], s["id"], "k_anon survived");
    let r = t
        .post(
            "/api/v1/guise/password/recover",
            None,
            json!({ "login": "alice", "recovery_code": code, "password": "another one" }),
        )
        .await;
    assert_eq!(r.status, 403, "a used code does not work twice");
}

#[actix_web::test]
async fn a_reset_without_the_code_loses_the_key_and_pauses_anonymous_posting() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t.post_status(&anon, json!({ "status": "orphaned" })).await;
    {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::accounts::reset_password_losing_anonymity(
            &mut conn,
            t.clock.as_ref(),
            "alice",
            "reset password",
            14,
        )
        .await
        .unwrap();
    }
    let (_, tok) = grant(&t, "alice", "reset password", "anonymous").await;
    let tok = tok.unwrap();
    let mine = t.get("/api/v1/guise/anonymous/statuses", Some(&tok)).await;
    assert_eq!(
        mine.json,
        json!([]),
        "the old posts can no longer be tied to alice"
    );
    assert_eq!(
        t.get(
            &format!("/api/v1/statuses/{}", s["id"].as_str().unwrap()),
            None
        )
        .await
        .status,
        200,
        "they stay online"
    );
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&tok),
            json!({ "status": "right away" }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.json["error"].as_str().unwrap().contains(&format!(
            "paused until {}",
            (common::start() + chrono::Duration::days(14)).format("%Y-%m-%d")
        )),
        "{}",
        r.text
    );
    // Persistent faces post as before.
    let (_, face_tok) = grant(&t, "alice", "reset password", "").await;
    t.post_status(&face_tok.unwrap(), json!({ "status": "as my pseudonym" }))
        .await;
    t.clock.advance(chrono::Duration::days(15));
    let r = t
        .post("/api/v1/statuses", Some(&tok), json!({ "status": "later" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
