//! A small Mastodon API client for end-to-end tests, and a patient wait.

use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Value {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{status}: {v}");
        v
    }
    pub async fn get(&self, path: &str, token: &str) -> Value {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }
    pub async fn token(&self, user: &str, password: &str, face: &str) -> String {
        self.token_scoped(user, password, face, "read write follow")
            .await
    }

    pub async fn token_scoped(
        &self,
        user: &str,
        password: &str,
        face: &str,
        scope: &str,
    ) -> String {
        let app = self.post("/api/v1/apps", None, json!({ "client_name": "fed", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scope })).await;
        let t = self
            .post("/oauth/token", None, json!({ "grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"],
                "username": user, "password": password, "face": face, "scope": scope }))
            .await;
        t["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Value {
        self.send(
            self.http
                .delete(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Value {
        self.send(
            self.http
                .patch(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// The HTTP status of a GET (for 404s and 410s).
    pub async fn status_of(&self, path: &str, token: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

pub async fn eventually<F, Fut>(what: &str, mut f: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Signs in on the web face as a browser would (the sign-in form, its CSRF
/// cookie and field); the `Cookie` header value of the session.
pub async fn web_session(base: &str, login: &str, password: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie_of = |resp: &reqwest::Response, name: &str| -> Option<String> {
        resp.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
    };
    let form = http
        .get(format!("{base}/auth/sign_in"))
        .send()
        .await
        .unwrap();
    let pre = cookie_of(&form, "guise_csrf").expect("the sign-in form sets its CSRF cookie");
    let html = form.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the sign-in form has a CSRF field")
        .to_owned();
    let resp = http
        .post(format!("{base}/auth/sign_in"))
        .header("cookie", pre)
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", login),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "signing in on the web");
    cookie_of(&resp, "guise_session").expect("a session cookie")
}
