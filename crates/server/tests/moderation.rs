//! Moderation on faces and statuses, and deleting a login with everything
//! its anonymous faces posted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::TestApp;
use serde_json::json;

async fn admin(t: &TestApp) -> String {
    let (account, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'moderator' WHERE id = {account}"
    ))
    .await;
    t.token("root", "read write admin:read admin:write").await
}

#[actix_web::test]
async fn staff_delete_any_status_and_suspend_any_face() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let staff = admin(&t).await;
    let s = t.post_status(&anon, json!({ "status": "abusive" })).await;
    let sid = s["id"].as_str().unwrap();
    let face = s["account"]["id"].as_str().unwrap();

    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/guise/statuses/{sid}"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{face}/action"),
            Some(&bob),
            json!({ "type": "suspend" }),
        )
        .await;
    assert_eq!(r.status, 403);

    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{face}/action"),
            Some(&staff),
            json!({ "type": "suspend" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json,
        json!({}),
        "the moderator learns nothing of who is behind the face"
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/guise/statuses/{sid}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{sid}"), None).await.status,
        404
    );
    // The hidden author is held back, in any thread.
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "again" }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "a reply elsewhere", "in_reply_to_id": null }),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{face}/unsuspend"),
            Some(&staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.post_status(&anon, json!({ "status": "after the ban" }))
        .await;
    t.post_status(&bob, json!({ "status": "bob was never affected" }))
        .await;
}

#[actix_web::test]
async fn deleting_a_login_deletes_its_anonymous_posts_spread_over_time() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let face_tok = t.token("alice", "read write").await;
    let root = t
        .post_status(&bob, json!({ "status": "bob's thread" }))
        .await;
    let mut anon_ids = Vec::new();
    for i in 0..4 {
        let s = t.post_status(&anon, json!({ "status": format!("anon {i}"), "in_reply_to_id": if i % 2 == 0 { root["id"].clone() } else { json!(null) } })).await;
        anon_ids.push(s["id"].as_str().unwrap().to_owned());
    }
    let own = t
        .post_status(&face_tok, json!({ "status": "as alice" }))
        .await;
    let r = t
        .post(
            "/api/v1/guise/account/delete",
            Some(&face_tok),
            json!({ "password": "wrong" }),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = t
        .post(
            "/api/v1/guise/account/delete",
            Some(&face_tok),
            json!({ "password": "password123" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["anonymous_statuses_deleted"], 4);
    // The login and its persistent face go at once.
    let own_id = own["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{own_id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        t.get("/api/v1/timelines/home", Some(&anon)).await.status,
        401
    );
    let counts = t.row_counts().await;
    assert_eq!(counts["sealed_index"], 0);
    assert_eq!(counts["accounts"], 1, "only bob is left");
    assert_eq!(counts["pending_deletions"], 4);
    // The login's persistent face goes too, its Delete(Person) held back.
    let dump = t.dump().await;
    assert!(dump["outbox_events"]
        .iter()
        .any(|r| r.contains("face.deleted") && r.contains("not_before")));
    assert!(!dump["outbox_events"]
        .iter()
        .any(|r| r.contains("status.deleted")));
    // The anonymous posts go one by one, each at its own time within the
    // spread, each in its own transaction; nothing of them was written in
    // the request.
    let mut gone_at = Vec::new();
    for _ in 0..(24 * 12) {
        t.clock.advance(chrono::Duration::minutes(5));
        let mut conn = t.state.db.conn().await.unwrap();
        let n = guise_core::anon::run_due_deletions(&mut conn, t.clock.as_ref(), 100)
            .await
            .unwrap();
        for _ in 0..n {
            gone_at.push(guise_core::Clock::now(t.clock.as_ref()));
        }
        if gone_at.len() == 4 {
            break;
        }
    }
    assert_eq!(gone_at.len(), 4, "not all gone within a day");
    for id in &anon_ids {
        assert_eq!(
            t.get(&format!("/api/v1/statuses/{id}"), None).await.status,
            404,
            "{id}"
        );
    }
    let mut distinct = gone_at.clone();
    distinct.dedup_by_key(|t| t.timestamp() / 300);
    assert!(distinct.len() > 1, "deletions not spread: {gone_at:?}");
    let dump = t.dump().await;
    let deleted: Vec<&String> = dump["outbox_events"]
        .iter()
        .filter(|r| r.contains("status.deleted"))
        .collect();
    assert_eq!(deleted.len(), 4, "{:?}", dump["outbox_events"]);
    let mut xmins: Vec<&str> = deleted
        .iter()
        .map(|r| r.split(' ').next().unwrap())
        .collect();
    xmins.sort();
    xmins.dedup();
    assert_eq!(xmins.len(), 4, "two deletions in one transaction");
    assert_eq!(t.row_counts().await["pending_deletions"], 0);
}

#[actix_web::test]
async fn commit_timestamps_are_off() {
    let t = TestApp::new().await;
    assert_eq!(
        t.state
            .db
            .setting("track_commit_timestamp")
            .await
            .unwrap()
            .as_deref(),
        Some("off")
    );
}

#[actix_web::test]
async fn a_moderators_deletion_reaches_the_faces_the_post_addressed() {
    let t = TestApp::new().await;
    let (bob, bob_tok) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    let staff = admin(&t).await;
    let root = t.post_status(&bob_tok, json!({ "status": "root" })).await;
    let s = t
        .post_status(
            &carol,
            json!({ "status": "@bob abusive reply", "in_reply_to_id": root["id"] }),
        )
        .await;
    let sid = s["id"].as_str().unwrap();
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/guise/statuses/{sid}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let events = t.dump().await["outbox_events"].clone();
    let deleted = events
        .iter()
        .find(|e| e.contains("status.deleted") && e.contains(sid))
        .unwrap();
    assert!(
        deleted.contains(&format!("\"\"addressed\"\": [\"\"{bob}\"\"")),
        "{deleted}"
    );
}

#[actix_web::test]
async fn a_suspension_tells_remote_followers() {
    let t = TestApp::new().await;
    let (bob, _) = t.user("bob").await;
    let staff = admin(&t).await;
    // A remote follower of bob's.
    t.sql(
        "INSERT INTO identities (id, tier, handle, domain, actor_url, inbox_url, created_on) \
         VALUES (77, 'pseudonymous', 'remy', 'remote.example', 'https://remote.example/users/remy', \
                 'https://remote.example/users/remy/inbox', current_date)",
    )
    .await;
    t.sql(&format!(
        "INSERT INTO follows (id, identity_id, target_identity_id) VALUES (78, 77, {bob})"
    ))
    .await;
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob}/action"),
            Some(&staff),
            json!({ "type": "suspend" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let urls = guise_federation::Urls::new("https://guise.test");
    guise_federation::delivery::expand_once(&t.state.db, t.clock.as_ref(), &urls, 100)
        .await
        .unwrap();
    let deliveries = t.dump().await["deliveries"].clone();
    let update = deliveries
        .iter()
        .find(|d| d.contains("remote.example/users/remy/inbox") && d.contains("Update"))
        .unwrap_or_else(|| panic!("{deliveries:?}"));
    assert!(update.contains("\"\"suspended\"\": true"), "{update}");
}

/// A ban reaches every anonymous act of the hidden author: editing their
/// other posts, favouriting (which would mint a face); and a suspended
/// face's posts are gone from tags, threads and single views for everyone
/// but moderators.
#[actix_web::test]
async fn a_ban_holds_back_edits_and_favourites_and_hides_the_faces_posts() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let staff = admin(&t).await;
    let root = t
        .post_status(&bob, json!({ "status": "bob's thread #topic" }))
        .await;
    let banned = t
        .post_status(&anon, json!({ "status": "abusive #topic" }))
        .await;
    let other = t
        .post_status(
            &anon,
            json!({ "status": "elsewhere", "in_reply_to_id": root["id"] }),
        )
        .await;
    let face = banned["account"]["id"].as_str().unwrap().to_owned();
    assert_ne!(other["account"]["id"], face.as_str());
    let bid = banned["id"].as_str().unwrap().to_owned();
    let reply = t
        .post_status(
            &bob,
            json!({ "status": "a reply to the abuse", "in_reply_to_id": bid }),
        )
        .await;
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{face}/action"),
            Some(&staff),
            json!({ "type": "suspend" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Editing the post in another thread, through another face: refused.
    let oid = other["id"].as_str().unwrap();
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{oid}"),
            Some(&anon),
            Some(common::Body::Json(json!({ "status": "sneaky" }))),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Favouriting in a fresh thread would mint a face: refused, nothing minted.
    let fresh = t.post_status(&bob, json!({ "status": "new thread" })).await;
    let before = t.row_counts().await;
    let r = t
        .post(
            &format!(
                "/api/v1/statuses/{}/favourite",
                fresh["id"].as_str().unwrap()
            ),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        t.row_counts().await,
        before,
        "a refused favourite writes nothing"
    );
    // Gone from the tag timeline, the thread and the single view…
    let tag = t.get("/api/v1/timelines/tag/topic", Some(&bob)).await;
    let ids: Vec<&str> = tag
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&root["id"].as_str().unwrap()));
    assert!(!ids.contains(&bid.as_str()), "{ids:?}");
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{bid}"), Some(&bob))
            .await
            .status,
        404
    );
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{bid}"), None).await.status,
        404
    );
    let ctx = t
        .get(
            &format!("/api/v1/statuses/{}/context", reply["id"].as_str().unwrap()),
            Some(&bob),
        )
        .await;
    assert_eq!(
        ctx.json["ancestors"].as_array().unwrap().len(),
        0,
        "{}",
        ctx.text
    );
    // …but not for moderators.
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{bid}"), Some(&staff))
            .await
            .status,
        200
    );
}

/// The cool-down after a reset and the anonymous limit hold for favourites
/// as for posts, and a refused favourite mints no face.
#[actix_web::test]
async fn anonymous_favourites_count_against_the_limit_and_the_cool_down() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__ANONYMOUS_POSTS_PER_EPOCH", "2")]).await;
    let (_, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let mut targets = Vec::new();
    for i in 0..3 {
        let s = t
            .post_status(&bob, json!({ "status": format!("thread {i}") }))
            .await;
        targets.push(s["id"].as_str().unwrap().to_owned());
    }
    for id in &targets[..2] {
        let r = t
            .post(
                &format!("/api/v1/statuses/{id}/favourite"),
                Some(&anon),
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let before = t.row_counts().await;
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/favourite", targets[2]),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(t.row_counts().await, before);
    // Taking a favourite back mints nothing and needs no budget.
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/unfavourite", targets[0]),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["favourites_count"], 0);
    // After a reset, the cool-down.
    t.clock.advance(chrono::Duration::hours(2));
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::accounts::reset_password_losing_anonymity(
        &mut conn,
        t.clock.as_ref(),
        "alice",
        "a new password",
        14,
    )
    .await
    .unwrap();
    let anon = t
        .token_as_with("alice", "a new password", "anonymous")
        .await;
    let before = t.row_counts().await;
    let r = t
        .post(
            &format!("/api/v1/statuses/{}/favourite", targets[2]),
            Some(&anon),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("paused"));
    assert_eq!(t.row_counts().await, before);
}

/// Every staff action leaves a line in the audit log, written with it: who
/// (the staff login), what, on which face or post, on which day — over the
/// admin API and from the staff page alike. A failed action leaves none.
#[actix_web::test]
async fn every_staff_action_is_in_the_audit_log() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (alice_account, _) = t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let staff = admin(&t).await;
    let s = t.post_status(&anon, json!({ "status": "abusive" })).await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let anon_face = s["account"]["id"].as_str().unwrap().to_owned();
    let log = |token: String| {
        let t = &t;
        async move { t.get("/api/v1/admin/guise/audit_log", Some(&token)).await }
    };
    assert_eq!(log(bob.clone()).await.status, 403, "not for users");
    assert_eq!(log(staff.clone()).await.json, json!([]));

    for (path, body) in [
        (
            format!("/api/v1/admin/accounts/{anon_face}/action"),
            json!({ "type": "suspend" }),
        ),
        (
            format!("/api/v1/admin/accounts/{anon_face}/unsuspend"),
            json!({}),
        ),
        (
            format!("/api/v1/admin/accounts/{bob_face}/action"),
            json!({ "type": "suspend" }),
        ),
        (
            "/api/v1/admin/guise/announcements".to_owned(),
            json!({ "text": "hello" }),
        ),
    ] {
        let r = t.post(&path, Some(&staff), body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/guise/statuses/{sid}"),
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Refused: nothing done, nothing logged.
    let r = t
        .call(
            Method::DELETE,
            "/api/v1/admin/guise/statuses/12345",
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);

    let r = log(staff.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines = r.json.as_array().unwrap();
    let mut seen: Vec<(String, String, String, String)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["account_email"], "root@mail.test");
            assert_eq!(
                l["created_on"].as_str().unwrap(),
                guise_core::Clock::now(t.clock.as_ref())
                    .date_naive()
                    .to_string(),
                "a day, never an instant"
            );
            (
                l["action"].as_str().unwrap().to_owned(),
                l["target_type"].as_str().unwrap().to_owned(),
                l["target_id"].as_str().unwrap().to_owned(),
                l["face_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (
            "suspend".into(),
            "face".into(),
            anon_face.clone(),
            anon_face.clone(),
        ),
        (
            "unsuspend".into(),
            "face".into(),
            anon_face.clone(),
            anon_face.clone(),
        ),
        (
            "suspend".into(),
            "face".into(),
            bob_face.clone(),
            bob_face.clone(),
        ),
        (
            "delete_status".into(),
            "status".into(),
            sid.clone(),
            anon_face.clone(),
        ),
    ];
    let announcement = lines
        .iter()
        .find(|l| l["action"] == "create_announcement")
        .expect("the announcement is logged");
    want.push((
        "create_announcement".into(),
        "announcement".into(),
        announcement["target_id"].as_str().unwrap().to_owned(),
        String::new(),
    ));
    want.sort();
    assert_eq!(seen, want);
    // Nothing in it names the login behind the anonymous face.
    assert!(
        !r.text.contains(&format!("\"{alice_account}\"")),
        "{}",
        r.text
    );
    // The database itself refuses a line naming a login that is not staff.
    let mut conn = t.state.db.conn().await.unwrap();
    let planted = diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "INSERT INTO audit_log (id, staff_account_id, action, target_kind, target_id, face_id, logged_on) \
             VALUES (1, {alice_account}, 'suspend', 'face', {anon_face}, {anon_face}, current_date)"
        )),
        &mut conn,
    )
    .await;
    assert!(planted.is_err(), "a user's login beside an anonymous face");
}

/// A login made staff with `role`, and its token with the admin scopes.
async fn staff_token(t: &TestApp, login: &str, role: &str) -> String {
    let (account, _) = t.create_account(login).await;
    t.sql(&format!(
        "UPDATE accounts SET role = '{role}' WHERE id = {account}"
    ))
    .await;
    t.token(login, "read write admin:read admin:write").await
}

/// Mastodon's admin domain blocks and allows: admins only (federation is
/// theirs, as Mastodon's "Manage Federation"), Mastodon's shapes, clear
/// refusals, every change in the audit log, and the public list of
/// moderated servers with obfuscated names starred.
#[actix_web::test]
async fn domain_blocks_and_allows_over_the_admin_api() {
    let t = TestApp::new().await;
    let (_, user) = t.user("bob").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;

    for token in [&user, &moderator] {
        for path in ["/api/v1/admin/domain_blocks", "/api/v1/admin/domain_allows"] {
            assert_eq!(t.get(path, Some(token)).await.status, 403, "{path}");
            let r = t
                .post(path, Some(token), json!({ "domain": "evil.example" }))
                .await;
            assert_eq!(r.status, 403, "{path}");
        }
    }
    let r = t
        .post(
            "/api/v1/admin/domain_blocks",
            Some(&admin),
            json!({ "domain": " Evil.Example. ", "severity": "suspend",
                    "public_comment": "spam", "obfuscate": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let block = r.json.clone();
    let id = block["id"].as_str().unwrap().to_owned();
    assert_eq!(block["domain"], "evil.example");
    assert_eq!(block["severity"], "suspend");
    assert_eq!(block["reject_media"], false);
    assert_eq!(block["reject_reports"], false);
    assert_eq!(block["private_comment"], serde_json::Value::Null);
    assert_eq!(block["public_comment"], "spam");
    assert_eq!(block["obfuscate"], true);
    use sha2::Digest;
    assert_eq!(
        block["digest"],
        hex::encode(sha2::Sha256::digest(b"evil.example"))
    );
    assert!(block["created_at"].as_str().unwrap().ends_with('Z'));

    for (body, what) in [
        (json!({ "domain": "EVIL.example" }), "already blocked"),
        (json!({ "domain": "" }), "blank"),
        (json!({ "domain": "a/b" }), "not a domain"),
        (
            json!({ "domain": "other.example", "severity": "ban" }),
            "severity",
        ),
    ] {
        let r = t
            .post("/api/v1/admin/domain_blocks", Some(&admin), body)
            .await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert!(
            r.json["error"].as_str().unwrap().contains(what),
            "{}",
            r.text
        );
    }

    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/admin/domain_blocks/{id}"),
            Some(&admin),
            Some(common::Body::Json(
                json!({ "severity": "silence", "reject_media": true }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["severity"], "silence");
    assert_eq!(r.json["reject_media"], true);
    assert_eq!(r.json["public_comment"], "spam", "what was not given stays");
    let r = t.get("/api/v1/admin/domain_blocks", Some(&admin)).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["severity"], "silence");
    let r = t.get("/api/v1/instance/domain_blocks", None).await;
    assert_eq!(r.status, 200);
    let listed = &r.json[0];
    assert!(
        listed["domain"].as_str().unwrap().contains('*'),
        "obfuscated: {listed}"
    );
    assert_ne!(listed["domain"], "evil.example");
    assert_eq!(listed["digest"], block["digest"]);
    assert_eq!(listed["severity"], "silence");
    assert_eq!(listed["comment"], "spam");

    let r = t
        .post(
            "/api/v1/admin/domain_allows",
            Some(&admin),
            json!({ "domain": "Friends.Example" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["domain"], "friends.example");
    let allow = r.json["id"].as_str().unwrap().to_owned();
    let again = t
        .post(
            "/api/v1/admin/domain_allows",
            Some(&admin),
            json!({ "domain": "friends.example" }),
        )
        .await;
    assert_eq!(again.json["id"], allow.as_str(), "allowed once");
    let path = format!("/api/v1/admin/domain_allows/{allow}");
    assert_eq!(
        t.get(&path, Some(&admin)).await.json["domain"],
        "friends.example"
    );
    let r = t.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!({})));
    assert_eq!(t.get(&path, Some(&admin)).await.status, 404);

    let path = format!("/api/v1/admin/domain_blocks/{id}");
    let r = t.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!((r.status.as_u16(), r.json.clone()), (200, json!({})));
    assert_eq!(t.get(&path, Some(&admin)).await.status, 404);
    assert_eq!(
        t.get("/api/v1/instance/domain_blocks", None).await.json,
        json!([])
    );

    let mut actions = t.audit_actions(&admin).await;
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "create_domain_allow",
            "create_domain_allow",
            "create_domain_block",
            "destroy_domain_allow",
            "destroy_domain_block",
            "update_domain_block"
        ]
    );
}

/// Staff see their role (and what it lets them do) on their own
/// `verify_credentials`, so apps show admin tools; everyone else the
/// everyone role. The role never shows on public account entities.
#[actix_web::test]
async fn staff_see_their_role_on_their_own_credentials() {
    let t = TestApp::new().await;
    let (face, user) = t.user("bob").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let role = |token: String| {
        let t = &t;
        async move {
            t.get("/api/v1/accounts/verify_credentials", Some(&token))
                .await
                .json["role"]
                .clone()
        }
    };
    let r = role(user.clone()).await;
    assert_eq!(
        (r["id"].as_str(), r["permissions"].as_str()),
        (Some("-99"), Some("0"))
    );
    let r = role(moderator).await;
    assert_eq!(r["name"], "Moderator");
    let moderator_flags: u32 = r["permissions"].as_str().unwrap().parse().unwrap();
    assert_eq!(moderator_flags & 0x1, 0, "never the administrator flag");
    assert_ne!(moderator_flags & 0x10, 0, "reports");
    assert_eq!(moderator_flags & 0x20, 0, "not federation");
    let r = role(admin).await;
    assert_eq!(r["name"], "Admin");
    let admin_flags: u32 = r["permissions"].as_str().unwrap().parse().unwrap();
    assert_eq!(admin_flags, moderator_flags | 0x20 | 0x8);
    let public = t
        .get(&format!("/api/v1/accounts/{face}"), Some(&user))
        .await;
    assert!(public.json.get("role").is_none(), "{}", public.text);
}

/// A silenced face keeps its followers and leaves the public timelines;
/// lifting the silence brings it back.
#[actix_web::test]
async fn a_silenced_face_leaves_the_public_timelines_but_not_its_followers() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    let r = t
        .post(
            &format!("/api/v1/accounts/{bob_face}/follow"),
            Some(&carol),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = t
        .post_status(
            &bob,
            json!({ "status": "loud #news", "visibility": "public" }),
        )
        .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let staff = staff_token(&t, "mod", "moderator").await;
    let has = |path: &'static str| {
        let (t, carol, sid) = (&t, carol.clone(), sid.clone());
        async move {
            let r = t.get(path, Some(&carol)).await;
            r.json
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {}", r.text))
                .iter()
                .any(|s| s["id"] == sid.as_str())
        }
    };
    let public = [
        "/api/v1/timelines/public",
        "/api/v1/timelines/public?local=true",
        "/api/v1/timelines/tag/news",
    ];
    for p in public {
        assert!(has(p).await, "{p}");
    }
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/action"),
            Some(&staff),
            json!({ "type": "silence" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for p in public {
        assert!(!has(p).await, "{p}");
    }
    assert!(
        has("/api/v1/timelines/home").await,
        "followers still see it"
    );
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/unsilence"),
            Some(&staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for p in public {
        assert!(has(p).await, "{p}");
    }
}

/// Mastodon's "sensitive" action on a face: what it posts or edits from
/// then on is marked sensitive (an anonymous face's too, without anyone
/// learning who is behind it), until `unsensitive`; what it posted before
/// stays as it was.
#[actix_web::test]
async fn a_sensitized_face_posts_sensitive_from_then_on() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let staff = staff_token(&t, "mod", "moderator").await;
    let before = t.post_status(&bob, json!({ "status": "before" })).await;
    let first = t
        .post_status(&anon, json!({ "status": "anonymous, before" }))
        .await;
    let anon_face = first["account"]["id"].as_str().unwrap().to_owned();
    let sensitize = |face: String| {
        let (t, staff) = (&t, staff.clone());
        async move {
            t.post(
                &format!("/api/v1/admin/accounts/{face}/action"),
                Some(&staff),
                json!({ "type": "sensitive" }),
            )
            .await
        }
    };
    for face in [bob_face.clone(), anon_face.clone()] {
        let r = sensitize(face.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let shown = t
            .get(&format!("/api/v1/admin/accounts/{face}"), Some(&staff))
            .await
            .json;
        assert_eq!(shown["sensitized"], true, "{shown}");
    }
    let after = t.post_status(&bob, json!({ "status": "after" })).await;
    assert_eq!(after["sensitive"], true, "{after}");
    let reply = t
        .post_status(
            &anon,
            json!({ "status": "anonymous, after", "in_reply_to_id": first["id"] }),
        )
        .await;
    assert_eq!(
        reply["account"]["id"],
        anon_face.as_str(),
        "the same thread face"
    );
    assert_eq!(reply["sensitive"], true, "{reply}");
    let old = t
        .get(
            &format!("/api/v1/statuses/{}", before["id"].as_str().unwrap()),
            Some(&bob),
        )
        .await
        .json;
    assert_eq!(old["sensitive"], false, "earlier posts stay as they were");
    let edited = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{}", before["id"].as_str().unwrap()),
            Some(&bob),
            Some(common::Body::Json(json!({ "status": "before, edited" }))),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(edited.json["sensitive"], true, "an edit is new writing");

    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/unsensitive"),
            Some(&staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let later = t.post_status(&bob, json!({ "status": "later" })).await;
    assert_eq!(later["sensitive"], false, "{later}");
    let actions = t.audit_actions(&staff).await;
    assert_eq!(
        actions.iter().filter(|a| **a == "sensitive").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "unsensitive"), "{actions:?}");
}

/// With `announcer_needs_approval`, the shared announcer boosts a public
/// anonymous thread only once staff approve it: the post waits in a queue
/// that names nothing but the post; approving boosts it, rejecting leaves
/// it unboosted, deleting the post takes it off the queue. Users get 403.
#[actix_web::test]
async fn the_announcer_waits_for_a_moderator_when_the_policy_says_so() {
    let t = TestApp::new().await;
    let announcer = {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::announcer::ensure(&mut conn, t.clock.as_ref(), true)
            .await
            .unwrap();
        guise_core::announcer::active(&mut conn)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (_, user) = t.user("bob").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let r = t
        .call(
            Method::PUT,
            "/api/v1/admin/guise/instance_policy",
            Some(&admin),
            Some(common::Body::Json(
                json!({ "announcer_needs_approval": true, "version": 1 }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let mut posted = Vec::new();
    for text in ["first", "second", "third"] {
        let s = t
            .post_status(&anon, json!({ "status": text, "visibility": "public" }))
            .await;
        posted.push(s["id"].as_str().unwrap().to_owned());
    }
    t.post_status(
        &anon,
        json!({ "status": "a reply", "in_reply_to_id": posted[0], "visibility": "public" }),
    )
    .await;
    let boosted = || {
        let (t, user) = (&t, user.clone());
        async move {
            t.get(
                &format!("/api/v1/accounts/{announcer}/statuses"),
                Some(&user),
            )
            .await
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["reblog"]["id"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
        }
    };
    assert!(
        boosted().await.is_empty(),
        "nothing boosted before approval"
    );
    let about = t.get("/about", None).await.text;
    assert!(
        about.contains("once a moderator approves each one"),
        "{about}"
    );
    let queue = "/api/v1/admin/guise/announcer_queue";
    assert_eq!(t.get(queue, Some(&user)).await.status, 403);
    let waiting = t.get(queue, Some(&moderator)).await;
    assert_eq!(waiting.status, 200, "{}", waiting.text);
    let ids: Vec<&str> = waiting
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        posted.iter().map(String::as_str).collect::<Vec<_>>(),
        "threads only, oldest first"
    );
    let decide = |id: String, what: &'static str, token: String| {
        let t = &t;
        async move {
            t.post(&format!("{queue}/{id}/{what}"), Some(&token), json!({}))
                .await
        }
    };
    assert_eq!(
        decide(posted[0].clone(), "approve", user.clone())
            .await
            .status,
        403
    );
    let r = decide(posted[0].clone(), "approve", moderator.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(boosted().await, [posted[0].clone()]);
    assert_eq!(
        decide(posted[0].clone(), "approve", moderator.clone())
            .await
            .status,
        404,
        "no longer waiting"
    );
    let r = decide(posted[1].clone(), "reject", moderator.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(boosted().await, [posted[0].clone()]);
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{}", posted[1]), None)
            .await
            .status,
        200,
        "a rejected post stays up"
    );
    let gone = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{}", posted[2]),
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text);
    assert_eq!(t.get(queue, Some(&moderator)).await.json, json!([]));
    let actions = t.audit_actions(&moderator).await;
    assert!(
        actions.iter().any(|a| a == "approve_announcement")
            && actions.iter().any(|a| a == "reject_announcement"),
        "{actions:?}"
    );
}

/// Mastodon's admin reports and accounts: a report of an anonymous post is
/// taken on, acted on with a suspension (which holds back its hidden
/// author) and resolved, and at no step does anyone — admins included —
/// see a login behind the anonymous face; persistent faces show their
/// login to admins only. Users get 403 throughout.
#[actix_web::test]
async fn reports_and_accounts_over_the_admin_api_never_unmask() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, alice_face) = t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let s = t
        .post_status(
            &anon,
            json!({ "status": "abusive", "visibility": "public" }),
        )
        .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let anon_face = s["account"]["id"].as_str().unwrap().to_owned();
    let r = t
        .post(
            "/api/v1/reports",
            Some(&bob),
            json!({ "account_id": anon_face, "status_ids": [sid], "comment": "nasty", "category": "other" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let report = r.json["id"].as_str().unwrap().to_owned();

    for path in [
        "/api/v1/admin/reports".to_owned(),
        format!("/api/v1/admin/reports/{report}"),
        "/api/v1/admin/accounts".to_owned(),
        format!("/api/v1/admin/accounts/{anon_face}"),
    ] {
        assert_eq!(t.get(&path, Some(&bob)).await.status, 403, "{path}");
    }
    let r = t
        .post(
            &format!("/api/v1/admin/reports/{report}/resolve"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403);

    let r = t.get("/api/v1/admin/reports", Some(&moderator)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.json.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let rep = &listed[0];
    assert_eq!(rep["id"], report.as_str());
    assert_eq!(rep["action_taken"], false);
    assert_eq!(rep["comment"], "nasty");
    assert_eq!(rep["account"]["id"], bob_face.as_str());
    assert_eq!(
        rep["account"]["email"],
        serde_json::Value::Null,
        "moderators see no email"
    );
    assert_eq!(rep["target_account"]["id"], anon_face.as_str());
    assert_eq!(rep["statuses"][0]["id"], sid.as_str());
    assert_eq!(rep["assigned_account"], serde_json::Value::Null);

    let r = t
        .post(
            &format!("/api/v1/admin/reports/{report}/assign_to_self"),
            Some(&moderator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["assigned_account"]["username"], "mod");

    // What an admin sees of each face: a persistent face's login, and
    // nothing at all behind the anonymous one.
    let seen = |face: String| {
        let (t, admin) = (&t, admin.clone());
        async move {
            let r = t
                .get(&format!("/api/v1/admin/accounts/{face}"), Some(&admin))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json
        }
    };
    let b = seen(bob_face.clone()).await;
    assert_eq!(b["email"], "bob@mail.test");
    assert_eq!(
        (b["confirmed"].clone(), b["disabled"].clone()),
        (json!(true), json!(false))
    );
    let a = seen(anon_face.clone()).await;
    for (k, want) in [
        ("email", serde_json::Value::Null),
        ("confirmed", json!(false)),
        ("disabled", json!(false)),
        ("ip", serde_json::Value::Null),
        ("ips", json!([])),
    ] {
        assert_eq!(a[k], want, "{k}: {a}");
    }
    assert_eq!(a["role"]["id"], "-99");
    let text = a.to_string();
    assert!(
        !text.contains("alice"),
        "the anonymous face names nobody: {text}"
    );
    assert!(!text.contains(&alice_face.to_string()), "{text}");

    // The action, naming the report: suspended, resolved, logged.
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{anon_face}/action"),
            Some(&moderator),
            json!({ "type": "suspend", "report_id": report }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "again" }),
        )
        .await;
    assert_eq!(r.status, 403, "the hidden author is held back: {}", r.text);
    assert_eq!(
        t.get("/api/v1/admin/reports", Some(&moderator)).await.json,
        json!([])
    );
    let done = t
        .get("/api/v1/admin/reports?resolved=true", Some(&moderator))
        .await
        .json;
    assert_eq!(done[0]["action_taken"], true);
    assert_eq!(done[0]["action_taken_by_account"]["username"], "mod");
    assert!(!done.to_string().contains("alice"));
    let r = t
        .post(
            &format!("/api/v1/admin/reports/{report}/reopen"),
            Some(&moderator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["action_taken"], false);
    assert_eq!(r.json["action_taken_by_account"], serde_json::Value::Null);
    let r = t
        .post(
            &format!("/api/v1/admin/reports/{report}/unassign"),
            Some(&moderator),
            json!({}),
        )
        .await;
    assert_eq!(r.json["assigned_account"], serde_json::Value::Null);
    assert_eq!(
        t.post(
            "/api/v1/admin/reports/12345/resolve",
            Some(&moderator),
            json!({})
        )
        .await
        .status,
        404
    );

    // Finding faces: by status (v1 and v2), by email (admins only, and only
    // persistent faces), staff only.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for path in [
        "/api/v1/admin/accounts?suspended=true",
        "/api/v2/admin/accounts?status=suspended",
    ] {
        assert_eq!(
            ids(&t.get(path, Some(&moderator)).await.json),
            std::slice::from_ref(&anon_face),
            "{path}"
        );
    }
    assert_eq!(
        t.get("/api/v1/admin/accounts?email=alice", Some(&moderator))
            .await
            .status,
        403
    );
    let by_email = ids(&t
        .get(
            "/api/v2/admin/accounts?email=alice%40mail.test",
            Some(&admin),
        )
        .await
        .json);
    assert_eq!(by_email, [alice_face.to_string()], "persistent faces only");
    let staff = t
        .get("/api/v2/admin/accounts?permissions=staff", Some(&admin))
        .await
        .json;
    let mut names: Vec<&str> = staff
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["boss", "mod"]);
    assert_eq!(
        t.get("/api/v2/admin/accounts?status=pending", Some(&admin))
            .await
            .json,
        json!([]),
        "nothing waits for approval while sign-ups need none"
    );
    assert_eq!(
        t.get("/api/v2/admin/accounts?status=sleeping", Some(&admin))
            .await
            .status,
        422
    );

    // Disabling a login: through a persistent face only.
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{anon_face}/action"),
            Some(&admin),
            json!({ "type": "disable" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/action"),
            Some(&admin),
            json!({ "type": "disable" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(&bob))
            .await
            .status,
        401
    );
    assert_eq!(seen(bob_face.clone()).await["disabled"], true);
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/enable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["disabled"], false);
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{bob_face}/action"),
            Some(&admin),
            json!({ "type": "sleep" }),
        )
        .await;
    assert_eq!(r.status, 422, "an unknown action, said so: {}", r.text);
}

/// The instance and tier policy over REST: staff read it, admins change
/// it field by field, each change a new version (a stale version refused,
/// nonsense refused whole), in force at once — posting, NodeInfo — and in
/// the audit log.
#[actix_web::test]
async fn the_instance_policy_changes_over_rest_without_a_restart() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let path = "/api/v1/admin/guise/instance_policy";
    assert_eq!(t.get(path, Some(&bob)).await.status, 403);
    let r = t.get(path, Some(&moderator)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["version"], 1,
        "the file's values are the first version"
    );
    assert_eq!(r.json["policy"]["anonymous_top_level"], true);
    let put = |token: String, body: serde_json::Value| {
        let t = &t;
        async move {
            t.call(
                Method::PUT,
                path,
                Some(&token),
                Some(common::Body::Json(body)),
            )
            .await
        }
    };
    assert_eq!(
        put(moderator.clone(), json!({ "anonymous_top_level": false }))
            .await
            .status,
        403,
        "admins only"
    );
    let r = put(
        admin.clone(),
        json!({ "anonymous_top_level": false, "version": 1 }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["version"], 2);
    assert_eq!(r.json["policy"]["anonymous_top_level"], false);

    let top = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "a new thread" }),
        )
        .await;
    assert_eq!(top.status, 422, "{}", top.text);
    assert!(
        top.json["error"].as_str().unwrap().contains("reply"),
        "{}",
        top.text
    );
    let s = t.post_status(&bob, json!({ "status": "ask me" })).await;
    let reply = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "a reply", "in_reply_to_id": s["id"] }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let about = t.get("/about", None).await.text;
    assert!(about.contains("Anonymous posts may only reply"), "{about}");

    for (body, what) in [
        (json!({ "max_characters": 10, "version": 1 }), "meanwhile"),
        (json!({ "max_characters": 0 }), "max_characters"),
        (json!({ "tiers": [] }), "tier"),
        (json!({ "tiers": ["ghost"] }), "variant"),
        (json!({ "bogus": 1 }), "not a policy setting"),
        (json!({ "trusted_verifiers": ["a/b"] }), "domain"),
    ] {
        let r = put(admin.clone(), body).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert!(
            r.json["error"].as_str().unwrap().contains(what),
            "{what}: {}",
            r.text
        );
    }
    let r = put(
        admin.clone(),
        json!({ "tiers": ["pseudonymous", "real_name"] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["version"], 3);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "another reply", "in_reply_to_id": s["id"] }),
        )
        .await;
    assert_eq!(r.status, 422, "the tier is off: {}", r.text);
    let ni = t.get("/nodeinfo/2.1", None).await.json;
    let g = &ni["metadata"]["guise"];
    assert_eq!(g["tiers"], json!(["pseudonymous", "real_name"]));
    assert_eq!(g["policy"]["version"], 3);
    assert_eq!(g["policy"]["anonymous_top_level"], false);
    assert_eq!(g["staff_can_unmask_anonymous"], false);
    let about = t.get("/about", None).await.text;
    assert!(
        !about.contains("Anonymous posts may only reply")
            && about.contains("at most 500 characters"),
        "the anonymous tier is off: {about}"
    );

    let versions = t
        .get(&format!("{path}/versions"), Some(&moderator))
        .await
        .json;
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1]);
    let log = t
        .get("/api/v1/admin/guise/audit_log", Some(&admin))
        .await
        .json;
    let changes = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "update_instance_policy")
        .count();
    assert_eq!(changes, 2);
    let r = put(
        admin.clone(),
        json!({ "trusted_verifiers": ["verify.example"], "max_characters": 700 }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let about = t.get("/about", None).await.text;
    assert!(
        about.contains("Real names verified by verify.example")
            && about.contains("at most 700 characters"),
        "{about}"
    );
}

/// Admins change a login's role and delete a login through one of its
/// persistent faces; moderators may not; nobody acts on the login behind
/// an anonymous face; a deleted login's anonymous posts stay (only its own
/// key would find them).
#[actix_web::test]
async fn admins_change_roles_and_delete_logins_over_the_api() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, alice_face) = t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t
        .post_status(&anon, json!({ "status": "still here later" }))
        .await;
    let anon_face = s["account"]["id"].as_str().unwrap().to_owned();
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let boss_face = t
        .get("/api/v1/accounts/verify_credentials", Some(&admin))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = |token: String, face: String, role: &'static str| {
        let t = &t;
        async move {
            t.post(
                &format!("/api/v1/admin/guise/accounts/{face}/role"),
                Some(&token),
                json!({ "role": role }),
            )
            .await
        }
    };
    assert_eq!(
        role(moderator.clone(), bob_face.clone(), "admin")
            .await
            .status,
        403
    );
    let r = role(admin.clone(), bob_face.clone(), "moderator").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["role"]["name"], "Moderator");
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&bob))
        .await
        .json;
    assert_eq!(me["role"]["name"], "Moderator");
    for (face, r, what) in [
        (bob_face.clone(), "king", "role"),
        (boss_face.clone(), "user", "own"),
        (anon_face.clone(), "admin", "names no login"),
    ] {
        let resp = role(admin.clone(), face, r).await;
        assert_eq!(resp.status, 422, "{what}: {}", resp.text);
    }

    let delete = |token: String, face: String| {
        let t = &t;
        async move {
            t.call(
                Method::DELETE,
                &format!("/api/v1/admin/accounts/{face}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    assert_eq!(
        delete(moderator.clone(), bob_face.clone()).await.status,
        403
    );
    assert_eq!(
        delete(admin.clone(), bob_face.clone()).await.status,
        422,
        "staff first loses its role"
    );
    assert_eq!(delete(admin.clone(), anon_face.clone()).await.status, 422);
    assert_eq!(
        role(admin.clone(), bob_face.clone(), "user").await.status,
        200
    );
    let r = delete(admin.clone(), bob_face.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.json.clone()),
        (200, json!({})),
        "{}",
        r.text
    );
    assert_eq!(
        t.get("/api/v1/accounts/verify_credentials", Some(&bob))
            .await
            .status,
        401
    );
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{bob_face}"), None)
            .await
            .status,
        404
    );

    let r = delete(admin.clone(), alice_face.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sid = s["id"].as_str().unwrap();
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{sid}"), None).await.status,
        200,
        "the anonymous post stays: nobody holds its owner's key"
    );
    let actions = t.audit_actions(&admin).await;
    assert_eq!(actions.iter().filter(|a| **a == "delete_login").count(), 2);
    assert_eq!(actions.iter().filter(|a| **a == "set_role").count(), 2);
}

/// Mastodon's measures: sign-ups and reports per day, with the window
/// before for comparison; measures of who is active answer null (never
/// recorded). Admins only.
#[actix_web::test]
async fn measures_count_sign_ups_and_reports_and_never_activity() {
    let t = TestApp::new().await;
    let (_, bob) = t.user("bob").await;
    let (carol_face, _) = t.user("carol").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let r = t
        .post(
            "/api/v1/reports",
            Some(&bob),
            json!({ "account_id": carol_face, "comment": "hm" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let today = guise_core::Clock::now(t.clock.as_ref()).date_naive();
    let week_ago = today - chrono::Duration::days(6);
    let body = json!({
        "keys": ["new_users", "opened_reports", "resolved_reports", "active_users", "interactions"],
        "start_at": format!("{week_ago}T00:00:00Z"),
        "end_at": today.to_string(),
    });
    assert_eq!(
        t.post("/api/v1/admin/measures", Some(&moderator), body.clone())
            .await
            .status,
        403
    );
    let r = t.post("/api/v1/admin/measures", Some(&admin), body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = |key: &str| {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == key)
            .unwrap_or_else(|| panic!("{key}: {}", r.text))
            .clone()
    };
    let users = m("new_users");
    assert_eq!(users["total"], "4", "bob, carol, mod and boss");
    assert_eq!(users["previous_total"], "0");
    let days = users["data"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["date"], format!("{today}T00:00:00.000Z"));
    assert_eq!(days[6]["value"], "4");
    assert_eq!(m("opened_reports")["total"], "1");
    assert_eq!(m("resolved_reports")["total"], "0");
    for key in ["active_users", "interactions"] {
        assert_eq!(
            m(key)["total"],
            serde_json::Value::Null,
            "{key} is never tracked"
        );
    }
    let bad = json!({ "keys": ["new_users"], "start_at": today.to_string(), "end_at": week_ago.to_string() });
    assert_eq!(
        t.post("/api/v1/admin/measures", Some(&admin), bad)
            .await
            .status,
        422
    );
}

/// The instance's rules: admins write them; anyone reads them (the API,
/// the instance entity, the about page); a report names them, and only
/// them.
#[actix_web::test]
async fn instance_rules_are_written_by_admins_and_named_by_reports() {
    let t = TestApp::new().await;
    let (bob_face, bob) = t.user("bob").await;
    let (_, carol) = t.user("carol").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    let path = "/api/v1/admin/guise/rules";
    assert_eq!(
        t.post(path, Some(&moderator), json!({ "text": "x" }))
            .await
            .status,
        403
    );
    assert_eq!(
        t.post(path, Some(&admin), json!({ "text": " " }))
            .await
            .status,
        422
    );
    let kind = t
        .post(
            path,
            Some(&admin),
            json!({ "text": "Be kind", "hint": "No harassment" }),
        )
        .await;
    assert_eq!(kind.status, 200, "{}", kind.text);
    let spam = t
        .post(path, Some(&admin), json!({ "text": "No spam" }))
        .await;
    let kind_id = kind.json["id"].as_str().unwrap().to_owned();
    let spam_id = spam.json["id"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::PUT,
            &format!("{path}/{spam_id}"),
            Some(&admin),
            Some(common::Body::Json(
                json!({ "text": "No spam, no ads", "position": -1 }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let public = t.get("/api/v1/instance/rules", None).await.json;
    assert_eq!(
        public,
        json!([
            { "id": spam_id, "text": "No spam, no ads", "hint": "" },
            { "id": kind_id, "text": "Be kind", "hint": "No harassment" }
        ])
    );
    assert_eq!(t.get("/api/v2/instance", None).await.json["rules"], public);
    assert_eq!(t.get("/api/v1/instance", None).await.json["rules"], public);
    let about = t.get("/about", None).await.text;
    assert!(
        about.contains("Be kind") && about.contains("No harassment"),
        "{about}"
    );

    let r = t
        .post(
            "/api/v1/reports",
            Some(&carol),
            json!({ "account_id": bob_face, "rule_ids": [kind_id] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["category"], "violation");
    let listed = t.get("/api/v1/admin/reports", Some(&moderator)).await.json;
    assert_eq!(
        listed[0]["rules"],
        json!([{ "id": kind_id, "text": "Be kind", "hint": "No harassment" }])
    );
    let r = t
        .post(
            "/api/v1/reports",
            Some(&carol),
            json!({ "account_id": bob_face, "rule_ids": ["999"] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .call(
            Method::DELETE,
            &format!("{path}/{kind_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        t.get("/api/v1/instance/rules", Some(&bob))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Every admin endpoint with a user's, a moderator's and an admin's token:
/// users get 403 everywhere; moderators get 403 exactly where the admin
/// role is needed (federation, blocks, rules, policy, measures, roles,
/// deleting logins); admins are never refused for their role.
#[actix_web::test]
async fn every_admin_endpoint_answers_each_role_as_it_allows() {
    let t = TestApp::new().await;
    let (_, user) = t.user("bob").await;
    let moderator = staff_token(&t, "mod", "moderator").await;
    let admin = staff_token(&t, "boss", "admin").await;
    const ID: &str = "1234567";
    let p = |s: &str| s.replace(":id", ID);
    // (method, path, body, admins only)
    let table: Vec<(Method, String, serde_json::Value, bool)> = vec![
        (Method::GET, p("/api/v1/admin/accounts"), json!({}), false),
        (Method::GET, p("/api/v2/admin/accounts"), json!({}), false),
        (
            Method::GET,
            p("/api/v1/admin/accounts/:id"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/action"),
            json!({ "type": "silence" }),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/unsuspend"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/unsilence"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/unsensitive"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/enable"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/approve"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/accounts/:id/reject"),
            json!({}),
            false,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/accounts/:id"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/accounts/:id/role"),
            json!({ "role": "user" }),
            true,
        ),
        (Method::GET, p("/api/v1/admin/reports"), json!({}), false),
        (
            Method::GET,
            p("/api/v1/admin/reports/:id"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/reports/:id/assign_to_self"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/reports/:id/unassign"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/reports/:id/resolve"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/reports/:id/reopen"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/domain_blocks"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/domain_blocks/:id"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/domain_blocks"),
            json!({ "domain": "x.example" }),
            true,
        ),
        (
            Method::PUT,
            p("/api/v1/admin/domain_blocks/:id"),
            json!({}),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/domain_blocks/:id"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/domain_allows"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/domain_allows"),
            json!({ "domain": "y.example" }),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/domain_allows/:id"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/email_domain_blocks"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/email_domain_blocks"),
            json!({ "domain": "z.example" }),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/email_domain_blocks/:id"),
            json!({}),
            true,
        ),
        (Method::GET, p("/api/v1/admin/ip_blocks"), json!({}), true),
        (
            Method::POST,
            p("/api/v1/admin/ip_blocks"),
            json!({ "ip": "192.0.2.1", "severity": "no_access" }),
            true,
        ),
        (
            Method::PUT,
            p("/api/v1/admin/ip_blocks/:id"),
            json!({}),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/ip_blocks/:id"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/measures"),
            json!({ "keys": ["new_users"], "start_at": "2026-11-01", "end_at": "2026-11-02" }),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/audit_log"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/real_names"),
            json!({}),
            false,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/guise/statuses/:id"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/announcements"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/instance_policy"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/announcer_queue"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/announcer_queue/:id/approve"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/announcer_queue/:id/reject"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/held_posts"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/held_posts/:id/release"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/held_posts/:id/reject"),
            json!({}),
            false,
        ),
        (
            Method::PUT,
            p("/api/v1/admin/guise/instance_policy"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/instance_policy/versions"),
            json!({}),
            false,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/incoming_rules"),
            json!({}),
            true,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/incoming_rules"),
            json!({ "kind": "keyword", "pattern": "x", "action": "delist" }),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/guise/incoming_rules/:id"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/policy_decisions"),
            json!({}),
            true,
        ),
        (
            Method::GET,
            p("/api/v1/admin/guise/rules"),
            json!({}),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/guise/rules"),
            json!({ "text": "Be kind" }),
            true,
        ),
        (
            Method::PUT,
            p("/api/v1/admin/guise/rules/:id"),
            json!({}),
            true,
        ),
        (
            Method::DELETE,
            p("/api/v1/admin/guise/rules/:id"),
            json!({}),
            true,
        ),
    ];
    for (method, path, body, admins_only) in &table {
        let call = |token: String| {
            let (t, method, path, body) = (&t, method.clone(), path.clone(), body.clone());
            async move {
                let r = t
                    .call(method, &path, Some(&token), Some(common::Body::Json(body)))
                    .await;
                // The router's own 404 says "Not Found"; an endpoint's
                // unknown id says "Record not found".
                assert_ne!(r.json["error"], "Not Found", "no such route: {path}");
                r.status.as_u16()
            }
        };
        assert_eq!(call(user.clone()).await, 403, "user: {method} {path}");
        let m = call(moderator.clone()).await;
        if *admins_only {
            assert_eq!(m, 403, "moderator: {method} {path}");
        } else {
            assert_ne!(m, 403, "moderator: {method} {path}");
        }
        let a = call(admin.clone()).await;
        assert_ne!(a, 403, "admin: {method} {path}");
    }
}

/// A ban with a duration: an anonymous face suspended for two days holds
/// back its hidden author until that day, when the worker lifts it; the
/// end is a day, never an instant.
#[actix_web::test]
async fn a_timed_ban_on_a_hidden_author_lapses_on_its_day() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let staff = staff_token(&t, "mod", "moderator").await;
    let s = t.post_status(&anon, json!({ "status": "abusive" })).await;
    let face = s["account"]["id"].as_str().unwrap().to_owned();
    let action = format!("/api/v1/admin/accounts/{face}/action");
    assert_eq!(
        t.post(
            &action,
            Some(&staff),
            json!({ "type": "suspend", "duration": 0 })
        )
        .await
        .status,
        422
    );
    let r = t
        .post(
            &action,
            Some(&staff),
            json!({ "type": "suspend", "duration": 2 * 86_400 - 5 }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let today = guise_core::Clock::today(t.clock.as_ref());
    let seen = t
        .get(&format!("/api/v1/admin/accounts/{face}"), Some(&staff))
        .await
        .json;
    assert_eq!(seen["suspended"], true);
    assert_eq!(
        seen["suspended_until"],
        (today + chrono::Duration::days(2)).to_string()
    );
    let again = |text: &'static str| {
        let (t, anon) = (&t, anon.clone());
        async move {
            t.post("/api/v1/statuses", Some(&anon), json!({ "status": text }))
                .await
                .status
                .as_u16()
        }
    };
    assert_eq!(again("again").await, 403);
    let lift = || async {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::moderation::lift_lapsed(&mut conn, t.clock.as_ref())
            .await
            .unwrap()
    };
    t.clock.advance(chrono::Duration::days(1));
    assert_eq!(lift().await, 0);
    assert_eq!(again("still banned").await, 403);
    t.clock.advance(chrono::Duration::days(1));
    assert_eq!(lift().await, 1);
    assert_eq!(again("after the ban").await, 200);
    let seen = t
        .get(&format!("/api/v1/admin/accounts/{face}"), Some(&staff))
        .await
        .json;
    assert_eq!(
        (seen["suspended"].clone(), seen["suspended_until"].clone()),
        (json!(false), serde_json::Value::Null)
    );
}
