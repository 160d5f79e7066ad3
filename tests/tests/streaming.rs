//! Live streams across processes: two `guise serve` processes share one
//! PostgreSQL and one Redis; what a request does on one reaches a socket
//! held by the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use futures::{SinkExt, StreamExt};
use guise_e2e::api::Api;
use guise_e2e::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/api/v1/streaming` with the token as the sub-protocol (as
/// masto.js does) and checks it is echoed back.
async fn open(server: &Server, token: &str) -> Ws {
    let url = format!(
        "{}/api/v1/streaming",
        server.url.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", token.parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some(token),
        "the token offered as sub-protocol is echoed"
    );
    ws
}

async fn subscribe(ws: &mut Ws, body: Value) {
    let mut body = body;
    body["type"] = json!("subscribe");
    ws.send(Message::text(body.to_string())).await.unwrap();
}

/// The next frames within `wait`, as JSON.
async fn frames(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let end = Instant::now() + wait;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end.into(), ws.next()).await {
        if let Message::Text(t) = m {
            out.push(serde_json::from_str(t.as_str()).unwrap());
        }
    }
    out
}

/// Waits for a frame matching `pred`; returns it and how long it took.
async fn until(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> (Value, Duration) {
    let start = Instant::now();
    let end = start + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(end.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if pred(&v) {
                    return (v, start.elapsed());
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// Waits for one frame of each (stream, event), in any order.
async fn all_of(ws: &mut Ws, streams: &[(&[&str], &str)]) -> Vec<Value> {
    let mut found: Vec<Option<Value>> = vec![None; streams.len()];
    let end = Instant::now() + Duration::from_secs(15);
    while found.iter().any(Option::is_none) {
        match tokio::time::timeout_at(end.into(), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                for (i, s) in streams.iter().enumerate() {
                    if found[i].is_none() && is(&v, s.0, s.1) {
                        found[i] = Some(v.clone());
                    }
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("waiting for {streams:?} (have {found:?}): {other:?}"),
        }
    }
    found.into_iter().map(Option::unwrap).collect()
}

fn payload(v: &Value) -> Value {
    serde_json::from_str(v["payload"].as_str().unwrap()).unwrap()
}

fn is(v: &Value, stream: &[&str], event: &str) -> bool {
    v["event"] == event && v["stream"] == json!(stream)
}

#[tokio::test(flavor = "multi_thread")]
async fn what_one_process_does_reaches_a_socket_held_by_the_other() {
    let redis =
        std::env::var("GUISE_TEST_REDIS_URL").expect("GUISE_TEST_REDIS_URL: run ./dev test");
    let a = Server::start_on("127.0.0.1", &[("GUISE_REDIS_URL", &redis)]);
    let b = Server::start_sharing(&a, &[("GUISE_REDIS_URL", &redis)]);
    a.create_account("alice", "alice password");
    a.create_account("bob", "bob password");
    let api_a = Api::new(&a.url);
    let api_b = Api::new(&b.url);
    for s in [&a, &b] {
        let r = reqwest::get(format!("{}/api/v1/streaming/health", s.url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "OK");
    }
    let instance: Value = reqwest::get(format!("{}/api/v2/instance", a.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        instance["configuration"]["urls"]["streaming"],
        json!(a.url.replace("http://", "ws://")),
        "the streaming URL is advertised once it works"
    );

    let alice = api_a.token("alice", "alice password", "").await;
    let bob = api_a.token("bob", "bob password", "").await;
    let bob_all = api_a.token("bob", "bob password", "all").await;
    let bob_anon = api_a.token("bob", "bob password", "anonymous").await;
    let alice_id = api_a
        .get("/api/v1/accounts/verify_credentials", &alice)
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nick = api_a
        .post(
            "/api/v1/guise/faces",
            Some(&bob_all),
            json!({ "handle": "bobnick", "display_name": "Nick" }),
        )
        .await;
    let nick_id = nick["id"].as_str().unwrap().to_owned();
    let bob_nick = api_a.token("bob", "bob password", &nick_id).await;
    api_a
        .post(
            &format!("/api/v1/accounts/{alice_id}/follow"),
            Some(&bob),
            json!({}),
        )
        .await;

    // Sockets on B; subscriptions write nothing at rest.
    let at_rest = || {
        let mut rows: Vec<(String, u64, Vec<String>)> = guise_e2e::at_rest_rows(&a.db_url)
            .into_iter()
            .map(|r| (r.table, r.xmin, r.values))
            .collect();
        rows.sort();
        rows
    };
    let before = at_rest();
    let mut ws_bob = open(&b, &bob).await;
    subscribe(&mut ws_bob, json!({ "stream": "user" })).await;
    subscribe(&mut ws_bob, json!({ "stream": "public:local" })).await;
    subscribe(&mut ws_bob, json!({ "stream": "hashtag", "tag": "Guise" })).await;
    let mut ws_nick = open(&b, &bob_nick).await;
    subscribe(&mut ws_nick, json!({ "stream": "user" })).await;
    let mut ws_anon = open(&b, &bob_anon).await;
    subscribe(&mut ws_anon, json!({ "stream": "user" })).await;
    subscribe(&mut ws_anon, json!({ "stream": "nonsense" })).await;
    let err = frames(&mut ws_anon, Duration::from_millis(500)).await;
    assert_eq!(
        err,
        vec![json!({ "error": "Unknown stream type", "status": 400 })]
    );
    // Only the worker's own bookkeeping may have moved meanwhile (its jobs
    // fold the counter deltas of the set-up's posts and follows).
    let written: Vec<String> = at_rest()
        .into_iter()
        .filter(|r| !before.contains(r))
        .map(|r| r.0)
        .filter(|t| {
            !matches!(
                t.as_str(),
                "worker_counts" | "key_pool" | "deliveries" | "hosts" | "identity_stats"
            )
        })
        .collect();
    assert!(
        written.is_empty(),
        "opening and subscribing wrote rows in {written:?}"
    );

    // Alice posts through A.
    let post = api_a
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "hello @bob #guise" }),
        )
        .await;
    let id = post["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    let got = all_of(
        &mut ws_bob,
        &[
            (&["user"], "update"),
            (&["public:local"], "update"),
            (&["hashtag", "guise"], "update"),
            (&["user"], "notification"),
        ],
    )
    .await;
    println!(
        "update reached the other process's sockets in {:?}",
        start.elapsed()
    );
    for u in &got[..3] {
        assert_eq!(payload(u)["id"], json!(id));
    }
    let n = &got[3];
    assert_eq!(payload(n)["type"], "mention");
    assert_eq!(payload(n)["status"]["id"], json!(id));

    // Another face of the same person hears none of it.
    let heard = frames(&mut ws_nick, Duration::from_secs(1)).await;
    assert!(
        heard.is_empty(),
        "a face's stream carries only its events: {heard:?}"
    );

    // SSE on B sees an edit.
    let sse = api_b
        .http
        .get(format!("{}/api/v1/streaming/public/local", b.url))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(sse.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = sse.bytes_stream();
    tokio::time::sleep(Duration::from_millis(200)).await;
    api_a
        .send(
            api_a
                .http
                .put(format!("{}/api/v1/statuses/{id}", a.url))
                .bearer_auth(&alice)
                .json(&json!({ "status": "hello again @bob #guise" })),
        )
        .await;
    let mut text = String::new();
    let end = Instant::now() + Duration::from_secs(15);
    while !text.contains("event: status.update") {
        match tokio::time::timeout_at(end.into(), body.next()).await {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("SSE ended before status.update: {other:?} {text}"),
        }
    }
    assert!(text.contains(&format!("\"id\":\"{id}\"")), "{text}");
    until(&mut ws_bob, "status.update", |v| {
        is(v, &["user"], "status.update")
    })
    .await;

    // An anonymous face minted after the socket opened, on the other
    // process: its notification reaches the "Anonymous" socket.
    let anon_post = api_a
        .post(
            "/api/v1/statuses",
            Some(&bob_anon),
            json!({ "status": "who am i" }),
        )
        .await;
    let anon_id = anon_post["id"].as_str().unwrap().to_owned();
    let (own, _) = until(&mut ws_anon, "own anonymous post", |v| {
        is(v, &["user"], "update")
    })
    .await;
    // (A favourite notifies after the post is seen: order is fixed here.)
    assert_eq!(payload(&own)["id"], json!(anon_id));
    api_a
        .post(
            &format!("/api/v1/statuses/{anon_id}/favourite"),
            Some(&alice),
            json!({}),
        )
        .await;
    let (fav, _) = until(&mut ws_anon, "favourite of an anonymous post", |v| {
        is(v, &["user"], "notification")
    })
    .await;
    assert_eq!(payload(&fav)["type"], "favourite");
    assert_eq!(payload(&fav)["status"]["id"], json!(anon_id));
    let heard: Vec<Value> = frames(&mut ws_bob, Duration::from_secs(1))
        .await
        .into_iter()
        .filter(|v| v["event"] == "notification")
        .collect();
    assert!(
        heard.is_empty(),
        "bob's face does not hear of his anonymous face: {heard:?}"
    );

    // Filters changed, then a delete.
    api_a
        .post("/api/v2/filters", Some(&bob), json!({ "title": "f", "context": ["home"], "keywords_attributes": [{ "keyword": "spoilers" }] }))
        .await;
    until(&mut ws_bob, "filters_changed", |v| {
        is(v, &["user"], "filters_changed")
    })
    .await;
    api_a
        .delete(&format!("/api/v1/statuses/{id}"), &alice)
        .await;
    let (d, _) = until(&mut ws_bob, "delete", |v| is(v, &["user"], "delete")).await;
    assert_eq!(d["payload"], json!(id));

    // The queue drains: nothing about these events stays at rest.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        guise_e2e::psql_rows(&a.db_url, "SELECT count(*) FROM stream_events"),
        vec!["0".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_one_process_streams_to_itself() {
    let a = Server::start();
    a.create_account("carol", "carol password");
    let api = Api::new(&a.url);
    let carol = api.token("carol", "carol password", "").await;
    // The token as a query parameter, and a stream named in the URL.
    let url = format!(
        "{}/api/v1/streaming?access_token={carol}&stream=user",
        a.url.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let post = api
        .post(
            "/api/v1/statuses",
            Some(&carol),
            json!({ "status": "to myself" }),
        )
        .await;
    let (u, _) = until(&mut ws, "own post", |v| is(v, &["user"], "update")).await;
    assert_eq!(payload(&u)["id"], post["id"]);

    // No token, a bad token, a list that is not yours.
    let r = reqwest::get(format!("{}/api/v1/streaming/user", a.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = api
        .http
        .get(format!("{}/api/v1/streaming/list?list=12345", a.url))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "Not authorized to stream this list");
    // A plain GET on the WebSocket URL is refused, not left hanging.
    let r = api
        .http
        .get(format!("{}/api/v1/streaming", a.url))
        .bearer_auth(&carol)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
