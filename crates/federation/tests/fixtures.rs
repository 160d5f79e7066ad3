//! Golden actors from other fediverse software (each fixture says where its
//! shape comes from), and the hostile variations that must be refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use guise_federation::remote::{parse_actor, RemoteError};
use serde_json::{json, Value};
use url::Url;

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn actors_from_five_servers_parse() {
    let cases = [
        (
            "mastodon/person.json",
            "https://mastodon.example/users/ada",
            "Person",
            "ada",
            Some("https://mastodon.example/inbox"),
            false,
        ),
        (
            "gotosocial/person.json",
            "https://gts.example/users/bea",
            "Person",
            "bea",
            None,
            true,
        ),
        (
            "akkoma/person.json",
            "https://akkoma.example/users/cal",
            "Person",
            "cal",
            Some("https://akkoma.example/inbox"),
            false,
        ),
        (
            "lemmy/person.json",
            "https://lemmy.example/u/dee",
            "Person",
            "dee",
            Some("https://lemmy.example/inbox"),
            false,
        ),
        (
            "lemmy/group.json",
            "https://lemmy.example/c/engines",
            "Group",
            "engines",
            Some("https://lemmy.example/inbox"),
            false,
        ),
        (
            "mitra/person.json",
            "https://mitra.example/users/eve",
            "Person",
            "eve",
            None,
            false,
        ),
    ];
    for (file, id, kind, username, shared, locked) in cases {
        let v = fixture(file);
        let a = parse_actor(&v, &Url::parse(id).unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(a.id.as_str(), id, "{file}");
        assert_eq!(a.kind, kind, "{file}");
        assert_eq!(a.username, username, "{file}");
        assert_eq!(a.shared_inbox.as_ref().map(Url::as_str), shared, "{file}");
        assert_eq!(a.locked, locked, "{file}");
        assert!(
            a.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----"),
            "{file}"
        );
        assert_eq!(a.tier, None, "{file}: no Guise extension");
    }
    // GoToSocial keys live at a path, not a fragment.
    let gts = parse_actor(
        &fixture("gotosocial/person.json"),
        &Url::parse("https://gts.example/users/bea").unwrap(),
    )
    .unwrap();
    assert_eq!(gts.key_id, "https://gts.example/users/bea/main-key");
}

#[test]
fn a_guise_actor_carries_its_tier() {
    let urls = guise_federation::Urls::new("https://a.example");
    let mut face = sample_face();
    face.tier = "real_name".into();
    face.verified = true;
    let key = guise_federation::keys::generate().unwrap();
    let doc = guise_federation::protocol::actor_document(&urls, &face, &key);
    let a = parse_actor(&doc, &Url::parse("https://a.example/users/zed").unwrap()).unwrap();
    assert_eq!(a.tier, Some(guise_policy::Tier::RealName));
    assert_eq!(a.verified_by.as_deref(), Some("a.example"));
}

fn sample_face() -> guise_core::models::Identity {
    guise_core::models::Identity {
        id: 1,
        account_id: None,
        tier: "pseudonymous".into(),
        handle: "zed".into(),
        domain: None,
        display_name: "Zed".into(),
        note: String::new(),
        locked: false,
        bot: false,
        discoverable: true,
        verified: false,
        verified_by: None,
        actor_url: None,
        inbox_url: None,
        shared_inbox_url: None,
        public_key_pem: None,
        private_key_pem: None,
        created_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        suspended: false,
        silenced: false,
        owner_tag: None,
        owner_nonce: None,
        thread_tag: None,
        tombstoned: false,
        real_name_status: None,
        avatar_url: None,
        header_url: None,
        fields: serde_json::json!([]),
        avatar_key: None,
        header_key: None,
        profile: serde_json::json!({}),
    }
}

#[test]
fn hostile_actors_are_refused() {
    let base = fixture("mastodon/person.json");
    let from = Url::parse("https://mastodon.example/users/ada").unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        parse_actor(&v, &from)
    };
    assert_eq!(
        parse_actor(
            &base,
            &Url::parse("https://evil.example/users/ada").unwrap()
        ),
        Err(RemoteError::Origin("id"))
    );
    assert_eq!(
        with(&|v| v["type"] = json!("Note")),
        Err(RemoteError::NotAnActor("Note".into()))
    );
    assert_eq!(
        with(&|v| v["inbox"] = json!("https://evil.example/inbox")),
        Err(RemoteError::Origin("inbox"))
    );
    assert_eq!(
        with(&|v| v["publicKey"]["owner"] = json!("https://mastodon.example/users/other")),
        Err(RemoteError::KeyOwner)
    );
    assert_eq!(
        with(&|v| v["publicKey"]["id"] = json!("https://evil.example/key")),
        Err(RemoteError::Origin("publicKey.id"))
    );
    assert_eq!(
        with(&|v| v["publicKey"]["publicKeyPem"] = json!("nope")),
        Err(RemoteError::Field("publicKeyPem"))
    );
    assert_eq!(
        with(&|v| v["preferredUsername"] = json!("")),
        Err(RemoteError::Field("preferredUsername"))
    );
    assert_eq!(
        with(&|v| {
            v.as_object_mut().unwrap().remove("inbox");
        }),
        Err(RemoteError::Field("inbox"))
    );
    // A shared inbox on another host is ignored rather than trusted.
    let a = with(&|v| v["endpoints"]["sharedInbox"] = json!("https://evil.example/inbox")).unwrap();
    assert_eq!(a.shared_inbox, None);
    // A claimed verification is read only for real-name actors.
    let a = with(&|v| {
        v["tier"] = json!("pseudonymous");
        v["verifiedBy"] = json!("https://a.example");
    })
    .unwrap();
    assert_eq!(a.verified_by, None);
    // Over-long names are cut, not stored whole.
    let a = with(&|v| v["name"] = json!("x".repeat(10_000))).unwrap();
    assert_eq!(a.name.chars().count(), 200);
}

#[test]
fn boosts_are_addressed_by_their_visibility() {
    use guise_federation::protocol::{announce_activity, PUBLIC};
    use guise_policy::Visibility;
    let urls = guise_federation::Urls::new("https://guise.example");
    let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let author = "https://remote.example/users/bea";
    let followers = "https://guise.example/users/zed/followers";
    let note = "https://remote.example/n/1";
    let public = announce_activity(
        &urls,
        &sample_face(),
        7,
        note,
        author,
        at,
        Visibility::Public,
    );
    assert_eq!(public["to"], json!([PUBLIC]));
    assert_eq!(public["cc"], json!([author, followers]));
    let private = announce_activity(
        &urls,
        &sample_face(),
        7,
        note,
        author,
        at,
        Visibility::Private,
    );
    assert_eq!(private["to"], json!([followers]));
    assert!(!private.to_string().contains(PUBLIC), "{private}");
    assert_eq!(
        private["id"],
        "https://guise.example/users/zed/statuses/7/activity"
    );
}

#[test]
fn avatars_are_read_from_icon() {
    let v = fixture("mastodon/person.json");
    let a = parse_actor(
        &v,
        &Url::parse("https://mastodon.example/users/ada").unwrap(),
    )
    .unwrap();
    assert_eq!(
        a.avatar_url.as_deref(),
        Some("https://files.mastodon.example/accounts/avatars/ada.png")
    );
    let mut v = v;
    v["icon"] = json!({ "type": "Image", "url": "javascript:alert(1)" });
    let a = parse_actor(
        &v,
        &Url::parse("https://mastodon.example/users/ada").unwrap(),
    )
    .unwrap();
    assert_eq!(a.avatar_url, None);
}

/// A moved Mastodon actor: movedTo, alsoKnownAs (its own id and a
/// `javascript:` alias left out), profile fields (empty names and
/// identity proofs left out), flags and `published`, as sent.
#[test]
fn a_moved_actor_with_fields_and_aliases() {
    let a = parse_actor(
        &fixture("mastodon/person_moved.json"),
        &Url::parse("https://mastodon.example/users/old_ada").unwrap(),
    )
    .unwrap();
    assert_eq!(
        a.moved_to.as_ref().map(Url::as_str),
        Some("https://new.example/users/ada")
    );
    assert_eq!(
        a.also_known_as.iter().map(Url::as_str).collect::<Vec<_>>(),
        vec!["https://older.example/users/ada"]
    );
    assert!(a.locked && a.indexable && !a.discoverable && !a.memorial && !a.suspended);
    assert_eq!(
        a.published.unwrap().to_rfc3339(),
        "2019-06-30T00:00:00+00:00"
    );
    let fields: Vec<(&str, &str)> = a
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields[0].0, "Patreon");
    assert!(
        fields[0]
            .1
            .starts_with("<a href=\"https://www.patreon.com/mastodon\""),
        "{}",
        fields[0].1
    );
    assert!(fields[0]
        .1
        .contains("<span class=\"invisible\">https://www.</span>"));
    assert_eq!(fields[1], ("Pronouns", "she/her"));
    assert!(a.multikeys.is_empty());
}

/// FEP-521a Multikeys: kept only when on the actor's host and controlled
/// by it; fields' markup sanitized.
#[test]
fn multikeys_on_the_actors_own_host_are_kept() {
    let a = parse_actor(
        &fixture("mitra/person_multikey.json"),
        &Url::parse("https://mitra.example/users/eve").unwrap(),
    )
    .unwrap();
    let keys: Vec<(&str, &str)> = a
        .multikeys
        .iter()
        .map(|k| (k.id.as_str(), &k.public_key_multibase[..6]))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("https://mitra.example/users/eve#main-key", "z4MXj1"),
            ("https://mitra.example/users/eve#ed25519-key", "z6MkrJ"),
        ]
    );
    assert_eq!(a.fields.len(), 1);
    assert!(
        !a.fields[0].value.contains("onclick"),
        "{}",
        a.fields[0].value
    );
    assert!(a.fields[0].value.contains("href=\"https://eve.example\""));
    assert!(a.moved_to.is_none() && a.also_known_as.is_empty());
}
