//! Unlinkability rule 7: at the most verbose log level, logs carry no IP
//! address, User-Agent, Authorization header, token or OAuth code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_e2e::Server;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_hold_no_secrets_or_addresses() {
    let log = std::env::temp_dir().join(format!("guise-log-{:x}.txt", rand::random::<u64>()));
    let server = Server::start_logging("127.0.0.1", &[("GUISE_LOG__LEVEL", "trace")], Some(&log));
    server.create_account("logger", "password for logs");
    let http = reqwest::Client::builder()
        .user_agent("SecretAgent/9.9")
        .build()
        .unwrap();
    let base = &server.url;
    let app: Value = http
        .post(format!("{base}/api/v1/apps"))
        .json(&json!({ "client_name": "logs", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = app["client_id"].as_str().unwrap();
    let csec = app["client_secret"].as_str().unwrap();
    let tok: Value = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", cid),
            ("client_secret", csec),
            ("username", "logger"),
            ("password", "password for logs"),
            ("scope", "read write"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().unwrap().to_owned();
    let r = http
        .get(format!("{base}/api/v1/accounts/verify_credentials"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A token in a query string and a code-like secret in the URL, as some clients send.
    let _ = http
        .get(format!(
            "{base}/api/v1/timelines/home?access_token={token}&code=SECRETCODE123"
        ))
        .send()
        .await
        .unwrap();
    let _ = http
        .post(format!("{base}/api/v1/statuses"))
        .bearer_auth(&token)
        .json(&json!({ "status": "logged?" }))
        .send()
        .await
        .unwrap();
    let _ = http
        .get(format!("{base}/api/v1/accounts/verify_credentials"))
        .bearer_auth("wrong-token-XYZ")
        .send()
        .await
        .unwrap();
    let own_addr = server.url.trim_start_matches("http://").to_owned();
    drop(server);
    // The server's own listening address may appear; no client address may.
    let text = std::fs::read_to_string(&log)
        .unwrap()
        .replace(&own_addr, "<listen>");
    assert!(
        text.contains("/api/v1/accounts/verify_credentials") && text.contains("TRACE"),
        "trace logging was not on:\n{text}"
    );
    for secret in [
        token.as_str(),
        csec,
        "SECRETCODE123",
        "wrong-token-XYZ",
        "SecretAgent",
        "password for logs",
        "127.0.0.1:",
    ] {
        assert!(!text.contains(secret), "log holds {secret:?}:\n{text}");
    }
    let _ = std::fs::remove_file(log);
}
