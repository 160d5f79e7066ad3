//! Pseudonyms and real-name faces: managed with an "All my faces" token,
//! each socially a separate person, real names verified by staff.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn pseudonyms_are_managed_with_an_all_my_faces_token() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    t.create_account("bob").await;
    let all = t.token_as("alice", "all", "read write follow").await;

    // Face-bound tokens may not manage or even list faces.
    assert_eq!(t.get("/api/v1/guise/faces", Some(&alice)).await.status, 422);
    let r = t
        .post(
            "/api/v1/guise/faces",
            Some(&alice),
            json!({ "handle": "nope" }),
        )
        .await;
    assert_eq!(r.status, 422);

    // Ids within one millisecond are deliberately unordered: step the clock.
    t.clock.advance(chrono::Duration::seconds(1));
    let p = t
        .post(
            "/api/v1/guise/faces",
            Some(&all),
            json!({ "handle": "nightowl", "display_name": "Night Owl", "note": "hoot" }),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.json["username"], "nightowl");
    assert_eq!(p.json["guise"]["tier"], "pseudonymous");
    let owl = id(&p.json);
    for (handle, why) in [
        ("bob", "taken"),
        ("BOB", "taken"),
        ("anon_x", "reserved"),
        ("no spaces", "letters"),
    ] {
        let r = t
            .post(
                "/api/v1/guise/faces",
                Some(&all),
                json!({ "handle": handle }),
            )
            .await;
        assert_eq!(r.status, 422, "{handle}: {}", r.text);
        assert!(
            r.json["error"].as_str().unwrap().contains(why),
            "{handle}: {}",
            r.text
        );
    }
    let list = t.get("/api/v1/guise/faces", Some(&all)).await;
    let ids: Vec<String> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| id(&f["account"]))
        .collect();
    assert_eq!(ids, vec![alice_face.clone(), owl.clone()]);

    let e = t
        .call(
            Method::PATCH,
            &format!("/api/v1/guise/faces/{owl}"),
            Some(&all),
            Some(Body::Json(json!({ "display_name": "Owl", "locked": true }))),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.json["display_name"], "Owl");
    assert_eq!(e.json["locked"], true);

    // The pseudonym is a separate person: its own token, its own follows.
    let owl_token = t.token_as("alice", &owl, "read write follow").await;
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&owl_token))
        .await;
    assert_eq!(id(&me.json), owl);
    let r = t
        .post(
            &format!("/api/v1/accounts/{alice_face}/follow"),
            Some(&owl_token),
            json!({}),
        )
        .await;
    assert_eq!(r.json["following"], true);
    let rel = t
        .get(
            &format!("/api/v1/accounts/relationships?id[]={owl}"),
            Some(&alice),
        )
        .await;
    assert_eq!(
        rel.json[0]["followed_by"], true,
        "alice sees her pseudonym as anyone else would"
    );
    // Nothing public ties the two: profiles share no field but the instance.
    let a = t.get(&format!("/api/v1/accounts/{alice_face}"), None).await;
    let o = t.get(&format!("/api/v1/accounts/{owl}"), None).await;
    assert!(!o.text.contains("alice"), "{}", o.text);
    assert!(!a.text.contains("nightowl"));

    // Deleting: someone else's face is not found; the last face stays.
    let bob_face = id(&t.get("/api/v1/accounts/lookup?acct=bob", None).await.json);
    assert_eq!(
        t.call(
            Method::DELETE,
            &format!("/api/v1/guise/faces/{bob_face}"),
            Some(&all),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        t.call(
            Method::DELETE,
            &format!("/api/v1/guise/faces/{owl}"),
            Some(&all),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        t.get(&format!("/api/v1/accounts/{owl}"), None).await.status,
        404
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/guise/faces/{alice_face}"),
            Some(&all),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}

#[actix_web::test]
async fn real_names_are_verified_by_staff() {
    let t = TestApp::new().await;
    let (_, mallory) = t.user("mallory").await;
    let (admin_account, _) = t.create_account("root").await;
    t.sql(&format!(
        "UPDATE accounts SET role = 'admin' WHERE id = {admin_account}"
    ))
    .await;
    let admin = t.token("root", "read write admin:read admin:write").await;
    t.create_account("alice").await;
    let all = t.token_as("alice", "all", "read write").await;

    let r = t
        .post(
            "/api/v1/guise/faces/real_name",
            Some(&all),
            json!({ "handle": "alice_smith", "display_name": "Alice Smith" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["real_name_status"], "pending");
    assert_eq!(
        r.json["account"]["guise"],
        json!({ "tier": "real_name", "verified": false, "verified_by": null })
    );
    let face = id(&r.json["account"]);
    let again = t
        .post(
            "/api/v1/guise/faces/real_name",
            Some(&all),
            json!({ "handle": "alice2", "display_name": "Alice S." }),
        )
        .await;
    assert_eq!(again.status, 422);

    // Only staff see and decide the queue.
    let mallory_admin = t.token("mallory", "admin:read admin:write").await;
    assert_eq!(
        t.get("/api/v1/admin/guise/real_names", Some(&mallory_admin))
            .await
            .status,
        403
    );
    assert_eq!(
        t.get("/api/v1/admin/guise/real_names", Some(&mallory))
            .await
            .status,
        403
    );
    let q = t.get("/api/v1/admin/guise/real_names", Some(&admin)).await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert_eq!(id(&q.json[0]["account"]), face);
    let v = t
        .post(
            &format!("/api/v1/admin/guise/real_names/{face}/verify"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    let shown = t.get(&format!("/api/v1/accounts/{face}"), None).await;
    assert_eq!(
        shown.json["guise"],
        json!({ "tier": "real_name", "verified": true, "verified_by": "guise.test" })
    );

    // Posting as the real name, chosen per post.
    let s = t
        .post_status(&all, json!({ "status": "signed", "tier": "real_name" }))
        .await;
    assert_eq!(s["account"]["id"], face.as_str());
    assert_eq!(s["guise"]["verified"], true);

    // A verified name is locked: changing it needs verification again.
    let e = t
        .call(
            Method::PATCH,
            &format!("/api/v1/guise/faces/{face}"),
            Some(&all),
            Some(Body::Json(json!({ "display_name": "Alicia Smith" }))),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.json["guise"]["verified"], false);
    let q = t
        .get(
            "/api/v1/admin/guise/real_names?status=pending",
            Some(&admin),
        )
        .await;
    assert_eq!(q.json.as_array().unwrap().len(), 1);
    let r = t
        .post(
            &format!("/api/v1/admin/guise/real_names/{face}/reject"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.json["real_name_status"], "rejected");
}

#[actix_web::test]
async fn policy_can_require_verification_before_real_name_posts() {
    let t = TestApp::with_env(&[("GUISE_INSTANCE__REAL_NAME_REQUIRES_VERIFICATION", "true")]).await;
    t.create_account("alice").await;
    let all = t.token_as("alice", "all", "read write").await;
    t.post(
        "/api/v1/guise/faces/real_name",
        Some(&all),
        json!({ "handle": "asmith", "display_name": "Alice Smith" }),
    )
    .await;
    let before = t.row_counts().await;
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&all),
            json!({ "status": "hi", "tier": "real_name" }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.json["error"].as_str().unwrap().contains("verify"),
        "{}",
        r.text
    );
    assert_eq!(t.row_counts().await, before);
}

#[actix_web::test]
async fn update_credentials_edits_the_tokens_face() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(Body::Form(
                "display_name=Alice&note=Hello+%3Cworld%3E&locked=1".into(),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["id"], alice_face);
    assert_eq!(r.json["display_name"], "Alice");
    assert_eq!(r.json["note"], "<p>Hello &lt;world&gt;</p>");
    assert_eq!(r.json["locked"], true);
    let anon = t.token_as("alice", "anonymous", "read write").await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&anon),
            Some(Body::Json(json!({ "display_name": "x" }))),
        )
        .await;
    assert_eq!(r.status, 422);
}

/// Rule 2: face ids carry no time. Faces made seconds apart, in a known
/// order, by three logins: their ids put them back in that order no better
/// than a coin does. And the first face made stays the login's default.
#[actix_web::test]
async fn face_ids_say_nothing_of_creation_order_and_the_first_face_stays_the_default() {
    let t = TestApp::new().await;
    let mut orders: Vec<Vec<i64>> = Vec::new();
    for who in ["alice", "bob", "carol"] {
        let (_, first) = t.create_account(who).await;
        let all = t.token_as(who, "all", "read write").await;
        let mut made = vec![first];
        for i in 0..7 {
            t.clock.advance(chrono::Duration::seconds(2));
            let body = if i == 3 {
                json!({ "handle": format!("{who}_real"), "display_name": format!("Real {who}") })
            } else {
                json!({ "handle": format!("{who}_p{i}") })
            };
            let path = if i == 3 {
                "/api/v1/guise/faces/real_name"
            } else {
                "/api/v1/guise/faces"
            };
            let r = t.post(path, Some(&all), body).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let acc = if i == 3 { &r.json["account"] } else { &r.json };
            made.push(id(acc).parse().unwrap());
        }
        // The default face is still the first one made: for a password grant
        // without `face`, for an "All my faces" token, on the authorize page.
        let plain = t.token(who, "read").await;
        let me = t
            .get("/api/v1/accounts/verify_credentials", Some(&plain))
            .await;
        assert_eq!(me.json["id"], first.to_string());
        let me = t
            .get("/api/v1/accounts/verify_credentials", Some(&all))
            .await;
        assert_eq!(me.json["id"], first.to_string());
        let listed = t.get("/api/v1/guise/faces", Some(&all)).await;
        let listed: Vec<i64> = listed
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|f| id(&f["account"]).parse().unwrap())
            .collect();
        assert_eq!(listed, made, "faces are listed in the order they were made");
        let (cid, _) = t.register_app("read").await;
        let q = format!("response_type=code&client_id={cid}&redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob&scope=read");
        let (page, _) = t.sign_in(&q, who).await;
        assert!(
            page.text.contains(&format!("value=\"{first}\" checked")),
            "{}",
            page.text
        );
        orders.push(made);
    }
    // Pairs (earlier, later) whose ids are in the same order.
    let (mut same, mut pairs) = (0, 0);
    for made in &orders {
        for (i, a) in made.iter().enumerate() {
            for b in &made[i + 1..] {
                pairs += 1;
                if a < b {
                    same += 1;
                }
            }
        }
    }
    assert_eq!(pairs, 84);
    // A coin lands outside 10..=74 of 84 with probability below 1e-10;
    // time-ordered ids would give 84.
    assert!(
        (10..=74).contains(&same),
        "{same} of {pairs} pairs in creation order"
    );
}

/// No face may pass for "Anonymous" or for a verified real name, however
/// the name is spelled; a remote one that tries is shown by its handle.
#[actix_web::test]
async fn names_that_pose_as_anonymous_or_a_verified_real_name_are_refused() {
    let t = TestApp::new().await;
    t.create_account("alice").await;
    let all = t.token_as("alice", "all", "read write").await;
    let real = t
        .post(
            "/api/v1/guise/faces/real_name",
            Some(&all),
            json!({ "handle": "ada", "display_name": "Ada Lovelace" }),
        )
        .await;
    assert_eq!(real.status, 200, "{}", real.text);
    t.sql(
        "UPDATE identities SET verified = true, real_name_status = 'verified' WHERE handle = 'ada'",
    )
    .await;
    t.create_account("mallory").await;
    let mal = t.token_as("mallory", "all", "read write").await;
    for name in [
        "Anonymous",
        "Аnonymous",
        "An0nym0us",
        "\u{202E}Anonymous",
        "Ada Lovelace",
        "Аda Lovеlace",
    ] {
        let r = t
            .post(
                "/api/v1/guise/faces",
                Some(&mal),
                json!({ "handle": "sneaky", "display_name": name }),
            )
            .await;
        assert_eq!(r.status, 422, "{name:?}: {}", r.text);
        let r = t
            .call(
                actix_web::http::Method::PATCH,
                "/api/v1/accounts/update_credentials",
                Some(&mal),
                Some(Body::Json(json!({ "display_name": name }))),
            )
            .await;
        assert_eq!(r.status, 422, "{name:?}: {}", r.text);
    }
    for handle in ["an0nymous", "Anonymous_", "anon_x"] {
        let r = t
            .post(
                "/api/v1/guise/faces",
                Some(&mal),
                json!({ "handle": handle }),
            )
            .await;
        assert_eq!(r.status, 422, "{handle}: {}", r.text);
    }
    // Ada may keep her own name; others may be near it.
    let r = t
        .post(
            "/api/v1/guise/faces",
            Some(&mal),
            json!({ "handle": "fan", "display_name": "Ada fan club" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Invisible and direction-changing characters go from every name.
    let r = t
        .call(
            actix_web::http::Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&mal),
            Some(Body::Json(
                json!({ "display_name": "\u{202E}Mal\u{200B}lory " }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["display_name"], "Mallory");
    // A remote face posing: stored without that name, shown by its handle.
    let mut conn = t.state.db.conn().await.unwrap();
    for (i, (name, tier)) in [
        ("Аnonymous", guise_policy::Tier::Pseudonymous),
        ("Ada Lovelace", guise_policy::Tier::RealName),
        ("Anonymous", guise_policy::Tier::Anonymous),
    ]
    .into_iter()
    .enumerate()
    {
        let face = guise_core::remote::upsert(
            &mut conn,
            t.clock.as_ref(),
            &guise_core::remote::RemoteFace {
                actor_url: format!("https://remote.example/users/r{i}"),
                domain: "remote.example".into(),
                username: format!("r{i}"),
                display_name: name.into(),
                note: String::new(),
                inbox_url: format!("https://remote.example/users/r{i}/inbox"),
                shared_inbox_url: None,
                public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
                locked: false,
                bot: false,
                discoverable: true,
                avatar_url: None,
                header_url: None,
                tier,
                verified_by: None,
                profile: Default::default(),
                fields: serde_json::json!([]),
                published: None,
            },
        )
        .await
        .unwrap();
        let want = if tier == guise_policy::Tier::Anonymous {
            "Anonymous"
        } else {
            ""
        };
        assert_eq!(face.display_name, want, "{name}");
        // It says it is discoverable; an anonymous face never is.
        assert_eq!(
            face.discoverable,
            tier != guise_policy::Tier::Anonymous,
            "{name}"
        );
    }
}
