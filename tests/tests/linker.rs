//! The end-to-end linker (unlinkability contract, adversaries a, b and c).
//! Several people each post in all three tiers, interleaved, replying in one
//! another's threads; then each adversary tries to tie one person's faces
//! together from what it can see. Each check is also shown to catch a leak
//! planted into what it saw.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_e2e::linker::{self, AtRest, Fingerprint, Row, Truth};
use guise_e2e::{psql_rows, Server};
use serde_json::{json, Value};
use std::collections::BTreeMap;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }
    async fn get(&self, path: &str, token: Option<&str>) -> Value {
        self.call(reqwest::Method::GET, path, token, None).await
    }
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }
    async fn token(&self, user: &str, password: &str, face: &str, scopes: &str) -> String {
        let app = self.post("/api/v1/apps", None, json!({ "client_name": "linker", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes })).await;
        let t = self
            .post(
                "/oauth/token",
                None,
                json!({ "grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"],
                        "username": user, "password": password, "face": face, "scope": scopes }),
            )
            .await;
        t["access_token"].as_str().unwrap().to_owned()
    }
}

struct Person {
    name: String,
    face: String,
    alt: String,
    real: String,
    face_tok: String,
    all_tok: String,
    anon_tok: String,
    anon_faces: BTreeMap<String, Vec<String>>,
    roots: BTreeMap<&'static str, String>,
}

/// What staff with `token` see of the faces in `fps` through the admin
/// API: each face's `Admin::Account`, the accounts lists, and the reports
/// (with their faces and posts).
async fn staff_view(
    api: &Api,
    token: &str,
    mut fps: BTreeMap<String, Fingerprint>,
) -> BTreeMap<String, Fingerprint> {
    let faces: Vec<String> = fps.keys().cloned().collect();
    for f in &faces {
        let a = api
            .get(&format!("/api/v1/admin/accounts/{f}"), Some(token))
            .await;
        linker::add_account(&mut fps, &a);
    }
    for path in [
        "/api/v1/admin/accounts?limit=200",
        "/api/v2/admin/accounts?limit=200",
        "/api/v1/admin/reports",
        "/api/v1/admin/reports?resolved=true",
    ] {
        for x in api.get(path, Some(token)).await.as_array().unwrap() {
            if x.get("target_account").is_some() {
                linker::add_account(&mut fps, &x["target_account"]);
                linker::add_account(&mut fps, &x["account"]);
                for st in x["statuses"].as_array().unwrap() {
                    linker::add_status(&mut fps, st);
                }
            } else {
                linker::add_account(&mut fps, x);
            }
        }
    }
    fps
}

fn sid(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_adversaries_cannot_tie_faces_together() {
    // The anonymous limiter's keys expire at the end of their epoch, on the
    // hour here: a run that crossed an hour would find them rightly gone
    // (the check below that one was written would fail). Within the last
    // minutes of an hour, start after it instead.
    let into_hour = chrono::Utc::now().timestamp().rem_euclid(3600);
    if into_hour > 3600 - 180 {
        let wait = u64::try_from(3600 - into_hour + 1).unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
    let redis_url =
        std::env::var("GUISE_TEST_REDIS_URL").expect("GUISE_TEST_REDIS_URL: run ./dev test");
    let log = std::env::temp_dir().join(format!("guise-linker-{:x}.log", rand::random::<u64>()));
    let server = Server::start_logging(
        "127.0.0.1",
        &[
            ("GUISE_REDIS_URL", &redis_url),
            ("GUISE_LOG__LEVEL", "trace"),
            ("GUISE_INSTANCE__ANONYMOUS_LIMIT_EPOCH_SECS", "3600"),
        ],
        Some(&log),
    );
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url.clone(),
    };
    let redis = redis::Client::open(redis_url.as_str()).unwrap();
    let mut rconn = redis.get_multiplexed_async_connection().await.unwrap();
    let keys_before: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut rconn)
        .await
        .unwrap();

    server.create_account_with("root", "root password 1", &["--admin"]);
    let admin = api
        .token(
            "root",
            "root password 1",
            "",
            "read write admin:read admin:write",
        )
        .await;
    server.create_account("observer", "observer password");
    let obs = api
        .token("observer", "observer password", "", "read write follow")
        .await;
    let obs_root = api
        .post(
            "/api/v1/statuses",
            Some(&obs),
            json!({ "status": "what do you all think?" }),
        )
        .await;

    // Set-up first, for everyone: logins, tokens, faces.
    let mut people = Vec::new();
    for i in 0..3 {
        let name = format!("person{i}");
        let pw = format!("linker password {i}");
        server.create_account(&name, &pw);
        let face_tok = api.token(&name, &pw, "", "read write follow").await;
        let all_tok = api.token(&name, &pw, "all", "read write follow").await;
        let anon_tok = api
            .token(&name, &pw, "anonymous", "read write follow")
            .await;
        let face = sid(&api
            .get("/api/v1/accounts/verify_credentials", Some(&face_tok))
            .await);
        let alt = sid(&api
            .post(
                "/api/v1/guise/faces",
                Some(&all_tok),
                json!({ "handle": format!("nick{i}"), "display_name": format!("Nick {i}") }),
            )
            .await);
        let real = api
            .post(
                "/api/v1/guise/faces/real_name",
                Some(&all_tok),
                json!({ "handle": format!("real{i}"), "display_name": format!("Real Person {i}") }),
            )
            .await;
        let real = sid(&real["account"]);
        api.post(
            &format!("/api/v1/admin/guise/real_names/{real}/verify"),
            Some(&admin),
            json!({}),
        )
        .await;
        people.push(Person {
            name,
            face,
            alt,
            real,
            face_tok,
            all_tok,
            anon_tok,
            anon_faces: BTreeMap::new(),
            roots: BTreeMap::new(),
        });
    }

    // Activity, interleaved across people.
    let n = people.len();
    for round in 0..2 {
        for p in people.iter_mut() {
            let pseudo = api
                .post(
                    "/api/v1/statuses",
                    Some(&p.face_tok),
                    json!({ "status": format!("pseudonymous {round}") }),
                )
                .await;
            let real = api
                .post(
                    "/api/v1/statuses",
                    Some(&p.all_tok),
                    json!({ "status": format!("signed {round}"), "tier": "real_name" }),
                )
                .await;
            let alt = api
                .post(
                    "/api/v1/statuses",
                    Some(&p.all_tok),
                    json!({ "status": format!("alt {round}"), "identity_id": p.alt }),
                )
                .await;
            let anon = api
                .post(
                    "/api/v1/statuses",
                    Some(&p.anon_tok),
                    json!({ "status": format!("anonymous {round}") }),
                )
                .await;
            p.roots.insert("pseudo", sid(&pseudo));
            p.roots.insert("real", sid(&real));
            p.roots.insert("alt", sid(&alt));
            p.roots.insert("anon", sid(&anon));
            p.anon_faces
                .entry(anon["account"]["id"].as_str().unwrap().to_owned())
                .or_default()
                .push(sid(&anon));
        }
        for i in 0..n {
            let next = (i + 1) % n;
            let prev = (i + n - 1) % n;
            let (next_pseudo, next_real, prev_anon) = (
                people[next].roots["pseudo"].clone(),
                people[next].roots["real"].clone(),
                people[prev].roots["anon"].clone(),
            );
            let p = &people[i];
            let r = api
                .post(
                    "/api/v1/statuses",
                    Some(&p.anon_tok),
                    json!({ "status": "anonymous reply", "in_reply_to_id": next_pseudo }),
                )
                .await;
            let o = api.post("/api/v1/statuses", Some(&p.anon_tok), json!({ "status": "@observer anonymous answer", "in_reply_to_id": sid(&obs_root) })).await;
            api.post(
                &format!("/api/v1/statuses/{next_real}/favourite"),
                Some(&p.anon_tok),
                json!({}),
            )
            .await;
            api.post(
                "/api/v1/statuses",
                Some(&p.face_tok),
                json!({ "status": "reply to an anonymous post", "in_reply_to_id": prev_anon }),
            )
            .await;
            api.post(
                &format!("/api/v1/statuses/{prev_anon}/favourite"),
                Some(&p.face_tok),
                json!({}),
            )
            .await;
            let p = &mut people[i];
            for s in [&r, &o] {
                p.anon_faces
                    .entry(s["account"]["id"].as_str().unwrap().to_owned())
                    .or_default()
                    .push(sid(s));
            }
        }
    }
    // An edit and a delete of anonymous posts.
    let first = people[0].roots["anon"].clone();
    api.call(
        reqwest::Method::PUT,
        &format!("/api/v1/statuses/{first}"),
        Some(&people[0].anon_tok),
        Some(json!({ "status": "edited" })),
    )
    .await;
    let gone = people[1].roots["anon"].clone();
    api.call(
        reqwest::Method::DELETE,
        &format!("/api/v1/statuses/{gone}"),
        Some(&people[1].anon_tok),
        None,
    )
    .await;
    for p in &mut people {
        for statuses in p.anon_faces.values_mut() {
            statuses.retain(|s| *s != gone);
        }
    }

    let faces_of = |p: &Person| -> Vec<String> {
        let mut f = vec![p.face.clone(), p.alt.clone(), p.real.clone()];
        f.extend(p.anon_faces.keys().cloned());
        f
    };
    let mut all_statuses: Vec<String> = Vec::new();
    for p in &people {
        all_statuses.extend(p.roots.values().cloned());
        all_statuses.extend(p.anon_faces.values().flatten().cloned());
    }

    // (a) The public: every unauthenticated surface.
    let mut public: BTreeMap<String, Fingerprint> = BTreeMap::new();
    for p in &people {
        for f in faces_of(p) {
            public.insert(
                f,
                Fingerprint {
                    person: p.name.clone(),
                    values: Default::default(),
                },
            );
        }
    }
    let mut page = api.get("/api/v1/timelines/public?limit=40", None).await;
    let mut max = None;
    loop {
        let items = page.as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        for s in &items {
            linker::add_status(&mut public, s);
            max = Some(sid(s));
        }
        page = api
            .get(
                &format!(
                    "/api/v1/timelines/public?limit=40&max_id={}",
                    max.clone().unwrap()
                ),
                None,
            )
            .await;
    }
    let face_ids: Vec<String> = public.keys().cloned().collect();
    for f in &face_ids {
        let acc = api.get(&format!("/api/v1/accounts/{f}"), None).await;
        linker::add_account(&mut public, &acc);
        for s in api
            .get(&format!("/api/v1/accounts/{f}/statuses?limit=40"), None)
            .await
            .as_array()
            .unwrap()
        {
            linker::add_status(&mut public, s);
        }
        for who in ["followers", "following"] {
            for a in api
                .get(&format!("/api/v1/accounts/{f}/{who}"), None)
                .await
                .as_array()
                .unwrap()
            {
                linker::add_account(&mut public, a);
            }
        }
    }
    for s in &all_statuses {
        if *s == gone {
            continue;
        }
        linker::add_status(
            &mut public,
            &api.get(&format!("/api/v1/statuses/{s}"), None).await,
        );
        let ctx = api
            .get(&format!("/api/v1/statuses/{s}/context"), None)
            .await;
        for x in ctx["ancestors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(ctx["descendants"].as_array().unwrap())
        {
            linker::add_status(&mut public, x);
        }
        for a in api
            .get(&format!("/api/v1/statuses/{s}/favourited_by"), None)
            .await
            .as_array()
            .unwrap()
        {
            linker::add_account(&mut public, a);
        }
    }
    // ActivityPub JSON and WebFinger, as remote servers read them.
    let domain = server.url.trim_start_matches("http://").to_owned();
    for f in &face_ids {
        let acc = api.get(&format!("/api/v1/accounts/{f}"), None).await;
        let handle = acc["username"].as_str().unwrap().to_owned();
        let resp = api
            .http
            .get(format!(
                "{}/.well-known/webfinger?resource=acct:{handle}@{domain}",
                api.base
            ))
            .send()
            .await
            .unwrap();
        if resp.status() == 410 {
            // A tombstone: its posts are gone.
            continue;
        }
        let wf: Value = resp.json().await.unwrap();
        linker::add_document(&mut public, f, &wf);
        let actor_url = wf["links"][0]["href"].as_str().unwrap().to_owned();
        let actor: Value = api
            .http
            .get(&actor_url)
            .header("Accept", "application/activity+json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(actor["id"], actor_url.as_str());
        linker::add_document(&mut public, f, &actor);
        // The same URL in a browser: the face's public page.
        let page = api
            .http
            .get(&actor_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        linker::add_page(&mut public, f, &page);
        for s in api
            .get(
                &format!("/api/v1/accounts/{f}/statuses?limit=40&exclude_reblogs=true"),
                None,
            )
            .await
            .as_array()
            .unwrap()
        {
            if s["visibility"] == "public" {
                let note: Value = api
                    .http
                    .get(s["uri"].as_str().unwrap())
                    .header("Accept", "application/activity+json")
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                linker::add_document(&mut public, f, &note);
                let page = api
                    .http
                    .get(s["url"].as_str().unwrap())
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                linker::add_page(&mut public, f, &page);
            }
        }
    }
    for doc in ["/api/v1/instance", "/api/v2/instance", "/nodeinfo/2.1"] {
        let v = api.get(doc, None).await;
        let mut vals = Default::default();
        linker::flatten(&v, &[], &mut vals);
        for fp in public.values_mut() {
            fp.values.extend(vals.iter().cloned());
        }
    }
    let links = linker::fingerprint_links(&public);
    assert!(
        links.is_empty(),
        "the public ties faces together: {links:?}"
    );

    // (b) Another local user, signed in.
    let mut local: BTreeMap<String, Fingerprint> = public
        .keys()
        .map(|k| {
            (
                k.clone(),
                Fingerprint {
                    person: public[k].person.clone(),
                    values: Default::default(),
                },
            )
        })
        .collect();
    let ids: Vec<String> = local.keys().map(|f| format!("id[]={f}")).collect();
    for r in api
        .get(
            &format!("/api/v1/accounts/relationships?{}", ids.join("&")),
            Some(&obs),
        )
        .await
        .as_array()
        .unwrap()
    {
        if let Some(fp) = local.get_mut(r["id"].as_str().unwrap()) {
            linker::flatten(r, &[], &mut fp.values);
        }
    }
    for n in api
        .get("/api/v1/notifications?limit=80", Some(&obs))
        .await
        .as_array()
        .unwrap()
    {
        linker::add_account(&mut local, &n["account"]);
        if !n["status"].is_null() {
            linker::add_status(&mut local, &n["status"]);
        }
    }
    for s in &all_statuses {
        if *s == gone {
            continue;
        }
        let ctx = api
            .get(&format!("/api/v1/statuses/{s}/context"), Some(&obs))
            .await;
        for x in ctx["ancestors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(ctx["descendants"].as_array().unwrap())
        {
            linker::add_status(&mut local, x);
        }
    }
    for p in &people {
        for q in [p.name.as_str(), "nick", "real", "anon", "Anonymous"] {
            for a in api
                .get(&format!("/api/v2/search?q={q}&type=accounts"), Some(&obs))
                .await["accounts"]
                .as_array()
                .unwrap()
            {
                linker::add_account(&mut local, a);
            }
        }
    }
    // The same user in a browser: the web face's threads, timelines,
    // notifications and profile pages, each post credited to its author.
    let cookie = guise_e2e::api::web_session(&server.url, "observer", "observer password").await;
    let web_page = |path: String| {
        let (http, base, cookie) = (api.http.clone(), api.base.clone(), cookie.clone());
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let mut pages = vec![
        "/".to_owned(),
        "/web/timelines/local".to_owned(),
        "/web/timelines/federated".to_owned(),
        "/web/notifications".to_owned(),
    ];
    pages.extend(
        all_statuses
            .iter()
            .filter(|s| **s != gone)
            .map(|s| format!("/web/statuses/{s}")),
    );
    pages.extend(local.keys().map(|f| format!("/web/accounts/{f}")));
    let mut crawled = 0;
    for path in pages {
        let html = web_page(path).await;
        crawled += html.matches("<article class=\"status\"").count();
        linker::add_web_posts(&mut local, &html);
    }
    assert!(
        crawled > all_statuses.len(),
        "the crawl saw the posts ({crawled})"
    );
    let links = linker::fingerprint_links(&local);
    assert!(
        links.is_empty(),
        "a local user ties faces together: {links:?}"
    );
    // The page reading would catch a planted leak: one value shown on two
    // faces' posts of one person.
    {
        let mut planted = local.clone();
        let (a, b) = {
            let mut of_one = planted
                .iter()
                .filter(|(_, fp)| fp.person == planted.values().next().unwrap().person);
            (
                of_one.next().unwrap().0.clone(),
                of_one.next().unwrap().0.clone(),
            )
        };
        for face in [&a, &b] {
            let html = format!(
                "<article class=\"status\"><a class=\"who\" href=\"/web/accounts/{face}\">x</a><span data-owner=\"login-of-the-owner\"></span></article>"
            );
            linker::add_web_posts(&mut planted, &html);
        }
        assert!(
            !linker::fingerprint_links(&planted).is_empty(),
            "the web crawl missed a planted leak"
        );
    }

    // (b') Staff, through the admin API, after one anonymous post was
    // reported and a moderator took the report on. A moderator is another
    // local user: it ties no two faces together. An admin sees the login
    // (email) behind persistent faces, so it may tie those, but nothing
    // ties an anonymous face to anyone.
    let (reported_face, reported_posts) = people[0].anon_faces.iter().next().unwrap();
    let report = api
        .post(
            "/api/v1/reports",
            Some(&obs),
            json!({ "account_id": reported_face, "status_ids": [reported_posts[0]], "comment": "rude" }),
        )
        .await;
    server.create_account_with("moddy", "moddy password 1", &["--moderator"]);
    let moderator = api
        .token(
            "moddy",
            "moddy password 1",
            "",
            "read admin:read admin:write",
        )
        .await;
    api.post(
        &format!("/api/v1/admin/reports/{}/assign_to_self", sid(&report)),
        Some(&moderator),
        json!({}),
    )
    .await;
    let blank: BTreeMap<String, Fingerprint> = public
        .iter()
        .map(|(f, fp)| {
            (
                f.clone(),
                Fingerprint {
                    person: fp.person.clone(),
                    values: Default::default(),
                },
            )
        })
        .collect();
    let moderated = staff_view(&api, &moderator, blank.clone()).await;
    let links = linker::fingerprint_links(&moderated);
    assert!(
        links.is_empty(),
        "a moderator ties faces together: {links:?}"
    );
    let administered = staff_view(&api, &admin, blank).await;
    let anonymous: Vec<&String> = people.iter().flat_map(|p| p.anon_faces.keys()).collect();
    let links: Vec<_> = linker::fingerprint_links(&administered)
        .into_iter()
        .filter(|(a, b, _)| anonymous.contains(&a) || anonymous.contains(&b))
        .collect();
    assert!(
        links.is_empty(),
        "an admin ties an anonymous face to someone: {links:?}"
    );
    assert!(
        !linker::fingerprint_links(&administered).is_empty(),
        "the admin's view shows the logins behind persistent faces (the check can see)"
    );

    // Every check catches a planted leak: the login's id shown on each face.
    for (fps, who) in [
        (&public, "public"),
        (&local, "local"),
        (&moderated, "moderator"),
    ] {
        let mut planted = fps.clone();
        for fp in planted.values_mut() {
            fp.values.insert(format!("login-of-{}", fp.person));
        }
        assert!(
            !linker::fingerprint_links(&planted).is_empty(),
            "the {who} check missed a planted leak"
        );
    }

    // (c) Whoever holds the data at rest: every row with its xmin, every Redis
    // key with its expiry, every log line.
    let mut rows = Vec::new();
    for table in psql_rows(
        &server.db_url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    ) {
        for line in psql_rows(
            &server.db_url,
            &format!("SELECT xmin::text, row_to_json(t)::text FROM \"{table}\" t"),
        ) {
            let (xmin, json) = line.split_once('\t').unwrap();
            let v: Value = serde_json::from_str(json).unwrap();
            let mut values = Vec::new();
            if let Value::Object(o) = v {
                for (_, x) in o {
                    match x {
                        Value::String(s) => values.push(s),
                        Value::Number(n) => values.push(n.to_string()),
                        _ => {}
                    }
                }
            }
            rows.push(Row {
                table: table.clone(),
                xmin: xmin.parse().unwrap(),
                values,
            });
        }
    }
    let keys_after: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut rconn)
        .await
        .unwrap();
    let mut redis_data = Vec::new();
    for k in keys_after.iter().filter(|k| !keys_before.contains(k)) {
        let v: String = redis::cmd("GET")
            .arg(k)
            .query_async(&mut rconn)
            .await
            .unwrap_or_default();
        // PTTL rather than EXPIRETIME, which Redis before 7 lacks.
        let pttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut rconn)
            .await
            .unwrap();
        let exp = ((chrono::Utc::now().timestamp_millis() + pttl) as f64 / 1000.0).round() as i64;
        redis_data.push((k.clone(), v, exp));
    }
    assert!(
        !redis_data.is_empty(),
        "the anonymous rate limiter wrote no key"
    );
    let logs: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(logs.len() > 10, "trace logging was not on");
    let _ = std::fs::remove_file(&log);
    let account_of = |name: &str| {
        psql_rows(
            &server.db_url,
            &format!("SELECT id FROM accounts WHERE email = '{name}@mail.test'"),
        )[0]
        .clone()
    };
    let mut truth = Truth {
        limit_epoch_secs: 3600,
        ..Default::default()
    };
    for name in ["root", "observer"] {
        truth.accounts.push(account_of(name));
    }
    for p in &people {
        let a = account_of(&p.name);
        truth.accounts.push(a.clone());
        for (face, statuses) in &p.anon_faces {
            truth
                .anonymous
                .insert(face.clone(), (a.clone(), statuses.clone()));
        }
    }
    let data = AtRest {
        rows,
        redis: redis_data,
        logs,
    };
    let links = linker::at_rest_links(&data, &truth);
    assert!(
        links.is_empty(),
        "the data at rest ties an anonymous face to its login: {links:#?}"
    );

    // Each at-rest check catches its planted leak.
    let (face, (owner, statuses)) = truth
        .anonymous
        .iter()
        .find(|(_, (_, statuses))| !statuses.is_empty())
        .map(|(f, o)| (f.clone(), o.clone()))
        .unwrap();
    // Token rows name no one now: leaks are planted on the login's own row
    // and on its persistent face's.
    let token_row = data
        .rows
        .iter()
        .position(|r| r.table == "accounts" && r.values.contains(&owner))
        .unwrap();
    let persistent_row = data
        .rows
        .iter()
        .position(|r| r.table == "identities" && r.values.contains(&owner))
        .unwrap();
    let face_row = data
        .rows
        .iter()
        .position(|r| r.table == "identities" && r.values.contains(&face))
        .unwrap();
    let status_row = data
        .rows
        .iter()
        .position(|r| r.table == "statuses" && r.values.contains(&statuses[0]))
        .unwrap();
    let app_id = data
        .rows
        .iter()
        .find(|r| r.table == "oauth_apps")
        .and_then(|r| r.values.iter().find(|v| v.parse::<i64>().is_ok()).cloned());
    assert!(app_id.is_some(), "found no app id");
    type Plant<'a> = (&'a str, Box<dyn Fn(&mut AtRest) + 'a>);
    let plants: Vec<Plant> = vec![
        (
            "an account id on a face",
            Box::new(|d: &mut AtRest| d.rows[face_row].values.push(owner.clone())),
        ),
        (
            "a millisecond last-used-at on the login",
            Box::new(|d: &mut AtRest| {
                let created = d.rows[status_row]
                    .values
                    .iter()
                    .find(|v| v.contains('T') && v.contains(':'))
                    .cloned()
                    .unwrap();
                d.rows[token_row].values.push(created);
            }),
        ),
        (
            "a redis key holding an account id",
            Box::new(|d: &mut AtRest| d.redis.push((format!("limit:{owner}"), "1".into(), 7200))),
        ),
        (
            "a log line with an account id",
            Box::new(|d: &mut AtRest| {
                d.logs
                    .push(format!("posted account_id={owner} face={face}"))
            }),
        ),
        (
            "a stored posting application, on anonymous and persistent posts alike",
            Box::new(|d: &mut AtRest| {
                let app = app_id.clone().unwrap_or_else(|| "no app".into());
                d.rows[status_row].values.push(app.clone());
                d.rows[persistent_row].values.push(app);
            }),
        ),
        (
            "an idempotency row keyed by account",
            Box::new(|d: &mut AtRest| {
                d.rows.push(Row {
                    table: "idempotency_keys".into(),
                    xmin: 1,
                    values: vec![owner.clone(), "key-hash-xyz".into(), statuses[0].clone()],
                })
            }),
        ),
        (
            "token rows touched in each anonymous post's transaction",
            Box::new(|d: &mut AtRest| {
                for (f, (o, ss)) in &truth.anonymous {
                    let x = d
                        .rows
                        .iter()
                        .find(|r| r.values.contains(f) || ss.iter().any(|s| r.values.contains(s)))
                        .map(|r| r.xmin)
                        .unwrap();
                    d.rows.push(Row {
                        table: "oauth_tokens".into(),
                        xmin: x,
                        values: vec![o.clone()],
                    });
                }
            }),
        ),
    ];
    for (what, plant) in plants {
        let mut leaky = data.clone();
        plant(&mut leaky);
        assert!(
            !linker::at_rest_links(&leaky, &truth).is_empty(),
            "the at-rest check missed {what}"
        );
    }
}

/// Rules 2 and 10 against three adversaries of the data at rest, over 32
/// people in random order, each judged against a binomial bound on chance
/// and each shown to catch a planted leak:
/// - order: each person signs in as "Anonymous" and posts at once; whoever
///   holds the database sorts rows by the transaction that wrote them and,
///   for each anonymous face, guesses the login named by the nearest row
///   written before it (a token row naming its login, as Guise once wrote,
///   would be that row every time);
/// - id order: faces made seconds apart must not sort by id;
/// - deletion burst: a dozen delete their logins; no transaction may hold
///   rows about both a login's anonymous and persistent faces, and the
///   nearest login-naming row to each anonymous face's tombstone must name
///   its owner no more often than chance.
#[tokio::test(flavor = "multi_thread")]
async fn many_people_in_random_order_leave_no_link_by_order_ids_or_deletions() {
    use rand::seq::SliceRandom;
    let server = Server::start_on(
        "127.0.0.1",
        &[
            ("GUISE_INSTANCE__DELETION_SPREAD_SECS", "4"),
            ("GUISE_FEDERATION__WORKER_POLL_MS", "50"),
        ],
    );
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url.clone(),
    };
    const PEOPLE: usize = 32;
    let mut names: Vec<String> = (0..PEOPLE).map(|i| format!("walker{i}")).collect();
    for n in &names {
        server.create_account(n, &format!("{n} password"));
    }
    // Some already hold a face token from an earlier day; each makes two
    // pseudonyms, seconds after signing up.
    for n in names.iter().step_by(3) {
        api.token(n, &format!("{n} password"), "", "read write")
            .await;
    }
    let mut made_in_order: Vec<Vec<String>> = Vec::new();
    for n in &names {
        let all = api
            .token(n, &format!("{n} password"), "all", "read write")
            .await;
        let mut made = vec![sid(&api
            .get("/api/v1/accounts/verify_credentials", Some(&all))
            .await)];
        for k in 0..2 {
            let p = api
                .post(
                    "/api/v1/guise/faces",
                    Some(&all),
                    json!({ "handle": format!("{n}_alt{k}") }),
                )
                .await;
            made.push(sid(&p));
        }
        made_in_order.push(made);
    }
    // The id-order adversary.
    let link = linker::id_order_link(&made_in_order, 1e-4);
    assert!(link.is_none(), "{link:?}");
    let mut time_ordered = made_in_order.clone();
    for made in &mut time_ordered {
        made.sort_by_key(|i| i.parse::<i64>().unwrap());
    }
    assert!(
        linker::id_order_link(&time_ordered, 1e-4).is_some(),
        "the id-order adversary missed ids that sort by creation"
    );
    names.shuffle(&mut rand::thread_rng());
    let mut truth = Truth::default();
    let mut owner_of_name = BTreeMap::new();
    for n in &names {
        let id = psql_rows(
            &server.db_url,
            &format!("SELECT id FROM accounts WHERE email = '{n}@mail.test'"),
        )[0]
        .clone();
        for f in psql_rows(
            &server.db_url,
            &format!("SELECT id FROM identities WHERE account_id = {id}"),
        ) {
            truth.persistent.insert(f, id.clone());
        }
        truth.accounts.push(id.clone());
        owner_of_name.insert(n.clone(), id);
    }
    for (i, n) in names.iter().enumerate() {
        // Vary what comes first, as people do: some sign in with a face
        // token too, right before.
        if i % 4 == 1 {
            api.token(n, &format!("{n} password"), "", "read").await;
        }
        let anon = api
            .token(n, &format!("{n} password"), "anonymous", "read write")
            .await;
        let s = api
            .post(
                "/api/v1/statuses",
                Some(&anon),
                json!({ "status": format!("first words of {n}") }),
            )
            .await;
        truth.anonymous.insert(
            s["account"]["id"].as_str().unwrap().to_owned(),
            (owner_of_name[n].clone(), vec![sid(&s)]),
        );
    }
    assert_eq!(truth.anonymous.len(), PEOPLE);
    let data = AtRest {
        rows: guise_e2e::at_rest_rows(&server.db_url),
        ..Default::default()
    };
    let (right, guesses, logins) = linker::nearest_before(&data, &truth);
    assert_eq!(guesses, PEOPLE, "every anonymous face gets a guess");
    assert!(logins >= PEOPLE);
    let link = linker::order_link(&data, &truth, 1e-4);
    assert!(link.is_none(), "{link:?} ({right} right)");

    // The check catches the old leak: a token row naming its login, written
    // in the transaction right before each anonymous face's first row.
    let mut leaky = data.clone();
    for (face, (owner, statuses)) in &truth.anonymous {
        let first = leaky
            .rows
            .iter()
            .filter(|r| r.values.iter().any(|v| v == face || statuses.contains(v)))
            .map(|r| r.xmin)
            .min()
            .unwrap();
        leaky.rows.push(Row {
            table: "oauth_tokens".into(),
            xmin: first - 1,
            values: vec![owner.clone(), "anonymous".into()],
        });
    }
    assert!(
        linker::order_link(&leaky, &truth, 1e-4).is_some(),
        "the order adversary missed a token row written before each first post"
    );

    // The deletion burst: a dozen of them delete their logins, one after
    // another. Their persistent faces go at once, their anonymous posts one
    // by one within the spread, in transactions of their own.
    let leaving: Vec<String> = names.iter().take(12).cloned().collect();
    for n in &leaving {
        let tok = api
            .token(n, &format!("{n} password"), "", "read write")
            .await;
        api.post(
            "/api/v1/guise/account/delete",
            Some(&tok),
            json!({ "password": format!("{n} password") }),
        )
        .await;
    }
    let settled = || {
        ["pending_deletions", "outbox_events", "deliveries"]
            .iter()
            .all(|t| psql_rows(&server.db_url, &format!("SELECT count(*) FROM {t}"))[0] == "0")
    };
    let start = std::time::Instant::now();
    while !settled() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the worker never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let owners_leaving: Vec<&String> = leaving.iter().map(|n| &owner_of_name[n]).collect();
    let mut after = truth.clone();
    after
        .anonymous
        .retain(|_, (owner, _)| owners_leaving.contains(&&*owner));
    assert_eq!(after.anonymous.len(), leaving.len());
    let data = AtRest {
        rows: guise_e2e::at_rest_rows(&server.db_url),
        ..Default::default()
    };
    // Their anonymous faces are tombstones now.
    for face in after.anonymous.keys() {
        let t = psql_rows(
            &server.db_url,
            &format!("SELECT tombstoned FROM identities WHERE id = {face}"),
        );
        assert_eq!(t, vec!["t".to_owned()], "face {face}");
    }
    let shared = linker::shared_transactions(&data, &after);
    assert!(shared.is_empty(), "{shared:?}");
    let link = linker::order_link_from(&data, &after, linker::Anchor::LastRowEitherSide, 1e-4);
    assert!(link.is_none(), "{link:?}");
    // Each check catches its leak: a burst that tombstoned every anonymous
    // face with its login's persistent face.
    let mut burst = data.clone();
    for (face, (owner, _)) in &after.anonymous {
        let persistent = after
            .persistent
            .iter()
            .find(|(_, a)| *a == owner)
            .map(|(f, _)| f.clone())
            .unwrap();
        let x = burst
            .rows
            .iter()
            .filter(|r| r.values.contains(&persistent))
            .map(|r| r.xmin)
            .max()
            .unwrap();
        // As the old code did: the face's rows written in the request.
        for r in burst.rows.iter_mut().filter(|r| r.values.contains(face)) {
            r.xmin = x;
        }
    }
    assert!(!linker::shared_transactions(&burst, &after).is_empty());
    assert!(
        linker::order_link_from(&burst, &after, linker::Anchor::LastRowEitherSide, 1e-4).is_some(),
        "the order adversary missed tombstones written beside the persistent faces'"
    );
}
