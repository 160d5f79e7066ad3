//! Discovery and ActivityPub documents: every face is its own actor with its
//! own key; anonymous faces resolve but stay out of directories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

/// GETs an ActivityPub document, with a key ready in the pool as the
/// server's background filler keeps it.
async fn ap_get(t: &TestApp, path: &str) -> (u16, Value, String) {
    t.keep_a_key_ready().await;
    ap_get_as_is(t, path).await
}

async fn ap_get_as_is(t: &TestApp, path: &str) -> (u16, Value, String) {
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let req = actix_web::test::TestRequest::get()
        .uri(path)
        .insert_header(("Accept", "application/activity+json"))
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("Content-Type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = actix_web::test::read_body(resp).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        ctype,
    )
}

#[actix_web::test]
async fn faces_are_actors_with_their_own_keys() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let all = t.token_as("alice", "all", "read write").await;
    t.post(
        "/api/v1/guise/faces/real_name",
        Some(&all),
        json!({ "handle": "alice_real", "display_name": "Alice Real" }),
    )
    .await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let a = t
        .post_status(&anon, json!({ "status": "anonymous words" }))
        .await;
    let anon_handle = a["account"]["username"].as_str().unwrap().to_owned();

    let (status, person, ctype) = ap_get(&t, "/users/alice").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/activity+json"), "{ctype}");
    assert_eq!(person["type"], "Person");
    assert_eq!(person["id"], "https://guise.test/users/alice");
    assert_eq!(person["preferredUsername"], "alice");
    assert_eq!(person["tier"], "pseudonymous");
    assert_eq!(
        person["publicKey"]["id"],
        "https://guise.test/users/alice#main-key"
    );
    assert!(person["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        person["endpoints"]["sharedInbox"],
        "https://guise.test/inbox"
    );
    assert!(person["@context"]
        .to_string()
        .contains("https://guise.social/ns#"));
    // The key stays the face's own from then on.
    let (_, again, _) = ap_get(&t, "/users/alice").await;
    assert_eq!(again["publicKey"], person["publicKey"]);

    let (_, real, _) = ap_get(&t, "/users/alice_real").await;
    assert_eq!(real["tier"], "real_name");
    assert!(real.get("verifiedBy").is_none(), "not verified yet");

    let (status, anon_actor, _) = ap_get(&t, &format!("/anon/{anon_handle}")).await;
    assert_eq!(status, 200);
    assert_eq!(anon_actor["name"], "Anonymous");
    assert_eq!(anon_actor["tier"], "anonymous");
    assert_eq!(anon_actor["manuallyApprovesFollowers"], true);
    assert_eq!(anon_actor["discoverable"], false);
    assert_eq!(anon_actor["summary"], "");
    // Own keys (rule 1): no key, key id or id of one face on another's document.
    let docs = [&person, &real, &anon_actor];
    for (i, a) in docs.iter().enumerate() {
        for b in docs.iter().skip(i + 1) {
            assert_ne!(
                a["publicKey"]["publicKeyPem"],
                b["publicKey"]["publicKeyPem"]
            );
            let id = a["id"].as_str().unwrap();
            let mut leaves = std::collections::BTreeSet::new();
            string_leaves(b, &mut leaves);
            for v in leaves {
                assert!(
                    v != id
                        && !v.starts_with(&format!("{id}/"))
                        && !v.starts_with(&format!("{id}#")),
                    "{} names {id}: {v}",
                    b["id"]
                );
            }
        }
    }
    // An anonymous face is not at /users, a pseudonym not at /anon.
    assert_eq!(ap_get(&t, &format!("/users/{anon_handle}")).await.0, 404);
    assert_eq!(ap_get(&t, "/anon/alice").await.0, 404);

    // Without an ActivityPub Accept header: HTML.
    let page = t.get("/users/alice", None).await;
    assert!(page
        .headers
        .get("Content-Type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = t.get(&format!("/anon/{anon_handle}"), None).await;
    assert!(page.text.contains("anonymous words"));
    assert!(!page.text.contains("alice"));
    let _ = alice;
}

#[actix_web::test]
async fn webfinger_resolves_every_face_including_anonymous_ones() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let a = t.post_status(&anon, json!({ "status": "x" })).await;
    let handle = a["account"]["username"].as_str().unwrap();
    let r = t
        .get(
            "/.well-known/webfinger?resource=acct:alice@guise.test",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r
        .headers
        .get("Content-Type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/jrd+json"));
    assert_eq!(r.json["subject"], "acct:alice@guise.test");
    assert_eq!(r.json["links"][0]["rel"], "self");
    assert_eq!(r.json["links"][0]["href"], "https://guise.test/users/alice");
    let r = t
        .get(
            &format!("/.well-known/webfinger?resource=acct:{handle}@guise.test"),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["links"][0]["href"],
        format!("https://guise.test/anon/{handle}")
    );
    let r = t
        .get(
            "/.well-known/webfinger?resource=https://guise.test/users/alice",
            None,
        )
        .await;
    assert_eq!(r.json["subject"], "acct:alice@guise.test");
    assert_eq!(
        t.get(
            "/.well-known/webfinger?resource=acct:nobody@guise.test",
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        t.get(
            "/.well-known/webfinger?resource=acct:alice@elsewhere.example",
            None
        )
        .await
        .status,
        404
    );
    let r = t
        .get(
            "/.well-known/webfinger?resource=acct:guise.test@guise.test",
            None,
        )
        .await;
    assert_eq!(r.json["links"][0]["href"], "https://guise.test/actor");
    let meta = t.get("/.well-known/host-meta", None).await;
    assert!(meta
        .text
        .contains("https://guise.test/.well-known/webfinger?resource={uri}"));
    // A face whose posts are all gone is a tombstone: 410.
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", a["id"].as_str().unwrap()),
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.get(
            &format!("/.well-known/webfinger?resource=acct:{handle}@guise.test"),
            None
        )
        .await
        .status,
        410
    );
    assert_eq!(ap_get(&t, &format!("/anon/{handle}")).await.0, 410);
}

#[actix_web::test]
async fn statuses_are_notes_addressed_by_visibility() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, alice) = t.user("alice").await;
    let root = t.post_status(&bob, json!({ "status": "root" })).await;
    let public = t
        .post_status(
            &alice,
            json!({ "status": "hi @bob #Tag", "in_reply_to_id": root["id"], "spoiler_text": "cw" }),
        )
        .await;
    let private = t
        .post_status(
            &alice,
            json!({ "status": "followers only", "visibility": "private" }),
        )
        .await;
    let (status, note, _) = ap_get(
        &t,
        &format!("/users/alice/statuses/{}", public["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(note["type"], "Note");
    assert_eq!(note["id"], public["uri"]);
    assert_eq!(note["attributedTo"], "https://guise.test/users/alice");
    assert_eq!(
        note["to"],
        json!(["https://www.w3.org/ns/activitystreams#Public"])
    );
    assert_eq!(
        note["cc"],
        json!([
            "https://guise.test/users/alice/followers",
            "https://guise.test/users/bob"
        ])
    );
    assert_eq!(note["inReplyTo"], root["uri"]);
    assert_eq!(note["summary"], "cw");
    assert_eq!(note["sensitive"], true);
    assert_eq!(note["tier"], "pseudonymous");
    assert_eq!(
        note["tag"][0],
        json!({ "type": "Mention", "href": "https://guise.test/users/bob", "name": "@bob@guise.test" })
    );
    assert_eq!(note["tag"][1]["name"], "#tag");
    assert_eq!(
        ap_get(
            &t,
            &format!("/users/alice/statuses/{}", private["id"].as_str().unwrap())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        ap_get(
            &t,
            &format!("/users/bob/statuses/{}", public["id"].as_str().unwrap())
        )
        .await
        .0,
        404,
        "wrong author"
    );
    let (_, followers, _) = ap_get(&t, "/users/bob/followers").await;
    assert_eq!(followers["type"], "OrderedCollection");
    t.post(
        &format!("/api/v1/accounts/{bob_face}/follow"),
        Some(&alice),
        json!({}),
    )
    .await;
    let (_, followers, _) = ap_get(&t, "/users/bob/followers").await;
    assert_eq!(followers["totalItems"], 1);
    let (_, actor, _) = ap_get(&t, "/actor").await;
    assert_eq!(actor["type"], "Application");
    assert!(actor["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .contains("PUBLIC KEY"));
}

#[actix_web::test]
async fn faces_take_keys_made_ahead_of_time() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    t.sql("DELETE FROM key_pool").await;
    let pair = guise_federation::keys::generate().unwrap();
    {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::keys::add_to_pool(&mut conn, &pair)
            .await
            .unwrap();
        assert_eq!(guise_core::keys::pool_size(&mut conn).await.unwrap(), 1);
    }
    let (_, person, _) = ap_get(&t, "/users/alice").await;
    assert_eq!(person["publicKey"]["publicKeyPem"], pair.public_pem);
    let mut conn = t.state.db.conn().await.unwrap();
    assert_eq!(
        guise_core::keys::pool_size(&mut conn).await.unwrap(),
        0,
        "the pair left the pool"
    );
}

fn string_leaves(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| string_leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| string_leaves(x, out)),
        _ => {}
    }
}

#[actix_web::test]
async fn an_anonymous_status_url_answers() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t.post_status(&anon, json!({ "status": "who am I" })).await;
    let url = s["url"].as_str().unwrap();
    assert!(url.contains("/anon/"), "{url}");
    let path = url.trim_start_matches("https://guise.test");
    // ActivityPub JSON for servers, the same Note as at its uri.
    let (status, note, _) = ap_get(&t, path).await;
    assert_eq!(status, 200);
    assert_eq!(note["id"], s["uri"]);
    // HTML for people.
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let resp = actix_web::test::call_service(
        &app,
        actix_web::test::TestRequest::get().uri(path).to_request(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body = actix_web::test::read_body(resp).await;
    assert!(String::from_utf8_lossy(&body).contains("who am I"));
    // Collections still answer at their names; other names do not.
    let actor = s["account"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://guise.test");
    for (name, want) in [("followers", 200), ("nonsense", 404)] {
        assert_eq!(
            ap_get(&t, &format!("{actor}/{name}")).await.0,
            want,
            "{name}"
        );
    }
}

/// Anyone may fetch any face's document: that must never make the server
/// generate an RSA key on the spot. With the pool empty, a face without a
/// key answers 503 (try again), and nothing was generated.
#[actix_web::test]
async fn an_empty_key_pool_makes_a_public_fetch_wait_not_generate() {
    let t = TestApp::new().await;
    t.user("alice").await;
    t.sql("DELETE FROM key_pool").await;
    let mut conn = t.state.db.conn().await.unwrap();
    let (status, body, _) = ap_get_as_is(&t, "/users/alice").await;
    assert_eq!(status, 503, "{body}");
    let keyless: i64 = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use guise_core::schema::identities;
        identities::table
            .filter(identities::public_key_pem.is_not_null())
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(keyless, 0, "a key was made on the request path");
    let (status, doc, _) = ap_get(&t, "/users/alice").await;
    assert_eq!(status, 200);
    assert!(doc["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .contains("PUBLIC KEY"));
}
