//! Interop with a third-party implementation: an ActivityPub peer built on
//! `@fedify/fedify` (tests/fedify/peer.mjs), run as a real Node process on
//! 127.0.0.3 with its signature verification on. It follows a Guise face and
//! receives its posts; the Guise face follows it and receives its posts,
//! likes and deletes. Signatures are checked in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_e2e::api::{eventually, Api};
use guise_e2e::Server;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

struct Peer {
    child: Child,
    // Held open: the peer exits when its stdin closes (no orphan on a panic).
    _stdin: ChildStdin,
    url: String,
    http: reqwest::Client,
}

impl Peer {
    fn start() -> Peer {
        let modules = std::env::var("GUISE_TEST_NODE_MODULES")
            .expect("GUISE_TEST_NODE_MODULES is not set: run the tests with ./dev test");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fedify/peer.mjs");
        let mut child = Command::new("node")
            .args([
                script,
                "--host",
                "127.0.0.3",
                "--port",
                "0",
                "--exit-on-stdin-eof",
            ])
            .env("GUISE_TEST_NODE_MODULES", modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting node");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the Fedify peer did not start: {line:?}"))
            .to_owned();
        Peer {
            child,
            _stdin: stdin,
            url,
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/control/{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "peer {path}: {status} {v}");
        v
    }

    async fn read(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/control/{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn received(&self, kind: &str) -> Vec<Value> {
        self.read("received")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == kind)
            .cloned()
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_in(list: &Value, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    list.as_array()?.iter().find(|v| pred(v)).cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fedify_peer_and_guise_follow_post_like_and_delete_both_ways() {
    let env = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
    ];
    let a = Server::start_on("127.0.0.1", &env);
    a.create_account("alice", "alice password");
    let api = Api::new(&a.url);
    let alice = api.token("alice", "alice password", "").await;
    let peer = Peer::start();
    let alice_actor = format!("{}/users/alice", a.url);

    // The peer follows alice: Guise verifies Fedify's signature, accepts, and
    // the Accept it signs passes Fedify's verification.
    peer.control("follow", json!({ "actor": alice_actor }))
        .await;
    eventually("the peer's follow to be accepted", || async {
        let f = peer.read("following").await;
        find_in(&f, |x| x["state"] == "accepted")
    })
    .await;
    let me = api.get("/api/v1/accounts/verify_credentials", &alice).await;
    assert_eq!(me["followers_count"], 1);

    // alice's post reaches the peer, with the tier extension.
    let post = api
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "hello fedify #interop" }),
        )
        .await;
    let create = eventually("alice's post at the peer", || async {
        peer.received("Create")
            .await
            .into_iter()
            .find(|c| c["object"]["id"] == post["uri"])
    })
    .await;
    assert_eq!(create["actor"], alice_actor.as_str());
    assert!(create["object"]["content"]
        .as_str()
        .unwrap()
        .contains("hello fedify"));
    assert_eq!(create["object"]["tier"], "pseudonymous");

    // alice finds the peer by its actor URL and follows it.
    let found = api
        .get(
            &format!(
                "/api/v2/search?q={}/users/peer&resolve=true&type=accounts",
                peer.url
            ),
            &alice,
        )
        .await;
    let remote = found["accounts"][0].clone();
    assert_eq!(remote["username"], "peer", "{found}");
    let rid = remote["id"].as_str().unwrap().to_owned();
    api.post(
        &format!("/api/v1/accounts/{rid}/follow"),
        Some(&alice),
        json!({}),
    )
    .await;
    eventually("Fedify's Accept", || async {
        let r = api
            .get(
                &format!("/api/v1/accounts/relationships?id[]={rid}"),
                &alice,
            )
            .await;
        (r[0]["following"] == true).then_some(r)
    })
    .await;
    let followers = peer.read("followers").await;
    assert!(followers
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == alice_actor.as_str()));

    // The peer posts (mentioning alice); it reaches alice's home timeline and
    // her notifications.
    let note = peer
        .control(
            "post",
            json!({ "content": "<p>hi from fedify</p>", "to": "public", "mention": alice_actor }),
        )
        .await;
    let note_id = note["id"].as_str().unwrap().to_owned();
    let arrived = eventually("the peer's note in alice's home", || async {
        let h = api.get("/api/v1/timelines/home", &alice).await;
        find_in(&h, |s| s["uri"] == note_id.as_str())
    })
    .await;
    assert!(arrived["content"]
        .as_str()
        .unwrap()
        .contains("hi from fedify"));
    assert_eq!(arrived["account"]["id"], rid.as_str());

    // The peer likes alice's post.
    peer.control(
        "like",
        json!({ "object": post["uri"], "actor": alice_actor }),
    )
    .await;
    let sid = post["id"].as_str().unwrap();
    eventually("the like", || async {
        let s = api.get(&format!("/api/v1/statuses/{sid}"), &alice).await;
        (s["favourites_count"] == 1).then_some(s)
    })
    .await;

    // The peer deletes its note: gone from alice's home.
    peer.control("delete", json!({ "id": note_id })).await;
    eventually("the deletion", || async {
        let h = api.get("/api/v1/timelines/home", &alice).await;
        find_in(&h, |s| s["uri"] == note_id.as_str())
            .is_none()
            .then_some(Value::Null)
    })
    .await;

    // alice unfollows; Fedify verifies the Undo and drops her.
    api.post(
        &format!("/api/v1/accounts/{rid}/unfollow"),
        Some(&alice),
        json!({}),
    )
    .await;
    eventually("the Undo(Follow) at the peer", || async {
        let f = peer.read("followers").await;
        (!f.as_array()
            .unwrap()
            .iter()
            .any(|x| x == alice_actor.as_str()))
        .then_some(f)
    })
    .await;

    // The Undo names the very Follow it takes back (GoToSocial matches by id).
    let follow_id = peer.received("Follow").await[0]["id"].clone();
    let undo = peer.received("Undo").await[0].clone();
    assert_eq!(undo["object"]["id"], follow_id, "{undo}");
    assert_eq!(undo["object"]["type"], "Follow");

    // An anonymous face refuses to be followed: Fedify gets a signed Reject.
    let anon = api.token("alice", "alice password", "anonymous").await;
    let anon_post = api
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": "nobody follows me" }),
        )
        .await;
    let anon_actor = anon_post["account"]["url"].as_str().unwrap().to_owned();
    assert!(anon_actor.contains("/anon/"), "{anon_actor}");
    peer.control("follow", json!({ "actor": anon_actor })).await;
    eventually("the Reject at the peer", || async {
        let f = peer.read("following").await;
        find_in(&f, |x| {
            x["id"] == anon_actor.as_str() && x["state"] == "rejected"
        })
    })
    .await;

    // Nothing Guise sent failed Fedify's signature check.
    let unverified = peer.read("unverified").await;
    assert_eq!(unverified, json!([]), "{unverified}");
}
