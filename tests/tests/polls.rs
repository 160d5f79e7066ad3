//! Polls across two instances: a poll posted on A arrives on B as a poll;
//! votes cast on B — by a face and anonymously — are counted on A.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_e2e::api::{eventually, Api};
use guise_e2e::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_poll_is_shown_and_votes_reach_its_author() {
    let env = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
    ];
    let a = Server::start_on("127.0.0.1", &env);
    let b = Server::start_on("127.0.0.2", &env);
    a.create_account("alice", "alice password");
    b.create_account("bob", "bob password");
    let (api_a, api_b) = (Api::new(&a.url), Api::new(&b.url));
    let alice = api_a.token("alice", "alice password", "").await;
    let bob = api_b.token("bob", "bob password", "").await;
    let bob_anon = api_b.token("bob", "bob password", "anonymous").await;
    let a_host = a.url.trim_start_matches("http://").to_owned();

    let found = api_b
        .get(
            &format!("/api/v2/search?q=@alice@{a_host}&resolve=true&type=accounts"),
            &bob,
        )
        .await;
    let rid = found["accounts"][0]["id"].as_str().unwrap().to_owned();
    api_b
        .post(
            &format!("/api/v1/accounts/{rid}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the Accept", || async {
        let r = api_b
            .get(&format!("/api/v1/accounts/relationships?id[]={rid}"), &bob)
            .await;
        (r[0]["following"] == true).then_some(r)
    })
    .await;

    let post = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "which?", "poll": { "options": ["red", "green", "blue"], "expires_in": 3600, "multiple": true } }),
        )
        .await;
    let local_id = post["id"].as_str().unwrap().to_owned();
    // On B: a poll, with its options.
    let seen = eventually("the poll on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["content"].as_str().unwrap_or("").contains("which?"))
            .cloned()
    })
    .await;
    let poll = &seen["poll"];
    assert_eq!(poll["multiple"], true, "{seen}");
    assert_eq!(
        poll["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["title"].clone())
            .collect::<Vec<_>>(),
        vec![json!("red"), json!("green"), json!("blue")]
    );
    let remote_id = seen["id"].as_str().unwrap().to_owned();

    // bob votes for red and blue on B; A counts both choices.
    let v = api_b
        .post(
            &format!("/api/v1/polls/{remote_id}/votes"),
            Some(&bob),
            json!({ "choices": [0, 2] }),
        )
        .await;
    assert_eq!(v["own_votes"], json!([0, 2]));
    eventually("bob's vote on A", || async {
        let p = api_a
            .get(&format!("/api/v1/polls/{local_id}"), &alice)
            .await;
        (p["options"][0]["votes_count"] == 1 && p["options"][2]["votes_count"] == 1).then_some(p)
    })
    .await;

    // bob, anonymously: the vote reaches A from an anonymous face.
    api_b
        .post(
            &format!("/api/v1/polls/{remote_id}/votes"),
            Some(&bob_anon),
            json!({ "choices": [1] }),
        )
        .await;
    let p = eventually("the anonymous vote on A", || async {
        let p = api_a
            .get(&format!("/api/v1/polls/{local_id}"), &alice)
            .await;
        (p["options"][1]["votes_count"] == 1).then_some(p)
    })
    .await;
    assert_eq!(p["voters_count"], 2, "{p}");
    // A vote on A reaches B's copy as an Update of the Question.
    api_a
        .post(
            &format!("/api/v1/polls/{local_id}/votes"),
            Some(&alice),
            json!({ "choices": [2] }),
        )
        .await;
    eventually("A's counts on B", || async {
        let p = api_b.get(&format!("/api/v1/polls/{remote_id}"), &bob).await;
        (p["options"][2]["votes_count"] == 2 && p["voters_count"] == 3).then_some(p)
    })
    .await;
    // The vote arrived as a vote, not as a reply.
    let ctx = api_a
        .get(&format!("/api/v1/statuses/{local_id}/context"), &alice)
        .await;
    assert_eq!(ctx["descendants"].as_array().unwrap().len(), 0, "{ctx}");
}
