//! Lists with their timelines, followed hashtags, and the home timeline
//! built from per-author indexes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(id).collect()
}

#[actix_web::test]
async fn lists_hold_followed_faces_and_show_their_posts() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    let (carol_face, carol) = t.user("carol").await;
    let (dave_face, _) = t.user("dave").await;
    for f in [&bob_face, &carol_face] {
        t.post(
            &format!("/api/v1/accounts/{f}/follow"),
            Some(&alice),
            json!({}),
        )
        .await;
    }
    let l = t
        .post("/api/v1/lists", Some(&alice), json!({ "title": "Friends" }))
        .await;
    assert_eq!(l.status, 200, "{}", l.text);
    assert_eq!(l.json["replies_policy"], "list");
    assert_eq!(l.json["exclusive"], false);
    let lid = id(&l.json);
    // Only faces one follows may join.
    let r = t
        .post(
            &format!("/api/v1/lists/{lid}/accounts"),
            Some(&alice),
            json!({ "account_ids": [dave_face] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/lists/{lid}/accounts"),
            Some(&alice),
            json!({ "account_ids": [bob_face] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let members = t
        .get(&format!("/api/v1/lists/{lid}/accounts"), Some(&alice))
        .await;
    assert_eq!(ids(&members.json), vec![bob_face.clone()]);
    let of_bob = t
        .get(&format!("/api/v1/accounts/{bob_face}/lists"), Some(&alice))
        .await;
    assert_eq!(of_bob.json[0]["title"], "Friends");
    // The list's timeline: its members' posts only, newest first, paged.
    let mut bobs = Vec::new();
    for i in 0..5 {
        t.clock.advance(chrono::Duration::seconds(1));
        bobs.push(id(&t
            .post_status(&bob, json!({ "status": format!("bob {i}") }))
            .await));
        t.post_status(&carol, json!({ "status": format!("carol {i}") }))
            .await;
    }
    let page = t
        .get(
            &format!("/api/v1/timelines/list/{lid}?limit=3"),
            Some(&alice),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(
        ids(&page.json),
        vec![bobs[4].clone(), bobs[3].clone(), bobs[2].clone()]
    );
    let older = t
        .get(
            &format!("/api/v1/timelines/list/{lid}?limit=3&max_id={}", bobs[2]),
            Some(&alice),
        )
        .await;
    assert_eq!(ids(&older.json), vec![bobs[1].clone(), bobs[0].clone()]);
    let newer = t
        .get(
            &format!("/api/v1/timelines/list/{lid}?limit=2&min_id={}", bobs[0]),
            Some(&alice),
        )
        .await;
    assert_eq!(
        ids(&newer.json),
        vec![bobs[2].clone(), bobs[1].clone()],
        "min_id: the next ones up, newest first"
    );
    // Replies: to list members shown under "list", to others not.
    let to_dave = t
        .post_status(
            &bob,
            json!({ "status": "@dave hi", "in_reply_to_id": null }),
        )
        .await;
    let dave_post = {
        let d = t.token("dave", "read write").await;
        t.post_status(&d, json!({ "status": "dave speaks" })).await
    };
    let reply_dave = t
        .post_status(
            &bob,
            json!({ "status": "reply to dave", "in_reply_to_id": dave_post["id"] }),
        )
        .await;
    let tl = t
        .get(&format!("/api/v1/timelines/list/{lid}"), Some(&alice))
        .await;
    let shown = ids(&tl.json);
    assert!(shown.contains(&id(&to_dave)));
    assert!(
        !shown.contains(&id(&reply_dave)),
        "a reply to a non-member stays out"
    );
    // Exclusive: members leave the home timeline.
    let home = t.get("/api/v1/timelines/home?limit=40", Some(&alice)).await;
    assert!(ids(&home.json).contains(&bobs[4]));
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/lists/{lid}"),
            Some(&alice),
            Some(Body::Json(
                json!({ "exclusive": true, "title": "Close friends" }),
            )),
        )
        .await;
    assert_eq!(r.json["exclusive"], true);
    assert_eq!(r.json["title"], "Close friends");
    let home = t.get("/api/v1/timelines/home?limit=40", Some(&alice)).await;
    assert!(
        !ids(&home.json).contains(&bobs[4]),
        "an exclusive list's member is shown there only"
    );
    // Unfollowing takes a face off one's lists.
    t.post(
        &format!("/api/v1/accounts/{bob_face}/unfollow"),
        Some(&alice),
        json!({}),
    )
    .await;
    let members = t
        .get(&format!("/api/v1/lists/{lid}/accounts"), Some(&alice))
        .await;
    assert_eq!(members.json, json!([]));
    // Lists are their face's own.
    assert_eq!(
        t.get(&format!("/api/v1/lists/{lid}"), Some(&bob))
            .await
            .status,
        404
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/lists/{lid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(t.get("/api/v1/lists", Some(&alice)).await.json, json!([]));
    // An anonymous token sees none and makes none.
    t.create_account("erin").await;
    let anon = t.token_as("erin", "anonymous", "read write").await;
    assert_eq!(t.get("/api/v1/lists", Some(&anon)).await.json, json!([]));
    assert_eq!(
        t.post("/api/v1/lists", Some(&anon), json!({ "title": "x" }))
            .await
            .status,
        422
    );
}

#[actix_web::test]
async fn followed_hashtags_bring_public_posts_home() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let tagged = t
        .post_status(&bob, json!({ "status": "about #Rust" }))
        .await;
    let quiet = t
        .post_status(
            &bob,
            json!({ "status": "unlisted #rust", "visibility": "unlisted" }),
        )
        .await;
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert!(!ids(&home.json).contains(&id(&tagged)));
    let r = t
        .post("/api/v1/tags/RUST/follow", Some(&alice), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["name"], "rust");
    assert_eq!(r.json["following"], true);
    assert_eq!(r.json["history"].as_array().unwrap().len(), 7);
    assert_eq!(
        r.json["history"][0]["uses"], "1",
        "public posts today: {}",
        r.text
    );
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    let shown = ids(&home.json);
    assert!(shown.contains(&id(&tagged)));
    assert!(
        !shown.contains(&id(&quiet)),
        "only public posts come by a tag"
    );
    let followed = t.get("/api/v1/followed_tags", Some(&alice)).await;
    assert_eq!(followed.json[0]["name"], "rust");
    let info = t.get("/api/v1/tags/rust", None).await;
    assert!(info.json.get("following").is_none());
    t.post("/api/v1/tags/rust/unfollow", Some(&alice), json!({}))
        .await;
    assert_eq!(
        t.get("/api/v1/followed_tags", Some(&alice)).await.json,
        json!([])
    );
    assert_eq!(t.get("/api/v1/tags/not%20a%20tag", None).await.status, 404);
}

/// The home timeline holds the reader's and followed faces' posts, honours
/// boosts turned off, and direct posts only for those they name.
#[actix_web::test]
async fn home_keeps_mastodons_rules() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    t.post(
        &format!("/api/v1/accounts/{bob_face}/follow"),
        Some(&alice),
        json!({ "reblogs": false }),
    )
    .await;
    let c = t.post_status(&carol, json!({ "status": "carol's" })).await;
    let boost = t
        .post(
            &format!("/api/v1/statuses/{}/reblog", id(&c)),
            Some(&bob),
            json!({}),
        )
        .await;
    let dm_other = t
        .post_status(
            &bob,
            json!({ "status": "@carol secret", "visibility": "direct" }),
        )
        .await;
    let dm_me = t
        .post_status(
            &bob,
            json!({ "status": "@alice secret", "visibility": "direct" }),
        )
        .await;
    let private = t
        .post_status(
            &bob,
            json!({ "status": "followers only", "visibility": "private" }),
        )
        .await;
    let own = t.post_status(&alice, json!({ "status": "mine" })).await;
    let home = ids(&t
        .get("/api/v1/timelines/home?limit=40", Some(&alice))
        .await
        .json);
    assert!(home.contains(&id(&dm_me)));
    assert!(home.contains(&id(&private)));
    assert!(home.contains(&id(&own)));
    assert!(!home.contains(&id(&dm_other)));
    assert!(!home.contains(&id(&boost.json)), "boosts turned off");
    assert!(!home.contains(&id(&c)), "not followed");
    let _ = alice_face;
}

/// The merged timeline is exactly the plain one: random faces, follows,
/// boosts turned off, posts of every visibility, replies and tags, read
/// page by page both ways from random cursors.
#[actix_web::test]
async fn the_merged_timeline_is_the_plain_one() {
    use guise_core::statuses::Page;
    use guise_core::timelines::{merged, reference, Source};
    use rand::{Rng, SeedableRng};
    let t = TestApp::new().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261130);
    let mut faces = Vec::new();
    for i in 0..8 {
        faces.push(t.user(&format!("p{i}")).await);
    }
    for (i, (_, tok)) in faces.iter().enumerate() {
        for (j, (f, _)) in faces.iter().enumerate() {
            if i != j && rng.gen_bool(0.5) {
                t.post(
                    &format!("/api/v1/accounts/{f}/follow"),
                    Some(tok),
                    json!({ "reblogs": rng.gen_bool(0.7) }),
                )
                .await;
            }
        }
    }
    t.post(
        &format!("/api/v1/tags/{}/follow", "topic"),
        Some(&faces[0].1),
        json!({}),
    )
    .await;
    let mut posted: Vec<String> = Vec::new();
    for n in 0..160 {
        let (_, tok) = &faces[rng.gen_range(0..faces.len())];
        let vis = ["public", "public", "unlisted", "private", "direct"][rng.gen_range(0..5)];
        let mention = &faces[rng.gen_range(0..faces.len())];
        let handle = format!("p{}", faces.iter().position(|f| f.0 == mention.0).unwrap());
        let text = if rng.gen_bool(0.2) {
            format!("post {n} #topic")
        } else {
            format!("@{handle} post {n}")
        };
        let reply = (!posted.is_empty() && rng.gen_bool(0.3))
            .then(|| posted[rng.gen_range(0..posted.len())].clone());
        if rng.gen_bool(0.1) && !posted.is_empty() {
            let target = &posted[rng.gen_range(0..posted.len())];
            t.post(
                &format!("/api/v1/statuses/{target}/reblog"),
                Some(tok),
                json!({}),
            )
            .await;
            continue;
        }
        let r = t
            .post(
                "/api/v1/statuses",
                Some(tok),
                json!({ "status": text, "visibility": vis, "in_reply_to_id": reply }),
            )
            .await;
        if r.status == 200 {
            posted.push(id(&r.json));
        }
        if rng.gen_bool(0.3) {
            t.clock
                .advance(chrono::Duration::milliseconds(rng.gen_range(1..2000)));
        }
    }
    let mut conn = t.state.db.conn().await.unwrap();
    let mut checked = 0;
    for (face, _) in &faces {
        let viewer: i64 = face.parse().unwrap();
        for _ in 0..6 {
            let cursor: Option<i64> = posted
                .get(rng.gen_range(0..posted.len()))
                .map(|p| p.parse().unwrap());
            let limit = rng.gen_range(1..12);
            for page in [
                Page {
                    limit,
                    ..Default::default()
                },
                Page {
                    max_id: cursor,
                    limit,
                    ..Default::default()
                },
                Page {
                    min_id: cursor,
                    limit,
                    ..Default::default()
                },
                Page {
                    since_id: cursor,
                    limit,
                    ..Default::default()
                },
            ] {
                let a = merged(&mut conn, viewer, &Source::Home, &page)
                    .await
                    .unwrap();
                let b = reference(&mut conn, viewer, &Source::Home, &page)
                    .await
                    .unwrap();
                assert_eq!(a, b, "viewer {viewer}, {page:?}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 6 * 4);
}
