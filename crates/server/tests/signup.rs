//! Signing up: `POST /api/v1/accounts` and the web form, open or closed as
//! the instance says, with the confirmation link mailed through a real
//! SMTP conversation with a sink on 127.0.0.1; an unconfirmed login's
//! tokens and sign-ins are refused until the link is followed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::{header, Method};
use actix_web::test;
use common::TestApp;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// An SMTP sink: speaks just enough SMTP and hands each message's text over.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap() == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    match verb.as_str() {
                        "EHLO" => w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await.unwrap(),
                        "DATA" => {
                            w.write_all(b"354 go on\r\n").await.unwrap();
                            let mut text = String::new();
                            loop {
                                let mut l = String::new();
                                r.read_line(&mut l).await.unwrap();
                                if l == ".\r\n" {
                                    break;
                                }
                                text.push_str(&l);
                            }
                            tx.send(text).unwrap();
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        }
                        "QUIT" => {
                            w.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => w.write_all(b"250 ok\r\n").await.unwrap(),
                    }
                }
            });
        }
    });
    (port, rx)
}

/// An instance open to sign-ups that mails through a fresh sink.
async fn open_with_mail() -> (TestApp, mpsc::UnboundedReceiver<String>) {
    let (port, mails) = smtp_sink().await;
    let port = port.to_string();
    let t = TestApp::with_env(&[
        ("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true"),
        ("GUISE_MAIL__SMTP_HOST", "127.0.0.1"),
        ("GUISE_MAIL__SMTP_PORT", &port),
    ])
    .await;
    (t, mails)
}

fn link_in(mail: &str) -> String {
    let start = mail.find("/auth/confirmation?token=").expect(mail);
    mail[start..].split_whitespace().next().unwrap().to_owned()
}

/// Signs `webbie` in on the web with `password` (form-encoded).
async fn sign_in(t: &TestApp, csrf: &str, password: &str) -> Page {
    web(
        t,
        Method::POST,
        "/auth/sign_in",
        Some(&format!("guise_csrf={csrf}")),
        Some(&format!("csrf={csrf}&login=webbie&password={password}")),
    )
    .await
}

async fn app_token(t: &TestApp) -> String {
    let (id, secret) = t.register_app("read write").await;
    let r = t
        .post(
            "/oauth/token",
            None,
            json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": "read write" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["access_token"].as_str().unwrap().to_owned()
}

struct Page {
    status: u16,
    headers: actix_web::http::header::HeaderMap,
    body: String,
}

async fn web(
    t: &TestApp,
    method: Method,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Page {
    let app = test::init_service(guise_server::app(t.state.clone())).await;
    let mut req = test::TestRequest::default().method(method).uri(path);
    if let Some(c) = cookie {
        req = req.insert_header((header::COOKIE, c.to_owned()));
    }
    if let Some(f) = form {
        req = req
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(f.to_owned());
    }
    let resp = test::call_service(&app, req.to_request()).await;
    Page {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: String::from_utf8_lossy(&test::read_body(resp).await).into_owned(),
    }
}

#[actix_web::test]
async fn closed_registrations_refuse_sign_ups() {
    let t = TestApp::new().await;
    let app = app_token(&t).await;
    let r = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "newbie", "email": "newbie@mail.test", "password": "long enough pw", "agreement": true }),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("closed"));
    let page = web(&t, Method::GET, "/auth/sign_up", None, None).await;
    assert_eq!(page.status, 403);
    let instance = t.get("/api/v2/instance", None).await;
    assert_eq!(instance.json["registrations"]["enabled"], false);
}

#[actix_web::test]
async fn an_app_signs_up_and_the_emailed_link_unlocks_the_login() {
    let (t, mut mails) = open_with_mail().await;
    let app = app_token(&t).await;
    let without = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "newbie", "email": "newbie@mail.test", "password": "long enough pw" }),
        )
        .await;
    assert_eq!(without.status, 422, "{}", without.text);
    let r = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "newbie", "email": "newbie@mail.test", "password": "long enough pw", "agreement": true }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(r.json["token_type"], "Bearer");
    // Not before the address is confirmed.
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(me.status, 403, "{}", me.text);
    assert_eq!(
        me.json["error"],
        "Your login is missing a confirmed e-mail address"
    );
    let mail = mails.recv().await.unwrap();
    assert!(mail.contains("To: newbie@mail.test"), "{mail}");
    assert!(mail.contains("Subject: Confirm your address"), "{mail}");
    let link = link_in(&mail);
    // Taken names and bad input are refused.
    let again = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "newbie", "email": "other@mail.test", "password": "long enough pw", "agreement": true }),
        )
        .await;
    assert_ne!(again.status, 200, "{}", again.text);
    for bad in [
        json!({ "username": "x y", "email": "a@mail.test", "password": "long enough pw", "agreement": true }),
        json!({ "username": "okname", "email": "nope", "password": "long enough pw", "agreement": true }),
        json!({ "username": "okname", "email": "a@mail.test", "password": "short", "agreement": true }),
    ] {
        let r = t.post("/api/v1/accounts", Some(&app), bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    // The link confirms, once.
    let ok = web(&t, Method::GET, &link, None, None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&token))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["username"], "newbie");
    let used = web(&t, Method::GET, &link, None, None).await;
    assert_eq!(used.status, 404);
    let instance = t.get("/api/v2/instance", None).await;
    assert_eq!(instance.json["registrations"]["enabled"], true);
}

#[actix_web::test]
async fn the_web_form_shows_the_recovery_code_once_and_waits_for_the_link() {
    let (t, mut mails) = open_with_mail().await;
    let form = web(&t, Method::GET, "/auth/sign_up", None, None).await;
    assert_eq!(form.status, 200);
    let set = form
        .headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("guise_csrf="))
        .unwrap()
        .to_owned();
    let csrf = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let cookie = format!("guise_csrf={csrf}");
    let body = |agree: bool| {
        format!(
            "csrf={csrf}&username=webbie&email=webbie%40mail.test&password=a+long+password{}",
            if agree { "&agreement=true" } else { "" }
        )
    };
    let r = web(
        &t,
        Method::POST,
        "/auth/sign_up",
        Some(&cookie),
        Some(&body(false)),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("value=\"webbie\""),
        "the form keeps what was typed"
    );
    let r = web(
        &t,
        Method::POST,
        "/auth/sign_up",
        Some(&cookie),
        Some(&body(true)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Welcome, @webbie"), "{}", r.body);
    let code_start =
        r.body.find("<code id=\"recovery\">").unwrap() + "<code id=\"recovery\">".len();
    let code = &r.body[code_start..code_start + r.body[code_start..].find('<').unwrap()];
    assert!(code.len() >= 20, "{code}");
    assert!(r.body.contains("download=\"guise-recovery-code.txt\""));
    assert!(r.body.contains("We sent a link to webbie@mail.test"));
    // The code is nowhere at rest.
    let dump = t.dump().await;
    assert!(
        !format!("{dump:?}").contains(code),
        "the recovery code is stored"
    );
    let first = link_in(&mails.recv().await.unwrap());

    // Signing in waits for the link.
    let r = sign_in(&t, &csrf, "a+long+password").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("not confirmed yet"), "{}", r.body);

    // A new link replaces the first; the answer is the same for unknown addresses.
    let r = web(
        &t,
        Method::POST,
        "/auth/confirmation/new",
        Some(&cookie),
        Some(&format!("csrf={csrf}&email=webbie%40mail.test")),
    )
    .await;
    assert_eq!(r.status, 200);
    let unknown = web(
        &t,
        Method::POST,
        "/auth/confirmation/new",
        Some(&cookie),
        Some(&format!("csrf={csrf}&email=nobody%40mail.test")),
    )
    .await;
    assert_eq!(unknown.body, r.body);
    let second = link_in(&mails.recv().await.unwrap());
    assert_ne!(first, second);
    assert_eq!(web(&t, Method::GET, &first, None, None).await.status, 404);
    assert_eq!(web(&t, Method::GET, &second, None, None).await.status, 200);
    let r = sign_in(&t, &csrf, "a+long+password").await;
    assert_eq!(r.status, 303, "{}", r.body);
}

#[actix_web::test]
async fn without_mail_a_sign_up_works_at_once() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true")]).await;
    let app = app_token(&t).await;
    let r = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "quick", "email": "quick@mail.test", "password": "long enough pw", "agreement": "1" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.json["access_token"].as_str().unwrap();
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(token))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
}

/// Lost password and recovery code: a reset link by email, whose page says
/// what the reset costs before anything happens; the link works once, the
/// old password stops and the new one signs in, and the same answer is
/// given whether a login has the address or not.
#[actix_web::test]
async fn a_password_is_reset_by_email_after_saying_what_it_costs() {
    let (t, mut mails) = open_with_mail().await;
    t.create_account("alice").await;
    let recover = web(&t, Method::GET, "/auth/recover", None, None).await;
    assert!(
        recover.body.contains("href=\"/auth/password/reset\""),
        "{}",
        recover.body
    );
    let form = web(&t, Method::GET, "/auth/password/reset", None, None).await;
    assert!(
        form.body.contains("anonymous posting pauses for 14 days"),
        "{}",
        form.body
    );
    let pre = form
        .headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("guise_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = pre.trim_start_matches("guise_csrf=").to_owned();
    let nobody = web(
        &t,
        Method::POST,
        "/auth/password/reset",
        Some(&pre),
        Some(&format!("csrf={csrf}&email=nobody%40mail.test")),
    )
    .await;
    let asked = web(
        &t,
        Method::POST,
        "/auth/password/reset",
        Some(&pre),
        Some(&format!("csrf={csrf}&email=ALICE%40mail.test")),
    )
    .await;
    assert_eq!((nobody.status, asked.status), (200, 200));
    assert!(asked.body.contains("If a login uses that address"));
    assert_eq!(
        nobody.body.replace("nobody", ""),
        asked.body.replace("nobody", ""),
        "the same answer either way"
    );
    let mail = tokio::time::timeout(std::time::Duration::from_secs(10), mails.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        mail.contains("alice@mail.test") && mail.contains("anonymous posts"),
        "{mail}"
    );
    let start = mail.find("/auth/password/edit?token=").expect(&mail);
    let link = mail[start..].split_whitespace().next().unwrap().to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), mails.recv())
            .await
            .is_err(),
        "no mail for an unknown address"
    );

    let page = web(&t, Method::GET, &link, None, None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("costs the tie to your anonymous posts")
            && page.body.contains("name=\"confirm\""),
        "{}",
        page.body
    );
    let unconfirmed = web(
        &t,
        Method::POST,
        "/auth/password/edit",
        Some(&pre),
        Some(&format!(
            "csrf={csrf}&token={token}&password=a+brand+new+one"
        )),
    )
    .await;
    assert_eq!(unconfirmed.status, 422);
    let done = web(
        &t,
        Method::POST,
        "/auth/password/edit",
        Some(&pre),
        Some(&format!(
            "csrf={csrf}&token={token}&password=a+brand+new+one&confirm=yes"
        )),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("id=\"recovery\""),
        "a new recovery code, once"
    );
    let again = web(
        &t,
        Method::POST,
        "/auth/password/edit",
        Some(&pre),
        Some(&format!(
            "csrf={csrf}&token={token}&password=yet+another+one&confirm=yes"
        )),
    )
    .await;
    assert_eq!(again.status, 404, "the link works once");
    let login = |password: &'static str| {
        let t = &t;
        async move {
            let (id, secret) = t.register_app("read").await;
            t.post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": id, "client_secret": secret,
                "username": "alice", "password": password, "scope": "read" }),
            )
            .await
            .status
        }
    };
    assert_eq!(login("password123").await, 400);
    assert_eq!(login("a brand new one").await, 200);
}

/// An email domain blocked over the admin API (admins only) refuses
/// sign-ups from it and its subdomains, however the address is spelled;
/// lifted, it lets them in.
#[actix_web::test]
async fn a_blocked_email_domain_cannot_sign_up() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true")]).await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    let (_, user) = t.user("bob").await;
    let path = "/api/v1/admin/email_domain_blocks";
    assert_eq!(t.get(path, Some(&user)).await.status, 403);
    let r = t
        .post(path, Some(&admin), json!({ "domain": "Spam.Example" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["domain"], "spam.example");
    assert!(
        r.json["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["uses"] == "0"),
        "nothing turned away yet: {}",
        r.text
    );
    let id = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.post(path, Some(&admin), json!({ "domain": "spam.example" }))
            .await
            .status,
        422
    );
    assert_eq!(
        t.get(path, Some(&admin))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let app = app_token(&t).await;
    let sign_up = |name: &'static str, email: &'static str| {
        let (t, app) = (&t, app.clone());
        async move {
            t.post(
                "/api/v1/accounts",
                Some(&app),
                json!({ "username": name, "email": email, "password": "long enough pw", "agreement": "1" }),
            )
            .await
        }
    };
    for (name, email) in [("s1", "a@spam.example"), ("s2", "b@MX.Spam.Example")] {
        let r = sign_up(name, email).await;
        assert_eq!(r.status, 422, "{email}: {}", r.text);
        assert!(r.json["error"].as_str().unwrap().contains("not allowed"));
    }
    assert_eq!(sign_up("s3", "c@notspam.example").await.status, 200);
    // Each turned-away sign-up counts for today in the block's history.
    use guise_core::Clock;
    let listed = t.get(path, Some(&admin)).await.json;
    let history = listed[0]["history"].as_array().unwrap();
    assert_eq!(history.len(), 7, "{listed}");
    assert_eq!(history[0]["uses"], "2", "{listed}");
    assert_eq!(history[0]["accounts"], "2", "{listed}");
    assert_eq!(history[1]["uses"], "0", "{listed}");
    let today = t
        .clock
        .now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    assert_eq!(history[0]["day"], today.to_string());
    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("{path}/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sign_up("s4", "d@spam.example").await.status, 200);
}

/// A request from `addr` (the peer a proxy-less server sees).
async fn from(
    t: &TestApp,
    addr: &str,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let mut req = actix_web::test::TestRequest::post()
        .uri(path)
        .peer_addr(
            if addr.contains(':') {
                format!("[{addr}]:40000")
            } else {
                format!("{addr}:40000")
            }
            .parse()
            .unwrap(),
        )
        .set_json(body);
    if let Some(tok) = token {
        req = req.insert_header(("Authorization", format!("Bearer {tok}")));
    }
    let resp = actix_web::test::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let bytes = actix_web::test::read_body(resp).await;
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// IP blocks over Mastodon's admin API, applied in memory: `sign_up_block`
/// refuses sign-ups from the network, `no_access` sign-ins too, a block
/// lapses when it expires, and no request's address is written anywhere.
#[actix_web::test]
async fn ip_blocks_refuse_sign_ups_and_sign_ins_and_write_no_address() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true")]).await;
    let (root, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {root}"
    ))
    .await;
    let admin = t.token("root", "admin:read admin:write").await;
    t.create_account("bob").await;
    let path = "/api/v1/admin/ip_blocks";
    for (body, what) in [
        (
            json!({ "ip": "203.0.113.7/24", "severity": "sign_up_requires_approval" }),
            "approval",
        ),
        (
            json!({ "ip": "not an address", "severity": "no_access" }),
            "CIDR",
        ),
        (
            json!({ "ip": "203.0.113.7/24", "severity": "ban" }),
            "severity",
        ),
    ] {
        let r = t.post(path, Some(&admin), body).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert!(
            r.json["error"].as_str().unwrap().contains(what),
            "{what}: {}",
            r.text
        );
    }
    let r = t
        .post(
            path,
            Some(&admin),
            json!({ "ip": "203.0.113.7/24", "severity": "sign_up_block", "comment": "spam wave" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["ip"], "203.0.113.0/24");
    let id = r.json["id"].as_str().unwrap().to_owned();

    let app = app_token(&t).await;
    let sign_up = |addr: &'static str, name: &'static str| {
        let (t, app) = (&t, app.clone());
        async move {
            from(t, addr, "/api/v1/accounts", Some(&app),
                json!({ "username": name, "email": format!("{name}@mail.test"), "password": "long enough pw", "agreement": "1" }))
            .await
        }
    };
    let (id_app, secret) = t.register_app("read").await;
    let sign_in = |addr: &'static str| {
        let (t, id_app, secret) = (&t, id_app.clone(), secret.clone());
        async move {
            from(
                t,
                addr,
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": id_app, "client_secret": secret,
                        "username": "bob", "password": "password123", "scope": "read" }),
            )
            .await
            .0
        }
    };
    let (status, body) = sign_up("203.0.113.9", "s1").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(sign_up("198.51.100.1", "s2").await.0, 200);
    assert_eq!(
        sign_in("203.0.113.9").await,
        200,
        "a sign-up block lets people sign in"
    );

    let change = |body: serde_json::Value| {
        let (t, admin, id) = (&t, admin.clone(), id.clone());
        async move {
            t.call(
                actix_web::http::Method::PUT,
                &format!("/api/v1/admin/ip_blocks/{id}"),
                Some(&admin),
                Some(common::Body::Json(body)),
            )
            .await
        }
    };
    let r = change(json!({ "severity": "no_access", "expires_in": 60 })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["comment"], "spam wave", "kept");
    assert_eq!(sign_in("203.0.113.9").await, 403);
    assert_eq!(
        sign_in("::ffff:203.0.113.9").await,
        403,
        "however the address is written"
    );
    assert_eq!(sign_in("198.51.100.1").await, 200);
    t.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(sign_in("203.0.113.9").await, 200, "lapsed");

    let dump = t.dump().await;
    for (table, rows) in &dump {
        for row in rows {
            assert!(
                !row.contains("203.0.113.9") && !row.contains("198.51.100.1"),
                "{table}: {row}"
            );
        }
    }
    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/admin/ip_blocks/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(sign_up("203.0.113.9", "s3").await.0, 200);
}

/// Sign-ups that wait for approval: the token an app gets works only once
/// a moderator approves (and the login is told by mail); a rejected
/// sign-up is deleted; the web form asks why and says it waits, and a
/// waiting login's sign-in says so instead of "wrong password".
#[actix_web::test]
async fn sign_ups_wait_for_a_moderator_who_approves_or_rejects_them() {
    let (port, mut mails) = smtp_sink().await;
    let port = port.to_string();
    let t = TestApp::with_env(&[
        ("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true"),
        ("GUISE_INSTANCE__REGISTRATIONS_REQUIRE_APPROVAL", "true"),
        ("GUISE_MAIL__SMTP_HOST", "127.0.0.1"),
        ("GUISE_MAIL__SMTP_PORT", &port),
    ])
    .await;
    let instance = t.get("/api/v2/instance", None).await.json;
    assert_eq!(instance["registrations"]["approval_required"], true);
    assert_eq!(
        t.get("/api/v1/instance", None).await.json["approval_required"],
        true
    );
    let about = web(&t, Method::GET, "/about", None, None).await;
    assert!(
        about.body.contains("approves each sign-up"),
        "{}",
        about.body
    );

    let app = app_token(&t).await;
    let sign_up = |name: &'static str, reason: &'static str| {
        let (t, app) = (&t, app.clone());
        async move {
            let r = t
                .post(
                    "/api/v1/accounts",
                    Some(&app),
                    json!({ "username": name, "email": format!("{name}@mail.test"),
                            "password": "long enough pw", "agreement": true, "reason": reason }),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.json["access_token"].as_str().unwrap().to_owned()
        }
    };
    let newbie = sign_up("newbie", "I knit and want to talk about it").await;
    let link = link_in(&mails.recv().await.unwrap());
    assert_eq!(web(&t, Method::GET, &link, None, None).await.status, 200);
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&newbie))
        .await;
    assert_eq!(me.status, 403, "{}", me.text);
    assert_eq!(me.json["error"], "Your login is currently pending approval");
    let too_long = t
        .post(
            "/api/v1/accounts",
            Some(&app),
            json!({ "username": "wordy", "email": "wordy@mail.test", "password": "long enough pw",
                    "agreement": true, "reason": "x".repeat(1001) }),
        )
        .await;
    assert_eq!(too_long.status, 422, "{}", too_long.text);

    // Staff find it waiting, with what it wrote.
    let (moderator_login, _) = t.create_account("mod").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'moderator' WHERE id = {moderator_login}"
    ))
    .await;
    let moderator = t.token("mod", "read write admin:read admin:write").await;
    let (_, user) = t.user("bob").await;
    let waiting = t
        .get("/api/v2/admin/accounts?status=pending", Some(&moderator))
        .await;
    assert_eq!(waiting.status, 200, "{}", waiting.text);
    let list = waiting.json.as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", waiting.text);
    assert_eq!(list[0]["username"], "newbie");
    assert_eq!(list[0]["approved"], false);
    assert_eq!(
        list[0]["invite_request"],
        "I knit and want to talk about it"
    );
    assert_eq!(list[0]["email"], serde_json::Value::Null, "admins only");
    let v1 = t
        .get("/api/v1/admin/accounts?pending=true", Some(&moderator))
        .await
        .json;
    assert_eq!(v1.as_array().unwrap().len(), 1);
    let active = t
        .get("/api/v2/admin/accounts?status=active", Some(&moderator))
        .await
        .json;
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["username"] != "newbie"),
        "{active}"
    );
    let face = list[0]["id"].as_str().unwrap().to_owned();
    let approve = format!("/api/v1/admin/accounts/{face}/approve");
    assert_eq!(t.post(&approve, Some(&user), json!({})).await.status, 403);
    let r = t.post(&approve, Some(&moderator), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["approved"], true);
    assert_eq!(r.json["invite_request"], serde_json::Value::Null);
    let mail = mails.recv().await.unwrap();
    assert!(mail.contains("To: newbie@mail.test"), "{mail}");
    assert!(mail.contains("was approved"), "{mail}");
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&newbie))
        .await;
    assert_eq!(
        me.status, 200,
        "the same token works once approved: {}",
        me.text
    );
    let again = t.post(&approve, Some(&moderator), json!({})).await;
    assert_eq!(again.status, 403, "it no longer waits: {}", again.text);
    let bob_face = t
        .get("/api/v1/accounts/verify_credentials", Some(&user))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for what in ["approve", "reject"] {
        let r = t
            .post(
                &format!("/api/v1/admin/accounts/{bob_face}/{what}"),
                Some(&moderator),
                json!({}),
            )
            .await;
        assert_eq!(
            r.status, 403,
            "{what} a login that never waited: {}",
            r.text
        );
    }

    // A rejected sign-up is gone, with its token.
    let spam = sign_up("spammer", "").await;
    mails.recv().await.unwrap();
    let waiting = t
        .get("/api/v2/admin/accounts?status=pending", Some(&moderator))
        .await
        .json;
    let spam_face = waiting[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(waiting[0]["username"], "spammer");
    let r = t
        .post(
            &format!("/api/v1/admin/accounts/{spam_face}/reject"),
            Some(&moderator),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&spam))
        .await;
    assert_eq!(me.status, 401, "{}", me.text);
    let dump = format!("{:?}", t.dump().await);
    assert!(!dump.contains("spammer@mail.test"), "the login is deleted");
    let actions = t.audit_actions(&moderator).await;
    assert!(
        actions.iter().any(|a| a == "approve") && actions.iter().any(|a| a == "reject"),
        "{actions:?}"
    );

    // The web form asks why; a waiting login's sign-in says it waits.
    let form = web(&t, Method::GET, "/auth/sign_up", None, None).await;
    assert!(form.body.contains("name=\"reason\""), "{}", form.body);
    let csrf = form
        .headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("guise_csrf="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookie = format!("guise_csrf={csrf}");
    let r = web(
        &t,
        Method::POST,
        "/auth/sign_up",
        Some(&cookie),
        Some(&format!(
            "csrf={csrf}&username=webbie&email=webbie%40mail.test&password=a+long+password&reason=hello&agreement=true"
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"awaiting-approval\""), "{}", r.body);
    let link = link_in(&mails.recv().await.unwrap());
    assert_eq!(web(&t, Method::GET, &link, None, None).await.status, 200);
    let r = sign_in(&t, &csrf, "a+long+password").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("approval"), "{}", r.body);
    // A wrong password is still only "wrong".
    let r = sign_in(&t, &csrf, "not+it+at+all").await;
    assert_eq!(r.status, 401, "{}", r.body);
}
