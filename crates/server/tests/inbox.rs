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
    key_id: String,
    /// GETs the remote server answered.
    fetches: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Remote {
    /// The key id its document publishes.
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
}

/// Serves `doc` (an actor) to every GET, like a remote server would.
async fn remote_actor(name: &str) -> Remote {
    remote_actor_with(name, |_| {}).await
}

/// `remote_actor`, with the document changed by `edit` first.
async fn remote_actor_with(name: &str, edit: impl FnOnce(&mut Value)) -> Remote {
    remote_server(name, edit, |_| Vec::new()).await
}

/// A remote server: `name`'s actor at every path, except the documents
/// `others` gives (paths and documents, made knowing the server's base URL).
async fn remote_server(
    name: &str,
    edit: impl FnOnce(&mut Value),
    others: impl FnOnce(&str) -> Vec<(String, Value)>,
) -> Remote {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = guise_federation::keys::generate().unwrap();
    let actor = format!("http://127.0.0.1:{port}/users/{name}");
    let mut doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": name, "name": "Remote person",
        "inbox": format!("{actor}/inbox"), "endpoints": { "sharedInbox": format!("http://127.0.0.1:{port}/inbox") },
        "publicKey": { "id": format!("{actor}#main-key"), "owner": actor, "publicKeyPem": key.public_pem }
    });
    edit(&mut doc);
    let key_id = doc["publicKey"]["id"].as_str().unwrap().to_owned();
    let doc = doc.to_string();
    let base = format!("http://127.0.0.1:{port}");
    // A document may ask for its own content type with `__content_type`,
    // and be sent as a raw `__body` (a web page, say).
    let others: std::collections::HashMap<String, (String, String)> = others(&base)
        .into_iter()
        .map(|(path, mut v)| {
            let ct = v
                .as_object_mut()
                .and_then(|o| o.remove("__content_type"))
                .and_then(|c| c.as_str().map(str::to_owned))
                .unwrap_or_else(|| "application/activity+json".into());
            let body = match v.get("__body").and_then(|b| b.as_str()) {
                Some(raw) => raw.to_owned(),
                None => v.to_string(),
            };
            (path, (ct, body))
        })
        .collect();
    let others = std::sync::Arc::new(others);
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = fetches.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (doc, others) = (doc.clone(), others.clone());
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let (ct, doc) = others
                    .get(path)
                    .cloned()
                    .unwrap_or(("application/activity+json".into(), doc));
                let resp = format!("HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}", doc.len());
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    Remote {
        actor,
        key,
        key_id,
        fetches,
    }
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
        &r.key_id(),
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

/// `r` follows alice; accepted.
async fn follows_alice(t: &TestApp, r: &Remote) {
    let body = follow(r, "https://guise.test/users/alice", 1);
    assert_eq!(
        deliver(t, r, "/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
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
        .any(|e| e.contains("follow.accepted") && e.contains("/follows/1")));
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
        .any(|e| e.contains("follow.rejected")));
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
        ("stale date", StatusCode::UNAUTHORIZED, Box::new(set("date", common::http_date_from_start(chrono::Duration::hours(-27))))),
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

#[actix_web::test]
async fn hostile_objects_change_nothing() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let s = t.post_status(&alice, json!({ "status": "mine" })).await;
    let r = remote_actor("remy").await;
    let m = remote_actor("mallory").await;
    // mallory makes herself known with a note of her own.
    let host = m.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let note = |id: &str, by: &str, text: &str| {
        json!({ "id": id, "type": "Note", "attributedTo": by,
        "content": text, "to": ["https://www.w3.org/ns/activitystreams#Public"] })
    };
    let create =
        json!({ "id": format!("{}/creates/1", m.actor), "type": "Create", "actor": m.actor,
        "object": note(&format!("{host}/notes/1"), &m.actor, "<p>mallory's</p>") })
        .to_string();
    assert_eq!(
        deliver(&t, &m, "/inbox", create.as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let before = t.dump().await;
    let counts = t.row_counts().await;
    let cases: Vec<(&str, Value, StatusCode)> = vec![
        // A note claiming a local id.
        (
            "local id",
            json!({ "id": format!("{}/creates/2", r.actor), "type": "Create", "actor": r.actor,
            "object": note(s["uri"].as_str().unwrap(), &r.actor, "<p>forged</p>") }),
            StatusCode::BAD_REQUEST,
        ),
        // A note attributed to another actor.
        (
            "someone else's note",
            json!({ "id": format!("{}/creates/3", r.actor), "type": "Create", "actor": r.actor,
            "object": note(&format!("{host}/notes/9"), &m.actor, "<p>forged</p>") }),
            StatusCode::UNAUTHORIZED,
        ),
        // Editing mallory's note, and mallory's profile.
        (
            "someone else's edit",
            json!({ "id": format!("{}/updates/1", r.actor), "type": "Update", "actor": r.actor,
            "object": note(&format!("{host}/notes/1"), &m.actor, "<p>edited</p>") }),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "someone else's profile",
            json!({ "id": format!("{}/updates/2", r.actor), "type": "Update", "actor": r.actor,
            "object": { "id": m.actor, "type": "Person", "preferredUsername": "mallory", "name": "Hijacked",
                        "inbox": format!("{}/inbox", m.actor), "publicKey": { "id": format!("{}#main-key", m.actor), "owner": m.actor, "publicKeyPem": r.key.public_pem } } }),
            StatusCode::UNAUTHORIZED,
        ),
        // Deleting mallory, or alice's post.
        (
            "someone else's actor",
            json!({ "id": format!("{}/deletes/1", r.actor), "type": "Delete", "actor": r.actor,
            "object": m.actor }),
            StatusCode::ACCEPTED,
        ),
        (
            "a local post",
            json!({ "id": format!("{}/deletes/2", r.actor), "type": "Delete", "actor": r.actor,
            "object": s["uri"] }),
            StatusCode::ACCEPTED,
        ),
        // Undoing mallory's like.
        (
            "someone else's undo",
            json!({ "id": format!("{}/undos/1", r.actor), "type": "Undo", "actor": r.actor,
            "object": { "id": format!("{}/likes/1", m.actor), "type": "Like", "actor": m.actor, "object": s["uri"] } }),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, activity, want) in cases {
        let body = activity.to_string();
        assert_eq!(
            deliver(&t, &r, "/inbox", body.as_bytes(), |_| {}).await,
            want,
            "{what}"
        );
        // Nothing changed but the replay record (and remy's own row, first time).
        let now = t.dump().await;
        for table in [
            "statuses",
            "status_edits",
            "follows",
            "favourites",
            "notifications",
        ] {
            assert_eq!(now[table], before[table], "{what} changed {table}");
        }
        let mallory_rows: Vec<&String> = now["identities"]
            .iter()
            .filter(|r| r.contains("mallory"))
            .collect();
        let mallory_before: Vec<&String> = before["identities"]
            .iter()
            .filter(|r| r.contains("mallory"))
            .collect();
        assert_eq!(mallory_rows, mallory_before, "{what} touched mallory");
    }
    assert_eq!(t.row_counts().await["statuses"], counts["statuses"]);
}

#[actix_web::test]
async fn a_remote_boost_and_its_undo() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let s = t.post_status(&alice, json!({ "status": "boost me" })).await;
    let sid = s["id"].as_str().unwrap();
    let r = remote_actor("remy").await;
    let announce = json!({ "id": format!("{}/statuses/5/activity", r.actor), "type": "Announce", "actor": r.actor,
        "object": s["uri"], "to": ["https://www.w3.org/ns/activitystreams#Public"] });
    assert_eq!(
        deliver(&t, &r, "/inbox", announce.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let now = t.get(&format!("/api/v1/statuses/{sid}"), None).await;
    assert_eq!(now.json["reblogs_count"], 1);
    let n = t
        .get("/api/v1/notifications?types[]=reblog", Some(&alice))
        .await;
    assert_eq!(n.json[0]["account"]["url"], r.actor);
    let undo = json!({ "id": format!("{}/undos/5", r.actor), "type": "Undo", "actor": r.actor, "object": announce });
    assert_eq!(
        deliver(&t, &r, "/inbox", undo.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let now = t.get(&format!("/api/v1/statuses/{sid}"), None).await;
    assert_eq!(now.json["reblogs_count"], 0);
}

/// Serves one PNG to every GET, and counts the requests.
async fn media_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                // A page that calls itself a PNG: refused by its bytes.
                let body: &[u8] = if head.contains("/fake.png") {
                    b"<html><body>not a picture</body></html>"
                } else {
                    b"\x89PNG\r\n\x1a\nfake"
                };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body).await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), hits)
}

#[actix_web::test]
async fn remote_media_reach_clients_only_through_the_proxy() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let (media, hits) = media_server().await;
    let avatar = format!("{media}/remy.png");
    let icon = avatar.clone();
    let r = remote_actor_with("remy", move |d| {
        d["icon"] = json!({ "type": "Image", "mediaType": "image/png", "url": icon });
    })
    .await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let create = json!({ "id": format!("{}/creates/1", r.actor), "type": "Create", "actor": r.actor,
        "object": { "id": format!("{host}/notes/1"), "type": "Note", "attributedTo": r.actor,
            "content": "<p>look :blob:</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "attachment": [{ "type": "Document", "mediaType": "image/png", "url": format!("{media}/cat.png"), "name": "a cat" }],
            "tag": [{ "type": "Emoji", "name": ":blob:", "icon": { "type": "Image", "url": format!("{media}/blob.png") } }] } });
    assert_eq!(
        deliver(&t, &r, "/inbox", create.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await;
    let s = &public.json[0];
    let m = &s["media_attachments"][0];
    assert_eq!(m["type"], "image");
    assert_eq!(m["description"], "a cat");
    assert_eq!(m["remote_url"], format!("{media}/cat.png"));
    let url = m["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://guise.test/media/proxy?url="),
        "{url}"
    );
    assert_eq!(m["preview_url"], url);
    let emoji = s["emojis"][0]["url"].as_str().unwrap();
    assert!(
        emoji.starts_with("https://guise.test/media/proxy?"),
        "{emoji}"
    );
    assert_eq!(s["emojis"][0]["shortcode"], "blob");
    // The author's avatar too goes through the proxy.
    let shown = s["account"]["avatar"].as_str().unwrap();
    assert!(
        shown.starts_with("https://guise.test/media/proxy?"),
        "{shown}"
    );
    assert!(!s["account"].to_string().contains(&avatar));
    // Nothing in the status names the media server but `remote_url`.
    let text = s.to_string();
    assert_eq!(text.matches(&media).count(), 1, "{text}");
    // Nothing was fetched because a client read: the proxy has only a
    // placeholder until the worker fetches what arrived.
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let get = |uri: String| {
        let app = &app;
        async move {
            let resp = actix_web::test::call_service(
                app,
                actix_web::test::TestRequest::get().uri(&uri).to_request(),
            )
            .await;
            let status = resp.status();
            let placeholder = resp.headers().contains_key("x-guise-placeholder");
            let kind = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = actix_web::test::read_body(resp).await;
            (status, placeholder, kind, body)
        }
    };
    let path = url.trim_start_matches("https://guise.test").to_owned();
    let (status, placeholder, _, _) = get(path.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(placeholder);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The worker fetches the attachment, the emoji and the avatar.
    let work = t.state.media_work();
    let fetched = guise_federation::media::fetch_once(
        &t.state.db,
        t.clock.as_ref(),
        &t.state.fetcher,
        &work,
        10,
    )
    .await
    .unwrap();
    assert_eq!(fetched, 3);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3);
    let (status, placeholder, kind, body) = get(path.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!placeholder);
    assert_eq!(kind.as_deref(), Some("image/png"));
    assert!(body.starts_with(b"\x89PNG"));
    // A URL it did not sign is refused.
    let forged = path.replace("cat.png", "dog.png");
    assert_eq!(get(forged).await.0, StatusCode::NOT_FOUND);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// Rule 11: readers trigger no remote fetch. A remote server sends each of
/// two faces of one person something with a uniquely named picture; one
/// "All my faces" token then reads everything it can. The remote server
/// hears from the instance only when the activities arrive.
#[actix_web::test]
async fn reading_makes_no_remote_server_hear_from_the_instance() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.create_account("alice").await;
    let all = t.token_as("alice", "all", "read write follow").await;
    let p = t
        .post(
            "/api/v1/guise/faces",
            Some(&all),
            json!({ "handle": "nightowl" }),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    let (media, hits) = media_server().await;
    let icon = format!("{media}/remy-avatar.png");
    let r = remote_actor_with("remy", move |d| {
        d["icon"] = json!({ "type": "Image", "mediaType": "image/png", "url": icon });
    })
    .await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    for (n, face) in ["alice", "nightowl"].iter().enumerate() {
        let note = json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor,
            "object": { "id": format!("{host}/notes/{n}"), "type": "Note", "attributedTo": r.actor,
                "content": format!("<p>@{face} look</p>"), "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "tag": [{ "type": "Mention", "href": format!("https://guise.test/users/{face}") }],
                "attachment": [{ "type": "Document", "mediaType": "image/png", "url": format!("{media}/for-{face}.png") }] } });
        assert_eq!(
            deliver(&t, &r, "/inbox", note.to_string().as_bytes(), |_| {}).await,
            StatusCode::ACCEPTED
        );
    }
    // The fake one is refused by its bytes.
    let fake = json!({ "id": format!("{}/creates/9", r.actor), "type": "Create", "actor": r.actor,
        "object": { "id": format!("{host}/notes/9"), "type": "Note", "attributedTo": r.actor,
            "content": "<p>fake</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "attachment": [{ "type": "Document", "mediaType": "image/png", "url": format!("{media}/fake.png") }] } });
    deliver(&t, &r, "/inbox", fake.to_string().as_bytes(), |_| {}).await;
    let work = t.state.media_work();
    let fetched = guise_federation::media::fetch_once(
        &t.state.db,
        t.clock.as_ref(),
        &t.state.fetcher,
        &work,
        10,
    )
    .await
    .unwrap();
    assert_eq!(fetched, 4, "two attachments, one avatar, one fake");
    let after_arrival = hits.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after_arrival, 4);
    // Everything a client reads, and every media URL it is given.
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let mut urls = Vec::new();
    let mut reads = vec![
        "/api/v1/notifications".to_owned(),
        "/api/v1/timelines/home".to_owned(),
        "/api/v1/timelines/public".to_owned(),
        "/api/v1/guise/faces".to_owned(),
    ];
    let remy = t
        .get("/api/v2/search?q=remy&resolve=false", Some(&all))
        .await;
    for a in remy.json["accounts"].as_array().into_iter().flatten() {
        reads.push(format!("/api/v1/accounts/{}", a["id"].as_str().unwrap()));
        reads.push(format!(
            "/api/v1/accounts/{}/statuses",
            a["id"].as_str().unwrap()
        ));
    }
    for path in &reads {
        let r = t.get(path, Some(&all)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let text = r.text;
        for part in text.split('"') {
            if part.starts_with("https://guise.test/media/proxy?") {
                urls.push(part.replace("\\u0026", "&"));
            }
        }
    }
    assert!(urls.len() >= 3, "{urls:?}");
    let mut placeholders = 0;
    for u in &urls {
        let resp = actix_web::test::call_service(
            &app,
            actix_web::test::TestRequest::get()
                .uri(u.trim_start_matches("https://guise.test"))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK, "{u}");
        if resp.headers().contains_key("x-guise-placeholder") {
            placeholders += 1;
        }
    }
    assert!(
        placeholders < urls.len(),
        "nothing was served from the cache"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        after_arrival,
        "a read made the instance contact the remote server"
    );
    // The fake PNG is a placeholder, never passed on.
    let mut conn = t.state.db.conn().await.unwrap();
    assert_eq!(
        guise_core::media::lookup(&mut conn, &format!("{media}/fake.png"))
            .await
            .unwrap(),
        guise_core::media::Cached::Missing
    );
}

/// The cache keeps its budget and age: what leaves becomes a placeholder,
/// and is fetched again only when something that names it arrives again.
#[actix_web::test]
async fn the_media_cache_keeps_its_budget_and_age() {
    let t = TestApp::with_env(&[
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_MEDIA__REMOTE_CACHE_DAYS", "2"),
    ])
    .await;
    let (media, hits) = media_server().await;
    let mut conn = t.state.db.conn().await.unwrap();
    let urls: Vec<String> = (0..3).map(|i| format!("{media}/m{i}.png")).collect();
    guise_core::media::want(&mut conn, t.clock.as_ref(), &urls)
        .await
        .unwrap();
    let mut work = t.state.media_work();
    guise_federation::media::fetch_once(&t.state.db, t.clock.as_ref(), &t.state.fetcher, &work, 10)
        .await
        .unwrap();
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3);
    let ready =
        |c: &guise_core::media::Cached| matches!(c, guise_core::media::Cached::Ready { .. });
    let first = guise_core::media::lookup(&mut conn, &urls[0])
        .await
        .unwrap();
    assert!(ready(&first));
    // Over budget: the oldest go first (each file is 12 bytes).
    t.clock.advance(chrono::Duration::seconds(5));
    guise_core::media::want(&mut conn, t.clock.as_ref(), &[format!("{media}/m3.png")])
        .await
        .unwrap();
    guise_federation::media::fetch_once(&t.state.db, t.clock.as_ref(), &t.state.fetcher, &work, 10)
        .await
        .unwrap();
    work.budget = 24;
    let evicted = guise_federation::media::sweep(&t.state.db, t.clock.as_ref(), &work)
        .await
        .unwrap();
    assert_eq!(evicted, 2);
    assert!(ready(
        &guise_core::media::lookup(&mut conn, &format!("{media}/m3.png"))
            .await
            .unwrap()
    ));
    // Too old: gone, and its file with it.
    work.budget = i64::MAX;
    t.clock.advance(chrono::Duration::days(3));
    guise_federation::media::sweep(&t.state.db, t.clock.as_ref(), &work)
        .await
        .unwrap();
    for u in &urls {
        assert_eq!(
            guise_core::media::lookup(&mut conn, u).await.unwrap(),
            guise_core::media::Cached::Missing
        );
    }
    let files = walk_files(&t.state.config.media_dir());
    assert_eq!(files, 0, "evicted files stay on disk");
    // Named again by an arrival: fetched again. Not before.
    assert_eq!(
        guise_federation::media::fetch_once(
            &t.state.db,
            t.clock.as_ref(),
            &t.state.fetcher,
            &work,
            10
        )
        .await
        .unwrap(),
        0
    );
    guise_core::media::want(&mut conn, t.clock.as_ref(), &urls[..1])
        .await
        .unwrap();
    assert_eq!(
        guise_federation::media::fetch_once(
            &t.state.db,
            t.clock.as_ref(),
            &t.state.fetcher,
            &work,
            10
        )
        .await
        .unwrap(),
        1
    );
}

fn walk_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_files(&p)
            } else {
                1
            }
        })
        .sum()
}

#[actix_web::test]
async fn a_blocked_remote_cannot_follow_again() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, alice_tok) = t.user("alice").await;
    let r = remote_actor("remy").await;
    follows_alice(&t, &r).await;
    let remy = followers(&t, &alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let blocked = t
        .call(
            actix_web::http::Method::POST,
            &format!("/api/v1/accounts/{remy}/block"),
            Some(&alice_tok),
            None,
        )
        .await;
    assert_eq!(blocked.status, 200);
    assert!(followers(&t, &alice).await.is_empty());
    // remy ignores the Block and follows again: refused.
    assert_eq!(
        deliver(
            &t,
            &r,
            "/inbox",
            &follow(&r, "https://guise.test/users/alice", 2),
            |_| {}
        )
        .await,
        StatusCode::ACCEPTED
    );
    assert!(followers(&t, &alice).await.is_empty());
    assert!(t.dump().await["outbox_events"]
        .iter()
        .any(|e| e.contains("follow.rejected") && e.contains("/follows/2")));
}

#[actix_web::test]
async fn an_accept_naming_our_follow_by_id_is_understood() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, alice_tok) = t.user("alice").await;
    let r = remote_actor("remy").await;
    // remy becomes known to us by following alice.
    deliver(
        &t,
        &r,
        "/inbox",
        &follow(&r, "https://guise.test/users/alice", 1),
        |_| {},
    )
    .await;
    let remy = followers(&t, &alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rel = t
        .call(
            actix_web::http::Method::POST,
            &format!("/api/v1/accounts/{remy}/follow"),
            Some(&alice_tok),
            None,
        )
        .await;
    assert_eq!(rel.json["requested"], true);
    let edge = t.dump().await["outbox_events"]
        .iter()
        .find(|e| e.contains("follow.created"))
        .and_then(|e| e.split("\"\"edge\"\": \"\"").nth(1))
        .and_then(|e| e.split("\"\"").next())
        .unwrap()
        .to_owned();
    let accept = json!({ "id": format!("{}/accepts/1", r.actor), "type": "Accept", "actor": r.actor,
        "object": format!("https://guise.test/users/alice/follows/{edge}") });
    assert_eq!(
        deliver(&t, &r, "/inbox", accept.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={remy}"),
            Some(&alice_tok),
        )
        .await;
    assert_eq!(rel.json[0]["following"], true, "{}", rel.json);
}

#[actix_web::test]
async fn a_gotosocial_key_id_finds_its_known_owner_without_a_fetch() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, _) = t.user("alice").await;
    let r = remote_actor_with("bea", |d| {
        let id = d["id"].as_str().unwrap().to_owned();
        d["publicKey"]["id"] = json!(format!("{id}/main-key"));
    })
    .await;
    follows_alice(&t, &r).await;
    let fetched = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert!(fetched >= 1);
    let undo = json!({ "id": format!("{}/undo/1", r.actor), "type": "Undo", "actor": r.actor,
        "object": { "type": "Follow", "actor": r.actor, "object": "https://guise.test/users/alice" } });
    assert_eq!(
        deliver(&t, &r, "/inbox", undo.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert!(followers(&t, &alice).await.is_empty());
    assert_eq!(
        r.fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched,
        "refetched a known key"
    );
}

#[actix_web::test]
async fn verified_by_is_believed_only_from_the_verifiers_own_host() {
    let t = TestApp::with_env(&[
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        (
            "GUISE_FEDERATION__TRUSTED_VERIFIERS",
            "[\"trusted.example\", \"127.0.0.1\"]",
        ),
    ])
    .await;
    let (alice, alice_tok) = t.user("alice").await;
    // Claims a trusted verifier that is not its own host.
    let liar = remote_actor_with("liar", |d| {
        d["tier"] = json!("real_name");
        d["verifiedBy"] = json!("https://trusted.example");
    })
    .await;
    // Vouched for by its own (trusted) host.
    let honest = remote_actor_with("honest", |d| {
        d["tier"] = json!("real_name");
        d["verifiedBy"] = json!("http://127.0.0.1");
    })
    .await;
    for r in [&liar, &honest] {
        deliver(
            &t,
            r,
            "/inbox",
            &follow(r, "https://guise.test/users/alice", 1),
            |_| {},
        )
        .await;
    }
    let f = t
        .get(
            &format!("/api/v1/accounts/{alice}/followers"),
            Some(&alice_tok),
        )
        .await
        .json;
    let by = |name: &str| {
        f.as_array()
            .unwrap()
            .iter()
            .find(|a| a["username"] == name)
            .unwrap()["guise"]
            .clone()
    };
    assert_eq!(by("liar")["tier"], "real_name");
    assert_eq!(by("liar")["verified"], false);
    assert_eq!(by("liar")["verified_by"], Value::Null);
    assert_eq!(by("honest")["verified"], true);
    assert_eq!(by("honest")["verified_by"], "127.0.0.1");
}

#[actix_web::test]
async fn look_alike_hosts_are_not_ours() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let s = t.post_status(&alice, json!({ "status": "mine" })).await;
    let sid = s["id"].as_str().unwrap();
    let r = remote_actor("remy").await;
    let like = json!({ "id": format!("{}/likes/1", r.actor), "type": "Like", "actor": r.actor,
        "object": format!("https://guise.test.evil.example/users/alice/statuses/{sid}") });
    assert_eq!(
        deliver(&t, &r, "/inbox", like.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let now = t.get(&format!("/api/v1/statuses/{sid}"), None).await;
    assert_eq!(now.json["favourites_count"], 0);
}

#[actix_web::test]
async fn a_failed_activity_is_acted_on_when_retried() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let r = remote_actor("remy").await;
    let body = follow(&r, "https://guise.test/users/carol", 1);
    // carol does not exist yet: refused, and not remembered as seen.
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::NOT_FOUND
    );
    let (carol, _) = t.user("carol").await;
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(followers(&t, &carol).await.len(), 1);
}

/// A remote face staff marked sensitive: its posts arrive marked so.
#[actix_web::test]
async fn a_sensitized_remote_face_posts_arrive_sensitive() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let r = remote_actor("remy").await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let create = |n: u32| {
        let note = json!({ "id": format!("{host}/notes/{n}"), "type": "Note", "attributedTo": r.actor,
            "content": "<p>hello</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"] });
        json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor, "object": note })
            .to_string()
    };
    let sensitive_of = |n: u32| {
        format!(
            "DO $$ BEGIN IF (SELECT sensitive FROM statuses WHERE uri = '{host}/notes/{n}') IS DISTINCT FROM {} \
             THEN RAISE EXCEPTION 'note {n} is not as expected'; END IF; END $$",
            n == 2
        )
    };
    assert_eq!(
        deliver(&t, &r, "/inbox", create(1).as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    t.sql(&sensitive_of(1)).await;
    {
        let mut conn = t.state.db.conn().await.unwrap();
        let first = guise_core::remote::status_by_uri(&mut conn, &format!("{host}/notes/1"))
            .await
            .unwrap()
            .unwrap();
        guise_core::moderation::set_sensitized(&mut conn, first.identity_id, true)
            .await
            .unwrap();
    }
    assert_eq!(
        deliver(&t, &r, "/inbox", create(2).as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    t.sql(&sensitive_of(2)).await;
}

#[actix_web::test]
async fn a_resent_update_that_changes_nothing_leaves_no_edit() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let r = remote_actor("remy").await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let note = json!({ "id": format!("{host}/notes/1"), "type": "Note", "attributedTo": r.actor,
        "content": "<p>same</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"] });
    let create = json!({ "id": format!("{}/creates/1", r.actor), "type": "Create", "actor": r.actor, "object": note });
    deliver(&t, &r, "/inbox", create.to_string().as_bytes(), |_| {}).await;
    let update = json!({ "id": format!("{}/updates/1", r.actor), "type": "Update", "actor": r.actor, "object": note });
    assert_eq!(
        deliver(&t, &r, "/inbox", update.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(t.row_counts().await["status_edits"], 0);
    let mut edited = note.clone();
    edited["content"] = json!("<p>changed</p>");
    let update = json!({ "id": format!("{}/updates/2", r.actor), "type": "Update", "actor": r.actor, "object": edited });
    deliver(&t, &r, "/inbox", update.to_string().as_bytes(), |_| {}).await;
    // The original and the edit.
    assert_eq!(t.row_counts().await["status_edits"], 2);
}

#[actix_web::test]
async fn an_event_naming_something_gone_does_not_stall_the_outbox() {
    use diesel_async::RunQueryDsl;
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    {
        let mut conn = t.state.db.conn().await.unwrap();
        diesel::sql_query(
            "INSERT INTO outbox_events (id, kind, payload, created_at) VALUES \
             (1, 'follow.created', '{\"from\": \"111\", \"to\": \"222\"}', now()), \
             (2, 'favourite.deleted', '{\"from\": \"111\", \"status_id\": \"333\"}', now())",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    t.post_status(&alice, json!({ "status": "after them" }))
        .await;
    let urls = guise_federation::Urls::new("https://guise.test");
    let n = guise_federation::delivery::expand_once(&t.state.db, t.clock.as_ref(), &urls, 100)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let left = t.dump().await["outbox_events"]
        .iter()
        .filter(|e| e.ends_with(",)"))
        .count();
    assert_eq!(left, 0, "{:?}", t.dump().await["outbox_events"]);
}

#[actix_web::test]
async fn search_refuses_an_actor_whose_document_names_another() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let r = remote_actor("remy").await;
    // The server answers every path with remy's document.
    let other = r.actor.replace("/users/remy", "/users/fake");
    let found = t
        .get(
            &format!("/api/v2/search?q={other}&resolve=true&type=accounts"),
            Some(&alice),
        )
        .await;
    assert_eq!(found.json["accounts"], json!([]), "{}", found.json);
    let found = t
        .get(
            &format!("/api/v2/search?q={}&resolve=true&type=accounts", r.actor),
            Some(&alice),
        )
        .await;
    assert_eq!(found.json["accounts"][0]["username"], "remy");
}

#[actix_web::test]
async fn a_reply_brings_its_missing_ancestors() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let note = |base: &str, n: u32, parent: Option<u32>| {
        json!({ "id": format!("{base}/notes/{n}"), "type": "Note", "attributedTo": format!("{base}/users/remy"),
                "content": format!("<p>note {n}</p>"), "inReplyTo": parent.map(|p| format!("{base}/notes/{p}")),
                "to": ["https://www.w3.org/ns/activitystreams#Public"] })
    };
    let r = remote_server(
        "remy",
        |_| {},
        |base| {
            vec![
                ("/notes/1".into(), note(base, 1, None)),
                ("/notes/2".into(), note(base, 2, Some(1))),
            ]
        },
    )
    .await;
    let base = r.actor.trim_end_matches("/users/remy").to_owned();
    let create = json!({ "id": format!("{}/creates/3", r.actor), "type": "Create", "actor": r.actor,
        "object": note(&base, 3, Some(2)) });
    assert_eq!(
        deliver(&t, &r, "/inbox", create.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await.json;
    let id_of = |n: u32| {
        public
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == format!("{base}/notes/{n}"))
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("note {n} missing: {public}"))
    };
    let (one, two, three) = (id_of(1), id_of(2), id_of(3));
    let ctx = t
        .get(&format!("/api/v1/statuses/{three}/context"), Some(&alice))
        .await
        .json;
    let ancestors: Vec<&str> = ctx["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ancestors, [one.as_str(), two.as_str()]);
}

#[actix_web::test]
async fn a_lemmy_community_relays_a_members_post_fetched_from_its_origin() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let member_key = guise_federation::keys::generate().unwrap();
    let pem = member_key.public_pem.clone();
    let group = remote_server(
        "engines",
        |d| d["type"] = json!("Group"),
        move |base| {
            let dee = format!("{base}/u/dee");
            vec![
                ("/u/dee".into(), json!({ "id": dee, "type": "Person", "preferredUsername": "dee",
                    "inbox": format!("{dee}/inbox"),
                    "publicKey": { "id": format!("{dee}#main-key"), "owner": dee, "publicKeyPem": pem } })),
                ("/post/1".into(), json!({ "id": format!("{base}/post/1"), "type": "Page", "attributedTo": dee,
                    "name": "A V8 in a Beetle", "content": "<p>the real text</p>",
                    "to": [format!("{base}/users/engines"), "https://www.w3.org/ns/activitystreams#Public"] })),
            ]
        },
    )
    .await;
    let base = group.actor.trim_end_matches("/users/engines").to_owned();
    // The relayed copy says something else: it is not believed.
    let announce = json!({ "id": format!("{}/announces/1", group.actor), "type": "Announce", "actor": group.actor,
        "object": { "id": format!("{base}/creates/1"), "type": "Create", "actor": format!("{base}/u/dee"),
            "object": { "id": format!("{base}/post/1"), "type": "Page", "attributedTo": format!("{base}/u/dee"),
                        "content": "<p>forged text</p>" } } });
    assert_eq!(
        deliver(
            &t,
            &group,
            "/inbox",
            announce.to_string().as_bytes(),
            |_| {}
        )
        .await,
        StatusCode::ACCEPTED
    );
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await.json;
    let post = public
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uri"] == format!("{base}/post/1"))
        .unwrap_or_else(|| panic!("{public}"))
        .clone();
    let content = post["content"].as_str().unwrap();
    assert!(
        content.contains("the real text") && content.contains("A V8 in a Beetle"),
        "{content}"
    );
    assert!(!content.contains("forged"));
    assert_eq!(post["account"]["username"], "dee");
    assert_eq!(post["reblogs_count"], 1);
}

/// CVE-2024-23832: a JSON file uploaded to a remote server, claiming to be
/// an actor there with the uploader's key, never replaces that actor's key:
/// documents are believed only as ActivityPub and only at their own id.
#[actix_web::test]
async fn an_upload_claiming_another_actors_id_never_replaces_its_key() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, _) = t.user("alice").await;
    let mallory = guise_federation::keys::generate().unwrap();
    let evil_pem = mallory.public_pem.clone();
    let r = remote_server(
        "victim",
        |_| {},
        move |base| {
            let actor = format!("{base}/users/victim");
            let doc = |path: &str, ct: &str| {
                json!({
                    "__content_type": ct,
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": actor, "type": "Person", "preferredUsername": "victim",
                    "inbox": format!("{actor}/inbox"),
                    "publicKey": { "id": format!("{base}{path}#main-key"), "owner": actor, "publicKeyPem": evil_pem }
                })
            };
            vec![
                ("/media/evil.json".to_owned(), doc("/media/evil.json", "application/json")),
                ("/media/evil2.json".to_owned(), doc("/media/evil2.json", "application/activity+json")),
            ]
        },
    )
    .await;
    // The real actor is known, with its real key.
    follows_alice(&t, &r).await;
    assert_eq!(followers(&t, &alice).await.len(), 1);
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    for upload in ["evil.json", "evil2.json"] {
        let forged = Remote {
            actor: r.actor.clone(),
            key: mallory.clone(),
            key_id: format!("{host}/media/{upload}#main-key"),
            fetches: r.fetches.clone(),
        };
        let undo = json!({ "id": format!("{}/undo/{upload}", r.actor), "type": "Undo", "actor": r.actor,
            "object": { "type": "Follow", "actor": r.actor, "object": "https://guise.test/users/alice" } });
        assert_eq!(
            deliver(&t, &forged, "/inbox", undo.to_string().as_bytes(), |_| {}).await,
            StatusCode::UNAUTHORIZED,
            "{upload}"
        );
        // The real key still stands: the real actor's next activity verifies.
        let mut conn = t.state.db.conn().await.unwrap();
        let stored = guise_core::remote::by_actor_url(&mut conn, &r.actor)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.public_key_pem.as_deref(),
            Some(r.key.public_pem.as_str()),
            "{upload}"
        );
    }
    assert_eq!(
        followers(&t, &alice).await.len(),
        1,
        "the forged Undo did nothing"
    );
}

/// Blocks cover a domain and every subdomain, however either is spelled.
#[actix_web::test]
async fn a_blocked_domain_is_refused_however_spelled() {
    let t = TestApp::with_env(&[(
        "GUISE_FEDERATION__BLOCKED_DOMAINS",
        "[\"Evil.Example.\", \"bücher.example\"]",
    )])
    .await;
    for key_id in [
        "https://evil.example/users/x#main-key",
        "https://EVIL.example./users/x#main-key",
        "https://sub.evil.example/users/x#main-key",
        "https://xn--bcher-kva.example/users/x#main-key",
    ] {
        let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
        let req = actix_web::test::TestRequest::post()
            .uri("/inbox")
            .insert_header((
                "Signature",
                format!("keyId=\"{key_id}\",headers=\"date\",signature=\"AAAA\""),
            ))
            .insert_header((
                "Date",
                common::http_date_from_start(chrono::Duration::zero()),
            ))
            .set_payload("{}")
            .to_request();
        let status = actix_web::test::call_service(&app, req).await.status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{key_id}");
    }
}

/// A deletion is final whatever order activities arrive in: a Delete for a
/// note not seen yet is remembered, and the late Create stores nothing.
#[actix_web::test]
async fn a_delete_that_overtakes_its_create_still_wins() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let r = remote_actor("remy").await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let note = format!("{host}/notes/late");
    let delete = json!({ "id": format!("{}/deletes/1", r.actor), "type": "Delete", "actor": r.actor,
        "object": { "id": note, "type": "Tombstone" } });
    assert_eq!(
        deliver(&t, &r, "/inbox", delete.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let create = json!({ "id": format!("{}/creates/late", r.actor), "type": "Create", "actor": r.actor,
        "object": { "id": note, "type": "Note", "attributedTo": r.actor,
            "content": "<p>too late</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"] } });
    assert_eq!(
        deliver(&t, &r, "/inbox", create.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await;
    assert!(!public.text.contains("too late"), "{}", public.text);
    // A note that mentions someone takes another path (its mentions are
    // looked up): a Delete that overtook it wins there too.
    let mentioning = format!("{host}/notes/late-mention");
    let delete = json!({ "id": format!("{}/deletes/2", r.actor), "type": "Delete", "actor": r.actor,
        "object": { "id": mentioning, "type": "Tombstone" } });
    deliver(&t, &r, "/inbox", delete.to_string().as_bytes(), |_| {}).await;
    let create = json!({ "id": format!("{}/creates/late-mention", r.actor), "type": "Create", "actor": r.actor,
        "object": { "id": mentioning, "type": "Note", "attributedTo": r.actor,
            "content": "<p>@alice also too late</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "tag": [{ "type": "Mention", "href": "https://guise.test/users/alice", "name": "@alice@guise.test" }] } });
    assert_eq!(
        deliver(&t, &r, "/inbox", create.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await;
    assert!(!public.text.contains("also too late"), "{}", public.text);
    let notes = t.get("/api/v1/notifications", Some(&alice)).await;
    assert!(!notes.text.contains("also too late"), "{}", notes.text);
    // Another note of the same author still arrives.
    let other = json!({ "id": format!("{}/creates/fine", r.actor), "type": "Create", "actor": r.actor,
        "object": { "id": format!("{host}/notes/fine"), "type": "Note", "attributedTo": r.actor,
            "content": "<p>on time</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"] } });
    deliver(&t, &r, "/inbox", other.to_string().as_bytes(), |_| {}).await;
    let public = t.get("/api/v1/timelines/public", Some(&alice)).await;
    assert!(public.text.contains("on time"), "{}", public.text);
}

/// Badly signed requests cost their sender nothing and the named server
/// little: its key is fetched at most once a minute, however many name it.
#[actix_web::test]
async fn a_failing_signature_fetches_the_key_at_most_once_a_minute() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.user("alice").await;
    let r = remote_actor("remy").await;
    follows_alice(&t, &r).await;
    let before = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let forged = Remote {
        actor: r.actor.clone(),
        key: guise_federation::keys::generate().unwrap(),
        key_id: r.key_id.clone(),
        fetches: r.fetches.clone(),
    };
    for n in 0..6 {
        let body = follow(&forged, "https://guise.test/users/alice", 100 + n);
        assert_eq!(
            deliver(&t, &forged, "/inbox", &body, |_| {}).await,
            StatusCode::UNAUTHORIZED
        );
    }
    let after = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        after - before <= 1,
        "{} fetches for 6 bad signatures",
        after - before
    );
    // The real key still works, with no further fetch.
    let body = follow(&r, "https://guise.test/users/alice", 200);
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(r.fetches.load(std::sync::atomic::Ordering::SeqCst), after);
    // A minute later, one more fetch may go (keys do rotate).
    t.clock.advance(chrono::Duration::seconds(61));
    let body = follow(&forged, "https://guise.test/users/alice", 300);
    deliver(&t, &forged, "/inbox", &body, |_| {}).await;
    let again = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(again, after + 1);
}

#[actix_web::test]
async fn a_remote_anonymous_face_reaches_only_faces_that_take_it() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (bob_id, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    let r = t
        .call(
            actix_web::http::Method::PUT,
            &format!("/api/v1/guise/faces/{bob_id}/anonymous_reach"),
            Some(&bob),
            Some(common::Body::Json(json!({ "anonymous_reach": "nobody" }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let masked = remote_actor_with("anon_x1", |d| {
        d["tier"] = json!("anonymous");
        d["name"] = json!("Anonymous");
    })
    .await;
    let host = masked
        .actor
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    let note = json!({ "id": format!("{host}/notes/1"), "type": "Note", "attributedTo": masked.actor,
        "content": "<p>@bob @carol boo</p>", "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "tag": [
            { "type": "Mention", "href": "https://guise.test/users/bob", "name": "@bob@guise.test" },
            { "type": "Mention", "href": "https://guise.test/users/carol", "name": "@carol@guise.test" }
        ] });
    let create = json!({ "id": format!("{}/creates/1", masked.actor), "type": "Create", "actor": masked.actor, "object": note });
    assert_eq!(
        deliver(&t, &masked, "/inbox", create.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    // carol takes anonymous faces, bob does not.
    let n = t.get("/api/v1/notifications", Some(&carol)).await;
    assert_eq!(n.json.as_array().unwrap().len(), 1, "{}", n.text);
    assert_eq!(n.json[0]["account"]["guise"]["tier"], "anonymous");
    let n = t.get("/api/v1/notifications", Some(&bob)).await;
    assert_eq!(n.json, json!([]), "{}", n.text);
}

/// Behind a reverse proxy the `Host` a request arrives with may be the
/// proxy's upstream (127.0.0.1:8080): a signature is checked against the
/// configured public domain, which is what the sender signed. A request
/// signed for another host is refused whatever `Host` it carries.
#[actix_web::test]
async fn signatures_are_checked_against_the_public_domain_not_the_host_header() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.user("alice").await;
    let r = remote_actor("remy").await;
    let body = follow(&r, "https://guise.test/users/alice", 1);
    let proxied = |h: &mut Vec<(String, String)>| {
        for (k, v) in h.iter_mut() {
            if k.eq_ignore_ascii_case("host") {
                *v = "127.0.0.1:8080".into();
            }
        }
    };
    assert_eq!(
        deliver(&t, &r, "/inbox", &body, proxied).await,
        StatusCode::ACCEPTED
    );
    // Signed for another server, replayed here with our name in `Host`.
    let elsewhere = guise_federation::signatures::sign(
        "POST",
        "other.example",
        "/inbox",
        Some(&follow(&r, "https://guise.test/users/alice", 2)),
        &r.key_id(),
        &r.key.private_pem,
        t.clock.now(),
    )
    .unwrap();
    let replayed = follow(&r, "https://guise.test/users/alice", 2);
    let status = deliver(&t, &r, "/inbox", &replayed, |h| {
        let date = elsewhere.iter().find(|(k, _)| k == "date").cloned();
        let sig = elsewhere.iter().find(|(k, _)| k == "signature").cloned();
        for (k, v) in h.iter_mut() {
            if let Some((_, d)) = date.as_ref().filter(|_| k == "date") {
                *v = d.clone();
            }
            if let Some((_, s)) = sig.as_ref().filter(|_| k == "signature") {
                *v = s.clone();
            }
        }
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// What an actor says of itself is shown as sent: discoverable, indexable,
/// memorial, suspended by its server, when it was made, its profile
/// fields as (sanitized) HTML.
#[actix_web::test]
async fn actor_fields_are_read_as_sent() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, _) = t.user("alice").await;
    // A day before the test clock's today, whatever date the suite runs at.
    let published = t.clock.now() - chrono::Duration::days(400);
    let r = remote_actor_with("ada", |doc| {
        doc["discoverable"] = json!(true);
        doc["indexable"] = json!(true);
        doc["memorial"] = json!(true);
        doc["suspended"] = json!(true);
        doc["published"] = json!(published.format("%Y-%m-%dT12:00:00Z").to_string());
        doc["alsoKnownAs"] = json!(["https://elsewhere.example/users/ada"]);
        doc["attachment"] = json!([
            { "type": "PropertyValue", "name": "Home",
              "value": "<a href=\"https://ada.example\" rel=\"me nofollow noopener noreferrer\" target=\"_blank\">ada.example</a>" },
            { "type": "PropertyValue", "name": "Pronouns", "value": "she/her<script>alert(1)</script>" },
            { "type": "IdentityProof", "name": "old", "value": "x" }
        ]);
    })
    .await;
    deliver(
        &t,
        &r,
        "/inbox",
        &follow(&r, "https://guise.test/users/alice", 1),
        |_| {},
    )
    .await;
    let ada = followers(&t, &alice).await[0].clone();
    let shown = t
        .get(
            &format!("/api/v1/accounts/{}", ada["id"].as_str().unwrap()),
            None,
        )
        .await
        .json;
    assert_eq!(shown["discoverable"], true, "{shown}");
    assert_eq!(shown["indexable"], true);
    assert_eq!(shown["memorial"], true);
    assert_eq!(shown["suspended"], true);
    assert_eq!(
        shown["created_at"],
        published.format("%Y-%m-%dT00:00:00.000Z").to_string()
    );
    let fields = shown["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 2, "{shown}");
    assert_eq!(fields[0]["name"], "Home");
    let home = fields[0]["value"].as_str().unwrap();
    assert!(
        home.contains("href=\"https://ada.example\"") && home.contains(">ada.example</a>"),
        "{home}"
    );
    assert_eq!(fields[1]["value"], "she/her");
    assert!(shown.get("moved").is_none());
    // A face that says nothing of these shows none of the extras.
    let plain = remote_actor("bea").await;
    deliver(
        &t,
        &plain,
        "/inbox",
        &follow(&plain, "https://guise.test/users/alice", 1),
        |_| {},
    )
    .await;
    let bea = followers(&t, &alice)
        .await
        .into_iter()
        .find(|f| f["username"] == "bea")
        .unwrap();
    assert_eq!(bea["discoverable"], false);
    assert!(
        bea.get("memorial").is_none() && bea.get("suspended").is_none(),
        "{bea}"
    );
}

/// A `Move` to an actor that lists the mover in `alsoKnownAs`: local
/// followers follow the new actor instead, and the old one shows `moved`.
/// A Move to an actor that does not name the mover, or of another actor,
/// changes nothing.
#[actix_web::test]
async fn a_move_carries_local_followers_to_the_new_actor() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, alice_tok) = t.user("alice").await;
    let old = remote_actor("remy").await;
    deliver(
        &t,
        &old,
        "/inbox",
        &follow(&old, "https://guise.test/users/alice", 1),
        |_| {},
    )
    .await;
    let remy = followers(&t, &alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.call(
        actix_web::http::Method::POST,
        &format!("/api/v1/accounts/{remy}/follow"),
        Some(&alice_tok),
        None,
    )
    .await;
    let edge = t.dump().await["outbox_events"]
        .iter()
        .find(|e| e.contains("follow.created"))
        .and_then(|e| e.split("\"\"edge\"\": \"\"").nth(1))
        .and_then(|e| e.split("\"\"").next())
        .unwrap()
        .to_owned();
    let accept = json!({ "id": format!("{}/accepts/1", old.actor), "type": "Accept", "actor": old.actor,
        "object": format!("https://guise.test/users/alice/follows/{edge}") });
    deliver(&t, &old, "/inbox", accept.to_string().as_bytes(), |_| {}).await;
    let relationship = |id: String| {
        let t = &t;
        let tok = alice_tok.clone();
        async move {
            t.get(
                &format!("/api/v1/accounts/relationships?id[]={id}"),
                Some(&tok),
            )
            .await
            .json[0]
                .clone()
        }
    };
    assert_eq!(relationship(remy.clone()).await["following"], true);

    let stranger = remote_actor("stranger").await;
    let new = remote_actor_with("remy2", |doc| {
        doc["alsoKnownAs"] = json!([old.actor]);
    })
    .await;
    let mv = |target: &str, n: u32| {
        json!({ "id": format!("{}#moves/{n}", old.actor), "type": "Move", "actor": old.actor,
                "object": old.actor, "target": target })
        .to_string()
    };
    // Not named by the target: refused, nothing moves.
    assert_eq!(
        deliver(
            &t,
            &old,
            "/inbox",
            mv(&stranger.actor, 1).as_bytes(),
            |_| {}
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(relationship(remy.clone()).await["following"], true);
    // Moving someone else: refused.
    let other = json!({ "id": format!("{}#moves/2", old.actor), "type": "Move", "actor": old.actor,
                        "object": stranger.actor, "target": new.actor });
    assert_eq!(
        deliver(&t, &old, "/inbox", other.to_string().as_bytes(), |_| {}).await,
        StatusCode::UNAUTHORIZED
    );
    // The real thing.
    assert_eq!(
        deliver(&t, &old, "/inbox", mv(&new.actor, 3).as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let shown = t.get(&format!("/api/v1/accounts/{remy}"), None).await.json;
    let moved = &shown["moved"];
    assert_eq!(moved["username"], "remy2", "{shown}");
    assert_eq!(relationship(remy.clone()).await["following"], false);
    let new_id = moved["id"].as_str().unwrap().to_owned();
    assert_eq!(relationship(new_id).await["requested"], true);
    // The Follow to send the new actor is queued.
    assert!(
        t.dump().await["outbox_events"]
            .iter()
            .filter(|e| e.contains("follow.created"))
            .count()
            >= 2
    );
}

/// A profile field linking to a page that links back with `rel="me"` is
/// verified (Mastodon's green tick); one whose page does not, or that is no
/// single link, is not. Checked beside the request, once per value.
#[actix_web::test]
async fn profile_links_are_verified_by_rel_me() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice, _) = t.user("alice").await;
    let page =
        |body: String| json!({ "__content_type": "text/html; charset=utf-8", "__body": body });
    let r = remote_server(
        "ada",
        |doc| {
            let actor = doc["id"].as_str().unwrap().to_owned();
            let base = actor.split("/users/").next().unwrap().to_owned();
            doc["url"] = json!(format!("{base}/@ada"));
            doc["attachment"] = json!([
                { "type": "PropertyValue", "name": "Home", "value": format!("<a href=\"{base}/home\" rel=\"me\">home</a>") },
                { "type": "PropertyValue", "name": "Blog", "value": format!("<a href=\"{base}/blog\">blog</a>") },
                { "type": "PropertyValue", "name": "Pronouns", "value": "she/her" }
            ]);
        },
        |base| {
            vec![
                ("/home".into(), page(format!("<html><a rel=\"me\" href=\"{base}/@ada\">me</a></html>"))),
                ("/blog".into(), page(format!("<html><a href=\"{base}/@ada\">not rel=me</a></html>"))),
            ]
        },
    )
    .await;
    deliver(
        &t,
        &r,
        "/inbox",
        &follow(&r, "https://guise.test/users/alice", 1),
        |_| {},
    )
    .await;
    let id = followers(&t, &alice).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut fields = Value::Null;
    for _ in 0..100 {
        fields = t.get(&format!("/api/v1/accounts/{id}"), None).await.json["fields"].clone();
        if fields[0]["verified_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let day = t.clock.now().format("%Y-%m-%d").to_string();
    assert_eq!(
        fields[0]["verified_at"],
        format!("{day}T00:00:00.000+00:00"),
        "{fields}"
    );
    assert!(fields[1]["verified_at"].is_null(), "{fields}");
    assert!(fields[2]["verified_at"].is_null(), "{fields}");
    // The same profile sent again (an Update) keeps its verification, and
    // no page is fetched again.
    let (_, doc) = t
        .state
        .fetcher
        .get_json(&url::Url::parse(&r.actor).unwrap())
        .await
        .unwrap();
    let fetched = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let update = json!({ "id": format!("{}#updates/1", r.actor), "type": "Update", "actor": r.actor,
        "object": doc });
    assert_eq!(
        deliver(&t, &r, "/inbox", update.to_string().as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let again = t.get(&format!("/api/v1/accounts/{id}"), None).await.json["fields"].clone();
    assert_eq!(again[0]["verified_at"], fields[0]["verified_at"]);
    assert_eq!(
        r.fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched,
        "no page fetched again"
    );
}

/// Delivers `body` from `r`, which must be accepted.
async fn accepted(t: &TestApp, r: &Remote, body: String) {
    assert_eq!(
        deliver(t, r, "/inbox", body.as_bytes(), |_| {}).await,
        StatusCode::ACCEPTED
    );
}

/// The status stored under `uri`, if one is.
async fn stored_status(t: &TestApp, uri: &str) -> Option<guise_core::models::Status> {
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::remote::status_by_uri(&mut conn, uri)
        .await
        .unwrap()
}

/// The statuses' URIs on the federated public timeline.
async fn public_uris(t: &TestApp, token: &str) -> Vec<String> {
    t.get("/api/v1/timelines/public", Some(token))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uri"].as_str().unwrap().to_owned())
        .collect()
}

/// A domain block made over the admin API holds at once, without a
/// restart: `silence` keeps the domain's posts off the public timelines
/// (its inbox still open), `suspend` refuses its inbox traffic and every
/// fetch from it, and lifting the block lets it back in.
#[actix_web::test]
async fn domain_blocks_made_over_rest_hold_at_once() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "read admin:read admin:write").await;
    let r = remote_actor("remy").await;
    let base = r.actor.trim_end_matches("/users/remy").to_owned();
    let create = |n: u32| {
        json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor,
            "object": { "id": format!("{base}/notes/{n}"), "type": "Note", "attributedTo": r.actor,
                        "content": format!("<p>note {n}</p>"),
                        "to": ["https://www.w3.org/ns/activitystreams#Public"] } })
        .to_string()
        .into_bytes()
    };
    let note = |n: u32| format!("{base}/notes/{n}");
    assert_eq!(
        deliver(&t, &r, "/inbox", &create(1), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(public_uris(&t, &alice).await, [note(1)]);

    let made = t
        .post(
            "/api/v1/admin/domain_blocks",
            Some(&admin),
            json!({ "domain": "127.0.0.1", "severity": "silence" }),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    let block = made.json["id"].as_str().unwrap().to_owned();
    assert!(public_uris(&t, &alice).await.is_empty(), "silenced");
    assert_eq!(
        deliver(&t, &r, "/inbox", &create(2), |_| {}).await,
        StatusCode::ACCEPTED,
        "a silenced domain still delivers"
    );
    assert!(public_uris(&t, &alice).await.is_empty());

    let r2 = t
        .call(
            actix_web::http::Method::PUT,
            &format!("/api/v1/admin/domain_blocks/{block}"),
            Some(&admin),
            Some(common::Body::Json(json!({ "severity": "suspend" }))),
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(
        deliver(&t, &r, "/inbox", &create(3), |_| {}).await,
        StatusCode::FORBIDDEN
    );
    let actor = url::Url::parse(&r.actor).unwrap();
    assert!(t.state.fetcher.is_blocked(&actor));
    assert!(
        t.state.fetcher.get_json(&actor).await.is_err(),
        "never fetched"
    );

    let gone = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/admin/domain_blocks/{block}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert!(!t.state.fetcher.is_blocked(&actor));
    assert_eq!(
        deliver(&t, &r, "/inbox", &create(3), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let mut seen = public_uris(&t, &alice).await;
    seen.sort();
    assert_eq!(seen, [note(1), note(2), note(3)]);
}

/// A `Flag` from another server becomes a report about the local face it
/// names (with those of the named posts that are that face's), filed by
/// the sending actor; a domain whose reports are rejected is heard and
/// ignored.
#[actix_web::test]
async fn a_flag_from_another_server_becomes_a_report() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice_face, alice) = t.user("alice").await;
    let (_, carol) = t.user("carol").await;
    let mine = t
        .post_status(&alice, json!({ "status": "spicy", "visibility": "public" }))
        .await;
    let other = t
        .post_status(
            &carol,
            json!({ "status": "not hers", "visibility": "public" }),
        )
        .await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    let r = remote_actor("remy").await;
    let flag = |n: u32| {
        json!({ "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{}/flags/{n}", r.actor), "type": "Flag", "actor": r.actor,
                "content": "harassment",
                "object": ["https://guise.test/users/alice", mine["uri"], other["uri"], "https://elsewhere.example/x"] })
        .to_string()
        .into_bytes()
    };
    assert_eq!(
        deliver(&t, &r, "/inbox", &flag(1), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let reports = t.get("/api/v1/admin/reports", Some(&admin)).await.json;
    let list = reports.as_array().unwrap();
    assert_eq!(list.len(), 1, "{reports}");
    assert_eq!(list[0]["target_account"]["id"], alice_face.as_str());
    assert_eq!(list[0]["comment"], "harassment");
    assert_eq!(
        list[0]["account"]["account"]["url"]
            .as_str()
            .map(|u| u.contains("remy")),
        Some(true),
        "{reports}"
    );
    let posts: Vec<&str> = list[0]["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(posts, [mine["id"].as_str().unwrap()], "only her own posts");

    let made = t
        .post(
            "/api/v1/admin/domain_blocks",
            Some(&admin),
            json!({ "domain": "127.0.0.1", "severity": "noop", "reject_reports": true }),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(
        deliver(&t, &r, "/inbox", &flag(2), |_| {}).await,
        StatusCode::ACCEPTED
    );
    let reports = t.get("/api/v1/admin/reports", Some(&admin)).await.json;
    assert_eq!(reports.as_array().unwrap().len(), 1, "dropped: {reports}");
}

/// The incoming policy chain, set over the admin API (admins only, each
/// rule checked), acts on remote posts at once — rejecting, de-listing,
/// replacing words, marking sensitive, limiting mentions, per tier — and
/// the decision log says what fired, with reason codes.
#[actix_web::test]
async fn incoming_rules_made_over_rest_act_on_remote_posts() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    let rules = "/api/v1/admin/guise/incoming_rules";
    assert_eq!(t.get(rules, Some(&alice)).await.status, 403);
    for (body, what) in [
        (
            json!({ "kind": "hashtag", "pattern": "x", "action": "replace" }),
            "keyword",
        ),
        (
            json!({ "kind": "nope", "pattern": "x", "action": "reject" }),
            "kind",
        ),
        (
            json!({ "kind": "keyword", "pattern": "x", "action": "reject", "tiers": ["ghost"] }),
            "tier",
        ),
        (
            json!({ "kind": "mention_limit", "action": "reject" }),
            "amount",
        ),
    ] {
        let r = t.post(rules, Some(&admin), body).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
    }
    let mut reject_rule = String::new();
    for body in [
        json!({ "kind": "keyword", "pattern": "buy pills", "action": "reject" }),
        json!({ "kind": "hashtag", "pattern": "#Promo", "action": "delist" }),
        json!({ "kind": "keyword", "pattern": "darn", "action": "replace", "replacement": "d*rn" }),
        json!({ "kind": "mention_limit", "amount": 2, "action": "reject" }),
        json!({ "kind": "domain", "pattern": "127.0.0.1", "action": "sensitive", "tiers": ["pseudonymous"] }),
        json!({ "kind": "domain", "pattern": "127.0.0.1", "action": "reject", "tiers": ["anonymous"] }),
    ] {
        let r = t.post(rules, Some(&admin), body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if reject_rule.is_empty() {
            assert_eq!(r.json["code"], "keyword_reject");
            reject_rule = r.json["id"].as_str().unwrap().to_owned();
        }
    }
    let r = remote_actor("remy").await;
    let base = r.actor.trim_end_matches("/users/remy").to_owned();
    let send = |n: u32, text: &str, tags: serde_json::Value| {
        let body =
            json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor,
            "object": { "id": format!("{base}/notes/{n}"), "type": "Note", "attributedTo": r.actor,
                        "content": format!("<p>{text}</p>"), "tag": tags,
                        "to": ["https://www.w3.org/ns/activitystreams#Public"] } })
            .to_string();
        accepted(&t, &r, body)
    };
    let stored = |n: u32| {
        let uri = format!("{base}/notes/{n}");
        let t = &t;
        async move { stored_status(t, &uri).await }
    };
    send(1, "Buy PILLS now", json!([])).await;
    assert!(stored(1).await.is_none(), "rejected");
    send(
        2,
        "new #promo",
        json!([{ "type": "Hashtag", "name": "#Promo", "href": "https://x.example/tags/promo" }]),
    )
    .await;
    let two = stored(2).await.expect("stored");
    assert_eq!(two.visibility, "unlisted", "de-listed");
    send(3, "darn it, DARN", json!([])).await;
    let three = stored(3).await.expect("stored");
    assert!(three.content.contains("d*rn it, d*rn"), "{}", three.content);
    assert!(!three.content.to_lowercase().contains("darn"));
    assert!(three.sensitive, "the domain rule for its tier");
    let mention = |i: u32| json!({ "type": "Mention", "href": format!("https://m{i}.example/users/u"), "name": format!("@u@m{i}.example") });
    send(4, "hello all", json!([mention(1), mention(2), mention(3)])).await;
    assert!(stored(4).await.is_none(), "too many mentions");
    let public: Vec<String> = t
        .get("/api/v1/timelines/public", Some(&alice))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uri"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(public, [format!("{base}/notes/3")]);

    let log = t
        .get("/api/v1/admin/guise/policy_decisions", Some(&admin))
        .await
        .json;
    let codes_of = |n: u32| -> (Vec<String>, bool) {
        let line = log
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["uri"] == format!("{base}/notes/{n}"))
            .unwrap_or_else(|| panic!("note {n}: {log}"));
        (
            line["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect(),
            line["rejected"].as_bool().unwrap(),
        )
    };
    assert_eq!(
        codes_of(1),
        (
            vec!["keyword_reject".into(), "domain_sensitive".into()],
            true
        )
    );
    assert_eq!(
        codes_of(2),
        (
            vec!["hashtag_delist".into(), "domain_sensitive".into()],
            false
        )
    );
    assert_eq!(
        codes_of(3),
        (
            vec!["keyword_replace".into(), "domain_sensitive".into()],
            false
        )
    );
    assert_eq!(
        codes_of(4),
        (
            vec!["mention_limit_reject".into(), "domain_sensitive".into()],
            true
        )
    );
    assert!(log[0]["domain"] == "127.0.0.1" && log[0]["created_on"].as_str().unwrap().len() == 10);

    // Lifted: the same words pass.
    let r2 = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("{rules}/{reject_rule}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    send(5, "Buy PILLS now", json!([])).await;
    assert!(stored(5).await.is_some());
}

/// A `hold` rule keeps new remote accounts' posts aside: nobody sees them
/// (timelines, notifications, search) until staff release them — a reply
/// waits with its held thread start, an edit with its post, and releasing
/// the reply brings its start first — or reject them. An edit of a post
/// already shown that a rule holds waits too, the shown version staying.
/// Users may not see the queue; moderators may act on it; every act is in
/// the audit log.
#[actix_web::test]
async fn held_remote_posts_wait_for_a_moderator() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let (root, _) = t.create_account("root").await;
    let (moder, _) = t.create_account("mo").await;
    t.sql(&format!(
        "UPDATE accounts SET role = CASE WHEN id = {root} THEN 'admin' ELSE 'moderator' END \
         WHERE id IN ({root}, {moder})"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    let mo = t.token("mo", "admin:read admin:write").await;
    let made = t
        .post(
            "/api/v1/admin/guise/incoming_rules",
            Some(&admin),
            json!({ "kind": "new_account", "amount": 7, "action": "hold" }),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(made.json["code"], "new_account_hold");
    let held_url = "/api/v1/admin/guise/held_posts";
    assert_eq!(t.get(held_url, Some(&alice)).await.status, 403);

    let r = remote_actor("remy").await;
    let base = r.actor.trim_end_matches("/users/remy").to_owned();
    let note_uri = |n: u32| format!("{base}/notes/{n}");
    let note = |n: u32, text: &str, reply_to: Option<u32>| {
        json!({ "id": note_uri(n), "type": "Note", "attributedTo": r.actor,
                "content": format!("<p>@alice {text}</p>"), "inReplyTo": reply_to.map(note_uri),
                "tag": [{ "type": "Mention", "href": "https://guise.test/users/alice", "name": "@alice@guise.test" }],
                "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": ["https://guise.test/users/alice"] })
    };
    let send = |kind: &'static str, n: u32, object: Value| {
        let body = json!({ "id": format!("{}/{kind}/{n}", r.actor), "type": kind, "actor": r.actor, "object": object })
            .to_string();
        accepted(&t, &r, body)
    };
    let stored = |n: u32| {
        let uri = note_uri(n);
        let t = &t;
        async move { stored_status(t, &uri).await }
    };
    let mentions_of_alice = || async {
        t.get("/api/v1/notifications?types[]=mention", Some(&alice))
            .await
            .json
            .as_array()
            .unwrap()
            .len()
    };
    let held = || async {
        let r = t.get(held_url, Some(&mo)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json.as_array().unwrap().clone()
    };

    send("Create", 1, note(1, "first words", None)).await;
    send("Create", 2, note(2, "and a reply", Some(1))).await;
    send("Update", 1, note(1, "first words, edited", None)).await;
    assert!(stored(1).await.is_none() && stored(2).await.is_none());
    // A replayed Create is not judged (nor logged) again.
    let before = t.row_counts().await;
    send("Create", 1, note(1, "first words", None)).await;
    assert_eq!(t.row_counts().await, before);
    assert!(public_uris(&t, &alice).await.is_empty());
    assert_eq!(mentions_of_alice().await, 0, "no notification yet");
    let fetched = r.fetches.load(std::sync::atomic::Ordering::SeqCst);
    let found = t
        .get(
            &format!(
                "/api/v2/search?resolve=true&type=statuses&q={}",
                urlencoding(&note_uri(1))
            ),
            Some(&alice),
        )
        .await;
    assert_eq!(found.json["statuses"], json!([]), "{}", found.text);
    assert_eq!(
        r.fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched,
        "a held post is not fetched again"
    );

    let list = held().await;
    assert_eq!(list.len(), 2, "{list:?}");
    let first = list.iter().find(|h| h["uri"] == note_uri(1)).unwrap();
    let reply = list.iter().find(|h| h["uri"] == note_uri(2)).unwrap();
    assert!(
        first["content"].as_str().unwrap().contains("edited"),
        "the newest version waits: {first}"
    );
    assert_eq!(first["codes"], json!(["new_account_hold"]));
    assert_eq!(reply["codes"], json!(["new_account_hold", "held_parent"]));
    assert_eq!(
        first["account"]["url"].as_str().map(|u| u.contains("remy")),
        Some(true)
    );
    assert_eq!(first["edit"], false);

    // Releasing the reply brings its thread start first.
    let rid = reply["id"].as_str().unwrap();
    let u = t
        .post(
            &format!("{held_url}/{rid}/release"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(u.status, 403);
    let done = t
        .post(&format!("{held_url}/{rid}/release"), Some(&mo), json!({}))
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let (one, two) = (stored(1).await.unwrap(), stored(2).await.unwrap());
    assert!(one.content.contains("edited"), "{}", one.content);
    assert_eq!(two.in_reply_to_id, Some(one.id));
    assert_eq!(mentions_of_alice().await, 2, "notified on release");
    assert!(held().await.is_empty());

    // Rejected: dropped with the reply held behind it; a deleted held post
    // leaves the queue.
    send("Create", 3, note(3, "buy now", None)).await;
    send("Create", 4, note(4, "really", Some(3))).await;
    send("Create", 5, note(5, "oops", None)).await;
    send("Delete", 5, json!(note_uri(5))).await;
    let list = held().await;
    assert_eq!(list.len(), 2, "{list:?}");
    let three = list.iter().find(|h| h["uri"] == note_uri(3)).unwrap();
    let gone = t
        .post(
            &format!("{held_url}/{}/reject", three["id"].as_str().unwrap()),
            Some(&mo),
            json!({}),
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert!(held().await.is_empty());
    assert!(stored(3).await.is_none() && stored(4).await.is_none());

    // An older account's posts pass; an edit a keyword rule holds waits,
    // the shown version staying until it is released.
    t.sql("UPDATE identities SET created_on = created_on - 30 WHERE actor_url LIKE '%/users/remy'")
        .await;
    send("Create", 6, note(6, "hello again", None)).await;
    assert!(stored(6).await.is_some());
    let made = t
        .post(
            "/api/v1/admin/guise/incoming_rules",
            Some(&admin),
            json!({ "kind": "keyword", "pattern": "casino", "action": "hold" }),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    send("Update", 6, note(6, "hello casino", None)).await;
    assert!(stored(6).await.unwrap().content.contains("hello again"));
    let list = held().await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["edit"], true);
    assert_eq!(list[0]["codes"], json!(["keyword_hold"]));
    let id = list[0]["id"].as_str().unwrap();
    let done = t
        .post(&format!("{held_url}/{id}/release"), Some(&admin), json!({}))
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(stored(6).await.unwrap().content.contains("hello casino"));

    let log = t
        .get("/api/v1/admin/guise/audit_log", Some(&admin))
        .await
        .json;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_type"] == "held_post")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    let count = |a: &str| actions.iter().filter(|x| **x == a).count();
    assert_eq!(count("release_held_post"), 3, "{log}");
    assert_eq!(count("reject_held_post"), 2, "{log}");
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A remote note is stored in one statement with its tags and its stream
/// event; the same note again (a second Create, or a boost that fetched it)
/// stores nothing more; and a signed POST from a host that was failing
/// marks it up again, a replay too.
#[actix_web::test]
async fn a_remote_note_arrives_once_with_its_tags_and_heals_its_host() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (_, alice) = t.user("alice").await;
    let r = remote_actor("remy").await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let today = t.clock.now().timestamp().div_euclid(86_400);
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::queue::set_host_failed_days(&mut conn, "127.0.0.1", &[today - 2, today - 1])
        .await
        .unwrap();
    let note = |n: u32| {
        json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor,
            "object": { "id": format!("{host}/notes/tagged"), "type": "Note", "attributedTo": r.actor,
                "content": "<p>on #Ingest and #bench</p>",
                "tag": [{ "type": "Hashtag", "name": "#Ingest" }, { "type": "Hashtag", "name": "#bench" },
                        { "type": "Hashtag", "name": "#ingest" }],
                "to": ["https://www.w3.org/ns/activitystreams#Public"] } })
        .to_string()
    };
    accepted(&t, &r, note(1)).await;
    assert!(
        guise_core::queue::host_failed_days(&mut conn, "127.0.0.1")
            .await
            .unwrap()
            .is_empty(),
        "a signed POST marks its host up"
    );
    let stored = stored_status(&t, &format!("{host}/notes/tagged"))
        .await
        .unwrap();
    let tags: Vec<String> = guise_core::schema::status_tags::table
        .filter(guise_core::schema::status_tags::status_id.eq(stored.id))
        .select(guise_core::schema::status_tags::name)
        .order(guise_core::schema::status_tags::name)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(tags, ["bench", "ingest"]);
    let tagged = t.get("/api/v1/timelines/tag/ingest", Some(&alice)).await;
    assert_eq!(tagged.json.as_array().unwrap().len(), 1, "{}", tagged.text);
    // The same note in another Create: nothing more is stored.
    accepted(&t, &r, note(2)).await;
    let count: i64 = guise_core::schema::statuses::table
        .filter(guise_core::schema::statuses::uri.eq(format!("{host}/notes/tagged")))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Each Create's sighting was written with what it stored (or did not).
    let seen: i64 = guise_core::schema::inbox_seen::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, 2);
    // A replay of a seen activity is accepted, does nothing, and still
    // tells us its host is up.
    guise_core::queue::set_host_failed_days(&mut conn, "127.0.0.1", &[today - 1])
        .await
        .unwrap();
    accepted(&t, &r, note(2)).await;
    assert!(guise_core::queue::host_failed_days(&mut conn, "127.0.0.1")
        .await
        .unwrap()
        .is_empty());
}

/// A sender whose signature was checked with its stored key is kept in
/// memory with its parsed key, and used from there; any change to its row
/// (here made behind the process, as another process or tool would) makes
/// the process forget it, as soon as PostgreSQL says so.
#[actix_web::test]
async fn a_kept_sender_is_forgotten_when_its_row_changes() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    t.create_account("alice").await;
    tokio::spawn(guise_server::kept::listen(
        t.state.tokens.clone(),
        t.state.senders.clone(),
        t.db_url.clone(),
    ));
    let waited = std::time::Instant::now();
    while !t.state.senders.is_listening() {
        assert!(waited.elapsed().as_secs() < 30, "never listened");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = remote_actor("kit").await;
    // First seen: fetched, stored, not kept (its row was not read).
    follows_alice(&t, &r).await;
    assert!(t.state.senders.is_empty());
    let again = |n| follow(&r, "https://guise.test/users/alice", n);
    // Known: read with its key, checked, kept; then used from memory.
    for n in [2, 3] {
        assert_eq!(
            deliver(&t, &r, "/inbox", &again(n), |_| {}).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(t.state.senders.len(), 1);
    }
    // Its row changing forgets it.
    t.sql(&format!(
        "UPDATE identities SET display_name = 'renamed' WHERE actor_url = '{}'",
        r.actor
    ))
    .await;
    let waited = std::time::Instant::now();
    while !t.state.senders.is_empty() {
        assert!(
            waited.elapsed().as_secs() < 30,
            "the changed sender is still kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Read again on its next activity.
    assert_eq!(
        deliver(&t, &r, "/inbox", &again(4), |_| {}).await,
        StatusCode::ACCEPTED
    );
    assert_eq!(t.state.senders.len(), 1);
}

/// Runs `work` while the row of the host 127.0.0.1 (marked failing) is
/// locked, so that the first batches of plain notes wait on it (their
/// statement marks that host up) and the rest queue behind them; the lock
/// goes once `queued` notes wait.
async fn with_host_locked<F: std::future::Future>(
    t: &TestApp,
    queued: usize,
    work: F,
) -> F::Output {
    use diesel_async::RunQueryDsl;
    let today = t.clock.now().timestamp().div_euclid(86_400);
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::queue::set_host_failed_days(&mut conn, "127.0.0.1", &[today - 1])
        .await
        .unwrap();
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    diesel::sql_query("SELECT 1 FROM hosts WHERE host = '127.0.0.1' FOR UPDATE")
        .execute(&mut conn)
        .await
        .unwrap();
    let release = async {
        while t.state.ingest.waiting() < queued {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        diesel::sql_query("COMMIT")
            .execute(&mut conn)
            .await
            .unwrap();
    };
    tokio::join!(work, release).0
}

/// Plain notes arriving together are written together, many to one
/// statement, each request answered once its note is stored: the same
/// note in several Creates is stored once, a replay and a note its author
/// deleted not at all, every activity's sighting is recorded; and a note
/// PostgreSQL refuses fails its own request alone.
#[actix_web::test]
async fn plain_notes_arriving_together_are_written_together() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use guise_core::schema::{inbox_seen, status_tags, statuses};
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let r = remote_actor("remy").await;
    let host = r.actor.split('/').take(3).collect::<Vec<_>>().join("/");
    let delete = json!({ "id": format!("{}/deletes/1", r.actor), "type": "Delete", "actor": r.actor,
                         "object": format!("{host}/notes/gone") });
    accepted(&t, &r, delete.to_string()).await;
    let create = |n: u32, note: &str| {
        json!({ "id": format!("{}/creates/{n}", r.actor), "type": "Create", "actor": r.actor,
            "object": { "id": format!("{host}/notes/{note}"), "type": "Note", "attributedTo": r.actor,
                "content": format!("<p>note {note} #together</p>"),
                "tag": [{ "type": "Hashtag", "name": "#together" }],
                "to": ["https://www.w3.org/ns/activitystreams#Public"] } })
        .to_string()
    };
    // 20 notes, one of them in 4 more Creates, a replay, a deleted note.
    let mut bodies: Vec<String> = (0..20).map(|n| create(n, &n.to_string())).collect();
    bodies.extend((20..24).map(|n| create(n, "7")));
    bodies.push(create(3, "3"));
    bodies.push(create(24, "gone"));
    let sent = futures::future::join_all(
        bodies
            .iter()
            .map(|b| deliver(&t, &r, "/inbox", b.as_bytes(), |_| {})),
    );
    // Two batches wait on the lock; all the others queue behind them.
    let answers = with_host_locked(&t, bodies.len() - 2, sent).await;
    assert!(
        answers.iter().all(|s| *s == StatusCode::ACCEPTED),
        "{answers:?}"
    );
    let (statements, notes) = t.state.ingest.written();
    assert_eq!(notes, bodies.len() as u64);
    assert_eq!(statements, 3, "two notes alone, then all the rest together");
    let mut conn = t.state.db.conn().await.unwrap();
    let stored: Vec<Option<String>> = statuses::table
        .filter(statuses::uri.like(format!("{host}/notes/%")))
        .select(statuses::uri)
        .order(statuses::uri)
        .load(&mut conn)
        .await
        .unwrap();
    let stored: Vec<String> = stored.into_iter().flatten().collect();
    let mut expected: Vec<String> = (0..20).map(|n| format!("{host}/notes/{n}")).collect();
    expected.sort();
    assert_eq!(stored, expected);
    let tagged: i64 = status_tags::table
        .filter(status_tags::name.eq("together"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(tagged, 20);
    // The Delete and 25 distinct Creates.
    let seen: i64 = inbox_seen::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(seen, 26);
    assert!(guise_core::queue::host_failed_days(&mut conn, "127.0.0.1")
        .await
        .unwrap()
        .is_empty());

    // A note PostgreSQL refuses (a NUL in a tag, which no inbox lets
    // through) queued with good ones: the batch fails, each note is then
    // written alone, and only the bad one's request fails.
    let sender = guise_core::remote::by_actor_url(&mut conn, &r.actor)
        .await
        .unwrap()
        .unwrap();
    let note = |uri: String, tag: &str| guise_core::remote::RemoteNote {
        uri,
        url: None,
        text: "text".into(),
        summary: String::new(),
        sensitive: false,
        visibility: guise_policy::Visibility::Public,
        published: t.clock.now(),
        in_reply_to: None,
        mentions: Vec::new(),
        hashtags: vec![tag.to_owned()],
        attachments: json!([]),
        emojis: json!([]),
        poll: None,
        html: None,
    };
    // Sighted as from the locked host, so that the first ones wait on it.
    let plain = |n: guise_core::remote::RemoteNote| {
        let activity = format!("{}/activity", n.uri);
        let sight = guise_core::remote::Sighting {
            activity_id: &activity,
            host: "127.0.0.1",
        };
        guise_core::remote::PlainNote::of(
            t.clock.as_ref(),
            &t.state.base_url,
            &sender,
            n,
            Some(sight),
        )
        .unwrap()
    };
    let (db, clock) = (&t.state.db, &t.state.clock);
    let good = (0..6).map(|n| {
        t.state
            .ingest
            .store(db, clock, plain(note(format!("{host}/good/{n}"), "fine")))
    });
    let bad = t
        .state
        .ingest
        .store(db, clock, plain(note(format!("{host}/bad"), "a\u{0}b")));
    let before = t.state.ingest.written();
    let (good, bad) = with_host_locked(&t, 5, async {
        let (good, bad) = tokio::join!(futures::future::join_all(good), bad);
        (good, bad)
    })
    .await;
    assert!(good.iter().all(Result::is_ok), "{good:?}");
    assert!(bad.is_err());
    let after = t.state.ingest.written();
    // Two alone, then the batch of five failed, then its four good ones alone.
    assert_eq!(after.1 - before.1, 6);
    let fine: i64 = status_tags::table
        .filter(status_tags::name.eq("fine"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(fine, 6);
    assert!(stored_status(&t, &format!("{host}/bad")).await.is_none());
}
