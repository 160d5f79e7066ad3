//! Filters (v2 and the v1 view of them), profile fields and posting
//! preferences set through `update_credentials`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["content"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn filters_warn_or_hide_in_their_contexts_until_they_expire() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (bob_face, bob) = t.user("bob").await;
    t.post(
        &format!("/api/v1/accounts/{bob_face}/follow"),
        Some(&alice),
        json!({}),
    )
    .await;
    // Rails-style form names, as Mastodon.py and Tusky send them.
    let r = t
        .form(
            "/api/v2/filters",
            Some(&alice),
            "title=Spoilers&context[]=home&context[]=thread&filter_action=warn\
             &keywords_attributes[][keyword]=finale&keywords_attributes[][whole_word]=true\
             &keywords_attributes[][keyword]=spoil&keywords_attributes[][whole_word]=false\
             &expires_in=3600",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let warn = r.json.clone();
    assert_eq!(warn["context"], json!(["home", "thread"]));
    assert_eq!(warn["keywords"].as_array().unwrap().len(), 2);
    assert!(warn["expires_at"].is_string());
    let hide = t
        .post(
            "/api/v2/filters",
            Some(&alice),
            json!({ "title": "Politics", "context": ["home"], "filter_action": "hide",
                    "keywords_attributes": [{ "keyword": "election" }] }),
        )
        .await;
    assert_eq!(hide.status, 200, "{}", hide.text);

    t.post_status(&bob, json!({ "status": "the finale was great" }))
        .await;
    t.post_status(&bob, json!({ "status": "finales are long" }))
        .await;
    t.post_status(&bob, json!({ "status": "no spoilers please" }))
        .await;
    t.post_status(&bob, json!({ "status": "the ELECTION is near" }))
        .await;
    let plain = t
        .post_status(&bob, json!({ "status": "a quiet day" }))
        .await;
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.status, 200, "{}", home.text);
    let shown = texts(&home.json);
    assert!(!shown.iter().any(|s| s.contains("ELECTION")), "{shown:?}");
    assert_eq!(shown.len(), 4, "{shown:?}");
    for s in home.json.as_array().unwrap() {
        let text = s["content"].as_str().unwrap();
        let filtered = s["filtered"].as_array().unwrap();
        if text.contains("the finale") {
            assert_eq!(filtered.len(), 1);
            assert_eq!(filtered[0]["filter"]["id"], warn["id"]);
            assert_eq!(filtered[0]["keyword_matches"], json!(["finale"]));
            assert_eq!(filtered[0]["status_matches"], json!([]));
        } else if text.contains("spoilers") {
            assert_eq!(filtered[0]["keyword_matches"], json!(["spoil"]));
        } else {
            // "finales" is not the whole word "finale".
            assert!(filtered.is_empty(), "{s}");
        }
    }
    // Outside its contexts a filter does nothing: bob's own page is "account".
    let page = t
        .get(
            &format!("/api/v1/accounts/{bob_face}/statuses"),
            Some(&alice),
        )
        .await;
    assert_eq!(page.json.as_array().unwrap().len(), 5);
    assert!(page
        .json
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["filtered"] == json!([])));

    // A status filtered by id.
    let r = t
        .post(
            &format!("/api/v2/filters/{}/statuses", id(&warn)),
            Some(&alice),
            json!({ "status_id": plain["id"] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fs = id(&r.json);
    let r = t
        .get(
            &format!("/api/v1/statuses/{}/context", plain["id"].as_str().unwrap()),
            Some(&alice),
        )
        .await;
    assert_eq!(r.status, 200);
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    let quiet = home
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == plain["id"])
        .unwrap()
        .clone();
    assert_eq!(
        quiet["filtered"][0]["status_matches"],
        json!([plain["id"].as_str().unwrap()])
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v2/filters/statuses/{fs}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // An hour later the warning has expired; the hide filter has not.
    t.clock.advance(chrono::Duration::seconds(3601));
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(home.json.as_array().unwrap().len(), 4);
    assert!(home
        .json
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["filtered"] == json!([])));
    // Expired filters are still listed, to be renewed.
    let all = t.get("/api/v2/filters", Some(&alice)).await;
    assert_eq!(all.json.as_array().unwrap().len(), 2);
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v2/filters/{}", id(&warn)),
            Some(&alice),
            Some(Body::Json(json!({ "expires_in": "" }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["expires_at"], Value::Null);
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    assert!(home
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["filtered"] != json!([])));
}

#[actix_web::test]
async fn filters_are_their_faces_own_and_keywords_change_one_by_one() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let f = t
        .post(
            "/api/v2/filters",
            Some(&alice),
            json!({ "title": "Food", "context": ["public"],
                    "keywords_attributes": [{ "keyword": "cake" }, { "keyword": "pie" }] }),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    let fid = id(&f.json);
    let cake = id(&f.json["keywords"][0]);
    let pie = id(&f.json["keywords"][1]);
    // Bob cannot see, change or delete it.
    for (m, path) in [
        (Method::GET, format!("/api/v2/filters/{fid}")),
        (Method::DELETE, format!("/api/v2/filters/{fid}")),
        (Method::GET, format!("/api/v2/filters/keywords/{cake}")),
        (Method::DELETE, format!("/api/v2/filters/keywords/{cake}")),
        (Method::GET, format!("/api/v1/filters/{cake}")),
    ] {
        let r = t.call(m.clone(), &path, Some(&bob), None).await;
        assert_eq!(r.status, 404, "{m} {path}: {}", r.text);
        assert!(r.json["error"].is_string());
    }
    assert_eq!(t.get("/api/v2/filters", Some(&bob)).await.json, json!([]));
    // Change one keyword, remove the other, add one: in one update.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v2/filters/{fid}"),
            Some(&alice),
            Some(Body::Json(json!({ "keywords_attributes": [
                { "id": cake, "keyword": "cakes", "whole_word": false },
                { "id": pie, "_destroy": true },
                { "keyword": "tart" },
            ] }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let kws: Vec<_> = r.json["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["keyword"].clone(), k["whole_word"].clone()))
        .collect();
    assert_eq!(
        kws,
        vec![(json!("cakes"), json!(false)), (json!("tart"), json!(true))]
    );
    // The v1 view: each keyword a filter of its own.
    let v1 = t.get("/api/v1/filters", Some(&alice)).await;
    assert_eq!(v1.status, 200);
    let phrases: Vec<_> = v1
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["phrase"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(phrases, vec!["cakes", "tart"]);
    assert_eq!(v1.json[0]["irreversible"], false);
    assert_eq!(v1.json[0]["context"], json!(["public"]));
    let made = t
        .form(
            "/api/v1/filters",
            Some(&alice),
            "phrase=soup&context[]=home&irreversible=true",
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text);
    assert_eq!(made.json["irreversible"], true);
    assert_eq!(
        t.get("/api/v2/filters", Some(&alice))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/filters/{}", id(&made.json)),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.get("/api/v2/filters", Some(&alice))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Bad input: a clear error, nothing written.
    for body in [
        json!({ "title": "", "context": ["home"] }),
        json!({ "title": "x", "context": ["kitchen"] }),
        json!({ "title": "x", "context": ["home"], "filter_action": "explode" }),
    ] {
        let r = t.post("/api/v2/filters", Some(&alice), body).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert!(r.json["error"].is_string());
    }
    assert_eq!(
        t.get("/api/v2/filters", Some(&alice))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An Anonymous token reads none and writes none.
    let anon = t.token_as("alice", "anonymous", "read write").await;
    assert_eq!(t.get("/api/v2/filters", Some(&anon)).await.json, json!([]));
    assert_eq!(t.get("/api/v1/filters", Some(&anon)).await.json, json!([]));
    assert_eq!(
        t.get(&format!("/api/v2/filters/{fid}"), Some(&anon))
            .await
            .status,
        404
    );
    let r = t
        .post(
            "/api/v2/filters",
            Some(&anon),
            json!({ "title": "x", "context": ["home"] }),
        )
        .await;
    assert_eq!(r.status, 422);
    // Deleting the filter takes its keywords.
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v2/filters/{fid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        t.get(&format!("/api/v2/filters/keywords/{cake}"), Some(&alice))
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn profile_fields_and_posting_preferences_come_from_update_credentials() {
    let t = TestApp::new().await;
    let (face, alice) = t.user("alice").await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(Body::Form(
                "fields_attributes[0][name]=Site&fields_attributes[0][value]=https%3A%2F%2Fexample.test%2Fme\
                 &fields_attributes[1][name]=Pronouns&fields_attributes[1][value]=she%2Fher\
                 &source[privacy]=unlisted&source[sensitive]=true&source[language]=de"
                    .into(),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let fields = r.json["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0]["name"], "Site");
    assert!(
        fields[0]["value"]
            .as_str()
            .unwrap()
            .contains("href=\"https://example.test/me\""),
        "{}",
        fields[0]["value"]
    );
    assert_eq!(fields[1]["value"], "she/her");
    assert_eq!(
        r.json["source"]["fields"][0]["value"],
        "https://example.test/me"
    );
    assert_eq!(r.json["source"]["privacy"], "unlisted");
    assert_eq!(r.json["source"]["sensitive"], true);
    assert_eq!(r.json["source"]["language"], "de");
    let prefs = t.get("/api/v1/preferences", Some(&alice)).await;
    assert_eq!(prefs.json["posting:default:visibility"], "unlisted");
    assert_eq!(prefs.json["posting:default:sensitive"], true);
    // A post without a visibility takes the default.
    let s = t.post_status(&alice, json!({ "status": "hi" })).await;
    assert_eq!(s["visibility"], "unlisted");
    // Others see the fields on the account (without source).
    let (_, bob) = t.user("bob").await;
    let seen = t.get(&format!("/api/v1/accounts/{face}"), Some(&bob)).await;
    assert_eq!(seen.json["fields"].as_array().unwrap().len(), 2);
    assert!(seen.json.get("source").is_none() || seen.json["source"].is_null());
    // JSON bodies (masto.js) send the same as an array.
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(Body::Json(
                json!({ "fields_attributes": [{ "name": "Only", "value": "one" }] }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["fields"].as_array().unwrap().len(), 1);
    // Too many fields, or a bad privacy: refused, nothing changed.
    let five: Vec<Value> = (0..5)
        .map(|i| json!({ "name": format!("n{i}"), "value": "v" }))
        .collect();
    for body in [
        json!({ "fields_attributes": five }),
        json!({ "source": { "privacy": "everyone" } }),
    ] {
        let r = t
            .call(
                Method::PATCH,
                "/api/v1/accounts/update_credentials",
                Some(&alice),
                Some(Body::Json(body)),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    let me = t
        .get("/api/v1/accounts/verify_credentials", Some(&alice))
        .await;
    assert_eq!(me.json["fields"].as_array().unwrap().len(), 1);
    assert_eq!(me.json["source"]["privacy"], "unlisted");
    // The actor document carries them as PropertyValue attachments.
    t.keep_a_key_ready().await;
    let app = actix_web::test::init_service(guise_server::app(t.state.clone())).await;
    let req = actix_web::test::TestRequest::get()
        .uri("/users/alice")
        .insert_header(("Accept", "application/activity+json"))
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status().as_u16(), 200);
    let actor: Value = serde_json::from_slice(&actix_web::test::read_body(resp).await).unwrap();
    let att = actor["attachment"].as_array().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0]["type"], "PropertyValue");
    assert_eq!(att[0]["name"], "Only");
    assert_eq!(att[0]["value"], "one");
}
