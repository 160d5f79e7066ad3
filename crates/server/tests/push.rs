//! Web Push: subscriptions per token (persistent faces only), pushes owed
//! when a notification is written, sent encrypted and signed to a real
//! HTTP receiver on 127.0.0.1, subscriptions dropped on 410 and when their
//! token dies — and nothing for anonymous faces, whatever the token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::{Body, TestApp};
use guise_federation::webpush;
use ring::agreement;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// One request the push service received.
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A push service on 127.0.0.1: records each request and answers with the
/// next queued status (201 when none is queued).
struct PushService {
    base: String,
    answers: Arc<Mutex<VecDeque<u16>>>,
    got: mpsc::UnboundedReceiver<Received>,
}

async fn push_service() -> PushService {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answers: Arc<Mutex<VecDeque<u16>>> = Arc::default();
    let (tx, got) = mpsc::unbounded_channel();
    let queue = answers.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "connection closed mid-request");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break p;
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut lines = head.split("\r\n");
            let path = lines.next().unwrap().split(' ').nth(1).unwrap().to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = buf[head_end + 4..].to_vec();
            while body.len() < len {
                let n = sock.read(&mut chunk).await.unwrap();
                body.extend_from_slice(&chunk[..n]);
            }
            let status = queue.lock().unwrap().pop_front().unwrap_or(201);
            let _ = sock
                .write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                )
                .await;
            let _ = tx.send(Received {
                path,
                headers,
                body,
            });
        }
    });
    PushService { base, answers, got }
}

/// A device: a one-use ECDH key and an auth secret.
struct Device {
    key: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
    auth: [u8; 16],
}

fn device() -> Device {
    let key = agreement::EphemeralPrivateKey::generate(
        &agreement::ECDH_P256,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let public = key.compute_public_key().unwrap().as_ref().to_vec();
    Device {
        key,
        public,
        auth: rand::random(),
    }
}

fn open(d: Device, r: &Received) -> Value {
    let m = webpush::Message {
        headers: r.headers.clone(),
        body: r.body.clone(),
    };
    let plain = webpush::open_push(d.key, &d.public, &d.auth, &m).expect("the push opens");
    serde_json::from_slice(&plain).unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn pending(t: &TestApp) -> i64 {
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::push::pending(&mut conn).await.unwrap()
}

async fn subscriptions(t: &TestApp) -> i64 {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::schema::push_subscriptions::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn send(t: &TestApp) -> usize {
    guise_server::mastodon_api::push::send_due(&t.state)
        .await
        .unwrap()
}

async fn subscribe(
    t: &TestApp,
    token: &str,
    endpoint: &str,
    d: &Device,
    standard: bool,
) -> common::Resp {
    t.post(
        "/api/v1/push/subscription",
        Some(token),
        json!({
            "subscription": {
                "endpoint": endpoint,
                "keys": { "p256dh": STANDARD.encode(&d.public), "auth": STANDARD.encode(d.auth) },
                "standard": standard,
            },
            "data": { "alerts": { "mention": true, "favourite": true, "follow": false }, "policy": "all" },
        }),
    )
    .await
}

async fn mention(t: &TestApp, token: &str, who: &str) -> String {
    t.post_status(token, json!({ "status": format!("hello @{who}") }))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_face_is_pushed_its_notifications_encrypted_and_signed() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.keep_a_key_ready().await;
    let mut service = push_service().await;
    t.create_account("alice").await;
    let alice = t.token("alice", "read write follow push").await;
    let (_, bob) = t.user("bob").await;

    let none = t.get("/api/v1/push/subscription", Some(&alice)).await;
    assert_eq!(none.status, 404, "{}", none.text);
    assert_eq!(none.json["error"], "Record not found");
    // Without the push scope: 403.
    let r = t.get("/api/v1/push/subscription", Some(&bob)).await;
    assert_eq!(r.status, 403, "{}", r.text);

    let d = device();
    let endpoint = format!("{}/push/alice", service.base);
    let r = subscribe(&t, &alice, &endpoint, &d, true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sub = r.json.clone();
    assert!(sub["id"].is_string());
    assert_eq!(sub["endpoint"], json!(endpoint));
    assert_eq!(sub["standard"], true);
    assert_eq!(sub["policy"], "all");
    assert_eq!(sub["alerts"]["mention"], true);
    assert_eq!(sub["alerts"]["favourite"], true);
    assert_eq!(sub["alerts"]["follow"], false);
    assert_eq!(sub["alerts"]["reblog"], false);
    // The key apps learn from the instance and from their app is this one.
    let key = sub["server_key"].as_str().unwrap().to_owned();
    assert_eq!(webpush::decode_key(&key).unwrap().len(), 65);
    let instance = t.get("/api/v2/instance", None).await;
    assert_eq!(
        instance.json["configuration"]["vapid"]["public_key"],
        json!(key)
    );
    let app = t.get("/api/v1/apps/verify_credentials", Some(&alice)).await;
    assert_eq!(app.json["vapid_key"], json!(key));
    assert_eq!(
        t.get("/api/v1/push/subscription", Some(&alice)).await.json,
        sub
    );

    // A follow is not among the alerts; a mention is.
    let alice_id = t
        .get("/api/v1/accounts/verify_credentials", Some(&alice))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_id}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(pending(&t).await, 0);
    let status = mention(&t, &bob, "alice").await;
    assert_eq!(pending(&t).await, 1);
    assert_eq!(send(&t).await, 1);
    let got = service.got.recv().await.unwrap();
    assert_eq!(got.path, "/push/alice");
    assert_eq!(header(&got, "Content-Encoding"), "aes128gcm");
    assert_eq!(header(&got, "TTL"), "172800");
    // RFC 8292: the JWT names the push service's origin and our key.
    let auth = header(&got, "Authorization");
    let (jwt, k) = auth
        .strip_prefix("vapid t=")
        .unwrap()
        .split_once(", k=")
        .unwrap();
    assert_eq!(
        webpush::decode_key(k).unwrap(),
        webpush::decode_key(&key).unwrap()
    );
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], json!(service.base));
    let verify = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        webpush::decode_key(&key).unwrap(),
    );
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    verify
        .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
        .unwrap();
    let push = open(d, &got);
    assert_eq!(push["notification_type"], "mention");
    assert_eq!(push["title"], "bob mentioned you");
    assert_eq!(push["body"], "hello @alice");
    assert!(push.get("access_token").is_none());
    let n = t
        .get("/api/v1/notifications?types[]=mention", Some(&alice))
        .await;
    assert_eq!(json!(push["notification_id"].to_string()), n.json[0]["id"]);
    assert_eq!(pending(&t).await, 0, "a taken push is owed no more");

    // Only the data part changes on PUT; a mute that hides notifications
    // stops pushes, as it stops the notification showing.
    let r = t
        .call(
            Method::PUT,
            "/api/v1/push/subscription",
            Some(&alice),
            Some(Body::Form(
                "data[alerts][mention]=false&data[alerts][favourite]=true&policy=followed".into(),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["alerts"]["mention"], false);
    assert_eq!(r.json["policy"], "followed");
    assert_eq!(r.json["endpoint"], json!(endpoint));
    // alice does not follow bob: with "followed", bob's favourite is not pushed.
    let mine = t.post_status(&alice, json!({ "status": "mine" })).await;
    let mine = mine["id"].as_str().unwrap().to_owned();
    t.post(
        &format!("/api/v1/statuses/{mine}/favourite"),
        Some(&bob),
        json!({}),
    )
    .await;
    assert_eq!(pending(&t).await, 0);
    let bob_id = t
        .get("/api/v1/accounts/verify_credentials", Some(&bob))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_id}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.post(
        &format!("/api/v1/statuses/{mine}/unfavourite"),
        Some(&bob),
        json!({}),
    )
    .await;
    t.post(
        &format!("/api/v1/statuses/{mine}/favourite"),
        Some(&bob),
        json!({}),
    )
    .await;
    assert_eq!(pending(&t).await, 1);

    // The service says the subscription is gone: it goes, with its pushes.
    service.answers.lock().unwrap().push_back(410);
    assert_eq!(send(&t).await, 1);
    service.got.recv().await.unwrap();
    assert_eq!(subscriptions(&t).await, 0);
    let r = t.get("/api/v1/push/subscription", Some(&alice)).await;
    assert_eq!(r.status, 404);
    let _ = status;
}

#[actix_web::test]
async fn anonymous_faces_are_never_pushed() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.keep_a_key_ready().await;
    let service = push_service().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let anon = t.token_as("alice", "anonymous", "read write push").await;
    let all = t.token_as("alice", "all", "read write push").await;

    // An "Anonymous" token cannot subscribe, and reads as having none.
    let d = device();
    let r = subscribe(&t, &anon, &format!("{}/anon", service.base), &d, true).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("anonymous"));
    let r = t.get("/api/v1/push/subscription", Some(&anon)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = t
        .call(
            Method::DELETE,
            "/api/v1/push/subscription",
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    // "All my faces" subscribes (form-encoded, URL-safe keys, legacy
    // encoding), for the persistent faces only.
    let r = t
        .form(
            "/api/v1/push/subscription",
            Some(&all),
            &format!(
                "subscription[endpoint]={}/all&subscription[keys][p256dh]={}&subscription[keys][auth]={}&data[alerts][mention]=1&data[alerts][favourite]=1",
                service.base,
                URL_SAFE_NO_PAD.encode(&d.public),
                URL_SAFE_NO_PAD.encode(d.auth)
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["standard"], false);

    // A reply to, and a favourite of, alice's anonymous post: notifications
    // for her anonymous face, and no push.
    let secret = t
        .post_status(
            &anon,
            json!({ "status": "a secret", "visibility": "public" }),
        )
        .await;
    let sid = secret["id"].as_str().unwrap().to_owned();
    let handle = secret["account"]["acct"].as_str().unwrap().to_owned();
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&bob),
            json!({ "status": format!("@{handle} who are you?"), "in_reply_to_id": sid }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.post(
        &format!("/api/v1/statuses/{sid}/favourite"),
        Some(&bob),
        json!({}),
    )
    .await;
    let n = t.get("/api/v1/notifications", Some(&anon)).await;
    assert_eq!(n.json.as_array().unwrap().len(), 2, "{}", n.text);
    assert_eq!(pending(&t).await, 0);
    // Her persistent face is pushed through the same subscription.
    mention(&t, &bob, "alice").await;
    assert_eq!(pending(&t).await, 1);
    let _ = service;
}

#[actix_web::test]
async fn a_subscription_dies_with_its_token() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.keep_a_key_ready().await;
    let service = push_service().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let (client_id, client_secret) = t.register_app("read write push").await;
    let grant = t
        .post(
            "/oauth/token",
            None,
            json!({ "grant_type": "password", "client_id": client_id, "client_secret": client_secret,
                    "username": "alice", "password": "password123", "scope": "read write push" }),
        )
        .await;
    let token = grant.json["access_token"].as_str().unwrap().to_owned();
    let refresh = grant.json["refresh_token"].as_str().unwrap().to_owned();
    let d = device();
    let r = subscribe(&t, &token, &format!("{}/a", service.base), &d, false).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["id"].clone();

    // At rest the row names the login and face, never the token's row.
    let dump = t.dump().await;
    let rows = dump.get("push_subscriptions").unwrap();
    assert_eq!(rows.len(), 1);
    for token_row in dump.get("oauth_tokens").unwrap() {
        let token_id = token_row
            .split(['(', ','])
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_owned();
        assert!(!token_id.is_empty());
        assert!(
            !rows[0].contains(&token_id),
            "{} names token {token_id}",
            rows[0]
        );
    }

    // Refreshing keeps the subscription (same token row, same tag).
    let r = t
        .post(
            "/oauth/token",
            None,
            json!({ "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret, "refresh_token": refresh }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    let r = t.get("/api/v1/push/subscription", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], id);

    // Revoking the token removes its subscription and what it was owed.
    mention(&t, &bob, "alice").await;
    assert_eq!(pending(&t).await, 1);
    let r = t
        .post(
            "/oauth/revoke",
            None,
            json!({ "client_id": client_id, "client_secret": client_secret, "token": token }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(subscriptions(&t).await, 0);
    assert_eq!(pending(&t).await, 0);

    // A password change signs every token out: its subscriptions are owed
    // nothing more and are swept.
    let token = t.token("alice", "read write push").await;
    let r = subscribe(&t, &token, &format!("{}/b", service.base), &device(), true).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .post(
            "/api/v1/guise/password",
            Some(&token),
            json!({ "current_password": "password123", "password": "another password 456" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    mention(&t, &bob, "alice").await;
    assert_eq!(pending(&t).await, 0);
    let mut conn = t.state.db.conn().await.unwrap();
    let swept = guise_core::push::sweep(&mut conn, t.clock.as_ref())
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(subscriptions(&t).await, 0);
    let _ = service;
}

#[actix_web::test]
async fn bad_subscriptions_are_refused_clearly() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let alice = t.token("alice", "read write push").await;
    let d = device();
    let good_keys =
        json!({ "p256dh": STANDARD.encode(&d.public), "auth": STANDARD.encode(d.auth) });
    let cases = [
        json!({ "subscription": { "endpoint": "not a url", "keys": good_keys } }),
        // Private addresses are not allowed here (as for federation).
        json!({ "subscription": { "endpoint": "https://127.0.0.1/push", "keys": good_keys } }),
        json!({ "subscription": { "endpoint": "http://push.example/x", "keys": good_keys } }),
        json!({ "subscription": { "endpoint": "https://push.example/x", "keys": { "p256dh": "AAAA", "auth": STANDARD.encode(d.auth) } } }),
        json!({ "subscription": { "endpoint": "https://push.example/x", "keys": { "p256dh": STANDARD.encode(&d.public), "auth": "AAAA" } } }),
        json!({ "subscription": { "endpoint": "https://push.example/x", "keys": { "p256dh": "%%%", "auth": STANDARD.encode(d.auth) } } }),
        json!({ "subscription": { "endpoint": "https://push.example/x", "keys": good_keys }, "data": { "policy": "friends" } }),
        json!({}),
    ];
    for c in cases {
        let r = t
            .post("/api/v1/push/subscription", Some(&alice), c.clone())
            .await;
        assert_eq!(r.status, 422, "{c}: {}", r.text);
        assert!(r.json["error"].is_string(), "{}", r.text);
    }
    assert_eq!(subscriptions(&t).await, 0);
    let r = t
        .call(
            Method::PUT,
            "/api/v1/push/subscription",
            Some(&alice),
            Some(Body::Json(json!({ "policy": "all" }))),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
