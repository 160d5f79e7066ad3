//! Direct conversations: built from direct posts, read and removed per
//! face, and for "Anonymous" tokens kept sealed outside the database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::{json, Value};

fn accts(c: &Value) -> Vec<String> {
    let mut v: Vec<String> = c["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["acct"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

#[actix_web::test]
async fn direct_posts_make_conversations_that_are_read_and_removed_per_face() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    let (_, dave) = t.user("dave").await;
    let first = t
        .post_status(
            &alice,
            json!({ "status": "@bob a secret", "visibility": "direct" }),
        )
        .await;
    // Neither public posts naming someone nor others' secrets are conversations.
    t.post_status(&carol, json!({ "status": "@alice hello all" }))
        .await;
    let b = t.get("/api/v1/conversations", Some(&bob)).await;
    assert_eq!(b.status, 200, "{}", b.text);
    assert_eq!(b.json.as_array().unwrap().len(), 1);
    let c = &b.json[0];
    assert_eq!(c["id"], first["id"]);
    assert_eq!(c["unread"], true);
    assert_eq!(accts(c), vec!["alice"]);
    assert_eq!(c["last_status"]["id"], first["id"]);
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json[0]["unread"], false, "her own post is not unread");
    assert_eq!(accts(&a.json[0]), vec!["bob"]);
    assert_eq!(
        t.get("/api/v1/conversations", Some(&dave)).await.json,
        json!([])
    );
    // A reply (naming carol too) moves the same conversation on.
    t.clock.advance(chrono::Duration::seconds(1));
    let reply = t
        .post_status(
            &bob,
            json!({ "status": "@alice @carol yes", "visibility": "direct", "in_reply_to_id": first["id"] }),
        )
        .await;
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.json[0]["id"], first["id"]);
    assert_eq!(a.json[0]["unread"], true);
    assert_eq!(a.json[0]["last_status"]["id"], reply["id"]);
    assert_eq!(accts(&a.json[0]), vec!["bob", "carol"]);
    // Carol sees only the posts she was on, from the reply on.
    let c = t.get("/api/v1/conversations", Some(&carol)).await;
    assert_eq!(c.json.as_array().unwrap().len(), 1);
    assert_eq!(accts(&c.json[0]), vec!["alice", "bob"]);
    // Read: no longer unread; others' state untouched.
    let cid = first["id"].as_str().unwrap();
    let r = t
        .post(
            &format!("/api/v1/conversations/{cid}/read"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["unread"], false);
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json[0]["unread"], false);
    assert_eq!(
        t.get("/api/v1/conversations", Some(&carol)).await.json[0]["unread"],
        true
    );
    // Not hers: 404.
    let r = t
        .post(
            &format!("/api/v1/conversations/{cid}/read"),
            Some(&dave),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);
    // A second conversation, newer: first in the list, and paged.
    t.clock.advance(chrono::Duration::seconds(1));
    let other = t
        .post_status(
            &dave,
            json!({ "status": "@alice psst", "visibility": "direct" }),
        )
        .await;
    let a = t.get("/api/v1/conversations?limit=1", Some(&alice)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.json[0]["id"], other["id"]);
    let link = a.headers.get("link").unwrap().to_str().unwrap().to_owned();
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .unwrap()
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .trim_start_matches("https://guise.test")
        .to_owned();
    let a2 = t.get(&next, Some(&alice)).await;
    assert_eq!(a2.json.as_array().unwrap().len(), 1);
    assert_eq!(a2.json[0]["id"], first["id"]);
    // Removed: gone until someone writes again.
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{cid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.json[0]["id"], other["id"]);
    t.clock.advance(chrono::Duration::seconds(1));
    t.post_status(
        &bob,
        json!({ "status": "@alice still there?", "visibility": "direct", "in_reply_to_id": reply["id"] }),
    )
    .await;
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 2);
    assert_eq!(a.json[0]["id"], first["id"]);
    assert_eq!(a.json[0]["unread"], true);
    // A deleted post leaves the conversation with what remains.
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", other["id"].as_str().unwrap()),
            Some(&dave),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = t.get("/api/v1/conversations", Some(&alice)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_anonymous_tokens_conversations_keep_their_read_state_out_of_the_database() {
    let t = TestApp::new().await;
    t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let mine = t
        .post_status(
            &anon,
            json!({ "status": "@bob from nobody", "visibility": "direct" }),
        )
        .await;
    let anon_acct = mine["account"]["acct"].as_str().unwrap().to_owned();
    t.clock.advance(chrono::Duration::seconds(1));
    t.post_status(
        &bob,
        json!({ "status": format!("@{anon_acct} who is this?"), "visibility": "direct", "in_reply_to_id": mine["id"] }),
    )
    .await;
    let b = t.get("/api/v1/conversations", Some(&bob)).await;
    assert_eq!(accts(&b.json[0]), vec![anon_acct.clone()]);
    let a = t.get("/api/v1/conversations", Some(&anon)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.json[0]["unread"], true);
    assert_eq!(accts(&a.json[0]), vec!["bob"]);
    // The login's real face has no conversations.
    let face = t.token("alice", "read").await;
    assert_eq!(
        t.get("/api/v1/conversations", Some(&face)).await.json,
        json!([])
    );
    let before = t.dump().await;
    let cid = mine["id"].as_str().unwrap();
    let r = t
        .post(
            &format!("/api/v1/conversations/{cid}/read"),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["unread"], false);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/conversations/{cid}"),
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(t.dump().await, before, "reading wrote to the database");
    // Another "Anonymous" token of the same login shares the state.
    let again = t.token_as("alice", "anonymous", "read").await;
    assert_eq!(
        t.get("/api/v1/conversations", Some(&again)).await.json,
        json!([])
    );
    t.clock.advance(chrono::Duration::seconds(1));
    t.post_status(
        &bob,
        json!({ "status": format!("@{anon_acct} hello?"), "visibility": "direct", "in_reply_to_id": mine["id"] }),
    )
    .await;
    let a = t.get("/api/v1/conversations", Some(&again)).await;
    assert_eq!(a.json.as_array().unwrap().len(), 1);
    assert_eq!(a.json[0]["unread"], true);
}
