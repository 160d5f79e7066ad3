//! The web face over HTTP: sign-in with a CSRF-guarded form and a session
//! cookie (HttpOnly, SameSite=Lax, Secure over https), the composer that
//! picks the face of each post (a pseudonym or "Anonymous"), the notice of
//! the face a post went out as, sign-out, and the headers every page gets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::{header, Method};
use actix_web::test;
use common::TestApp;

struct Page {
    status: u16,
    headers: actix_web::http::header::HeaderMap,
    body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of hidden field `name` in the page's (first such) form.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).expect(&self.body) + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

fn value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

async fn call(
    t: &TestApp,
    method: Method,
    path: &str,
    cookies: &[(&str, &str)],
    form: Option<&str>,
) -> Page {
    call_in(t, method, path, cookies, form, "en").await
}

async fn call_in(
    t: &TestApp,
    method: Method,
    path: &str,
    cookies: &[(&str, &str)],
    form: Option<&str>,
    accept_language: &str,
) -> Page {
    let app = test::init_service(guise_server::app(t.state.clone())).await;
    let mut req = test::TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header((header::ACCEPT_LANGUAGE, accept_language));
    if !cookies.is_empty() {
        let c: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.insert_header((header::COOKIE, c.join("; ")));
    }
    if let Some(f) = form {
        req = req
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(f.to_owned());
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    Page {
        status,
        headers,
        body,
    }
}

/// A page as the session sees it.
async fn get_as(t: &TestApp, session: &str, path: &str) -> Page {
    call(t, Method::GET, path, &[("guise_session", session)], None).await
}

/// Sends the composer's form with the session.
async fn compose(t: &TestApp, session: &str, form: &str) -> Page {
    call(
        t,
        Method::POST,
        "/web/statuses",
        &[("guise_session", session)],
        Some(form),
    )
    .await
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Signs alice in through the form; the session cookie's value.
async fn sign_in(t: &TestApp) -> String {
    sign_in_as(t, "alice").await
}

#[actix_web::test]
async fn a_visitor_signs_in_posts_as_a_pseudonym_and_anonymously_and_signs_out() {
    let t = TestApp::new().await;
    t.create_account("alice").await;

    // The landing page, with the headers every page gets.
    let landing = call(&t, Method::GET, "/", &[], None).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Sign in"));
    let csp = landing
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!landing.body.contains("<script"), "no scripts");
    assert!(!landing.body.contains("style="), "no inline style");

    // The sign-in form's CSRF value rides in a cookie it must match.
    let form = call(&t, Method::GET, "/auth/sign_in", &[], None).await;
    let pre_cookie = form.cookie("guise_csrf").unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(pre_cookie.contains(flag), "{pre_cookie}");
    }
    let pre = value(&pre_cookie);
    assert_eq!(form.field("csrf"), pre);
    assert!(form.body.contains("<label for=\"password\">"));
    // A forged form (no matching cookie) signs nobody in.
    let forged = call(
        &t,
        Method::POST,
        "/auth/sign_in",
        &[],
        Some(&format!("csrf={pre}&login=alice&password=password123")),
    )
    .await;
    assert!(forged.cookie("guise_session").is_none());
    assert!(forged.body.contains("expired"), "{}", forged.body);
    let wrong = call(
        &t,
        Method::POST,
        "/auth/sign_in",
        &[("guise_csrf", &pre)],
        Some(&format!("csrf={pre}&login=alice&password=nope")),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.cookie("guise_session").is_none());
    assert!(wrong.body.contains("Invalid email, username or password."));

    let session = sign_in(&t).await;
    let home = get_as(&t, &session, "/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Post as"), "{}", home.body);
    assert!(home.body.contains("value=\"anonymous\""));
    assert!(home.body.contains("(@alice) — pseudonym"));
    assert!(home
        .body
        .contains("whoever later holds a copy of this server"));
    let csrf = home.field("csrf");

    // Without the session's CSRF token nothing is posted.
    let r = compose(&t, &session, "status=forged&csrf=00").await;
    assert_eq!(r.status, 403, "{}", r.body);
    let face = home.field("face");
    let r = compose(
        &t,
        &session,
        &format!(
            "csrf={csrf}&face={face}&visibility=public&status={}",
            enc("hello <script>alert(1)</script>")
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let shown = get_as(&t, &session, &to).await;
    assert!(shown.body.contains("Posted as alice"), "{}", shown.body);
    assert!(
        shown.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains("<script>"));

    // Anonymously: the post shows the anonymous face it went out as.
    let r = compose(
        &t,
        &session,
        &format!("csrf={csrf}&face=anonymous&visibility=public&status=a+secret"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let shown = get_as(&t, &session, &to).await;
    assert!(shown.body.contains("Posted as Anonymous"), "{}", shown.body);
    assert!(shown.body.contains("@anon_"), "{}", shown.body);
    let id = to.split('=').nth(1).unwrap();
    let public = t.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(public.json["account"]["display_name"], "Anonymous");
    // A refused post comes back with its text and the reason.
    let r = compose(
        &t,
        &session,
        &format!("csrf={csrf}&face=anonymous&visibility=private&status=just+followers"),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("role=\"alert\""));
    assert!(r.body.contains(">just followers</textarea>"), "{}", r.body);

    // Signing out revokes the session's token.
    let out = call(
        &t,
        Method::POST,
        "/auth/sign_out",
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.cookie("guise_session").unwrap().contains("Max-Age=0"));
    let after = get_as(&t, &session, "/").await;
    assert!(!after.body.contains("Post as"));
    let api = t
        .get("/api/v1/accounts/verify_credentials", Some(&session))
        .await;
    assert_eq!(api.status, 401);
}

#[actix_web::test]
async fn an_apps_token_is_no_web_session_and_sign_in_is_rate_limited() {
    let t = TestApp::with_env(&[("GUISE_SERVER__SIGN_IN_ATTEMPTS", "3")]).await;
    t.create_account("alice").await;
    // A token some app holds does not open the web face.
    let token = t.token_as("alice", "all", "read write").await;
    let page = call(&t, Method::GET, "/", &[("guise_session", &token)], None).await;
    assert!(!page.body.contains("Post as"));
    // The web sign-in counts against the same limits as OAuth.
    let form = call(&t, Method::GET, "/auth/sign_in", &[], None).await;
    let pre = value(&form.cookie("guise_csrf").unwrap());
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = call(
            &t,
            Method::POST,
            "/auth/sign_in",
            &[("guise_csrf", &pre)],
            Some(&format!("csrf={pre}&login=alice&password=wrong")),
        )
        .await;
        statuses.push(r.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Held back, even with the right password now.
    let r = call(
        &t,
        Method::POST,
        "/auth/sign_in",
        &[("guise_csrf", &pre)],
        Some(&format!("csrf={pre}&login=alice&password=password123")),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.cookie("guise_session").is_none());
}

#[actix_web::test]
async fn the_composer_speaks_chinese_when_asked() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let session = sign_in(&t).await;
    let zh = call_in(
        &t,
        Method::GET,
        "/",
        &[("guise_session", &session)],
        None,
        "zh-CN,zh;q=0.9",
    )
    .await;
    assert!(zh.body.contains("<html lang=\"zh-CN\">"), "{}", zh.body);
    assert!(zh.body.contains("<legend>发布身份</legend>"), "{}", zh.body);
    assert!(zh.body.contains("匿名"));
    assert!(zh.body.contains("退出登录"));
    // The language links keep a choice that outranks the browser's.
    let pick = call(&t, Method::GET, "/web/lang?to=en", &[], None).await;
    assert_eq!(pick.status, 303);
    let c = pick.cookie("guise_lang").unwrap();
    assert!(c.starts_with("guise_lang=en;"), "{c}");
    let en = call_in(
        &t,
        Method::GET,
        "/",
        &[("guise_session", session.as_str()), ("guise_lang", "en")],
        None,
        "zh-CN",
    )
    .await;
    assert!(en.body.contains("<legend>Post as</legend>"), "{}", en.body);
    assert!(en.body.contains("hreflang=\"zh-CN\""));
}

#[actix_web::test]
async fn a_thread_reply_keeps_its_anonymous_face_and_the_owner_sees_and_deletes_it() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let session = sign_in(&t).await;
    let home = get_as(&t, &session, "/").await;
    let csrf = home.field("csrf");
    let r = compose(
        &t,
        &session,
        &format!("csrf={csrf}&face=anonymous&visibility=public&status=who+am+i"),
    )
    .await;
    let to = r
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let root = to.split('=').nth(1).unwrap().to_owned();
    // bob answers the anonymous post.
    let anon_acct = t.get(&format!("/api/v1/statuses/{root}"), None).await.json["account"]["acct"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&bob),
            serde_json::json!({ "status": format!("@{anon_acct} nobody knows"), "in_reply_to_id": root }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bobs = r.json["id"].as_str().unwrap().to_owned();
    // The thread page's reply composer defaults to the face used there: Anonymous.
    let thread = get_as(&t, &session, &format!("/web/statuses/{bobs}")).await;
    assert_eq!(thread.status, 200, "{}", thread.body);
    assert!(
        thread.body.contains("value=\"anonymous\" checked"),
        "{}",
        thread.body
    );
    assert!(thread
        .body
        .contains(&format!("name=\"in_reply_to_id\" value=\"{bobs}\"")));
    let r = compose(
        &t,
        &session,
        &format!(
            "csrf={csrf}&face=anonymous&visibility=public&in_reply_to_id={bobs}&status=still+me"
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let reply = r
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned();
    let again = t.get(&format!("/api/v1/statuses/{reply}"), None).await;
    assert_eq!(
        again.json["account"]["acct"],
        serde_json::json!(anon_acct),
        "the same anonymous face"
    );
    // A thread of alice's pseudonym defaults to the pseudonym.
    let face = home.field("face");
    let r = compose(
        &t,
        &session,
        &format!("csrf={csrf}&face={face}&visibility=public&status=as+me"),
    )
    .await;
    let mine = r
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned();
    let thread = get_as(&t, &session, &format!("/web/statuses/{mine}")).await;
    assert!(
        thread.body.contains(&format!("value=\"{face}\" checked")),
        "{}",
        thread.body
    );

    // Notifications: bob's reply reached alice's anonymous face.
    let n = get_as(&t, &session, "/web/notifications").await;
    assert!(n.body.contains("bob mentioned you"), "{}", n.body);
    assert!(
        n.body.contains("your anonymous face in that thread"),
        "{}",
        n.body
    );

    // Her anonymous posts, and deleting one.
    let list = get_as(&t, &session, "/web/anonymous").await;
    assert!(
        list.body.contains("who am i") && list.body.contains("still me"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("as me"));
    let forged = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{root}/delete"),
        &[("guise_session", &session)],
        Some("csrf=00"),
    )
    .await;
    assert_eq!(forged.status, 403);
    let r = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{root}/delete"),
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{root}"), None)
            .await
            .status,
        404
    );
    let list = get_as(&t, &session, "/web/anonymous").await;
    assert!(!list.body.contains("who am i") && list.body.contains("still me"));
    // bob cannot delete alice's post through a session of his own making.
    let r = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{reply}/delete"),
        &[],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{reply}"), None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn the_faces_page_sets_who_may_reach_each_face_anonymously() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    let session = sign_in(&t).await;
    let page = get_as(&t, &session, "/web/faces").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("value=\"everyone\" checked"),
        "{}",
        page.body
    );
    let csrf = page.field("csrf");
    let r = call(
        &t,
        Method::POST,
        &format!("/web/faces/{face}/reach"),
        &[("guise_session", &session)],
        Some(&format!(
            "csrf={csrf}&anonymous_reach=nobody&hide_anonymous=true"
        )),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get_as(&t, &session, "/web/faces").await;
    assert!(
        page.body.contains("value=\"nobody\" checked"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("name=\"hide_anonymous\" value=\"true\" checked"));
    let forged = call(
        &t,
        Method::POST,
        &format!("/web/faces/{face}/reach"),
        &[("guise_session", &session)],
        Some("csrf=00&anonymous_reach=everyone"),
    )
    .await;
    assert_eq!(forged.status, 403);
    let page = get_as(&t, &session, "/web/faces").await;
    assert!(page.body.contains("value=\"nobody\" checked"));
}

#[actix_web::test]
async fn every_page_loads_in_well_under_100_kb() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let session = sign_in(&t).await;
    // What a first visit loads before images: the page and the stylesheet
    // (no scripts, no fonts).
    let css = call(&t, Method::GET, "/static/guise.css", &[], None).await;
    assert_eq!(css.status, 200);
    for path in [
        "/",
        "/web/notifications",
        "/web/anonymous",
        "/web/faces",
        "/web/timelines/local",
        "/web/timelines/federated",
        "/web/account",
        "/web/account/two_factor",
        "/web/search?q=alice",
        "/web/tags/engines",
    ] {
        let page = get_as(&t, &session, path).await;
        assert_eq!(page.status, 200, "{path}");
        let total = page.body.len() + css.body.len();
        assert!(total < 100 * 1024, "{path}: {total} bytes");
        assert!(!page.body.contains("<script"), "{path} has a script");
    }
    for path in [
        "/",
        "/auth/sign_in",
        "/about",
        "/@alice",
        "/auth/password/reset",
    ] {
        let page = call(&t, Method::GET, path, &[], None).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.body.len() + css.body.len() < 100 * 1024, "{path}");
        assert!(!page.body.contains("<script"), "{path} has a script");
    }
}

#[actix_web::test]
async fn posts_are_favourited_boosted_and_bookmarked_from_the_timelines() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let post = t
        .post_status(&bob, serde_json::json!({ "status": "like me" }))
        .await;
    let id = post["id"].as_str().unwrap().to_owned();
    let session = sign_in(&t).await;
    let local = get_as(&t, &session, "/web/timelines/local").await;
    assert_eq!(local.status, 200, "{}", local.body);
    assert!(local.body.contains("like me"));
    assert!(
        local
            .body
            .contains(&format!("action=\"/web/statuses/{id}/favourite\"")),
        "{}",
        local.body
    );
    let csrf = local.field("csrf");
    let act = |what: &str, back: &str| {
        let (t, session, id, csrf) = (&t, &session, &id, &csrf);
        let (what, back) = (what.to_owned(), back.to_owned());
        async move {
            call(
                t,
                Method::POST,
                &format!("/web/statuses/{id}/{what}"),
                &[("guise_session", session)],
                Some(&format!("csrf={csrf}&back={}", enc(&back))),
            )
            .await
        }
    };
    let r = act("favourite", "/web/timelines/local").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        "/web/timelines/local"
    );
    // Never back to another site.
    let r = act("bookmark", "//evil.example/").await;
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/");
    let r = act("reblog", "/").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let seen = t.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(seen.json["favourites_count"], 1);
    assert_eq!(seen.json["reblogs_count"], 1);
    let local = get_as(&t, &session, "/web/timelines/local").await;
    assert!(
        local
            .body
            .contains(&format!("action=\"/web/statuses/{id}/unfavourite\"")),
        "{}",
        local.body
    );
    assert!(local
        .body
        .contains(&format!("action=\"/web/statuses/{id}/unbookmark\"")));
    assert!(local.body.contains("aria-pressed=\"true\""));
    act("unfavourite", "/").await;
    act("unreblog", "/").await;
    act("unbookmark", "/").await;
    let seen = t.get(&format!("/api/v1/statuses/{id}"), None).await;
    assert_eq!(seen.json["favourites_count"], 0);
    assert_eq!(seen.json["reblogs_count"], 0);
    // Without the session's CSRF token, nothing happens.
    let forged = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{id}/favourite"),
        &[("guise_session", &session)],
        Some("csrf=00&back=/"),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{id}"), None).await.json["favourites_count"],
        0
    );
    let federated = get_as(&t, &session, "/web/timelines/federated").await;
    assert_eq!(federated.status, 200);
}

#[actix_web::test]
async fn the_account_page_changes_the_password_and_revokes_apps() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let app_token = t.token("alice", "read write").await;
    let other_app = t.token_as("alice", "all", "read").await;
    let session = sign_in(&t).await;
    let page = get_as(&t, &session, "/web/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("(this browser)"), "{}", page.body);
    assert_eq!(page.body.matches("/revoke\"").count(), 2, "{}", page.body);
    let csrf = page.field("csrf");
    // Revoke one app.
    let start = page.body.find("/web/account/apps/").unwrap() + "/web/account/apps/".len();
    let token_id = page.body[start..].split('/').next().unwrap().to_owned();
    let r = call(
        &t,
        Method::POST,
        &format!("/web/account/apps/{token_id}/revoke"),
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let alive = [
        t.get("/api/v1/accounts/verify_credentials", Some(&app_token))
            .await
            .status,
        t.get("/api/v1/accounts/verify_credentials", Some(&other_app))
            .await
            .status,
    ];
    assert_eq!(alive.iter().filter(|s| **s == 401).count(), 1, "{alive:?}");
    // A wrong current password changes nothing.
    let r = call(
        &t,
        Method::POST,
        "/web/account/password",
        &[("guise_session", &session)],
        Some(&format!(
            "csrf={csrf}&current_password=nope&password=another+long+one"
        )),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("role=\"status\""));
    // The right one: every token is signed out, this browser gets a new session.
    let r = call(
        &t,
        Method::POST,
        "/web/account/password",
        &[("guise_session", &session)],
        Some(&format!(
            "csrf={csrf}&current_password=password123&password=another+long+one"
        )),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let set = r
        .headers
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("guise_session="))
        .unwrap()
        .to_owned();
    let fresh = value(&set);
    assert_ne!(fresh, session);
    assert!(!get_as(&t, &session, "/").await.body.contains("Post as"));
    let page = get_as(&t, &fresh, "/web/account?changed=1").await;
    assert!(
        page.body.contains("Your password was changed"),
        "{}",
        page.body
    );
    for tok in [&app_token, &other_app] {
        assert_eq!(
            t.get("/api/v1/accounts/verify_credentials", Some(tok))
                .await
                .status,
            401
        );
    }
}

#[actix_web::test]
async fn pseudonyms_are_made_and_deleted_on_the_faces_page() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let session = sign_in(&t).await;
    let page = get_as(&t, &session, "/web/faces").await;
    assert!(
        !page.body.contains("Delete this face"),
        "the only face cannot go"
    );
    let csrf = page.field("csrf");
    let r = call(
        &t,
        Method::POST,
        "/web/faces/new",
        &[("guise_session", &session)],
        Some(&format!(
            "csrf={csrf}&kind=pseudonym&handle=nightowl&display_name=Night+Owl"
        )),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get_as(&t, &session, "/web/faces").await;
    assert!(
        page.body.contains("Night Owl (@nightowl) — pseudonym"),
        "{}",
        page.body
    );
    assert_eq!(page.body.matches("Delete this face").count(), 2);
    // The composer offers it.
    let home = get_as(&t, &session, "/").await;
    assert!(home.body.contains("Night Owl (@nightowl)"));
    // A taken handle is refused, saying so.
    let r = call(
        &t,
        Method::POST,
        "/web/faces/new",
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}&kind=pseudonym&handle=nightowl")),
    )
    .await;
    assert_ne!(r.status, 303);
    assert!(r.body.contains("role=\"alert\""));
    let owl = t
        .get("/api/v1/accounts/lookup?acct=nightowl", None)
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &t,
        Method::POST,
        &format!("/web/faces/{owl}/delete"),
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get_as(&t, &session, "/web/faces").await;
    assert!(!page.body.contains("@nightowl"));
}

#[actix_web::test]
async fn a_profile_follows_mutes_and_blocks() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    t.post_status(&bob, serde_json::json!({ "status": "bob speaks" }))
        .await;
    let session = sign_in(&t).await;
    let home = get_as(&t, &session, "/web/timelines/local").await;
    assert!(
        home.body
            .contains(&format!("href=\"/web/accounts/{bob_id}\"")),
        "names link to profiles"
    );
    let page = get_as(&t, &session, &format!("/web/accounts/{bob_id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("bob speaks") && page.body.contains("@bob"));
    let csrf = page.field("csrf");
    let act = |what: &str| {
        let (t, session, csrf, bob_id) = (&t, &session, &csrf, &bob_id);
        let what = what.to_owned();
        async move {
            call(
                t,
                Method::POST,
                &format!("/web/accounts/{bob_id}/{what}"),
                &[("guise_session", session)],
                Some(&format!("csrf={csrf}")),
            )
            .await
        }
    };
    assert_eq!(act("follow").await.status, 303);
    let page = get_as(&t, &session, &format!("/web/accounts/{bob_id}")).await;
    assert!(
        page.body
            .contains(&format!("/web/accounts/{bob_id}/unfollow")),
        "{}",
        page.body
    );
    let followers = t
        .get(&format!("/api/v1/accounts/{bob_id}/followers"), None)
        .await;
    assert_eq!(followers.json.as_array().unwrap().len(), 1);
    act("unfollow").await;
    act("mute").await;
    act("block").await;
    let page = get_as(&t, &session, &format!("/web/accounts/{bob_id}")).await;
    assert!(page
        .body
        .contains(&format!("/web/accounts/{bob_id}/unmute")));
    assert!(page
        .body
        .contains(&format!("/web/accounts/{bob_id}/unblock")));
    act("unblock").await;
    act("unmute").await;
    // An anonymous face has no follow button.
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let s = t
        .post_status(&anon, serde_json::json!({ "status": "masked" }))
        .await;
    let masked = s["account"]["id"].as_str().unwrap();
    let page = get_as(&t, &session, &format!("/web/accounts/{masked}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("/follow\""), "{}", page.body);
    assert!(page.body.contains("/mute\""));
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_with_the_recovery_code_keeping_anonymous_posts() {
    let t = TestApp::new().await;
    let (_, _, code) = t.create_account_with_recovery("alice").await;
    let anon = t.token_as("alice", "anonymous", "read write").await;
    t.post_status(&anon, serde_json::json!({ "status": "still mine later" }))
        .await;
    let form = call(&t, Method::GET, "/auth/recover", &[], None).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("the tie to your anonymous posts is lost"),
        "says it before anything happens"
    );
    let pre = value(&form.cookie("guise_csrf").unwrap());
    let cookie = [("guise_csrf", pre.as_str())];
    let wrong = call(
        &t,
        Method::POST,
        "/auth/recover",
        &cookie,
        Some(&format!(
            "csrf={pre}&login=alice&recovery_code=nope&password=a+brand+new+one"
        )),
    )
    .await;
    assert_ne!(wrong.status, 200);
    assert!(wrong.body.contains("role=\"alert\""));
    let r = call(
        &t,
        Method::POST,
        "/auth/recover",
        &cookie,
        Some(&format!(
            "csrf={pre}&login=alice&recovery_code={}&password=a+brand+new+one",
            enc(&code)
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let start = r.body.find("<code id=\"recovery\">").unwrap() + "<code id=\"recovery\">".len();
    let next = &r.body[start..start + r.body[start..].find('<').unwrap()];
    assert_ne!(next, code);
    // The old code is spent; the new password signs in and the anonymous post is still hers.
    let again = call(
        &t,
        Method::POST,
        "/auth/recover",
        &cookie,
        Some(&format!(
            "csrf={pre}&login=alice&recovery_code={}&password=yet+another+one",
            enc(&code)
        )),
    )
    .await;
    assert_ne!(again.status, 200);
    let done = call(
        &t,
        Method::POST,
        "/auth/sign_in",
        &cookie,
        Some(&format!("csrf={pre}&login=alice&password=a+brand+new+one")),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let session = value(&done.cookie("guise_session").unwrap());
    let mine = get_as(&t, &session, "/web/anonymous").await;
    assert!(mine.body.contains("still mine later"), "{}", mine.body);
}

#[actix_web::test]
async fn a_post_is_reported_from_the_web() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let post = t
        .post_status(&bob, serde_json::json!({ "status": "buy now" }))
        .await;
    let id = post["id"].as_str().unwrap().to_owned();
    let session = sign_in(&t).await;
    let local = get_as(&t, &session, "/web/timelines/local").await;
    assert!(local
        .body
        .contains(&format!("href=\"/web/statuses/{id}/report\"")));
    let form = get_as(&t, &session, &format!("/web/statuses/{id}/report")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("nobody, moderators included"));
    let csrf = form.field("csrf");
    let r = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{id}/report"),
        &[("guise_session", &session)],
        Some(&format!("csrf={csrf}&category=spam&comment=ads")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("the moderators will look at it"));
    assert_eq!(t.row_counts().await["reports"], 1);
    let forged = call(
        &t,
        Method::POST,
        &format!("/web/statuses/{id}/report"),
        &[("guise_session", &session)],
        Some("csrf=00&category=spam"),
    )
    .await;
    assert_eq!(forged.status, 403);
    assert_eq!(t.row_counts().await["reports"], 1);
}

/// POSTs a form with cookies.
async fn post_form(t: &TestApp, path: &str, cookies: &[(&str, &str)], form: &str) -> Page {
    call(t, Method::POST, path, cookies, Some(form)).await
}

/// The code an authenticator app shows for `secret`, `steps` from now.
fn totp(t: &TestApp, secret: &[u8], steps: i64) -> String {
    use guise_core::Clock;
    let step = guise_core::otp::step_of(t.clock.now().timestamp()) + steps;
    format!("{:06}", guise_core::otp::code_at(secret, step))
}

/// Two-factor sign-in, turned on from the account page, guards every door
/// a password opens — the web sign-in, the OAuth authorize page and the
/// password grant — with TOTP codes (each taken once) and one-time
/// recovery codes; signing in with either writes no row of the login's.
#[actix_web::test]
async fn two_factor_sign_in_guards_every_door() {
    let t = TestApp::new().await;
    let (account, _) = t.create_account("alice").await;
    let session = sign_in(&t).await;
    let cookies = [("guise_session", session.as_str())];
    let shown = get_as(&t, &session, "/web/account").await;
    assert!(
        shown.body.contains("Two-factor sign-in is off"),
        "{}",
        shown.body
    );
    let setup = get_as(&t, &session, "/web/account/two_factor").await;
    assert_eq!(setup.status, 200);
    assert!(setup.body.contains("otpauth://totp/"), "{}", setup.body);
    let (csrf, secret_text) = (setup.field("csrf"), setup.field("secret"));
    let secret = guise_core::otp::from_base32(&secret_text).unwrap();
    // A wrong first code turns nothing on.
    let wrong = format!(
        "{:06}",
        (totp(&t, &secret, 0).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let refused = post_form(
        &t,
        "/web/account/two_factor",
        &cookies,
        &format!("csrf={csrf}&secret={secret_text}&otp={wrong}"),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let on = post_form(
        &t,
        "/web/account/two_factor",
        &cookies,
        &format!(
            "csrf={csrf}&secret={secret_text}&otp={}",
            totp(&t, &secret, 0)
        ),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.body);
    let codes: Vec<String> = on
        .body
        .split("<li><code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "{}", on.body);
    assert!(get_as(&t, &session, "/web/account")
        .await
        .body
        .contains("Two-factor sign-in is on"));

    // The password grant.
    let (client, secret_c) = t.register_app("read").await;
    let grant = |otp: Option<String>| {
        let mut body = serde_json::json!({ "grant_type": "password", "client_id": client, "client_secret": secret_c,
            "username": "alice", "password": "password123", "scope": "read" });
        if let Some(o) = otp {
            body["otp"] = o.into();
        }
        t.post("/oauth/token", None, body)
    };
    let r = grant(None).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("Two-factor"), "{}", r.text);
    assert_eq!(grant(Some(wrong.clone())).await.status, 400);
    t.clock.advance(chrono::Duration::seconds(30));
    let code = totp(&t, &secret, 0);
    assert_eq!(grant(Some(code.clone())).await.status, 200);
    let again = grant(Some(code)).await;
    assert_eq!(again.status, 400, "a code is taken once");
    // A recovery code, once; and signing in with it touches no row of the login's.
    let xmin = || async {
        let mut conn = t.state.db.conn().await.unwrap();
        #[derive(diesel::QueryableByName)]
        struct X {
            #[diesel(sql_type = diesel::sql_types::Text)]
            x: String,
        }
        use diesel_async::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT xmin::text AS x FROM accounts WHERE id = {account}"
        ))
        .get_result::<X>(&mut conn)
        .await
        .unwrap()
        .x
    };
    let before = xmin().await;
    assert_eq!(grant(Some(codes[0].to_uppercase())).await.status, 200);
    assert_eq!(xmin().await, before);
    assert_eq!(
        grant(Some(codes[0].clone())).await.status,
        400,
        "a recovery code is used up"
    );

    // The OAuth authorize page.
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri=urn:ietf:wg:oauth:2.0:oob&scope=read"
    );
    let page = t.get(&format!("/oauth/authorize?{q}"), None).await;
    assert!(page.text.contains("name=\"otp\""), "{}", page.text);
    let asked = t
        .form(
            "/oauth/authorize",
            None,
            &format!("{q}&login=alice&password=password123"),
        )
        .await;
    assert!(
        asked.text.contains("two-factor sign-in on") && !asked.text.contains("name=\"pending\""),
        "{}",
        asked.text
    );
    t.clock.advance(chrono::Duration::seconds(30));
    let passed = t
        .form(
            "/oauth/authorize",
            None,
            &format!(
                "{q}&login=alice&password=password123&otp={}",
                totp(&t, &secret, 0)
            ),
        )
        .await;
    assert!(passed.text.contains("name=\"pending\""), "{}", passed.text);

    // The web sign-in.
    let form = call(&t, Method::GET, "/auth/sign_in", &[], None).await;
    assert!(form.body.contains("name=\"otp\""));
    let pre = value(&form.cookie("guise_csrf").unwrap());
    let without = post_form(
        &t,
        "/auth/sign_in",
        &[("guise_csrf", &pre)],
        &format!("csrf={pre}&login=alice&password=password123"),
    )
    .await;
    assert_eq!(without.status, 401);
    assert!(
        without.body.contains("two-factor sign-in on") && without.cookie("guise_session").is_none()
    );
    t.clock.advance(chrono::Duration::seconds(30));
    let with = post_form(
        &t,
        "/auth/sign_in",
        &[("guise_csrf", &pre)],
        &format!(
            "csrf={pre}&login=alice&password=password123&otp={}",
            totp(&t, &secret, 0)
        ),
    )
    .await;
    assert_eq!(with.status, 303, "{}", with.body);
    let second = value(&with.cookie("guise_session").unwrap());

    // New recovery codes void the old; turning it off needs password and code.
    let acct = get_as(&t, &second, "/web/account").await;
    let csrf2 = acct.field("csrf");
    let c2 = [("guise_session", second.as_str())];
    t.clock.advance(chrono::Duration::seconds(30));
    let fresh = post_form(
        &t,
        "/web/account/two_factor/codes",
        &c2,
        &format!("csrf={csrf2}&otp={}", totp(&t, &secret, 0)),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(
        grant(Some(codes[1].clone())).await.status,
        400,
        "old codes are void"
    );
    t.clock.advance(chrono::Duration::seconds(30));
    let bad_off = post_form(
        &t,
        "/web/account/two_factor/off",
        &c2,
        &format!(
            "csrf={csrf2}&password=wrong-password&otp={}",
            totp(&t, &secret, 0)
        ),
    )
    .await;
    assert_eq!(bad_off.status, 401);
    let off = post_form(
        &t,
        "/web/account/two_factor/off",
        &c2,
        &format!(
            "csrf={csrf2}&password=password123&otp={}",
            totp(&t, &secret, 1)
        ),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert!(off.body.contains("Two-factor sign-in is off"));
    assert_eq!(grant(None).await.status, 200);
}

/// Staff may use the admin API only with two-factor sign-in on (when the
/// instance says so, as it does by default).
#[actix_web::test]
async fn staff_need_two_factor_for_the_admin_api() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__STAFF_TWO_FACTOR", "true")]).await;
    let mut conn = t.state.db.conn().await.unwrap();
    let (admin, _, _) = guise_core::accounts::create_account(
        &mut conn,
        t.clock.as_ref(),
        &guise_core::accounts::Username::parse("root").unwrap(),
        &guise_core::accounts::Email::parse("root@mail.test").unwrap(),
        "password123",
        guise_core::accounts::Role::Admin,
    )
    .await
    .unwrap();
    let token = t.token("root", "read write admin:read admin:write").await;
    let r = t.get("/api/v1/admin/guise/real_names", Some(&token)).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("two-factor"), "{}", r.text);
    use guise_core::Clock;
    let secret = guise_core::otp::new_secret();
    let code = format!(
        "{:06}",
        guise_core::otp::code_at(&secret, guise_core::otp::step_of(t.clock.now().timestamp()))
    );
    guise_core::otp::enable(
        &mut conn,
        admin.id,
        &secret,
        &code,
        t.clock.now().timestamp(),
    )
    .await
    .unwrap();
    let r = t.get("/api/v1/admin/guise/real_names", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Search finds faces, hashtags and a post by its link, each leading to
/// this site's page for it; a hashtag's page lists its posts.
#[actix_web::test]
async fn search_finds_faces_hashtags_and_posts() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (bob_id, bob) = t.user("bob").await;
    let post = t
        .post_status(
            &bob,
            serde_json::json!({ "status": "about #Engines today", "visibility": "public" }),
        )
        .await;
    let session = sign_in(&t).await;
    let out = call(&t, Method::GET, "/web/search?q=bob", &[], None).await;
    assert_eq!(out.status, 303, "signed out: to the sign-in page");
    let faces = get_as(&t, &session, "/web/search?q=bob").await;
    assert_eq!(faces.status, 200);
    assert!(
        faces
            .body
            .contains(&format!("href=\"/web/accounts/{bob_id}\"")),
        "{}",
        faces.body
    );
    assert!(faces.body.contains("role=\"search\""));
    let tags = get_as(&t, &session, "/web/search?q=%23engi").await;
    assert!(
        tags.body.contains("href=\"/web/tags/engines\""),
        "{}",
        tags.body
    );
    let by_link = get_as(
        &t,
        &session,
        &format!("/web/search?q={}", enc(post["url"].as_str().unwrap())),
    )
    .await;
    assert!(by_link.body.contains("about"), "{}", by_link.body);
    assert!(by_link
        .body
        .contains(&format!("/web/statuses/{}", post["id"].as_str().unwrap())));
    let none = get_as(&t, &session, "/web/search?q=zzzz").await;
    assert!(none.body.contains("Nothing found."));
    let tag_page = get_as(&t, &session, "/web/tags/engines").await;
    assert_eq!(tag_page.status, 200);
    assert!(
        tag_page.body.contains("Posts tagged #engines") && tag_page.body.contains("about"),
        "{}",
        tag_page.body
    );
}

/// A face's profile is edited from the faces page (name, about, fields,
/// locked, discoverable), and the login deleted from the account page —
/// only with its password and the confirmation, explaining the spread of
/// the anonymous deletions first; the browser is signed out.
#[actix_web::test]
async fn faces_are_edited_and_the_login_deleted_on_the_web() {
    let t = TestApp::new().await;
    let (_, face) = t.create_account("alice").await;
    let session = sign_in(&t).await;
    let cookies = [("guise_session", session.as_str())];
    let faces = get_as(&t, &session, "/web/faces").await;
    assert!(
        faces
            .body
            .contains(&format!("action=\"/web/faces/{face}/profile\"")),
        "{}",
        faces.body
    );
    let csrf = faces.field("csrf");
    let saved = post_form(
        &t,
        &format!("/web/faces/{face}/profile"),
        &cookies,
        &format!(
            "csrf={csrf}&display_name=Alice+A.&note=Writes+about+engines&field_name_0=Site&field_value_0=https%3A%2F%2Falice.example&field_name_1=&field_value_1=&locked=true&discoverable=true"
        ),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shown = t.get(&format!("/api/v1/accounts/{face}"), None).await.json;
    assert_eq!(shown["display_name"], "Alice A.");
    assert!(shown["note"]
        .as_str()
        .unwrap()
        .contains("Writes about engines"));
    assert_eq!(shown["fields"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown["fields"][0]["name"], "Site");
    assert_eq!(
        (shown["locked"].clone(), shown["discoverable"].clone()),
        (true.into(), true.into())
    );
    // Without the CSRF value nothing changes.
    let forged = post_form(
        &t,
        &format!("/web/faces/{face}/profile"),
        &cookies,
        "display_name=Mallory",
    )
    .await;
    assert_eq!(forged.status, 403);

    let account = get_as(&t, &session, "/web/account").await;
    assert!(
        account
            .body
            .contains("one by one at random times within 24 hours"),
        "{}",
        account.body
    );
    let unconfirmed = post_form(
        &t,
        "/web/account/delete",
        &cookies,
        &format!("csrf={csrf}&password=password123"),
    )
    .await;
    assert_eq!(unconfirmed.status, 422);
    let wrong = post_form(
        &t,
        "/web/account/delete",
        &cookies,
        &format!("csrf={csrf}&password=nope&confirm=yes"),
    )
    .await;
    assert_ne!(wrong.status, 200);
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{face}"), None)
            .await
            .status,
        200
    );
    let gone = post_form(
        &t,
        "/web/account/delete",
        &cookies,
        &format!("csrf={csrf}&password=password123&confirm=yes"),
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert!(gone.body.contains("Login deleted"));
    assert!(gone.cookie("guise_session").unwrap().contains("Max-Age=0"));
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{face}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        get_as(&t, &session, "/web/account").await.status,
        303,
        "the session is gone too"
    );
}

/// A web page on 127.0.0.1 answering every GET with `body` (HTML).
async fn web_page(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://127.0.0.1:{port}/me")
}

/// The public pages a browser gets at a face's and a post's URLs carry
/// OpenGraph tags; a face's page links its own sites with rel="me" (and
/// those that link back are verified), never another face of its login;
/// anonymous pages ask not to be indexed; the about page states the
/// instance's offer and promises from its settings.
#[actix_web::test]
async fn public_pages_carry_open_graph_and_rel_me_both_ways() {
    let t = TestApp::with_env(&[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")]).await;
    let (alice_face, alice) = t.user("alice").await;
    let other = t
        .post(
            "/api/v1/guise/faces",
            Some(&t.token_as("alice", "all", "read write").await),
            serde_json::json!({ "handle": "quietfox", "display_name": "Quiet Fox" }),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    let site =
        web_page("<html><a rel=\"me\" href=\"https://guise.test/@alice\">me</a></html>".into())
            .await;
    let elsewhere = web_page("<html>no link back</html>".into()).await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(common::Body::Json(serde_json::json!({
                "note": "Writes about engines",
                "fields_attributes": { "0": { "name": "Site", "value": site }, "1": { "name": "Other", "value": elsewhere } }
            }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let post = t
        .post_status(
            &alice,
            serde_json::json!({ "status": "engines, engines", "visibility": "public" }),
        )
        .await;
    let mut fields = serde_json::Value::Null;
    for _ in 0..100 {
        fields = t
            .get(&format!("/api/v1/accounts/{alice_face}"), None)
            .await
            .json["fields"]
            .clone();
        if fields[0]["verified_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(fields[0]["verified_at"].is_string(), "{fields}");
    assert!(fields[1]["verified_at"].is_null(), "{fields}");

    let face_page = call(&t, Method::GET, "/@alice", &[], None).await;
    assert_eq!(face_page.status, 200);
    let b = &face_page.body;
    assert!(
        b.contains("property=\"og:title\"") && b.contains("content=\"https://guise.test/@alice\""),
        "{b}"
    );
    assert!(b.contains("content=\"Writes about engines\""), "{b}");
    assert!(
        b.contains(&format!("<link rel=\"me\" href=\"{site}\">")),
        "{b}"
    );
    assert!(b.contains("engines, engines"));
    assert!(
        !b.contains("quietfox") && !b.contains("Quiet Fox"),
        "no other face of the login"
    );
    assert!(!b.contains("noindex"));
    let same = call(&t, Method::GET, "/users/alice", &[], None).await;
    assert_eq!(same.status, 200);
    assert!(same.body.contains("property=\"og:title\""));
    let post_page = call(
        &t,
        Method::GET,
        &format!("/@alice/{}", post["id"].as_str().unwrap()),
        &[],
        None,
    )
    .await;
    assert_eq!(post_page.status, 200);
    assert!(
        post_page.body.contains("content=\"article\"")
            && post_page.body.contains("content=\"engines, engines\""),
        "{}",
        post_page.body
    );

    let anon = t.token_as("alice", "anonymous", "read write").await;
    let a = t
        .post_status(
            &anon,
            serde_json::json!({ "status": "quietly", "visibility": "public" }),
        )
        .await;
    let anon_url = a["account"]["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("https://guise.test")
        .to_owned();
    let anon_page = call(&t, Method::GET, &anon_url, &[], None).await;
    assert_eq!(anon_page.status, 200, "{anon_url}");
    assert!(
        anon_page.body.contains("noindex") && anon_page.body.contains("Anonymous"),
        "{}",
        anon_page.body
    );
    assert!(!anon_page.body.contains("alice"), "{}", anon_page.body);

    let about = call(&t, Method::GET, "/about", &[], None).await;
    assert_eq!(about.status, 200);
    assert!(
        about.body.contains("About Guise")
            && about
                .body
                .contains("Offered: real name, pseudonym, anonymous."),
        "{}",
        about.body
    );
    assert!(
        about.body.contains("one anonymous face per thread"),
        "{}",
        about.body
    );
    assert!(
        about
            .body
            .contains("at most 30 anonymous posts every 60 minutes"),
        "{}",
        about.body
    );
    assert!(about.body.contains("has not published rules"));
}

/// Signs `login` in through the form; the session cookie's value.
async fn sign_in_as(t: &TestApp, login: &str) -> String {
    let form = call(t, Method::GET, "/auth/sign_in", &[], None).await;
    let pre = value(&form.cookie("guise_csrf").unwrap());
    let done = post_form(
        t,
        "/auth/sign_in",
        &[("guise_csrf", &pre)],
        &format!("csrf={pre}&login={login}&password=password123"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    value(&done.cookie("guise_session").unwrap())
}

/// A poll made in the composer (choices, how long, one or several), voted
/// in from a timeline by another login, its counts shown after.
#[actix_web::test]
async fn polls_are_made_in_the_composer_and_voted_in_on_the_web() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    t.create_account("bob").await;
    let alice = sign_in(&t).await;
    let home = get_as(&t, &alice, "/").await;
    assert!(home.body.contains("name=\"poll_0\"") && home.body.contains("Add a poll"));
    let csrf = home.field("csrf");
    let one = compose(&t, &alice, &format!("csrf={csrf}&status=Which+engine%3F&visibility=public&poll_0=Steam&poll_1=&poll_expires_in=3600")).await;
    assert_eq!(one.status, 422, "one choice is not a poll: {}", one.body);
    assert!(
        one.body.contains("value=\"Steam\""),
        "the form comes back filled"
    );
    let made = compose(&t, &alice, &format!("csrf={csrf}&status=Which+engine%3F&visibility=public&poll_0=Steam&poll_1=Diesel&poll_2=Electric&poll_expires_in=3600")).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id = made
        .headers
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("/?posted=")
        .to_owned();
    let api = t.get(&format!("/api/v1/statuses/{id}"), None).await.json;
    assert_eq!(api["poll"]["options"].as_array().unwrap().len(), 3, "{api}");
    assert_eq!(api["poll"]["multiple"], false);

    let bob = sign_in_as(&t, "bob").await;
    let local = get_as(&t, &bob, "/web/timelines/local").await;
    assert!(
        local
            .body
            .contains(&format!("action=\"/web/statuses/{id}/vote\"")),
        "{}",
        local.body
    );
    let bob_csrf = local.field("csrf");
    let voted = post_form(
        &t,
        &format!("/web/statuses/{id}/vote"),
        &[("guise_session", &bob)],
        &format!("csrf={bob_csrf}&back=%2Fweb%2Ftimelines%2Flocal&choice=1"),
    )
    .await;
    assert_eq!(voted.status, 303, "{}", voted.body);
    let after = get_as(&t, &bob, "/web/timelines/local").await;
    assert!(
        !after
            .body
            .contains(&format!("action=\"/web/statuses/{id}/vote\"")),
        "voted: the counts, not the form"
    );
    assert!(
        after.body.contains("Diesel — 1") && after.body.contains("1 votes"),
        "{}",
        after.body
    );
    let api = t.get(&format!("/api/v1/statuses/{id}"), None).await.json;
    assert_eq!(api["poll"]["options"][1]["votes_count"], 1);
    // Without the CSRF value no vote counts.
    let forged = post_form(
        &t,
        &format!("/web/statuses/{id}/vote"),
        &[("guise_session", &alice)],
        "choice=0",
    )
    .await;
    assert_eq!(forged.status, 403);
}

/// One's anonymous posts are edited from "My anonymous posts" (found with
/// the session's key); nobody else can open them for editing.
#[actix_web::test]
async fn anonymous_posts_are_edited_by_their_owner_only() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    t.create_account("bob").await;
    let alice = sign_in(&t).await;
    let csrf = get_as(&t, &alice, "/").await.field("csrf");
    let posted = compose(
        &t,
        &alice,
        &format!("csrf={csrf}&status=first+words&face=anonymous&visibility=public"),
    )
    .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    let id = posted
        .headers
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("/?posted=")
        .to_owned();
    let mine = get_as(&t, &alice, "/web/anonymous").await;
    assert!(
        mine.body
            .contains(&format!("href=\"/web/statuses/{id}/edit\"")),
        "{}",
        mine.body
    );
    let form = get_as(&t, &alice, &format!("/web/statuses/{id}/edit")).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(">first words</textarea>"),
        "{}",
        form.body
    );
    let bob = sign_in_as(&t, "bob").await;
    assert_ne!(
        get_as(&t, &bob, &format!("/web/statuses/{id}/edit"))
            .await
            .status,
        200
    );
    let bob_csrf = get_as(&t, &bob, "/").await.field("csrf");
    let stolen = post_form(
        &t,
        &format!("/web/statuses/{id}/edit"),
        &[("guise_session", &bob)],
        &format!("csrf={bob_csrf}&status=not+yours"),
    )
    .await;
    assert_ne!(stolen.status, 303);
    let saved = post_form(
        &t,
        &format!("/web/statuses/{id}/edit"),
        &[("guise_session", &alice)],
        &format!("csrf={csrf}&status=better+words"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let api = t.get(&format!("/api/v1/statuses/{id}"), None).await.json;
    assert!(
        api["content"].as_str().unwrap().contains("better words"),
        "{api}"
    );
    assert!(api["edited_at"].is_string());
    assert_eq!(api["account"]["display_name"], "Anonymous");
}

/// The export holds the login and its persistent faces with their posts
/// and relations — and none of its anonymous posts.
#[actix_web::test]
async fn the_export_holds_persistent_faces_only() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (bob_id, _) = t.user("bob").await;
    let alice = sign_in(&t).await;
    let csrf = get_as(&t, &alice, "/").await.field("csrf");
    for form in [
        "status=in+the+open&visibility=public".to_owned(),
        "status=a+secret+thought&face=anonymous&visibility=public".to_owned(),
        "status=for+friends&visibility=private".to_owned(),
    ] {
        let r = compose(&t, &alice, &format!("csrf={csrf}&{form}")).await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let token = t.token_as("alice", "all", "read write follow").await;
    t.post(
        &format!("/api/v1/accounts/{bob_id}/follow"),
        Some(&token),
        serde_json::json!({}),
    )
    .await;
    let account = get_as(&t, &alice, "/web/account").await;
    assert!(account.body.contains("href=\"/web/account/export\""));
    let export = get_as(&t, &alice, "/web/account/export").await;
    assert_eq!(export.status, 200);
    assert!(export
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"guise-export-"));
    let doc: serde_json::Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(doc["login"]["email"], "alice@mail.test");
    let face = &doc["faces"][0];
    assert_eq!(face["handle"], "alice");
    let texts: Vec<&str> = face["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"in the open") && texts.contains(&"for friends"),
        "{texts:?}"
    );
    assert!(
        !export.body.contains("a secret thought"),
        "no anonymous post in the export"
    );
    assert_eq!(face["relations"]["following"], serde_json::json!(["bob"]));
    assert_eq!(
        call(&t, Method::GET, "/web/account/export", &[], None)
            .await
            .status,
        303
    );
}

/// The browser chooses which of its persistent faces acts (favourites and
/// the rest, the home timeline, the composer's default); a face that is
/// not the login's is never taken, by form or by cookie.
#[actix_web::test]
async fn the_acting_face_is_chosen_and_checked() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    let other = t
        .post(
            "/api/v1/guise/faces",
            Some(&t.token_as("alice", "all", "read write").await),
            serde_json::json!({ "handle": "quietfox" }),
        )
        .await;
    let fox = other.json["id"].as_str().unwrap().to_owned();
    let post = t
        .post_status(
            &bob,
            serde_json::json!({ "status": "hello", "visibility": "public" }),
        )
        .await;
    let pid = post["id"].as_str().unwrap();
    let alice = sign_in(&t).await;
    let home = get_as(&t, &alice, "/").await;
    assert!(
        home.body.contains("action=\"/web/acting\""),
        "{}",
        home.body
    );
    let csrf = home.field("csrf");
    let cookies = [("guise_session", alice.as_str())];
    let not_hers = post_form(
        &t,
        "/web/acting",
        &cookies,
        &format!("csrf={csrf}&face={bob_face}"),
    )
    .await;
    assert_eq!(not_hers.status, 404);
    let chose = post_form(
        &t,
        "/web/acting",
        &cookies,
        &format!("csrf={csrf}&face={fox}"),
    )
    .await;
    assert_eq!(chose.status, 303);
    let acting = value(&chose.cookie("guise_face").unwrap());
    assert_eq!(acting, fox);
    let as_fox = [
        ("guise_session", alice.as_str()),
        ("guise_face", acting.as_str()),
    ];
    let faved = post_form(
        &t,
        &format!("/web/statuses/{pid}/favourite"),
        &as_fox,
        &format!("csrf={csrf}&back=%2F"),
    )
    .await;
    assert_eq!(faved.status, 303, "{}", faved.body);
    let by = t
        .get(&format!("/api/v1/statuses/{pid}/favourited_by"), None)
        .await
        .json;
    assert_eq!(by[0]["acct"], "quietfox", "{by}");
    let page = call(&t, Method::GET, "/", &as_fox, None).await;
    assert!(
        page.body
            .contains(&format!("<option value=\"{fox}\" selected")),
        "{}",
        page.body
    );
    // A cookie naming someone else's face changes nothing: the first face acts.
    let forged = [
        ("guise_session", alice.as_str()),
        ("guise_face", bob_face.as_str()),
    ];
    let again = post_form(
        &t,
        &format!("/web/statuses/{pid}/reblog"),
        &forged,
        &format!("csrf={csrf}&back=%2F"),
    )
    .await;
    assert_eq!(again.status, 303);
    let boosted = t
        .get(&format!("/api/v1/statuses/{pid}/reblogged_by"), None)
        .await
        .json;
    assert_eq!(boosted[0]["acct"], "alice", "{boosted}");
}

/// The staff page: staff only (and with two-factor sign-in when the
/// instance requires it); real names verified, a report's post deleted and
/// its face suspended and unsuspended, the report closed.
#[actix_web::test]
async fn staff_moderate_from_the_web() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__STAFF_TWO_FACTOR", "true")]).await;
    {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::accounts::create_account(
            &mut conn,
            t.clock.as_ref(),
            &guise_core::accounts::Username::parse("mod").unwrap(),
            &guise_core::accounts::Email::parse("mod@mail.test").unwrap(),
            "password123",
            guise_core::accounts::Role::Moderator,
        )
        .await
        .unwrap();
    }
    t.create_account("alice").await;
    let (waiter, waiter_face) = t.create_account("waiter").await;
    let (_, spammer_face) = t.create_account("spammer").await;
    t.sql(&format!(
        "UPDATE accounts SET approved = false, \
         sign_up_reason = CASE WHEN id = {waiter} THEN 'let me in please' END \
         WHERE email IN ('waiter@mail.test', 'spammer@mail.test')"
    ))
    .await;
    let (troll_face, troll) = t.user("troll").await;
    let bad = t
        .post_status(
            &troll,
            serde_json::json!({ "status": "something nasty", "visibility": "public" }),
        )
        .await;
    let alice_token = t.token("alice", "read write").await;
    let r = t
        .post(
            "/api/v1/reports",
            Some(&alice_token),
            serde_json::json!({ "account_id": troll_face, "status_ids": [bad["id"]], "comment": "please look", "category": "violation" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let all = t.token_as("alice", "all", "read write").await;
    let asked = t
        .post(
            "/api/v1/guise/faces/real_name",
            Some(&all),
            serde_json::json!({ "handle": "alice_real", "display_name": "Alice Liddell" }),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.text);

    // Not staff: refused.
    let alice = sign_in(&t).await;
    assert_eq!(get_as(&t, &alice, "/web/staff").await.status, 403);
    // Staff without two-factor sign-in: refused, saying why.
    let moderator = sign_in_as(&t, "mod").await;
    let refused = get_as(&t, &moderator, "/web/staff").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("two-factor"), "{}", refused.body);
    {
        use guise_core::Clock;
        let mut conn = t.state.db.conn().await.unwrap();
        let secret = guise_core::otp::new_secret();
        let now = t.clock.now().timestamp();
        let code = format!(
            "{:06}",
            guise_core::otp::code_at(&secret, guise_core::otp::step_of(now))
        );
        let account = guise_core::accounts::authenticate(&mut conn, "mod", "password123")
            .await
            .unwrap()
            .unwrap();
        guise_core::otp::enable(&mut conn, account.id, &secret, &code, now)
            .await
            .unwrap();
    }
    let staff = get_as(&t, &moderator, "/web/staff").await;
    assert_eq!(staff.status, 200, "{}", staff.body);
    assert!(
        staff.body.contains("Alice Liddell")
            && staff.body.contains("something nasty")
            && staff.body.contains("please look"),
        "{}",
        staff.body
    );
    let csrf = staff.field("csrf");
    let c = [("guise_session", moderator.as_str())];
    // Sign-ups waiting for approval: approved or rejected here.
    assert!(
        staff.body.contains("let me in please")
            && staff
                .body
                .contains(&format!("/web/staff/sign_ups/{waiter_face}/approve"))
            && staff
                .body
                .contains(&format!("/web/staff/sign_ups/{spammer_face}/reject")),
        "{}",
        staff.body
    );
    for (face, what) in [(waiter_face, "approve"), (spammer_face, "reject")] {
        let r = post_form(
            &t,
            &format!("/web/staff/sign_ups/{face}/{what}"),
            &c,
            &format!("csrf={csrf}"),
        )
        .await;
        assert_eq!(r.status, 303, "{what}: {}", r.body);
    }
    let again = post_form(
        &t,
        &format!("/web/staff/sign_ups/{waiter_face}/approve"),
        &c,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(again.status, 403, "no longer waiting: {}", again.body);
    let counts = format!("{:?}", t.dump().await);
    assert!(!counts.contains("spammer@mail.test"), "rejected: deleted");
    // An anonymous thread waiting for the announcer: approved here.
    {
        let mut conn = t.state.db.conn().await.unwrap();
        guise_core::announcer::ensure(&mut conn, t.clock.as_ref(), true)
            .await
            .unwrap();
    }
    let mut policy = t.state.live().policy.clone();
    policy.announcer_needs_approval = true;
    t.state.set_live(guise_server::policy::Live::new(
        t.state.live().version,
        policy,
    ));
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let waiting = t
        .post_status(
            &anon,
            serde_json::json!({ "status": "announce me", "visibility": "public" }),
        )
        .await;
    let wid = waiting["id"].as_str().unwrap().to_owned();
    let listed = get_as(&t, &moderator, "/web/staff").await;
    assert!(
        listed.body.contains("announce me")
            && listed
                .body
                .contains(&format!("/web/staff/announcer_queue/{wid}/approve")),
        "{}",
        listed.body
    );
    let r = post_form(
        &t,
        &format!("/web/staff/announcer_queue/{wid}/approve"),
        &c,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(t.row_counts().await["announcer_queue"], 0);
    // A remote post held by an incoming rule: listed with why, rejected here.
    let held = {
        let mut conn = t.state.db.conn().await.unwrap();
        let note = serde_json::json!({ "id": "https://far.example/notes/1", "type": "Note",
            "attributedTo": "https://far.example/users/x", "content": "<p>held words</p>" });
        guise_core::held::hold(
            &mut conn,
            t.clock.as_ref(),
            "https://far.example/notes/1",
            waiter_face,
            None,
            &note,
            &["new_account_hold".to_owned()],
        )
        .await
        .unwrap()
    };
    let listed = get_as(&t, &moderator, "/web/staff").await;
    assert!(
        listed.body.contains("held words")
            && listed.body.contains("new_account_hold")
            && listed
                .body
                .contains(&format!("/web/staff/held_posts/{}/reject", held.id)),
        "{}",
        listed.body
    );
    let r = post_form(
        &t,
        &format!("/web/staff/held_posts/{}/reject", held.id),
        &c,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(t.row_counts().await["held_posts"], 0);
    {
        let mut conn = t.state.db.conn().await.unwrap();
        assert!(
            guise_core::accounts::approval_state(&mut conn, waiter)
                .await
                .unwrap()
                .0
        );
    }
    let real_id = asked.json["account"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        post_form(
            &t,
            &format!("/web/staff/real_names/{real_id}/verify"),
            &c,
            &format!("csrf={csrf}")
        )
        .await
        .status,
        303
    );
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{real_id}"), None)
            .await
            .json["guise"]["verified"],
        true
    );
    let pid = bad["id"].as_str().unwrap();
    assert_eq!(
        post_form(
            &t,
            &format!("/web/staff/statuses/{pid}/delete"),
            &c,
            &format!("csrf={csrf}")
        )
        .await
        .status,
        303
    );
    assert_eq!(
        t.get(&format!("/api/v1/statuses/{pid}"), None).await.status,
        404
    );
    assert_eq!(
        post_form(
            &t,
            &format!("/web/staff/faces/{troll_face}/suspend"),
            &c,
            &format!("csrf={csrf}")
        )
        .await
        .status,
        303
    );
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{troll_face}"), None)
            .await
            .status,
        404
    );
    let listed = get_as(&t, &moderator, "/web/staff").await;
    assert!(listed
        .body
        .contains(&format!("/web/staff/faces/{troll_face}/unsuspend")));
    let report_id = listed
        .body
        .split("/web/staff/reports/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        post_form(
            &t,
            &format!("/web/staff/reports/{report_id}/resolve"),
            &c,
            &format!("csrf={csrf}")
        )
        .await
        .status,
        303
    );
    assert_eq!(
        post_form(
            &t,
            &format!("/web/staff/faces/{troll_face}/unsuspend"),
            &c,
            &format!("csrf={csrf}")
        )
        .await
        .status,
        303
    );
    let after = get_as(&t, &moderator, "/web/staff").await;
    assert!(
        !after.body.contains("please look") && !after.body.contains("/unsuspend"),
        "{}",
        after.body
    );
    // A non-staff session cannot act either, even with a valid form.
    let alice_csrf = get_as(&t, &alice, "/").await.field("csrf");
    let sneaky = post_form(
        &t,
        &format!("/web/staff/faces/{troll_face}/suspend"),
        &[("guise_session", &alice)],
        &format!("csrf={alice_csrf}"),
    )
    .await;
    assert_eq!(sneaky.status, 403);
    // Each action from the page is in the audit log; the refused one is not.
    let mut conn = t.state.db.conn().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct A {
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    let mut logged: Vec<String> = diesel_async::RunQueryDsl::load::<A>(
        diesel::sql_query("SELECT action FROM audit_log"),
        &mut conn,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.action)
    .collect();
    logged.sort();
    assert_eq!(
        logged,
        [
            "approve",
            "approve_announcement",
            "delete_status",
            "reject",
            "reject_held_post",
            "resolve_report",
            "suspend",
            "unsuspend",
            "verify_real_name"
        ]
    );
}

/// An image attached in the composer (a multipart form) goes out with its
/// alt text, re-encoded (its metadata gone), and shows in the post.
#[actix_web::test]
async fn an_image_is_attached_in_the_composer() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let alice = sign_in(&t).await;
    let home = get_as(&t, &alice, "/").await;
    assert!(
        home.body.contains("enctype=\"multipart/form-data\"")
            && home.body.contains("type=\"file\"")
    );
    let csrf = home.field("csrf");
    let mut png = Vec::new();
    image::RgbImage::from_fn(16, 12, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 200]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let boundary = "guise-web-image";
    let mut body = Vec::new();
    for (name, value) in [
        ("csrf", csrf.as_str()),
        ("status", "a picture"),
        ("visibility", "public"),
        ("media_description", "a blue gradient"),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"b.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let app = test::init_service(guise_server::app(t.state.clone())).await;
    let req = test::TestRequest::post()
        .uri("/web/statuses")
        .insert_header((header::COOKIE, format!("guise_session={alice}")))
        .insert_header((
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .set_payload(body)
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 303);
    let id = resp
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("/?posted=")
        .to_owned();
    let api = t.get(&format!("/api/v1/statuses/{id}"), None).await.json;
    let media = &api["media_attachments"][0];
    assert_eq!(media["description"], "a blue gradient", "{api}");
    assert_eq!(media["type"], "image");
    let shown = get_as(&t, &alice, &format!("/web/statuses/{id}")).await;
    assert!(
        shown.body.contains("alt=\"a blue gradient\""),
        "{}",
        shown.body
    );
    // A form without an image still posts (urlencoded, as before).
    let plain = compose(
        &t,
        &alice,
        &format!("csrf={csrf}&status=no+picture&visibility=public"),
    )
    .await;
    assert_eq!(plain.status, 303);
}

/// Notifications of every face together, of one face, or of the anonymous
/// faces together.
#[actix_web::test]
async fn notifications_for_each_face_and_the_anonymous_ones() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let (_, bob) = t.user("bob").await;
    let all = t.token_as("alice", "all", "read write").await;
    let fox = t
        .post(
            "/api/v1/guise/faces",
            Some(&all),
            serde_json::json!({ "handle": "quietfox" }),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let asked = t
        .post_status(
            &anon,
            serde_json::json!({ "status": "an anonymous question", "visibility": "public" }),
        )
        .await;
    t.post_status(&bob, serde_json::json!({ "status": "an answer for you", "in_reply_to_id": asked["id"], "visibility": "public" })).await;
    t.post_status(
        &bob,
        serde_json::json!({ "status": "hello @alice", "visibility": "public" }),
    )
    .await;
    t.post_status(
        &bob,
        serde_json::json!({ "status": "hello @quietfox", "visibility": "public" }),
    )
    .await;
    let session = sign_in(&t).await;
    let every = get_as(&t, &session, "/web/notifications").await;
    let (to_alice, to_fox, to_anon) = ("to @alice<", "to @quietfox<", "to your anonymous face");
    for text in [to_alice, to_fox, to_anon] {
        assert!(every.body.contains(text), "{text}: {}", every.body);
    }
    let of_fox = get_as(&t, &session, &format!("/web/notifications?for={fox}")).await;
    assert!(of_fox.body.contains(to_fox), "{}", of_fox.body);
    assert!(
        !of_fox.body.contains(to_alice) && !of_fox.body.contains(to_anon),
        "{}",
        of_fox.body
    );
    let anonymous = get_as(&t, &session, "/web/notifications?for=anonymous").await;
    assert!(
        anonymous.body.contains(to_anon) && anonymous.body.contains("an answer for you"),
        "{}",
        anonymous.body
    );
    assert!(
        !anonymous.body.contains(to_alice) && !anonymous.body.contains(to_fox),
        "{}",
        anonymous.body
    );
    assert!(anonymous.body.contains("aria-current=\"page\""));
}

/// Admins block and unblock domains from the staff page, through the same
/// path as the admin API (checked, audited, in force at once); moderators
/// neither see the section nor can post its forms.
#[actix_web::test]
async fn admins_block_domains_from_the_staff_page() {
    let t = TestApp::new().await;
    t.create_account("boss").await;
    t.create_account("mod").await;
    t.sql("UPDATE accounts SET role = 'admin' WHERE email = 'boss@mail.test'")
        .await;
    t.sql("UPDATE accounts SET role = 'moderator' WHERE email = 'mod@mail.test'")
        .await;
    let boss = sign_in_as(&t, "boss").await;
    let moderator = sign_in_as(&t, "mod").await;
    let page = get_as(&t, &boss, "/web/staff").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Blocked domains"), "{}", page.body);
    let csrf = page.field("csrf");
    let c = [("guise_session", boss.as_str())];
    // Not a domain name: refused, saying why, nothing stored.
    let bad = post_form(
        &t,
        "/web/staff/domain_blocks",
        &c,
        &format!("csrf={csrf}&domain=not+a+domain%21&severity=suspend"),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("not a domain name"), "{}", bad.body);
    // An unknown severity: refused too.
    let odd = post_form(
        &t,
        "/web/staff/domain_blocks",
        &c,
        &format!("csrf={csrf}&domain=spam.example&severity=obliterate"),
    )
    .await;
    assert_eq!(odd.status, 422, "{}", odd.body);
    let admin_token = t.token("boss", "admin:read admin:write").await;
    let none = t
        .get("/api/v1/admin/domain_blocks", Some(&admin_token))
        .await;
    assert_eq!(none.json, serde_json::json!([]), "{}", none.text);
    // Blocked: the domain is normalized, listed with its severity, audited.
    let done = post_form(
        &t,
        "/web/staff/domain_blocks",
        &c,
        &format!("csrf={csrf}&domain=Spam.Example&severity=suspend&public_comment=spam+waves"),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let listed = t
        .get("/api/v1/admin/domain_blocks", Some(&admin_token))
        .await;
    let blocks = listed.json.as_array().unwrap();
    assert_eq!(blocks.len(), 1, "{}", listed.text);
    assert_eq!(blocks[0]["domain"], "spam.example");
    assert_eq!(blocks[0]["severity"], "suspend");
    assert_eq!(blocks[0]["public_comment"], "spam waves");
    let id = blocks[0]["id"].as_str().unwrap().to_owned();
    assert!(t
        .audit_actions(&admin_token)
        .await
        .contains(&"create_domain_block".to_owned()));
    // In force at once: that domain's inbox traffic is refused.
    assert!(t.state.fetcher.domain_rules().refuses("spam.example"));
    let shown = get_as(&t, &boss, "/web/staff").await;
    assert!(
        shown.body.contains("spam.example")
            && shown.body.contains("spam waves")
            && shown
                .body
                .contains(&format!("/web/staff/domain_blocks/{id}/remove")),
        "{}",
        shown.body
    );
    // A moderator sees no such section and cannot use its forms.
    let mod_page = get_as(&t, &moderator, "/web/staff").await;
    assert_eq!(mod_page.status, 200);
    assert!(
        !mod_page.body.contains("Blocked domains"),
        "{}",
        mod_page.body
    );
    let mod_csrf = mod_page.field("csrf");
    let m = [("guise_session", moderator.as_str())];
    let refused = post_form(
        &t,
        "/web/staff/domain_blocks",
        &m,
        &format!("csrf={mod_csrf}&domain=other.example&severity=silence"),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refused = post_form(
        &t,
        &format!("/web/staff/domain_blocks/{id}/remove"),
        &m,
        &format!("csrf={mod_csrf}"),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        t.get("/api/v1/admin/domain_blocks", Some(&admin_token))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The admin lifts it: gone, audited, no longer in force.
    let lifted = post_form(
        &t,
        &format!("/web/staff/domain_blocks/{id}/remove"),
        &c,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(lifted.status, 303, "{}", lifted.body);
    let after = t
        .get("/api/v1/admin/domain_blocks", Some(&admin_token))
        .await;
    assert_eq!(after.json, serde_json::json!([]), "{}", after.text);
    assert!(!t.state.fetcher.domain_rules().refuses("spam.example"));
    assert!(t
        .audit_actions(&admin_token)
        .await
        .contains(&"destroy_domain_block".to_owned()));
}
