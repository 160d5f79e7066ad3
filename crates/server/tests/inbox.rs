//! The inbox: signatures verified by keyId before anything is stored, then
//! Follow and Undo from a remote actor served by a real local HTTP server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::StatusCode;
use common::TestApp;
use guise_core::keys::KeyPair;
use guise_core::Clock;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Remote {
    actor: String,
    key: KeyPair,
}

/// Serves `doc` (an actor) to every GET, like a remote server would.
async fn remote_actor(name: &str) -> Remote {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = guise_federation::keys::generate().unwrap();
    let actor = format!("http://127.0.0.1:{port}/users/{name}");
    let doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": name, "name": "Remote person",
        "inbox": format!("{actor}/inbox"), "endpoints": { "sharedInbox": format!("http://127.0.0.1:{port}/inbox") },
        "publicKey": { "id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": key.public_pem }
    })
    .to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let doc = doc.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = s.read(&mut buf).await;
                let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}", doc.len());
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    Remote { actor, key }
}

async fn deliver(
    t: &TestApp,
    r: &Remote,
    path: &str,
    body: &[u8],
    tamper: impl Fn(&mut Vec<(String, String)>),
) -> StatusCode {
    let mut headers = guise_federation::signatures::sign(
        "POST",
        "guise.test",
        path,
        Some(body),
        &format!("{}#main-key", r.actor),
        &r.key.private_pem,
        t.clock.now(),
    )
    .unwrap();
    tamper(&mut headers);
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let mut req = actix_web::test::TestRequest::post()
        .uri(path)
        .set_payload(body.to_vec());
    for (k, v) in headers {
        req = req.insert_header((k, v));
    }
    actix_web::test::call_service(&app, req.to_request())
        .await
        .status()
}

fn follow(r: &Remote, target: &str, n: u32) -> Vec<u8> {
    json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}/follows/{n}", r.actor), "type": "Follow", "actor": r.actor, "object": target })
        .to_string()
        .into_bytes()
}

async fn followers(t: &TestApp, face: &str) -> Vec<Value> {
    t.get(&format!("/api/v1/accounts/{face}/followers"), None)
        .await
        .json
        .as_array()
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn a_signed_follow_is_accepted_once_and_undone() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, alice_tok) = t.user("alice").await;
    let r = remote_actor("remy").await;
    let body = follow(&r, "https://guise.test/users/alice", 1);
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
    let f = followers(&t, &alice).await;
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0]["acct"],
        format!("remy@{}", r.actor.split('/').nth(2).unwrap())
    );
    assert_eq!(f[0]["url"], r.actor);
    let n = t.get("/api/v1/notifications", Some(&alice_tok)).await;
    assert_eq!(n.json[0]["type"], "follow");
    // A replay of the same activity changes nothing.
    let before = t.row_counts().await;
    assert_eq!(
        deliver(&t, &r, "/users/alice/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(t.row_counts().await, before);
    // The Accept to send back is queued with the Follow's id.
    assert!(t.dump().await["outbox_events"]
        .iter()
        .any(|e| e.contains("remote_follow.accepted") && e.contains("/follows/1")));
    let undo = json!({ "id": format!("{}/undo/1", r.actor), "type": "Undo", "actor": r.actor,
                       "object": { "id": format!("{}/follows/1", r.actor), "type": "Follow", "actor": r.actor, "object": "https://guise.test/users/alice" } })
        .to_string();
    assert_eq!(
        deliver(&t, &r, "/inbox", undo.as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert!(followers(&t, &alice).await.is_empty());
}

#[actix_web::test]
async fn anonymous_faces_refuse_follows() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t.post_status(&anon, json!({ "status": "x" })).await;
    let handle = s["account"]["username"].as_str().unwrap();
    let r = remote_actor("remy").await;
    let body = follow(&r, &format!("https://guise.test/anon/{handle}"), 1);
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert!(followers(&t, s["account"]["id"].as_str().unwrap())
        .await
        .is_empty());
    assert!(t.dump().await["outbox_events"]
        .iter()
        .any(|e| e.contains("remote_follow.rejected")));
}

#[actix_web::test]
async fn bad_input_is_refused_and_nothing_is_stored() {
    let t = TestApp::with_env(&[
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__BLOCKED_DOMAINS", "[\"blocked.example\"]"),
    ])
    .await;
    t.create_account("alice").await;
    let r = remote_actor("remy").await;
    let other = remote_actor("mallory").await;
    let before = t.row_counts().await;
    let body = follow(&r, "https://guise.test/users/alice", 1);
    let set = |name: &'static str, value: String| {
        move |h: &mut Vec<(String, String)>| {
            h.retain(|(k, _)| k != name);
            h.push((name.to_owned(), value.clone()));
        }
    };
    type Tamper = Box<dyn Fn(&mut Vec<(String, String)>)>;
    let cases: Vec<(&str, StatusCode, Tamper)> = vec![
        ("unsigned", StatusCode::UNAUTHORIZED, Box::new(|h: &mut Vec<(String, String)>| h.retain(|(k, _)| k != "signature"))),
        ("stale date", StatusCode::UNAUTHORIZED, Box::new(set("date", "Fri, 27 Nov 2026 09:00:00 GMT".into()))),
        ("unsigned digest", StatusCode::UNAUTHORIZED, Box::new(set("digest", "SHA-256=AAAA".into()))),
        ("RFC 9421", StatusCode::UNAUTHORIZED, Box::new(|h: &mut Vec<(String, String)>| {
            h.retain(|(k, _)| k != "signature");
            h.push(("signature-input".into(), "sig1=(\"@method\");keyid=\"k\"".into()));
        })),
        ("blocked domain", StatusCode::FORBIDDEN, Box::new(set("signature", "keyId=\"https://blocked.example/users/x#main-key\",headers=\"date\",signature=\"AAAA\"".into()))),
    ];
    for (what, want, tamper) in cases {
        assert_eq!(
            deliver(&t, &r, "/inbox", &body, tamper).await,
            want,
            "{what}"
        );
        assert_eq!(t.row_counts().await, before, "{what} stored something");
    }
    // A tampered body, and an activity whose actor is not the key's owner.
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let headers = guise_federation::signatures::sign(
        "POST",
        "guise.test",
        "/inbox",
        Some(&body),
        &format!("{}#main-key", r.actor),
        &r.key.private_pem,
        t.clock.now(),
    )
    .unwrap();
    let mut req = actix_web::test::TestRequest::post()
        .uri("/inbox")
        .set_payload(follow(&r, "https://guise.test/users/bob", 1));
    for (k, v) in headers {
        req = req.insert_header((k, v));
    }
    assert_eq!(
        actix_web::test::call_service(&app, req.to_request())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let forged = follow(&r, "https://guise.test/users/alice", 2);
    assert_eq!(
        deliver(&t, &other, "/inbox", &forged, |_| {}).await,
        StatusCode::UNAUTHORIZED,
        "mallory signing remy's activity"
    );
    // An activity id on another host than its actor.
    let foreign = json!({ "id": "https://elsewhere.example/follows/1", "type": "Follow", "actor": r.actor, "object": "https://guise.test/users/alice" }).to_string();
    assert_eq!(
        deliver(&t, &r, "/inbox", foreign.as_bytes(), |_| {}).await,
        StatusCode::BAD_REQUEST
    );
    // Deep JSON and oversized bodies.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        deliver(&t, &r, "/inbox", deep.as_bytes(), |_| {}).await,
        StatusCode::BAD_REQUEST
    );
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        deliver(&t, &r, "/inbox", &big, |_| {}).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Only the senders that proved themselves were stored.
    let after = t.row_counts().await;
    assert_eq!(after["follows"], before["follows"]);
    assert_eq!(after["notifications"], before["notifications"]);
}

#[actix_web::test]
async fn senders_on_private_addresses_are_not_fetched_unless_allowed() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let r = remote_actor("remy").await;
    let before = t.row_counts().await;
    let body = follow(&r, "https://guise.test/users/alice", 1);
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(t.row_counts().await, before);
}

#[actix_web::test]
async fn a_remote_delete_touches_only_the_senders_own_notes() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let s = t.post_status(&alice, json!({ "status": "mine" })).await;
    let r = remote_actor("remy").await;
    let del = json!({ "id": format!("{}/deletes/1", r.actor), "type": "Delete", "actor": r.actor,
                      "object": { "id": s["uri"], "type": "Tombstone" } })
    .to_string();
    assert_eq!(
        deliver(&t, &r, "/inbox", del.as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        t.get(
            &format!("/api/v1/statuses/{}", s["id"].as_str().unwrap()),
            None
        )
        .await
        .status,
        200
    );
    // A Like from the remote face lands on alice's post.
    let like = json!({ "id": format!("{}/likes/1", r.actor), "type": "Like", "actor": r.actor, "object": s["uri"] }).to_string();
    assert_eq!(
        deliver(&t, &r, "/inbox", like.as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let now = t
        .get(
            &format!("/api/v1/statuses/{}", s["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(now.json["favourites_count"], 1);
}
