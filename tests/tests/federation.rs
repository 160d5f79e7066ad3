//! Two real Guise processes on 127.0.0.1 and 127.0.0.2: a face on B follows
//! a pseudonym on A, A's posts reach B's home timeline, and an anonymous face
//! on A mentions B's user — arriving as "Anonymous" with its tier.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_e2e::api::{eventually, Api};
use guise_e2e::Server;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_follow_post_and_carry_the_tier() {
    let env = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
    ];
    let a = Server::start_on("127.0.0.1", &env);
    let b = Server::start_on("127.0.0.2", &env);
    a.create_account("alice", "alice password");
    b.create_account("bob", "bob password");
    let (api_a, api_b) = (
        Api {
            http: reqwest::Client::new(),
            base: a.url.clone(),
        },
        Api {
            http: reqwest::Client::new(),
            base: b.url.clone(),
        },
    );
    let alice = api_a.token("alice", "alice password", "").await;
    let alice_anon = api_a.token("alice", "alice password", "anonymous").await;
    let bob = api_b.token("bob", "bob password", "").await;
    let a_host = a.url.trim_start_matches("http://").to_owned();
    let b_host = b.url.trim_start_matches("http://").to_owned();

    // bob finds alice on A and follows her; A accepts through the workers.
    let found = api_b
        .get(
            &format!("/api/v2/search?q=@alice@{a_host}&resolve=true&type=accounts"),
            &bob,
        )
        .await;
    let remote_alice = found["accounts"][0].clone();
    assert_eq!(remote_alice["acct"], format!("alice@{a_host}"));
    assert_eq!(remote_alice["guise"]["tier"], "pseudonymous");
    let rid = remote_alice["id"].as_str().unwrap().to_owned();
    let rel = api_b
        .post(
            &format!("/api/v1/accounts/{rid}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(rel["requested"], true);
    eventually("the Accept", || async {
        let r = api_b
            .get(&format!("/api/v1/accounts/relationships?id[]={rid}"), &bob)
            .await;
        (r[0]["following"] == true).then_some(r)
    })
    .await;
    let followers = api_a
        .get("/api/v1/accounts/verify_credentials", &alice)
        .await;
    assert_eq!(followers["followers_count"], 1);

    // alice's post reaches bob's home timeline on B.
    let post = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "hello from A" }),
        )
        .await;
    let home = eventually("alice's post on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == post["uri"])
            .cloned()
    })
    .await;
    assert_eq!(home["content"], "<p>hello from A</p>");
    assert_eq!(home["account"]["acct"], format!("alice@{a_host}"));

    // bob's favourite reaches A; alice's deletion reaches B.
    let on_b = home["id"].as_str().unwrap().to_owned();
    api_b
        .post(
            &format!("/api/v1/statuses/{on_b}/favourite"),
            Some(&bob),
            json!({}),
        )
        .await;
    let pid = post["id"].as_str().unwrap().to_owned();
    eventually("bob's favourite on A", || async {
        let s = api_a.get(&format!("/api/v1/statuses/{pid}"), &alice).await;
        (s["favourites_count"] == 1).then_some(s)
    })
    .await;
    let n = api_a
        .get("/api/v1/notifications?types[]=favourite", &alice)
        .await;
    assert_eq!(
        n[0]["account"]["acct"],
        format!("bob@{}", b.url.trim_start_matches("http://"))
    );
    api_a
        .send(
            api_a
                .http
                .delete(format!("{}/api/v1/statuses/{pid}", a.url))
                .bearer_auth(&alice),
        )
        .await;
    eventually("the deletion on B", || async {
        let r = api_b
            .http
            .get(format!("{}/api/v1/statuses/{on_b}", b.url))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        (r.status() == 404).then_some(Value::Null)
    })
    .await;

    // An anonymous face on A mentions bob: it arrives as "Anonymous", tier anonymous.
    let anon_post = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice_anon),
            json!({ "status": format!("@bob@{b_host} a question, anonymously") }),
        )
        .await;
    assert_eq!(anon_post["mentions"][0]["acct"], format!("bob@{b_host}"));
    let mention = eventually("the anonymous mention on B", || async {
        let n = api_b
            .get("/api/v1/notifications?types[]=mention", &bob)
            .await;
        n.as_array().unwrap().first().cloned()
    })
    .await;
    let who = &mention["account"];
    assert_eq!(who["display_name"], "Anonymous");
    assert_eq!(who["guise"]["tier"], "anonymous");
    assert!(who["acct"].as_str().unwrap().starts_with("anon_"), "{who}");
    assert_ne!(who["id"], remote_alice["id"]);
    // What B stores of the two faces shares nothing but their server.
    let stored_alice = api_b.get(&format!("/api/v1/accounts/{rid}"), &bob).await;
    let mut a_vals = std::collections::BTreeSet::new();
    guise_e2e::linker::flatten(&stored_alice, &["display_name", "note"], &mut a_vals);
    let mut n_vals = std::collections::BTreeSet::new();
    guise_e2e::linker::flatten(who, &["display_name", "note"], &mut n_vals);
    let shared: Vec<&String> = a_vals
        .intersection(&n_vals)
        .filter(|v| !v.contains("missing.png") && v.len() > 10 && !v.ends_with("T00:00:00.000Z"))
        .collect();
    assert!(shared.is_empty(), "B ties the faces together: {shared:?}");
}

/// Nothing accepted is lost: with the receiver down, the sender is killed
/// with SIGKILL while deliveries are queued and leased; both come back and
/// every post arrives, once.
#[tokio::test(flavor = "multi_thread")]
async fn deliveries_survive_kill_9_and_a_receiver_that_was_down() {
    let env = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
        ("GUISE_FEDERATION__DELIVERY_LEASE_SECS", "2"),
        ("GUISE_FEDERATION__RETRY_FIRST_DELAY_SECS", "1"),
    ];
    let mut a = Server::start_on("127.0.0.1", &env);
    let mut b = Server::start_on("127.0.0.2", &env);
    a.create_account("alice", "alice password");
    b.create_account("bob", "bob password");
    let (api_a, api_b) = (
        Api {
            http: reqwest::Client::new(),
            base: a.url.clone(),
        },
        Api {
            http: reqwest::Client::new(),
            base: b.url.clone(),
        },
    );
    let alice = api_a.token("alice", "alice password", "").await;
    let bob = api_b.token("bob", "bob password", "").await;
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

    // The receiver goes down; alice posts; the sender dies mid-work.
    b.kill_hard();
    let mut uris = Vec::new();
    for i in 0..3 {
        let s = api_a
            .post(
                "/api/v1/statuses",
                Some(&alice),
                json!({ "status": format!("while B was down {i}") }),
            )
            .await;
        uris.push(s["uri"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.kill_hard();
    let pending = guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM deliveries")[0].clone();
    let unexpanded = guise_e2e::psql_rows(
        &a.db_url,
        "SELECT count(*) FROM outbox_events WHERE processed_at IS NULL",
    )[0]
    .clone();
    let queued: i64 = pending.parse::<i64>().unwrap() + unexpanded.parse::<i64>().unwrap();
    assert!(queued >= 1, "nothing was queued when A died");

    // Both come back: every post arrives, once.
    b.restart();
    a.restart();
    let home = eventually("all three posts on B", || async {
        let h = api_b.get("/api/v1/timelines/home?limit=40", &bob).await;
        let got: Vec<&str> = h
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["uri"].as_str())
            .collect();
        uris.iter().all(|u| got.contains(&u.as_str())).then_some(h)
    })
    .await;
    for u in &uris {
        let n = home
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["uri"] == u.as_str())
            .count();
        assert_eq!(n, 1, "{u} arrived {n} times");
    }
    assert_eq!(
        guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM deliveries")[0],
        "0",
        "A's queue drained"
    );
}
