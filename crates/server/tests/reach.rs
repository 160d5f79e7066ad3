//! Who may reach a face anonymously: everyone, only in its own threads, or
//! nobody — refused for local anonymous posts (replies, mentions, direct
//! messages, and mentions added by an edit), and whether a face keeps
//! anonymous posts (and boosts of them) out of its timelines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};

async fn set_reach(t: &TestApp, token: &str, face: &str, body: Value) -> Value {
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/guise/faces/{face}/anonymous_reach"),
            Some(token),
            Some(Body::Json(body)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_face_decides_who_reaches_it_anonymously() {
    let t = TestApp::new().await;
    let (bob_id, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let post = |token: &str, body: Value| {
        let (t, token) = (&t, token.to_owned());
        async move { t.post("/api/v1/statuses", Some(&token), body).await }
    };
    let bobs = t
        .post_status(&bob, json!({ "status": "bob's thread" }))
        .await;
    let carols = t
        .post_status(&carol, json!({ "status": "carol's thread" }))
        .await;
    // By default everyone may.
    let r = t
        .get(
            &format!("/api/v1/guise/faces/{bob_id}/anonymous_reach"),
            Some(&bob),
        )
        .await;
    assert_eq!(
        r.json,
        json!({ "anonymous_reach": "everyone", "hide_anonymous": false })
    );
    let r = post(&anon, json!({ "status": "hi @bob" })).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Nobody: no anonymous reply, mention or message reaches bob.
    set_reach(&t, &bob, &bob_id, json!({ "anonymous_reach": "nobody" })).await;
    for body in [
        json!({ "status": "answer", "in_reply_to_id": id(&bobs) }),
        json!({ "status": "hey @bob" }),
        json!({ "status": "@bob psst", "visibility": "direct" }),
    ] {
        let r = post(&anon, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text);
        assert!(
            r.json["error"]
                .as_str()
                .unwrap()
                .contains("@bob does not take anonymous"),
            "{}",
            r.text
        );
    }
    // Faces that are not anonymous still reach him.
    let r = post(&carol, json!({ "status": "hey @bob" })).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Only in his own threads.
    set_reach(
        &t,
        &bob,
        &bob_id,
        json!({ "anonymous_reach": "own_threads" }),
    )
    .await;
    let r = post(
        &anon,
        json!({ "status": "in bob's thread", "in_reply_to_id": id(&bobs) }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(&anon, json!({ "status": "hey @bob" })).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = post(
        &anon,
        json!({ "status": "@bob look", "in_reply_to_id": id(&carols) }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // An edit cannot add him either.
    let mine = post(&anon, json!({ "status": "plain" })).await;
    assert_eq!(mine.status, 200);
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{}", id(&mine.json)),
            Some(&anon),
            Some(Body::Json(json!({ "status": "plain @bob" }))),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    // Bad values, and other people's faces, are refused.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/guise/faces/{bob_id}/anonymous_reach"),
            Some(&bob),
            Some(Body::Json(json!({ "anonymous_reach": "friends" }))),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/guise/faces/{bob_id}/anonymous_reach"),
            Some(&carol),
            Some(Body::Json(json!({ "anonymous_reach": "everyone" }))),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[actix_web::test]
async fn hiding_anonymous_posts_keeps_them_out_of_a_faces_timelines() {
    let t = TestApp::new().await;
    let (carol_id, carol) = t.user("carol").await;
    let (dave_id, dave) = t.user("dave").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    t.post(
        &format!("/api/v1/accounts/{dave_id}/follow"),
        Some(&carol),
        json!({}),
    )
    .await;
    let secret = t
        .post_status(&anon, json!({ "status": "from nowhere" }))
        .await;
    let boost = t
        .post(
            &format!("/api/v1/statuses/{}/reblog", id(&secret)),
            Some(&dave),
            json!({}),
        )
        .await;
    assert_eq!(boost.status, 200, "{}", boost.text);
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["reblog"]["id"]
                    .as_str()
                    .or(s["id"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let home = t.get("/api/v1/timelines/home", Some(&carol)).await;
    assert!(ids(&home.json).contains(&id(&secret)), "{}", home.text);
    let public = t.get("/api/v1/timelines/public", Some(&carol)).await;
    assert!(ids(&public.json).contains(&id(&secret)));
    let set = set_reach(&t, &carol, &carol_id, json!({ "hide_anonymous": true })).await;
    assert_eq!(set["hide_anonymous"], true);
    let home = t.get("/api/v1/timelines/home", Some(&carol)).await;
    assert!(!ids(&home.json).contains(&id(&secret)), "{}", home.text);
    let public = t.get("/api/v1/timelines/public", Some(&carol)).await;
    assert!(!ids(&public.json).contains(&id(&secret)), "{}", public.text);
    // Live public streams follow the same rule.
    let mut conn = t.state.db.conn().await.unwrap();
    let (carol_n, dave_n): (i64, i64) = (carol_id.parse().unwrap(), dave_id.parse().unwrap());
    let readers = guise_core::statuses::public_readers(
        &mut conn,
        id(&secret).parse().unwrap(),
        &[carol_n, dave_n],
    )
    .await
    .unwrap();
    assert_eq!(readers, vec![dave_n]);
    // Others still see it.
    let public = t.get("/api/v1/timelines/public", Some(&dave)).await;
    assert!(ids(&public.json).contains(&id(&secret)));
    let public = t.get("/api/v1/timelines/public", None).await;
    assert!(ids(&public.json).contains(&id(&secret)));
}
