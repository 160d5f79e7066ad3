//! Sessions under attack: codes without PKCE, tokens that outlive a
//! password, online guessing, and token rows that name their login.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestApp;
use serde_json::{json, Value};

const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

fn challenge_of(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Signs in through the authorize pages and picks `face`; returns the code.
async fn code_for(
    t: &TestApp,
    cid: &str,
    login: &str,
    face: &str,
    challenge: Option<&str>,
) -> String {
    let mut q = format!(
        "response_type=code&client_id={cid}&redirect_uri={}&scope=read+write",
        OOB.replace(':', "%3A")
    );
    if let Some(c) = challenge {
        q.push_str(&format!("&code_challenge={c}&code_challenge_method=S256"));
    }
    let (_, pending) = t.sign_in(&q, login).await;
    let page = t.pick_face(&q, &pending, face).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&pending));
    pending
}

async fn exchange(t: &TestApp, body: Value) -> common::Resp {
    t.post("/oauth/token", None, body).await
}

#[actix_web::test]
async fn a_code_without_pkce_needs_the_client_secret_and_a_verifier_never_replaces_it() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    let (cid, csec) = t.register_app("read write").await;
    let face = face.to_string();

    // No challenge at sign-in; a made-up verifier and no secret.
    let code = code_for(&t, &cid, "alice", &face, None).await;
    let r = exchange(
        &t,
        json!({ "grant_type": "authorization_code", "client_id": cid, "code": code,
        "redirect_uri": OOB, "code_verifier": "made-up-verifier-made-up-verifier-0123456789" }),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_client");
    // No secret, no verifier at all.
    let code = code_for(&t, &cid, "alice", &face, None).await;
    let r = exchange(&t, json!({ "grant_type": "authorization_code", "client_id": cid, "code": code, "redirect_uri": OOB })).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // With the secret it works.
    let code = code_for(&t, &cid, "alice", &face, None).await;
    let r = exchange(&t, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": code, "redirect_uri": OOB })).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // With a challenge, a public client proves it with the verifier alone…
    let verifier = "a-long-random-verifier-string-for-pkce-0123456789";
    let code = code_for(&t, &cid, "alice", &face, Some(&challenge_of(verifier))).await;
    let r = exchange(&t, json!({ "grant_type": "authorization_code", "client_id": cid, "code": code, "redirect_uri": OOB, "code_verifier": verifier })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // …and even the secret does not stand in for the verifier.
    let code = code_for(&t, &cid, "alice", &face, Some(&challenge_of(verifier))).await;
    let r = exchange(&t, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": code, "redirect_uri": OOB })).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

async fn works(t: &TestApp, token: &str) -> bool {
    let r = t
        .get("/api/v1/accounts/verify_credentials", Some(token))
        .await;
    match r.status.as_u16() {
        200 => true,
        401 => false,
        other => panic!("verify_credentials answered {other}: {}", r.text),
    }
}

/// A token through the authorize pages, with a refresh token: (access, refresh).
async fn code_token(t: &TestApp, login: &str, face: &str) -> (String, String) {
    let (cid, csec) = t.register_app("read write").await;
    let code = code_for(t, &cid, login, face, None).await;
    let r = exchange(t, json!({ "grant_type": "authorization_code", "client_id": cid, "client_secret": csec, "code": code, "redirect_uri": OOB })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    (
        r.json["access_token"].as_str().unwrap().to_owned(),
        r.json["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn changing_the_password_signs_out_every_other_token_and_hands_the_caller_a_new_one() {
    for caller in ["anonymous", "all"] {
        let t = TestApp::new().await;
        let (_, face) = t.create_account("alice").await;
        t.create_account("bob").await;
        let face_tok = t.token("alice", "read write").await;
        let anon = t.token_as("alice", "anonymous", "read write").await;
        let all = t.token_as("alice", "all", "read write").await;
        let (by_code, refresh) = code_token(&t, "alice", &face.to_string()).await;
        let bob = t.token("bob", "read write").await;
        let me = if caller == "anonymous" { &anon } else { &all };
        let r = t
            .post(
                "/api/v1/guise/password",
                Some(me),
                json!({ "current_password": "password123", "password": "a new password" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["other_tokens_revoked"], true);
        assert!(r.json["message"].as_str().unwrap().contains("signed out"));
        for (what, tok) in [
            ("face", &face_tok),
            ("anonymous", &anon),
            ("all", &all),
            ("code", &by_code),
        ] {
            assert!(!works(&t, tok).await, "{caller}: the {what} token survived");
        }
        // Its refresh token is dead too.
        let (cid, csec) = t.register_app("read write").await;
        let dead = exchange(&t, json!({ "grant_type": "refresh_token", "client_id": cid, "client_secret": csec, "refresh_token": refresh })).await;
        assert_eq!(dead.status, 400);
        // The caller goes on with the new token, bound as before.
        let fresh = r.json["access_token"].as_str().unwrap();
        assert!(works(&t, fresh).await);
        let mine = t.get("/api/v1/guise/anonymous/statuses", Some(fresh)).await;
        assert_eq!(mine.status, 200, "{caller}: {}", mine.text);
        // Another login is untouched.
        assert!(works(&t, &bob).await);
    }
}

#[actix_web::test]
async fn a_reset_and_a_recovery_sign_out_anonymous_and_all_tokens() {
    let t = TestApp::new().await;
    let (_, _, recovery) = t.create_account_with_recovery("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let all = t.token_as("alice", "all", "read write").await;
    let r = t
        .post("/api/v1/guise/password/recover", None, json!({ "login": "alice", "recovery_code": recovery, "password": "recovered password" }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!works(&t, &anon).await);
    assert!(!works(&t, &all).await);

    let anon = t
        .token_as_with("alice", "recovered password", "anonymous")
        .await;
    let all = t.token_as_with("alice", "recovered password", "all").await;
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::accounts::reset_password_losing_anonymity(
        &mut conn,
        t.clock.as_ref(),
        "alice",
        "reset password 1",
        14,
    )
    .await
    .unwrap();
    assert!(!works(&t, &anon).await);
    assert!(!works(&t, &all).await);
}

#[actix_web::test]
async fn the_owner_lists_and_revokes_their_tokens_without_the_apps_secret() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    t.create_account("bob").await;
    let face_tok = t.token("alice", "read write").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let (by_code, _) = code_token(&t, "alice", "anonymous").await;
    let all = t.token_as("alice", "all", "read write").await;
    let bob = t.token("bob", "read write").await;
    let list = t.get("/api/v1/guise/tokens", Some(&all)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.json.as_array().unwrap();
    assert_eq!(items.len(), 4, "{}", list.text);
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["binding"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "anonymous").count(), 2);
    assert!(items
        .iter()
        .any(|i| i["binding"] == "face"
            && i["face"]["id"].as_str() == Some(face.to_string().as_str())));
    assert_eq!(items.iter().filter(|i| i["current"] == true).count(), 1);
    assert!(items.iter().all(|i| i["app"]["name"] == "test"));
    // Only an "All my faces" token sees them: an anonymous or face token
    // would learn of faces it must not.
    for tok in [&anon, &face_tok] {
        assert_eq!(t.get("/api/v1/guise/tokens", Some(tok)).await.status, 422);
    }
    // Revoke the code-flow anonymous token: it stops working, the others do not.
    let target = items
        .iter()
        .filter(|i| i["binding"] == "anonymous")
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    for id in &target {
        let r = t
            .call(
                actix_web::http::Method::DELETE,
                &format!("/api/v1/guise/tokens/{id}"),
                Some(&all),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert!(!works(&t, &anon).await);
    assert!(!works(&t, &by_code).await);
    assert!(works(&t, &face_tok).await);
    assert!(works(&t, &all).await);
    // Bob's token is not Alice's to revoke, and does not even show.
    let bobs = t
        .get(
            "/api/v1/guise/tokens",
            Some(&t.token_as("bob", "all", "read write").await),
        )
        .await;
    let bob_id = bobs.json.as_array().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .call(
            actix_web::http::Method::DELETE,
            &format!("/api/v1/guise/tokens/{bob_id}"),
            Some(&all),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(works(&t, &bob).await);
}

#[actix_web::test]
async fn parallel_guessing_gets_429s_and_the_right_password_works_after_the_window() {
    let t = TestApp::with_env(&[
        ("GUISE_SERVER__SIGN_IN_ATTEMPTS", "10"),
        ("GUISE_SERVER__SIGN_IN_WINDOW_SECS", "300"),
    ])
    .await;
    t.create_account("alice").await;
    let (cid, csec) = t.register_app("read write").await;
    let guess = |pw: String| {
        let (t, cid, csec) = (&t, cid.clone(), csec.clone());
        async move {
            t.post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": cid, "client_secret": csec,
                "username": "alice", "password": pw, "scope": "read" }),
            )
            .await
        }
    };
    let answers = futures::future::join_all((0..50).map(|i| guess(format!("guess {i}")))).await;
    let refused = answers.iter().filter(|r| r.status == 429).count();
    let wrong = answers.iter().filter(|r| r.status == 400).count();
    assert_eq!(refused + wrong, 50);
    assert!(wrong <= 10, "{wrong} guesses were checked");
    assert!(refused >= 40);
    let limited = answers.iter().find(|r| r.status == 429).unwrap();
    assert!(limited.headers.get("Retry-After").is_some());
    assert_eq!(limited.json["error"], "Too many attempts, try again later");
    // Even the right password waits for the window…
    assert_eq!(guess("password123".into()).await.status, 429);
    // …the sign-in page too…
    let q = format!("response_type=code&client_id={cid}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read");
    let page = t
        .form(
            "/oauth/authorize",
            None,
            &format!("{q}&login=alice&password=password123"),
        )
        .await;
    assert_eq!(page.status, 429);
    // …and then it works.
    t.clock.advance(chrono::Duration::seconds(301));
    assert_eq!(guess("password123".into()).await.status, 200);
}

#[actix_web::test]
async fn a_disabled_login_answers_as_a_wrong_password_does_in_the_same_time() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    t.create_account("bob").await;
    t.sql("UPDATE accounts SET disabled = true WHERE email = 'bob@mail.test'")
        .await;
    let (cid, csec) = t.register_app("read").await;
    let attempt = |user: &'static str, pw: &'static str| {
        let (t, cid, csec) = (&t, cid.clone(), csec.clone());
        async move {
            let start = std::time::Instant::now();
            let r = t
                .post("/oauth/token", None, json!({ "grant_type": "password", "client_id": cid, "client_secret": csec, "username": user, "password": pw }))
                .await;
            (r, start.elapsed())
        }
    };
    let mut wrong = Vec::new();
    let mut disabled = Vec::new();
    for _ in 0..5 {
        let (w, tw) = attempt("alice", "not the password").await;
        let (d, td) = attempt("bob", "password123").await;
        assert_eq!(
            (w.status, d.status),
            (
                actix_web::http::StatusCode::BAD_REQUEST,
                actix_web::http::StatusCode::BAD_REQUEST
            )
        );
        assert_eq!(w.json, d.json, "the answers differ");
        wrong.push(tw);
        disabled.push(td);
    }
    wrong.sort();
    disabled.sort();
    // Not a timing benchmark: a disabled login that skipped the password
    // check would answer in a small fraction of the time (no Argon2).
    let (w, d) = (wrong[0].as_secs_f64(), disabled[0].as_secs_f64());
    assert!(d > w * 0.3, "disabled {d:.4}s against wrong {w:.4}s");
}

/// Every value a login is known by: its id and its persistent faces' ids.
async fn login_values(t: &TestApp, account: i64) -> Vec<String> {
    let mut conn = t.state.db.conn().await.unwrap();
    let mut v = vec![account.to_string()];
    for f in guise_core::accounts::faces_of(&mut conn, account)
        .await
        .unwrap()
    {
        v.push(f.id.to_string());
    }
    v
}

#[actix_web::test]
async fn no_token_code_or_sign_in_row_names_a_login_or_face_in_the_clear() {
    let t = TestApp::new().await;
    let (account, face) = t.create_account("alice").await;
    // Every way in: the password grant for each binding, the authorize
    // pages (with a code left pending and one exchanged), a refresh.
    for b in ["", "anonymous", "all"] {
        if b.is_empty() {
            t.token("alice", "read write").await;
        } else {
            t.token_as("alice", b, "read write").await;
        }
    }
    let (_, refresh) = code_token(&t, "alice", "anonymous").await;
    let (cid, csec) = t.register_app("read write").await;
    let r = exchange(&t, json!({ "grant_type": "refresh_token", "client_id": cid, "client_secret": csec, "refresh_token": refresh })).await;
    assert_eq!(r.status, 400, "another app's refresh: {}", r.text);
    let (cid2, _) = t.register_app("read write").await;
    let q = format!("response_type=code&client_id={cid2}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read");
    let (_, pending) = t.sign_in(&q, "alice").await;
    t.pick_face(&q, &pending, "all").await;
    let (_, _unbound) = t.sign_in(&q, "alice").await;
    let dump = t.dump().await;
    let tokens = &dump["oauth_tokens"];
    let codes = &dump["oauth_codes"];
    assert_eq!(tokens.len(), 4, "{tokens:?}");
    assert_eq!(codes.len(), 2, "{codes:?}");
    let apps: Vec<String> = dump["oauth_apps"]
        .iter()
        .map(|r| r.split(['(', ',']).nth(1).unwrap().to_owned())
        .collect();
    let named = login_values(&t, account).await;
    assert!(named.contains(&face.to_string()));
    for row in tokens.iter().chain(codes) {
        let body = row.split_once(' ').unwrap().1;
        for v in &named {
            assert!(!body.contains(v.as_str()), "{v} in the clear: {row}");
        }
    }
    for row in tokens {
        let body = row.split_once(' ').unwrap().1;
        for app in &apps {
            assert!(
                !body.contains(&format!(",{app},")),
                "a token row names its app {app}: {row}"
            );
        }
    }
}

/// Disabling a login kills its tokens (sealed or not) at once; enabled
/// again, it signs in anew.
#[actix_web::test]
async fn disabling_a_login_kills_its_tokens_for_good() {
    let t = TestApp::new().await;
    let (account, _) = t.create_account("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let all = t.token_as("alice", "all", "read write").await;
    let face = t.token("alice", "read write").await;
    let mut conn = t.state.db.conn().await.unwrap();
    guise_core::accounts::set_disabled(&mut conn, account, true)
        .await
        .unwrap();
    for tok in [&anon, &all, &face] {
        let r = t
            .get("/api/v1/accounts/verify_credentials", Some(tok))
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let (cid, csec) = t.register_app("read").await;
    let r = t
        .post("/oauth/token", None, json!({ "grant_type": "password", "client_id": cid, "client_secret": csec, "username": "alice", "password": "password123" }))
        .await;
    assert_eq!(r.status, 400, "a disabled login cannot sign in");
    guise_core::accounts::set_disabled(&mut conn, account, false)
        .await
        .unwrap();
    for tok in [&anon, &all, &face] {
        assert!(!works(&t, tok).await, "a token survived being disabled");
    }
    assert!(works(&t, &t.token("alice", "read").await).await);
}
