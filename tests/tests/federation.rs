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

    // A mention and a hashtag survive the trip: B's API gives the links as
    // alice's server wrote them (apps match them against mentions[].url and
    // tags[].url); B's web face points them at its own pages.
    let tagged = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": format!("@bob@{b_host} look at #Engines") }),
        )
        .await;
    let seen = eventually("the tagged post on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == tagged["uri"])
            .cloned()
    })
    .await;
    let content = seen["content"].as_str().unwrap();
    let bob_url = seen["mentions"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(seen["mentions"][0]["acct"], "bob", "{seen}");
    assert!(
        content.contains(&format!("href=\"{bob_url}\"")),
        "{content}"
    );
    assert!(
        content.contains(&format!("href=\"http://{a_host}/tags/engines\"")),
        "{content}"
    );
    assert_eq!(seen["tags"][0]["name"], "engines");
    let session = guise_e2e::api::web_session(&b.url, "bob", "bob password").await;
    let page = api_b
        .http
        .get(format!(
            "{}/web/statuses/{}",
            b.url,
            seen["id"].as_str().unwrap()
        ))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bob_id = seen["mentions"][0]["id"].as_str().unwrap();
    assert!(
        page.contains(&format!("href=\"/web/accounts/{bob_id}\"")),
        "{page}"
    );
    assert!(page.contains("href=\"/web/tags/engines\""), "{page}");

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
        n.as_array()
            .unwrap()
            .iter()
            .find(|n| {
                n["status"]["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("anonymously"))
            })
            .cloned()
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
    let unexpanded =
        guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM outbox_events")[0].clone();
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

/// Every kind of activity crosses between two instances with the right face
/// and tier: a verified real name and a pseudonym of one person on A, a user
/// on B. Follows both ways, replies, likes and unlikes, boosts and unboosts,
/// edits, profile updates, blocks, unfollows, a deleted face; anonymous faces
/// reply and favourite across, one face per thread, and follows of them are
/// refused. Nothing B stores ties A's faces together.
#[tokio::test(flavor = "multi_thread")]
async fn every_activity_crosses_with_the_right_face_and_tier() {
    let env_a = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
    ];
    // B trusts A's verification of real names.
    let env_b = [
        ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
        ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
        ("GUISE_FEDERATION__TRUSTED_VERIFIERS", "[\"127.0.0.1\"]"),
    ];
    let a = Server::start_on("127.0.0.1", &env_a);
    let b = Server::start_on("127.0.0.2", &env_b);
    a.create_account_with("root", "root password 1", &["--admin"]);
    a.create_account("alice", "alice password");
    b.create_account("bob", "bob password");
    let (api_a, api_b) = (Api::new(&a.url), Api::new(&b.url));
    let a_host = a.url.trim_start_matches("http://").to_owned();
    let b_host = b.url.trim_start_matches("http://").to_owned();
    let admin = api_a
        .token_scoped(
            "root",
            "root password 1",
            "",
            "read write admin:read admin:write",
        )
        .await;
    let alice = api_a.token("alice", "alice password", "").await;
    let all = api_a.token("alice", "alice password", "all").await;
    let anon = api_a.token("alice", "alice password", "anonymous").await;
    let bob = api_b.token("bob", "bob password", "").await;

    // alice's verified real name, and a second pseudonym (owl) to delete later.
    let real = api_a
        .post(
            "/api/v1/guise/faces/real_name",
            Some(&all),
            json!({ "handle": "alice_real", "display_name": "Alice Liddell" }),
        )
        .await;
    let real_id = real["account"]["id"].as_str().unwrap().to_owned();
    api_a
        .post(
            &format!("/api/v1/admin/guise/real_names/{real_id}/verify"),
            Some(&admin),
            json!({}),
        )
        .await;
    let real_tok = api_a.token("alice", "alice password", &real_id).await;
    let owl = api_a
        .post(
            "/api/v1/guise/faces",
            Some(&all),
            json!({ "handle": "owl", "display_name": "Owl" }),
        )
        .await;
    let owl_id = owl["id"].as_str().unwrap().to_owned();

    // bob finds all three faces and follows them.
    let mut remote = std::collections::BTreeMap::new();
    for handle in ["alice", "alice_real", "owl"] {
        let found = api_b
            .get(
                &format!("/api/v2/search?q=@{handle}@{a_host}&resolve=true&type=accounts"),
                &bob,
            )
            .await;
        let acc = found["accounts"][0].clone();
        assert_eq!(acc["acct"], format!("{handle}@{a_host}"), "{found}");
        let id = acc["id"].as_str().unwrap().to_owned();
        api_b
            .post(
                &format!("/api/v1/accounts/{id}/follow"),
                Some(&bob),
                json!({}),
            )
            .await;
        remote.insert(handle, (id, acc));
    }
    let (rid_alice, acc_alice) = remote["alice"].clone();
    let (rid_real, acc_real) = remote["alice_real"].clone();
    let (rid_owl, _) = remote["owl"].clone();
    assert_eq!(acc_alice["guise"]["tier"], "pseudonymous");
    assert_eq!(acc_real["guise"]["tier"], "real_name");
    assert_eq!(acc_real["guise"]["verified"], true);
    assert_eq!(acc_real["guise"]["verified_by"], "127.0.0.1");
    for rid in [&rid_alice, &rid_real, &rid_owl] {
        eventually("bob's follows accepted", || async {
            let r = api_b
                .get(&format!("/api/v1/accounts/relationships?id[]={rid}"), &bob)
                .await;
            (r[0]["following"] == true).then_some(r)
        })
        .await;
    }

    // bob follows A's shared announcer, which boosts anonymous posts.
    let found = api_b
        .get(
            &format!("/api/v2/search?q=@anonymous@{a_host}&resolve=true&type=accounts"),
            &bob,
        )
        .await;
    let announcer = found["accounts"][0].clone();
    assert_eq!(announcer["bot"], true, "{found}");
    let announcer_id = announcer["id"].as_str().unwrap().to_owned();
    api_b
        .post(
            &format!("/api/v1/accounts/{announcer_id}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the announcer's Accept", || async {
        let r = api_b
            .get(
                &format!("/api/v1/accounts/relationships?id[]={announcer_id}"),
                &bob,
            )
            .await;
        (r[0]["following"] == true).then_some(r)
    })
    .await;

    // alice's real name follows bob back.
    let found = api_a
        .get(
            &format!("/api/v2/search?q=@bob@{b_host}&resolve=true&type=accounts"),
            &real_tok,
        )
        .await;
    let bob_on_a = found["accounts"][0]["id"].as_str().unwrap().to_owned();
    api_a
        .post(
            &format!("/api/v1/accounts/{bob_on_a}/follow"),
            Some(&real_tok),
            json!({}),
        )
        .await;
    eventually("bob accepting alice_real", || async {
        let r = api_a
            .get(
                &format!("/api/v1/accounts/relationships?id[]={bob_on_a}"),
                &real_tok,
            )
            .await;
        (r[0]["following"] == true).then_some(r)
    })
    .await;

    // bob posts; it reaches alice_real's home on A.
    let bob_post = api_b
        .post(
            "/api/v1/statuses",
            Some(&bob),
            json!({ "status": "thread from B" }),
        )
        .await;
    let bob_uri = bob_post["uri"].as_str().unwrap().to_owned();
    let on_a = eventually("bob's post on A", || async {
        let h = api_a.get("/api/v1/timelines/home", &real_tok).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == bob_uri.as_str())
            .cloned()
    })
    .await;
    let bob_post_on_a = on_a["id"].as_str().unwrap().to_owned();

    // The pseudonym replies, and two anonymous replies in that thread share a
    // face; an anonymous reply in another thread has another face.
    let reply = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": format!("@bob@{b_host} a reply from A"), "in_reply_to_id": bob_post_on_a }),
        )
        .await;
    let anon1 = api_a
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": format!("@bob@{b_host} anonymous one"), "in_reply_to_id": bob_post_on_a }),
        )
        .await;
    let anon2 = api_a
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": format!("@bob@{b_host} anonymous two"), "in_reply_to_id": bob_post_on_a }),
        )
        .await;
    api_a
        .post(
            &format!("/api/v1/statuses/{bob_post_on_a}/favourite"),
            Some(&anon),
            json!({}),
        )
        .await;
    let bob_id = bob_post["id"].as_str().unwrap().to_owned();
    let context = eventually("the three replies in bob's thread", || async {
        let c = api_b
            .get(&format!("/api/v1/statuses/{bob_id}/context"), &bob)
            .await;
        (c["descendants"].as_array().unwrap().len() == 3).then_some(c)
    })
    .await;
    let by_uri = |uri: &Value| {
        context["descendants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == *uri)
            .cloned()
            .unwrap()
    };
    let (r0, r1, r2) = (
        by_uri(&reply["uri"]),
        by_uri(&anon1["uri"]),
        by_uri(&anon2["uri"]),
    );
    assert_eq!(r0["account"]["id"], rid_alice.as_str());
    assert_eq!(r0["in_reply_to_id"], bob_id.as_str());
    assert_eq!(r1["account"]["display_name"], "Anonymous");
    assert_eq!(r1["account"]["guise"]["tier"], "anonymous");
    assert_eq!(
        r1["account"]["id"], r2["account"]["id"],
        "one face per thread"
    );
    eventually("the anonymous favourite", || async {
        let s = api_b.get(&format!("/api/v1/statuses/{bob_id}"), &bob).await;
        (s["favourites_count"] == 1).then_some(s)
    })
    .await;
    // alice's real name boosts bob's post: B counts it and tells bob.
    api_a
        .post(
            &format!("/api/v1/statuses/{bob_post_on_a}/reblog"),
            Some(&real_tok),
            json!({}),
        )
        .await;
    eventually("alice_real's boost on B", || async {
        let s = api_b.get(&format!("/api/v1/statuses/{bob_id}"), &bob).await;
        (s["reblogs_count"] == 1).then_some(s)
    })
    .await;
    let n = api_b
        .get("/api/v1/notifications?types[]=reblog", &bob)
        .await;
    assert_eq!(n[0]["account"]["id"], rid_real.as_str());

    // bob replies to the anonymous face; its owner hears of it on A, through
    // the anonymous token (the sealed index), and the reply joins the thread.
    let anon_acct = r1["account"]["acct"].as_str().unwrap().to_owned();
    let r1_id = r1["id"].as_str().unwrap().to_owned();
    let bob_reply = api_b
        .post(
            "/api/v1/statuses",
            Some(&bob),
            json!({ "status": format!("@{anon_acct} answering you"), "in_reply_to_id": r1_id }),
        )
        .await;
    let heard = eventually("bob's reply reaching the anonymous owner", || async {
        let n = api_a
            .get("/api/v1/notifications?types[]=mention", &anon)
            .await;
        n.as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"]["uri"] == bob_reply["uri"])
            .cloned()
    })
    .await;
    assert_eq!(heard["status"]["in_reply_to_id"], anon1["id"]);

    // bob can block the anonymous face.
    let anon_face_on_b = r1["account"]["id"].as_str().unwrap().to_owned();
    let other_thread = api_a
        .post(
            "/api/v1/statuses",
            Some(&anon),
            json!({ "status": format!("@bob@{b_host} elsewhere, anonymously") }),
        )
        .await;
    let elsewhere = eventually("the other anonymous post", || async {
        let n = api_b
            .get("/api/v1/notifications?types[]=mention", &bob)
            .await;
        n.as_array()
            .unwrap()
            .iter()
            .find(|x| x["status"]["uri"] == other_thread["uri"])
            .cloned()
    })
    .await;
    assert_ne!(elsewhere["account"]["id"], anon_face_on_b.as_str());
    // That post starts a thread: the announcer boosts it into bob's home.
    // (The replies in bob's thread were not boosted.)
    let boosted = eventually("the announcer's boost on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["reblog"]["uri"] == other_thread["uri"])
            .cloned()
    })
    .await;
    assert_eq!(boosted["account"]["id"], announcer_id.as_str());
    assert_eq!(boosted["reblog"]["account"]["display_name"], "Anonymous");
    let home = api_b.get("/api/v1/timelines/home", &bob).await;
    assert!(!home
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["reblog"]["uri"] == anon1["uri"]));

    // Another Guise refuses to follow an anonymous face before asking (other
    // software gets a Reject from A: tests/tests/fedify.rs).
    let refused = api_b
        .http
        .post(format!("{}/api/v1/accounts/{anon_face_on_b}/follow", b.url))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    api_b
        .post(
            &format!("/api/v1/accounts/{anon_face_on_b}/block"),
            Some(&bob),
            json!({}),
        )
        .await;

    // alice posts; bob favourites and boosts it, then takes both back.
    let post = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "boost me" }),
        )
        .await;
    let pid = post["id"].as_str().unwrap().to_owned();
    let on_b = eventually("alice's post on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == post["uri"])
            .cloned()
    })
    .await;
    let on_b = on_b["id"].as_str().unwrap().to_owned();
    // Found by its page URL too (the document there names its id).
    let page = post["url"].as_str().unwrap();
    assert!(page.contains("/@alice/"), "{page}");
    let found = api_b
        .get(
            &format!("/api/v2/search?q={page}&resolve=true&type=statuses"),
            &bob,
        )
        .await;
    assert_eq!(found["statuses"][0]["id"], on_b.as_str(), "{found}");
    api_b
        .post(
            &format!("/api/v1/statuses/{on_b}/favourite"),
            Some(&bob),
            json!({}),
        )
        .await;
    api_b
        .post(
            &format!("/api/v1/statuses/{on_b}/reblog"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the like and the boost on A", || async {
        let s = api_a.get(&format!("/api/v1/statuses/{pid}"), &alice).await;
        (s["favourites_count"] == 1 && s["reblogs_count"] == 1).then_some(s)
    })
    .await;
    let n = api_a
        .get("/api/v1/notifications?types[]=reblog", &alice)
        .await;
    assert_eq!(n[0]["account"]["acct"], format!("bob@{b_host}"));
    api_b
        .post(
            &format!("/api/v1/statuses/{on_b}/unfavourite"),
            Some(&bob),
            json!({}),
        )
        .await;
    api_b
        .post(
            &format!("/api/v1/statuses/{on_b}/unreblog"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the undos on A", || async {
        let s = api_a.get(&format!("/api/v1/statuses/{pid}"), &alice).await;
        (s["favourites_count"] == 0 && s["reblogs_count"] == 0).then_some(s)
    })
    .await;

    // alice edits the post and her name: both reach B.
    api_a
        .send(
            api_a
                .http
                .put(format!("{}/api/v1/statuses/{pid}", a.url))
                .bearer_auth(&alice)
                .json(&json!({ "status": "boost me, edited" })),
        )
        .await;
    eventually("the edit on B", || async {
        let s = api_b.get(&format!("/api/v1/statuses/{on_b}"), &bob).await;
        (s["content"] == "<p>boost me, edited</p>" && s["edited_at"].is_string()).then_some(s)
    })
    .await;
    api_a
        .patch(
            "/api/v1/accounts/update_credentials",
            &alice,
            json!({ "display_name": "Alice in Wonderland" }),
        )
        .await;
    eventually("the profile update on B", || async {
        let acc = api_b
            .get(&format!("/api/v1/accounts/{rid_alice}"), &bob)
            .await;
        (acc["display_name"] == "Alice in Wonderland").then_some(acc)
    })
    .await;

    // bob blocks alice's real name: A drops the follows both ways.
    api_b
        .post(
            &format!("/api/v1/accounts/{rid_real}/block"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the block on A", || async {
        let r = api_a
            .get(
                &format!("/api/v1/accounts/relationships?id[]={bob_on_a}"),
                &real_tok,
            )
            .await;
        (r[0]["following"] == false && r[0]["blocked_by"] == true).then_some(r)
    })
    .await;

    // bob unfollows the pseudonym: A counts no follower.
    api_b
        .post(
            &format!("/api/v1/accounts/{rid_alice}/unfollow"),
            Some(&bob),
            json!({}),
        )
        .await;
    eventually("the unfollow on A", || async {
        let me = api_a
            .get("/api/v1/accounts/verify_credentials", &alice)
            .await;
        (me["followers_count"] == 0).then_some(me)
    })
    .await;

    // alice deletes owl: B forgets it (Delete(Person)), A answers 410 for it.
    api_a
        .delete(&format!("/api/v1/guise/faces/{owl_id}"), &all)
        .await;
    eventually("owl gone on B", || async {
        (api_b
            .status_of(&format!("/api/v1/accounts/{rid_owl}"), &bob)
            .await
            == 404)
            .then_some(Value::Null)
    })
    .await;
    let owl_actor = reqwest::Client::new()
        .get(format!("{}/users/owl", a.url))
        .header("Accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(owl_actor.status(), 410);
    // Its key stays until the Delete is delivered, then goes.
    eventually("owl's key dropped", || async {
        let rows = guise_e2e::psql_rows(
            &a.db_url,
            "SELECT count(*) FROM identities WHERE handle = 'owl' AND private_key_pem IS NULL AND tombstoned",
        );
        (rows == ["1"]).then_some(Value::Null)
    })
    .await;

    // What B stores of alice's faces shares nothing but their server.
    let rows = guise_e2e::psql_rows(
        &b.db_url,
        &format!("SELECT row_to_json(i)::text FROM identities i WHERE domain = '{a_host}'"),
    );
    assert!(rows.len() >= 4, "{rows:?}");
    let faces: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
    let server_level = ["domain", "shared_inbox_url", "created_on", "tier"];
    for (i, x) in faces.iter().enumerate() {
        for y in faces.iter().skip(i + 1) {
            for (k, v) in x.as_object().unwrap() {
                if server_level.contains(&k.as_str()) || !v.is_string() {
                    continue;
                }
                let s = v.as_str().unwrap();
                // Every anonymous face is called "Anonymous": a class, not a link.
                if s.len() < 8 || s == "Anonymous" {
                    continue;
                }
                let shared =
                    y.as_object().unwrap().iter().any(|(k2, v2)| {
                        !server_level.contains(&k2.as_str()) && v2.as_str() == Some(s)
                    });
                assert!(!shared, "B ties two of A's faces by {k} = {s}");
            }
        }
    }
}

/// A 2 MB body sent chunked (no Content-Length to refuse it by) is cut off
/// at 1 MB with 413, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_two_megabyte_activity_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = Server::start_on("127.0.0.1", &[]);
    a.create_account("alice", "alice password");
    let before = guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM inbox_seen");
    let addr = a.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST /inbox HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/activity+json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..32 {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
        }
        wr.write_all(b"0\r\n\r\n").await
    });
    // Read the answer until its JSON body is in (the connection may stay open).
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).trim_end().ends_with('}') {
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    writer.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "{}",
        answer.lines().next().unwrap_or_default()
    );
    assert!(answer.contains("\"error\""), "{answer}");
    assert_eq!(
        guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM inbox_seen"),
        before
    );
}

/// A sender that trickles its body cannot hold a worker: past the body
/// deadline it gets 408, while the server keeps answering others.
#[tokio::test(flavor = "multi_thread")]
async fn a_trickled_body_is_cut_off_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let a = Server::start_on("127.0.0.1", &[("GUISE_SERVER__BODY_TIMEOUT_SECS", "2")]);
    let addr = a.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /inbox HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/activity+json\r\nContent-Length: 1000\r\n\r\n{{\"type\":"
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    // One byte a second, far slower than the deadline allows.
    let writer = tokio::spawn(async move {
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if wr.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let started = std::time::Instant::now();
    while !String::from_utf8_lossy(&answer).trim_end().ends_with('}') {
        match tokio::time::timeout(Duration::from_secs(30), rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    writer.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "after {:?}: {}",
        started.elapsed(),
        answer.lines().next().unwrap_or_default()
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let ok = reqwest::get(format!("{}/api/v1/instance", a.url))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// Runs `program args…`, panicking with its output if it fails.
fn run(program: &str, args: &[&str], dir: &std::path::Path) {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two instances as public servers run: each behind Caddy terminating TLS
/// on port 443 of its own address, with certificates from a local CA, known
/// by real host names (resolved through an /etc/hosts bind-mounted in each
/// process's private mount namespace; the machine's own is untouched).
/// B's proxy rewrites `Host` to its upstream address, as some do. They find
/// each other, follow, post and reply over https, trusting the CA through
/// `federation.extra_ca_file`.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_federate_over_https_behind_caddy() {
    // Port 443 and a private mount namespace need root; `./dev test` says
    // so aloud when it is not, and only then is this skipped.
    if std::env::var_os("GUISE_TEST_SKIP_PRIVILEGED").is_some() {
        eprintln!("skipped: needs root (port 443, mount namespaces)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("guise-tls-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    // A CA, and one certificate for both names signed by it.
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3",
            "-subj",
            "/CN=Guise test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        &dir,
    );
    run(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "site.key",
            "-out",
            "site.csr",
            "-subj",
            "/CN=a.guise.test",
        ],
        &dir,
    );
    std::fs::write(
        dir.join("site.ext"),
        "subjectAltName=DNS:a.guise.test,DNS:b.guise.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "site.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "site.pem",
            "-days",
            "3",
            "-extfile",
            "site.ext",
        ],
        &dir,
    );
    std::fs::write(
        dir.join("hosts"),
        "127.0.0.1 localhost\n127.0.0.2 a.guise.test\n127.0.0.3 b.guise.test\n",
    )
    .unwrap();

    let ca = dir.join("ca.pem");
    let hosts = dir.join("hosts");
    let mount = format!(
        "mount --bind {} /etc/hosts && exec \"$0\" \"$@\"",
        hosts.display()
    );
    let wrap = ["unshare", "--mount", "sh", "-c", mount.as_str()];
    let start = |domain: &'static str| {
        let env = [
            ("GUISE_DOMAIN", domain),
            ("GUISE_INSTANCE__SCHEME", "https"),
            ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
            ("GUISE_FEDERATION__WORKER_POLL_MS", "100"),
            ("GUISE_FEDERATION__EXTRA_CA_FILE", ca.to_str().unwrap()),
        ];
        Server::start_wrapped("127.0.0.1", &env, &wrap)
    };
    let a = start("a.guise.test");
    let b = start("b.guise.test");
    let upstream = |s: &Server| s.url.trim_start_matches("http://").to_owned();
    std::fs::write(
        dir.join("Caddyfile"),
        format!(
            "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {data}\n}}\n\
             https://a.guise.test:443 {{\n\tbind 127.0.0.2\n\ttls {d}/site.pem {d}/site.key\n\treverse_proxy {a}\n}}\n\
             https://b.guise.test:443 {{\n\tbind 127.0.0.3\n\ttls {d}/site.pem {d}/site.key\n\treverse_proxy {b} {{\n\t\theader_up Host {{upstream_hostport}}\n\t}}\n}}\n",
            data = dir.join("caddy").display(),
            d = dir.display(),
            a = upstream(&a),
            b = upstream(&b),
        ),
    )
    .unwrap();
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _caddy = Killed(
        std::process::Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.join("Caddyfile"))
            .env("XDG_DATA_HOME", dir.join("caddy"))
            .env("XDG_CONFIG_HOME", dir.join("caddy"))
            .env("HOME", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy (./dev test installs it)"),
    );
    // The test's own client reaches both through the proxies, by name.
    let http = reqwest::Client::builder()
        .resolve("a.guise.test", "127.0.0.2:443".parse().unwrap())
        .resolve("b.guise.test", "127.0.0.3:443".parse().unwrap())
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap())
        .build()
        .unwrap();
    let api_a = Api {
        http: http.clone(),
        base: "https://a.guise.test".into(),
    };
    let api_b = Api {
        http,
        base: "https://b.guise.test".into(),
    };
    for api in [&api_a, &api_b] {
        eventually("Caddy serving https", || async {
            let r = api
                .http
                .get(format!("{}/health/ready", api.base))
                .send()
                .await
                .ok()?;
            r.status().is_success().then_some(Value::Null)
        })
        .await;
    }
    a.create_account("alice", "alice password");
    b.create_account("bob", "bob password");
    let alice = api_a.token("alice", "alice password", "").await;
    let bob = api_b.token("bob", "bob password", "").await;

    let found = api_b
        .get(
            "/api/v2/search?q=@alice@a.guise.test&resolve=true&type=accounts",
            &bob,
        )
        .await;
    assert_eq!(
        found["accounts"][0]["acct"], "alice@a.guise.test",
        "{found}"
    );
    assert!(found["accounts"][0]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://a.guise.test/"));
    let rid = found["accounts"][0]["id"].as_str().unwrap().to_owned();
    api_b
        .post(
            &format!("/api/v1/accounts/{rid}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;
    // The Accept reaches B through a proxy that rewrote its Host.
    eventually("the Accept over https", || async {
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
            json!({ "status": "hello over https" }),
        )
        .await;
    let uri = post["uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("https://a.guise.test/"), "{uri}");
    let seen = eventually("alice's post on B", || async {
        let h = api_b.get("/api/v1/timelines/home", &bob).await;
        h.as_array()
            .unwrap()
            .iter()
            .find(|s| s["uri"] == uri.as_str())
            .cloned()
    })
    .await;
    // bob replies; it reaches alice as a mention.
    api_b
        .post(
            "/api/v1/statuses",
            Some(&bob),
            json!({ "status": "@alice@a.guise.test hello back", "in_reply_to_id": seen["id"] }),
        )
        .await;
    eventually("bob's reply on A", || async {
        let n = api_a
            .get("/api/v1/notifications?types[]=mention", &alice)
            .await;
        n.as_array()
            .unwrap()
            .iter()
            .find(|n| n["account"]["acct"] == "bob@b.guise.test")
            .cloned()
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}
