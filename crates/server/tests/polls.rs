//! Polls on this instance: creation (JSON and form fields), the entity,
//! votes by faces and by anonymous tokens (one per person across their
//! anonymous faces, nothing at rest naming them), hidden totals, the end
//! and its notifications, and the `Question` other servers see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::json;

#[actix_web::test]
async fn a_poll_is_made_voted_in_and_ends() {
    let t = TestApp::new().await;
    t.keep_a_key_ready().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let bob_anon = t.token_as("bob", "anonymous", "read write").await;
    let s = t
        .post_status(
            &alice,
            json!({ "status": "lunch?", "poll": { "options": ["pizza", "soup", "salad"], "expires_in": 600 } }),
        )
        .await;
    let id = s["id"].as_str().unwrap().to_owned();
    let p = &s["poll"];
    assert_eq!(p["id"], json!(id));
    assert_eq!(p["options"].as_array().unwrap().len(), 3);
    assert_eq!(
        p["options"][1],
        json!({ "title": "soup", "votes_count": 0 })
    );
    assert_eq!(p["expired"], false);
    assert_eq!(p["multiple"], false);
    assert_eq!(p["voted"], false);
    assert_eq!(p["votes_count"], 0);

    // bob votes once.
    let r = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&bob),
            json!({ "choices": ["1"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["options"][1]["votes_count"], 1);
    assert_eq!(r.json["voted"], true);
    assert_eq!(r.json["own_votes"], json!([1]));
    let again = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&bob),
            json!({ "choices": [0] }),
        )
        .await;
    assert_eq!(again.status, 422, "{}", again.text);
    // Two choices in a single-choice poll, or an option that is not there.
    let (_, carol) = t.user("carol").await;
    for bad in [
        json!({ "choices": [0, 1] }),
        json!({ "choices": [7] }),
        json!({ "choices": [] }),
    ] {
        let r = t
            .post(&format!("/api/v1/polls/{id}/votes"), Some(&carol), bad)
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
    }

    // bob, anonymously: a vote of its own, kept under a key that names no
    // face, and only one however many anonymous faces he has.
    let r = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&bob_anon),
            json!({ "choices": [2] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["options"][2]["votes_count"], 1);
    assert_eq!(r.json["own_votes"], json!([2]));
    let bob_anon2 = t.token_as("bob", "anonymous", "read write").await;
    let r = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&bob_anon2),
            json!({ "choices": [0] }),
        )
        .await;
    assert_eq!(r.status, 422, "one anonymous vote per person: {}", r.text);
    let shown = t
        .get(&format!("/api/v1/polls/{id}"), Some(&bob_anon2))
        .await;
    assert_eq!(shown.json["voted"], true);
    assert_eq!(shown.json["own_votes"], json!([2]));
    let rows = t.dump().await;
    let votes = &rows["poll_votes"];
    assert_eq!(votes.len(), 2);
    let anon_row = votes
        .iter()
        .find(|r| r.contains(",,"))
        .expect("a vote naming no face");
    assert!(!anon_row.contains("face:"), "{anon_row}");

    // The Question remote servers see.
    let q = t
        .ap(&s["uri"].as_str().unwrap().replace("https://guise.test", ""))
        .await;
    assert_eq!(q["type"], "Question", "{q}");
    assert_eq!(q["oneOf"][1]["name"], "soup");
    assert_eq!(q["oneOf"][1]["replies"]["totalItems"], 1);
    assert_eq!(q["votersCount"], 2);
    assert!(q["endTime"].is_string());

    // The end: the author and the faces that voted hear of it; the
    // anonymous vote named nobody, so nobody is told through it.
    t.clock.advance(chrono::Duration::seconds(601));
    let ended = guise_server::mastodon_api::polls::end_due(&t.state)
        .await
        .unwrap();
    assert_eq!(ended, 1);
    for tok in [&alice, &bob] {
        let n = t.get("/api/v1/notifications?types[]=poll", Some(tok)).await;
        assert_eq!(n.json.as_array().unwrap().len(), 1, "{}", n.text);
        assert_eq!(n.json[0]["status"]["id"], json!(id));
        assert_eq!(n.json[0]["status"]["poll"]["expired"], true);
    }
    let r = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&carol),
            json!({ "choices": [0] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        guise_server::mastodon_api::polls::end_due(&t.state)
            .await
            .unwrap(),
        0
    );
}

#[actix_web::test]
async fn polls_from_form_fields_with_several_choices_and_hidden_totals() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let r = t
        .form(
            "/api/v1/statuses",
            Some(&alice),
            "status=pick&poll[options][]=a&poll[options][]=b&poll[expires_in]=3600&poll[multiple]=true&poll[hide_totals]=true",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json["poll"]["multiple"], true);
    let v = t
        .post(
            &format!("/api/v1/polls/{id}/votes"),
            Some(&bob),
            json!({ "choices": [0, 1] }),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.json["votes_count"], 2);
    assert_eq!(v.json["voters_count"], 1);
    assert_eq!(
        v.json["options"][0]["votes_count"],
        json!(null),
        "totals hidden until the end"
    );
    t.clock.advance(chrono::Duration::seconds(3601));
    let shown = t.get(&format!("/api/v1/polls/{id}"), Some(&bob)).await;
    assert_eq!(shown.json["expired"], true);
    assert_eq!(shown.json["options"][0]["votes_count"], 1);
    // Edits carry the poll as it is (and it stays); other options make a
    // new poll, its votes starting over.
    let same = t
        .call(Method::PUT, &format!("/api/v1/statuses/{id}"), Some(&alice), Some(Body::Json(json!({
            "status": "pick one or both", "poll": { "options": ["a", "b"], "expires_in": 3600, "multiple": true } }))))
        .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.json["poll"]["options"][0]["title"], "a");
    // The Question of a multiple-choice poll uses anyOf.
    let q = t
        .ap(&r.json["uri"]
            .as_str()
            .unwrap()
            .replace("https://guise.test", ""))
        .await;
    assert_eq!(q["anyOf"][0]["name"], "a", "{q}");
    let changed = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{id}"),
            Some(&alice),
            Some(Body::Json(json!({
            "status": "pick", "poll": { "options": ["a", "c"], "expires_in": 3600 } }))),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["poll"]["options"][1]["title"], "c");
    assert_eq!(changed.json["poll"]["votes_count"], 0);
    assert_eq!(changed.json["poll"]["expired"], false);
    // Now single-choice: its Question uses oneOf.
    let q = t
        .ap(&r.json["uri"]
            .as_str()
            .unwrap()
            .replace("https://guise.test", ""))
        .await;
    assert_eq!(q["oneOf"][1]["name"], "c", "{q}");
}

#[actix_web::test]
async fn bad_polls_are_refused() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    for poll in [
        json!({ "options": ["only"], "expires_in": 600 }),
        json!({ "options": ["a", "b", "c", "d", "e"], "expires_in": 600 }),
        json!({ "options": ["a", "b"], "expires_in": 10 }),
        json!({ "options": ["a", "a"], "expires_in": 600 }),
        json!({ "options": ["a", "x".repeat(51)], "expires_in": 600 }),
        json!({ "options": ["a", "b"] }),
    ] {
        let r = t
            .post(
                "/api/v1/statuses",
                Some(&alice),
                json!({ "status": "q", "poll": poll }),
            )
            .await;
        assert_eq!(r.status, 422, "{poll}: {}", r.text);
    }
    assert_eq!(t.dump().await["polls"].len(), 0);
    let v2 = t.get("/api/v2/instance", None).await.json;
    assert_eq!(v2["configuration"]["polls"]["max_options"], 4);
    assert_eq!(
        v2["configuration"]["polls"]["max_characters_per_option"],
        50
    );
    let r = t
        .call(
            Method::POST,
            "/api/v1/polls/12345/votes",
            Some(&alice),
            Some(Body::Json(json!({ "choices": [0] }))),
        )
        .await;
    assert_eq!(r.status, 404);
}

/// A remote voter's choices in a multiple-choice poll arrive as separate
/// activities, often together: each counts (a race once lost one).
#[actix_web::test]
async fn choices_arriving_together_all_count() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (bob_id, _) = t.user("bob").await;
    let s = t
        .post_status(
            &alice,
            json!({ "status": "q", "poll": { "options": ["a", "b", "c"], "expires_in": 600, "multiple": true } }),
        )
        .await;
    let id: i64 = s["id"].as_str().unwrap().parse().unwrap();
    let voter: i64 = bob_id.parse().unwrap();
    for _ in 0..5 {
        let (mut c1, mut c2, mut c3) = (
            t.state.db.conn().await.unwrap(),
            t.state.db.conn().await.unwrap(),
            t.state.db.conn().await.unwrap(),
        );
        let clock = t.state.clock.clone();
        let (r1, r2, r3) = tokio::join!(
            guise_core::polls::remote_vote(&mut c1, clock.as_ref(), id, voter, 0),
            guise_core::polls::remote_vote(&mut c2, clock.as_ref(), id, voter, 2),
            guise_core::polls::remote_vote(&mut c3, clock.as_ref(), id, voter, 2),
        );
        r1.unwrap();
        r2.unwrap();
        r3.unwrap();
    }
    let p = t
        .get(&format!("/api/v1/polls/{id}"), Some(&alice))
        .await
        .json;
    assert_eq!(p["options"][0]["votes_count"], 1, "{p}");
    assert_eq!(p["options"][1]["votes_count"], 0, "{p}");
    assert_eq!(p["options"][2]["votes_count"], 1, "{p}");
    assert_eq!(p["voters_count"], 1, "{p}");
}
