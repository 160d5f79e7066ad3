//! The screens every app has: what an app reads at start-up (never 422 for
//! an "Anonymous" token), markers, bookmarks, favourites, pins, muted
//! threads, notes, blocked domains, reports and grouped notifications.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_anonymous_token_reads_neutral_answers_and_writes_nothing_tied_to_the_login() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write follow").await;
    let s = t.post_status(&bob, json!({ "status": "hello" })).await;
    let sid = id(&s);
    // Every read an app makes at start-up answers, neutrally.
    let reads = [
        (
            "/api/v1/preferences",
            json!({ "posting:default:visibility": "public", "posting:default:sensitive": false, "posting:default:language": null, "reading:expand:media": "default", "reading:expand:spoilers": false }),
        ),
        ("/api/v1/blocks", json!([])),
        ("/api/v1/mutes", json!([])),
        ("/api/v1/follow_requests", json!([])),
        ("/api/v1/domain_blocks", json!([])),
        ("/api/v1/bookmarks", json!([])),
        (
            "/api/v1/markers?timeline[]=home&timeline[]=notifications",
            json!({}),
        ),
    ];
    for (path, want) in reads {
        let r = t.get(path, Some(&anon)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.json, want, "{path}");
    }
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={bob_face}"),
            Some(&anon),
        )
        .await;
    assert_eq!(rel.status, 200);
    assert_eq!(rel.json[0]["id"], bob_face.as_str());
    assert_eq!(rel.json[0]["following"], false);
    assert_eq!(rel.json[0]["muting_expires_at"], Value::Null);
    for path in [
        "/api/v1/favourites",
        "/api/v1/notifications",
        "/api/v2/notifications",
        "/api/v1/timelines/home",
    ] {
        assert_eq!(t.get(path, Some(&anon)).await.status, 200, "{path}");
    }
    // What would write a row tied to the login or a persistent face: 422,
    // and nothing written.
    let before = t.row_counts().await;
    let writes = [
        format!("/api/v1/statuses/{sid}/bookmark"),
        format!("/api/v1/statuses/{sid}/pin"),
        format!("/api/v1/statuses/{sid}/mute"),
        format!("/api/v1/statuses/{sid}/reblog"),
        format!("/api/v1/accounts/{bob_face}/note"),
        "/api/v1/domain_blocks".to_owned(),
        "/api/v1/reports".to_owned(),
    ];
    for path in &writes {
        let r = t
            .post(
                path,
                Some(&anon),
                json!({ "comment": "x", "domain": "remote.example", "account_id": bob_face }),
            )
            .await;
        assert_eq!(r.status, 422, "{path}: {}", r.text);
    }
    assert_eq!(t.row_counts().await, before);
    // Its anonymous favourites are its own to list.
    t.post(
        &format!("/api/v1/statuses/{sid}/favourite"),
        Some(&anon),
        json!({}),
    )
    .await;
    let favs = t.get("/api/v1/favourites", Some(&anon)).await;
    assert_eq!(favs.json.as_array().unwrap().len(), 1, "{}", favs.text);
    assert_eq!(favs.json[0]["id"], sid.as_str());
}

#[actix_web::test]
async fn markers_of_a_face_are_rows_and_of_anonymous_tokens_are_sealed_outside_the_database() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    let (_, alice) = t.user("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    // A face's marker: saved, versioned, and counted from.
    let r = t
        .call(
            Method::POST,
            "/api/v1/markers",
            Some(&alice),
            Some(Body::Form(
                "home[last_read_id]=103&notifications[last_read_id]=7".into(),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["home"]["last_read_id"], "103");
    assert_eq!(r.json["home"]["version"], 0);
    let r = t
        .post(
            "/api/v1/markers",
            Some(&alice),
            json!({ "home": { "last_read_id": "104" } }),
        )
        .await;
    assert_eq!(r.json["home"]["version"], 1);
    let got = t.get("/api/v1/markers?timeline[]=home", Some(&alice)).await;
    assert_eq!(got.json["home"]["last_read_id"], "104");
    assert!(got.json.get("notifications").is_none());
    assert!(
        got.json["home"]["updated_at"]
            .as_str()
            .unwrap()
            .ends_with(":00.000Z"),
        "to the minute"
    );
    // An anonymous token's marker: kept, and not in the database.
    let root = t.post_status(&bob, json!({ "status": "a thread" })).await;
    let mine = t
        .post_status(
            &anon,
            json!({ "status": "anonymous reply", "in_reply_to_id": root["id"] }),
        )
        .await;
    for i in 0..3 {
        t.post_status(
            &bob,
            json!({ "status": format!("reply {i}"), "in_reply_to_id": mine["id"] }),
        )
        .await;
    }
    let n = t.get("/api/v1/notifications", Some(&anon)).await;
    let ids: Vec<String> = n.json.as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids.len(), 3);
    let count = t
        .get("/api/v1/notifications/unread_count", Some(&anon))
        .await;
    assert_eq!(count.json["count"], 3);
    let before = t.dump().await;
    let r = t
        .post(
            "/api/v1/markers",
            Some(&anon),
            json!({ "notifications": { "last_read_id": ids[1] } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        t.dump().await,
        before,
        "a sealed marker wrote to the database"
    );
    let got = t
        .get("/api/v1/markers?timeline[]=notifications", Some(&anon))
        .await;
    assert_eq!(got.json["notifications"]["last_read_id"], ids[1].as_str());
    let count = t
        .get("/api/v1/notifications/unread_count", Some(&anon))
        .await;
    assert_eq!(count.json["count"], 1, "one is newer than the marker");
    // Another of the owner's "Anonymous" tokens shares it; an "All my faces" token has its own.
    let other = t.token_as("alice", "anonymous", "read write").await;
    let got = t
        .get("/api/v1/markers?timeline[]=notifications", Some(&other))
        .await;
    assert_eq!(got.json["notifications"]["last_read_id"], ids[1].as_str());
    let all = t.token_as("alice", "all", "read write").await;
    assert_eq!(
        t.get("/api/v1/markers?timeline[]=notifications", Some(&all))
            .await
            .json,
        json!({})
    );
}

#[actix_web::test]
async fn bookmarks_favourites_pins_and_muted_threads() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let mut bobs = Vec::new();
    for i in 0..3 {
        t.clock.advance(chrono::Duration::seconds(1));
        bobs.push(id(&t
            .post_status(&bob, json!({ "status": format!("bob {i}") }))
            .await));
    }
    for s in &bobs {
        let r = t
            .post(
                &format!("/api/v1/statuses/{s}/bookmark"),
                Some(&alice),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["bookmarked"], true);
        t.post(
            &format!("/api/v1/statuses/{s}/favourite"),
            Some(&alice),
            json!({}),
        )
        .await;
    }
    let page = t.get("/api/v1/bookmarks?limit=2", Some(&alice)).await;
    let got: Vec<String> = page.json.as_array().unwrap().iter().map(id).collect();
    assert_eq!(
        got,
        vec![bobs[2].clone(), bobs[1].clone()],
        "newest bookmark first"
    );
    let link = page
        .headers
        .get("Link")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let next = link
        .split('<')
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .trim_start_matches("https://guise.test")
        .to_owned();
    let rest = t.get(&next, Some(&alice)).await;
    assert_eq!(rest.json.as_array().unwrap().len(), 1);
    assert_eq!(rest.json[0]["id"], bobs[0].as_str());
    let favs = t.get("/api/v1/favourites", Some(&alice)).await;
    assert_eq!(favs.json.as_array().unwrap().len(), 3);
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/unbookmark", bobs[0]),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.json["bookmarked"], false);
    assert_eq!(
        t.get("/api/v1/bookmarks", Some(&bob)).await.json,
        json!([]),
        "bookmarks are the face's own"
    );

    // Pins: one's own public posts, at most five, shown with pinned=true.
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/pin", bobs[0]),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "not hers");
    let dm = t
        .post_status(
            &alice,
            json!({ "status": "@bob secret", "visibility": "direct" }),
        )
        .await;
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/pin", id(&dm)),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 422);
    let mut mine = Vec::new();
    for i in 0..6 {
        mine.push(id(&t
            .post_status(&alice, json!({ "status": format!("mine {i}") }))
            .await));
    }
    for (i, s) in mine.iter().enumerate() {
        let r = t
            .post(
                &format!("/api/v1/statuses/{s}/pin"),
                Some(&alice),
                json!({}),
            )
            .await;
        if i < 5 {
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json["pinned"], true);
        } else {
            assert_eq!(r.status, 422, "a sixth pin");
        }
    }
    let pinned = t
        .get(
            &format!("/api/v1/accounts/{alice_face}/statuses?pinned=true"),
            None,
        )
        .await;
    assert_eq!(pinned.json.as_array().unwrap().len(), 5);
    t.post(
        &format!("/api/v1/statuses/{}/unpin", mine[0]),
        Some(&alice),
        json!({}),
    )
    .await;
    let pinned = t
        .get(
            &format!("/api/v1/accounts/{alice_face}/statuses?pinned=true"),
            None,
        )
        .await;
    assert_eq!(pinned.json.as_array().unwrap().len(), 4);

    // A muted thread notifies no more.
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/mute", mine[1]),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.json["muted"], true);
    t.post_status(
        &bob,
        json!({ "status": "@alice a reply", "in_reply_to_id": mine[1] }),
    )
    .await;
    t.post_status(
        &bob,
        json!({ "status": "@alice elsewhere", "in_reply_to_id": mine[2] }),
    )
    .await;
    let n = t
        .get("/api/v1/notifications?types[]=mention", Some(&alice))
        .await;
    let texts: Vec<&str> = n
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("elsewhere"));
}

#[actix_web::test]
async fn notes_domain_blocks_timed_mutes_and_reports() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    t.create_account("carol").await;
    let carol_anon = t.token_as("carol", "anonymous", "read write").await;
    // A private note on a face.
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_face}/note"),
            Some(&alice),
            json!({ "comment": "met at the fair" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["note"], "met at the fair");
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={bob_face}"),
            Some(&alice),
        )
        .await;
    assert_eq!(rel.json[0]["note"], "met at the fair");
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={bob_face}"),
            Some(&bob),
        )
        .await;
    assert_eq!(rel.json[0]["note"], "", "a note is its writer's");
    // Blocked domains, listed and shown in relationships.
    t.sql("INSERT INTO identities (id, tier, handle, domain, display_name, actor_url, created_on) VALUES (4242424242, 'pseudonymous', 'remy', 'remote.example', 'Remy', 'https://remote.example/users/remy', current_date)").await;
    for d in ["Remote.Example.", "other.example"] {
        let r = t
            .post(
                "/api/v1/domain_blocks",
                Some(&alice),
                json!({ "domain": d }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(
        t.post(
            "/api/v1/domain_blocks",
            Some(&alice),
            json!({ "domain": "guise.test" })
        )
        .await
        .status,
        422
    );
    let list = t.get("/api/v1/domain_blocks", Some(&alice)).await;
    assert_eq!(list.json, json!(["other.example", "remote.example"]));
    let rel = t
        .get(
            "/api/v1/accounts/relationships?id[]=4242424242",
            Some(&alice),
        )
        .await;
    assert_eq!(rel.json[0]["domain_blocking"], true);
    let r = t
        .call(
            Method::DELETE,
            "/api/v1/domain_blocks",
            Some(&alice),
            Some(Body::Json(json!({ "domain": "other.example" }))),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.get("/api/v1/domain_blocks", Some(&alice)).await.json,
        json!(["remote.example"])
    );
    // A mute for an hour ends by itself.
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_face}/mute"),
            Some(&alice),
            json!({ "duration": 3600 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["muting_expires_at"].as_str().is_some(), "{}", r.text);
    t.clock.advance(chrono::Duration::minutes(61));
    let mut conn = t.state.db.conn().await.unwrap();
    assert_eq!(
        guise_core::social::end_expired_mutes(&mut conn, t.clock.as_ref())
            .await
            .unwrap(),
        1
    );
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={bob_face}"),
            Some(&alice),
        )
        .await;
    assert_eq!(rel.json[0]["muting"], false);
    // A report about an anonymous post reaches the instance naming the face
    // only; a post of another face cannot be slipped in.
    let root = t.post_status(&alice, json!({ "status": "thread" })).await;
    let abuse = t
        .post_status(
            &carol_anon,
            json!({ "status": "abuse", "in_reply_to_id": root["id"] }),
        )
        .await;
    let anon_face = abuse["account"]["id"].as_str().unwrap().to_owned();
    let r = t
        .post("/api/v1/reports", Some(&alice), json!({ "account_id": anon_face, "status_ids": [id(&abuse)], "comment": "harassment", "forward": true }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["category"], "other");
    assert_eq!(r.json["forwarded"], false, "nothing is forwarded yet");
    assert_eq!(r.json["target_account"]["id"], anon_face.as_str());
    assert_eq!(r.json["status_ids"], json!([id(&abuse)]));
    let r = t
        .post(
            "/api/v1/reports",
            Some(&alice),
            json!({ "account_id": anon_face, "status_ids": [id(&root)] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            "/api/v1/reports",
            Some(&alice),
            json!({ "account_id": alice_face, "rule_ids": ["1"] }),
        )
        .await;
    assert_eq!(r.status, 422, "no such rule: {}", r.text);
    t.sql("INSERT INTO instance_rules (id, text, created_at) VALUES (1, 'Be kind', now())")
        .await;
    let r = t
        .post(
            "/api/v1/reports",
            Some(&alice),
            json!({ "account_id": alice_face, "rule_ids": ["1"] }),
        )
        .await;
    assert_eq!(r.json["category"], "violation");
}

#[actix_web::test]
async fn grouped_notifications_gather_favourites_of_one_post() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let post = t.post_status(&alice, json!({ "status": "like me" })).await;
    let pid = id(&post);
    let mut likers = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let (face, tok) = t.user(name).await;
        t.clock.advance(chrono::Duration::seconds(30));
        t.post(
            &format!("/api/v1/statuses/{pid}/favourite"),
            Some(&tok),
            json!({}),
        )
        .await;
        likers.push(face);
    }
    let (_, eve) = t.user("eve").await;
    t.post_status(&eve, json!({ "status": "@alice hi" })).await;
    let r = t.get("/api/v2/notifications", Some(&alice)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let groups = r.json["notification_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{}", r.text);
    assert_eq!(groups[0]["type"], "mention");
    let fav = &groups[1];
    assert_eq!(fav["type"], "favourite");
    assert_eq!(fav["notifications_count"], 3);
    assert_eq!(fav["status_id"], pid.as_str());
    let samples: Vec<&str> = fav["sample_account_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        samples,
        vec![likers[2].as_str(), likers[1].as_str(), likers[0].as_str()]
    );
    assert_eq!(r.json["accounts"].as_array().unwrap().len(), 4);
    assert_eq!(r.json["statuses"].as_array().unwrap().len(), 2);
    let key = fav["group_key"].as_str().unwrap().to_owned();
    let one = t
        .get(&format!("/api/v2/notifications/{key}"), Some(&alice))
        .await;
    assert_eq!(one.json["notification_groups"][0]["notifications_count"], 3);
    let who = t
        .get(
            &format!("/api/v2/notifications/{key}/accounts"),
            Some(&alice),
        )
        .await;
    assert_eq!(who.json.as_array().unwrap().len(), 3);
    // v1 gives each its group key, the same.
    let v1 = t
        .get("/api/v1/notifications?types[]=favourite", Some(&alice))
        .await;
    assert!(v1
        .json
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["group_key"] == key.as_str()));
    let count = t
        .get("/api/v2/notifications/unread_count", Some(&alice))
        .await;
    assert_eq!(count.json["count"], 2);
    // Without grouping for favourites, each stands alone.
    let r = t
        .get("/api/v2/notifications?grouped_types[]=follow", Some(&alice))
        .await;
    assert_eq!(r.json["notification_groups"].as_array().unwrap().len(), 4);
    let r = t
        .post(
            &format!("/api/v2/notifications/{key}/dismiss"),
            Some(&alice),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = t.get("/api/v2/notifications", Some(&alice)).await;
    assert_eq!(r.json["notification_groups"].as_array().unwrap().len(), 1);
    // The instance says it speaks this version, and describes itself.
    let i = t.get("/api/v2/instance", None).await;
    assert_eq!(i.json["api_versions"]["mastodon"], 2);
    let d = t.get("/api/v1/instance/extended_description", None).await;
    assert!(d.json["content"].as_str().unwrap().starts_with("<p>"));
    assert!(d.json["updated_at"].is_string());
}
