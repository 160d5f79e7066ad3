//! Test harness: every test gets its own PostgreSQL database cloned from the
//! migrated template that `./dev test` prepares, and drives the real app.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use chrono::TimeZone;
use guise_core::accounts::{Email, Role, Username};
use guise_core::{Db, ManualClock};
use guise_server::config::Config;
use guise_server::AppState;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// When every test's clock starts: `GUISE_TEST_CLOCK` (RFC 3339) if set,
/// else a fixed noon. `./dev test` runs the date-sensitive tests again at
/// dates far in the past and the future, so a check that reads the system
/// clock instead of this one fails at once rather than on some later day.
pub fn start() -> chrono::DateTime<chrono::Utc> {
    match std::env::var("GUISE_TEST_CLOCK") {
        Ok(s) if !s.is_empty() => chrono::DateTime::parse_from_rfc3339(&s)
            .unwrap_or_else(|e| panic!("GUISE_TEST_CLOCK={s:?}: {e}"))
            .with_timezone(&chrono::Utc),
        _ => chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
            .unwrap(),
    }
}

/// An HTTP date `by` away from `start()` (a date header for a test request).
pub fn http_date_from_start(by: chrono::Duration) -> String {
    (start() + by)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

pub struct TestApp {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub db_url: String,
}

pub enum Body {
    Json(Value),
    Form(String),
    Raw(&'static str, Vec<u8>),
}

/// The `code` parameter of a redirect's Location header.
pub fn code_in_location(r: &Resp) -> String {
    let location = r
        .headers
        .get("Location")
        .expect("a redirect")
        .to_str()
        .unwrap();
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned()
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: actix_web::http::header::HeaderMap,
    pub json: Value,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_env(&[]).await
    }

    pub async fn with_env(pairs: &[(&str, &str)]) -> TestApp {
        let admin = std::env::var("GUISE_TEST_DATABASE_URL")
            .expect("GUISE_TEST_DATABASE_URL is not set: run the tests with ./dev test");
        let template =
            std::env::var("GUISE_TEST_TEMPLATE").unwrap_or_else(|_| "guise_template".into());
        let name = format!("t_{:016x}", rand::random::<u64>());
        let url = guise_core::db::clone_database(&admin, &template, &name)
            .await
            .unwrap();
        let mut env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        env.insert("GUISE_DOMAIN".into(), "guise.test".into());
        env.entry("GUISE_DATA_DIR".into()).or_insert_with(|| {
            std::env::temp_dir()
                .join(format!("guise-test-{name}"))
                .to_string_lossy()
                .into_owned()
        });
        // Tests sign in far more often than people do (a test of the limit sets its own).
        env.entry("GUISE_SERVER__SIGN_IN_ATTEMPTS".into())
            .or_insert_with(|| "100000".into());
        env.insert("GUISE_INSTANCE__SCHEME".into(), "https".into());
        // Staff in tests use the admin API without a phone (a test of the
        // rule sets it).
        env.entry("GUISE_INSTANCE__STAFF_TWO_FACTOR".into())
            .or_insert_with(|| "false".into());
        let config = Config::load(None, &env).unwrap().config;
        let db = Db::connect(&url, 4).unwrap();
        let clock = Arc::new(ManualClock::new(start()));
        let state = AppState::new(db, clock.clone(), config).unwrap();
        TestApp {
            state,
            clock,
            db_url: url,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> Resp {
        let app = test::init_service(guise_server::app(self.state.clone())).await;
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        req = match body {
            Some(Body::Json(v)) => req
                .insert_header(("Content-Type", "application/json"))
                .set_payload(v.to_string()),
            Some(Body::Form(f)) => req
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(f),
            Some(Body::Raw(ct, bytes)) => {
                req.insert_header(("Content-Type", ct)).set_payload(bytes)
            }
            None => req,
        };
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = test::read_body(resp).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            json,
            text,
            bytes: bytes.to_vec(),
        }
    }

    /// An ActivityPub document, as a remote server asks for it.
    pub async fn ap(&self, path: &str) -> Value {
        self.keep_a_key_ready().await;
        let app = test::init_service(guise_server::app(self.state.clone())).await;
        let req = test::TestRequest::get()
            .uri(path)
            .insert_header(("Accept", "application/activity+json"))
            .to_request();
        let resp = test::call_service(&app, req).await;
        serde_json::from_slice(&test::read_body(resp).await).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(Body::Json(body)))
            .await
    }

    pub async fn form(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        self.call(Method::POST, path, token, Some(Body::Form(body.to_owned())))
            .await
    }

    pub async fn create_account(&self, username: &str) -> (i64, i64) {
        let (a, f, _) = self.create_account_with_recovery(username).await;
        (a, f)
    }

    /// Like `create_account`, also returning the recovery code shown once.
    pub async fn create_account_with_recovery(&self, username: &str) -> (i64, i64, String) {
        let mut conn = self.state.db.conn().await.unwrap();
        let (a, f, recovery) = guise_core::accounts::create_account(
            &mut conn,
            self.clock.as_ref(),
            &Username::parse(username).unwrap(),
            &Email::parse(&format!("{username}@mail.test")).unwrap(),
            "password123",
            Role::User,
        )
        .await
        .unwrap();
        (a.id, f.id, recovery.expose().to_owned())
    }

    /// Registers an app with the given scopes; returns (client_id, client_secret).
    pub async fn register_app(&self, scopes: &str) -> (String, String) {
        let r = self
            .post("/api/v1/apps", None, json!({ "client_name": "test", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes }))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        (
            r.json["client_id"].as_str().unwrap().into(),
            r.json["client_secret"].as_str().unwrap().into(),
        )
    }

    /// A face-bound token through the password grant.
    pub async fn token(&self, username: &str, scopes: &str) -> String {
        let (id, secret) = self.register_app(scopes).await;
        let r = self
            .post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": id, "client_secret": secret, "username": username, "password": "password123", "scope": scopes }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A password-grant token bound to `face` ("anonymous", "all" or a face id).
    pub async fn token_as(&self, username: &str, face: &str, scopes: &str) -> String {
        let (id, secret) = self.register_app(scopes).await;
        let r = self
            .post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": id, "client_secret": secret, "username": username,
                        "password": "password123", "scope": scopes, "face": face }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_owned()
    }

    /// A password-grant token bound to `face`, signing in with `password`.
    pub async fn token_as_with(&self, username: &str, password: &str, face: &str) -> String {
        let (id, secret) = self.register_app("read write").await;
        let r = self
            .post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": id, "client_secret": secret, "username": username,
                        "password": password, "scope": "read write", "face": face }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["access_token"].as_str().unwrap().to_owned()
    }

    /// Puts a key in the pool if it is empty, as `guise serve`'s background
    /// filler does.
    pub async fn keep_a_key_ready(&self) {
        let mut conn = self.state.db.conn().await.unwrap();
        if guise_core::keys::pool_size(&mut conn).await.unwrap() == 0 {
            let pair = tokio::task::spawn_blocking(guise_federation::keys::generate)
                .await
                .unwrap()
                .unwrap();
            guise_core::keys::add_to_pool(&mut conn, &pair)
                .await
                .unwrap();
        }
    }

    /// Runs SQL in the test database (fixtures a test needs that no endpoint makes yet).
    /// The actions in the audit log, newest first, as `token` (staff) reads them.
    pub async fn audit_actions(&self, token: &str) -> Vec<String> {
        let r = self.get("/api/v1/admin/guise/audit_log", Some(token)).await;
        r.json
            .as_array()
            .unwrap_or_else(|| panic!("the audit log: {}", r.text))
            .iter()
            .map(|l| l["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn sql(&self, sql: &str) {
        use diesel_async::RunQueryDsl;
        let mut conn = self.state.db.conn().await.unwrap();
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    /// Every row of every table as text, with its `xmin`, for at-rest checks.
    pub async fn dump(&self) -> BTreeMap<String, Vec<String>> {
        use diesel::sql_types::Text;
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = Text)]
            name: String,
        }
        #[derive(diesel::QueryableByName)]
        struct R {
            #[diesel(sql_type = Text)]
            row: String,
        }
        let mut conn = self.state.db.conn().await.unwrap();
        let tables: Vec<T> = diesel::sql_query(
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .load(&mut conn)
        .await
        .unwrap();
        let mut out = BTreeMap::new();
        for t in tables {
            let rows: Vec<R> = diesel::sql_query(format!(
                "SELECT xmin::text || ' ' || t::text AS row FROM \"{0}\" t ORDER BY 1",
                t.name
            ))
            .load(&mut conn)
            .await
            .unwrap();
            out.insert(t.name, rows.into_iter().map(|r| r.row).collect());
        }
        out
    }

    /// A new account with a read/write/follow token: (face id, token).
    pub async fn user(&self, username: &str) -> (String, String) {
        let (_, face) = self.create_account(username).await;
        (
            face.to_string(),
            self.token(username, "read write follow").await,
        )
    }

    pub async fn post_status(&self, token: &str, body: Value) -> Value {
        let r = self.post("/api/v1/statuses", Some(token), body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json
    }

    /// Step 1 of the authorize pages: sign in with the request's query `q`.
    /// Returns the face-picker page and the pending code it carries.
    pub async fn sign_in(&self, q: &str, login: &str) -> (Resp, String) {
        let page = self
            .form(
                "/oauth/authorize",
                None,
                &format!("{q}&login={login}&password=password123"),
            )
            .await;
        let pending = page
            .text
            .split("name=\"pending\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no pending code in {}", page.text))
            .to_owned();
        (page, pending)
    }

    /// Step 2: pick `face` for the pending code.
    pub async fn pick_face(&self, q: &str, pending: &str, face: impl std::fmt::Display) -> Resp {
        self.form(
            "/oauth/authorize",
            None,
            &format!("{q}&pending={pending}&face={face}"),
        )
        .await
    }

    /// Row counts of every table, to prove a refused request wrote nothing.
    pub async fn row_counts(&self) -> BTreeMap<String, i64> {
        use diesel::sql_types::{BigInt, Text};
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = Text)]
            name: String,
        }
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.state.db.conn().await.unwrap();
        let tables: Vec<T> = diesel::sql_query(
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .load(&mut conn)
        .await
        .unwrap();
        let mut out = BTreeMap::new();
        for t in tables {
            let n: N = diesel::sql_query(format!("SELECT count(*) AS n FROM \"{}\"", t.name))
                .get_result(&mut conn)
                .await
                .unwrap();
            out.insert(t.name, n.n);
        }
        out
    }
}
