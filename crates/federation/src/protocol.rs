//! ActivityPub documents for local faces and statuses, and WebFinger.
//!
//! The tier travels in a small JSON-LD extension (namespace `GUISE_NS`,
//! documented in docs/federation.md): `tier` on actors and notes, and
//! `verifiedBy` (the verifying instance) on verified real-name actors.
//! Other software sees ordinary actors and ignores the extension.

use guise_core::keys::KeyPair;
use guise_core::models::{Identity, Status};
use guise_policy::{Tier, Visibility};
use serde_json::{json, Value};

pub const GUISE_NS: &str = "https://guise.social/ns#";
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
pub const AP_CONTENT_TYPE: &str = "application/activity+json";

/// The JSON-LD context of every document we publish.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "guise": GUISE_NS,
            "tier": "guise:tier",
            "verifiedBy": { "@id": "guise:verifiedBy", "@type": "@id" },
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "sensitive": "as:sensitive",
            "Hashtag": "as:Hashtag",
            "toot": "http://joinmastodon.org/ns#",
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "suspended": "toot:suspended",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// Where a local face's documents live.
#[derive(Debug, Clone)]
pub struct Urls {
    /// e.g. `https://guise.example`
    pub base: String,
}

impl Urls {
    pub fn new(base: impl Into<String>) -> Urls {
        Urls { base: base.into() }
    }

    pub fn actor(&self, face: &Identity) -> String {
        if face.tier() == Tier::Anonymous {
            format!("{}/anon/{}", self.base, face.handle)
        } else {
            format!("{}/users/{}", self.base, face.handle)
        }
    }

    pub fn profile(&self, face: &Identity) -> String {
        if face.tier() == Tier::Anonymous {
            self.actor(face)
        } else {
            format!("{}/@{}", self.base, face.handle)
        }
    }

    pub fn key_id(&self, face: &Identity) -> String {
        format!("{}#main-key", self.actor(face))
    }

    pub fn status(&self, face: &Identity, id: i64) -> String {
        format!("{}/statuses/{id}", self.actor(face))
    }

    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }

    pub fn instance_actor(&self) -> String {
        format!("{}/actor", self.base)
    }

    pub fn domain(&self) -> &str {
        self.base.split("://").nth(1).unwrap_or(&self.base)
    }
}

/// A `Person` for one face. Anonymous faces show "Anonymous", no profile,
/// ask before anyone follows (and are refused), and stay out of directories.
pub fn actor_document(urls: &Urls, face: &Identity, key: &KeyPair) -> Value {
    let actor = urls.actor(face);
    let anonymous = face.tier() == Tier::Anonymous;
    let summary = if anonymous || face.note.trim().is_empty() {
        String::new()
    } else {
        guise_core::text::render(&guise_core::text::parse(&face.note), &urls.base, |_, _| {
            None
        })
    };
    let mut doc = json!({
        "@context": context(),
        "id": actor,
        // Bots (the shared announcer) are Services, as Mastodon marks them.
        "type": if face.bot { "Service" } else { "Person" },
        "preferredUsername": face.handle,
        "name": if anonymous { "Anonymous" } else { face.display_name.as_str() },
        "summary": summary,
        "url": urls.profile(face),
        "inbox": format!("{actor}/inbox"),
        "outbox": format!("{actor}/outbox"),
        "followers": format!("{actor}/followers"),
        "following": format!("{actor}/following"),
        "endpoints": { "sharedInbox": urls.shared_inbox() },
        "manuallyApprovesFollowers": anonymous || face.locked,
        "discoverable": !anonymous && face.discoverable,
        "indexable": false,
        "published": format!("{}T00:00:00Z", face.created_on.format("%Y-%m-%d")),
        "publicKey": {
            "id": urls.key_id(face),
            "owner": actor,
            "publicKeyPem": key.public_pem,
        },
        "tier": face.tier().as_str(),
    });
    if face.suspended {
        if let Some(o) = doc.as_object_mut() {
            o.insert("suspended".into(), json!(true));
        }
    }
    // Profile fields, as Mastodon publishes them.
    let fields: Vec<Value> = face
        .fields
        .as_array()
        .into_iter()
        .flatten()
        .filter(|_| !anonymous)
        .filter_map(|f| {
            Some(json!({
                "type": "PropertyValue",
                "name": f.get("name")?.as_str()?,
                "value": guise_core::text::link_urls(f.get("value")?.as_str()?),
            }))
        })
        .collect();
    if !fields.is_empty() {
        if let Some(o) = doc.as_object_mut() {
            o.insert("attachment".into(), Value::Array(fields));
        }
    }
    // A local face's own avatar and header (anonymous faces have none).
    for (key, field) in [(&face.avatar_key, "icon"), (&face.header_key, "image")] {
        if let (Some(k), Some(o), false) = (key, doc.as_object_mut(), anonymous) {
            let media_type = if k.ends_with(".jpg") {
                "image/jpeg"
            } else {
                "image/png"
            };
            o.insert(
                field.into(),
                json!({ "type": "Image", "mediaType": media_type, "url": format!("{}/media/local/{k}", urls.base) }),
            );
        }
    }
    if face.tier() == Tier::RealName && face.verified {
        if let Some(o) = doc.as_object_mut() {
            let by = face
                .verified_by
                .clone()
                .unwrap_or_else(|| urls.domain().to_owned());
            o.insert("verifiedBy".into(), json!(format!("https://{by}")));
        }
    }
    doc
}

/// The instance's own actor: it alone signs our fetches of remote objects.
pub fn instance_actor_document(urls: &Urls, key: &KeyPair) -> Value {
    let id = urls.instance_actor();
    json!({
        "@context": context(),
        "id": id,
        "type": "Application",
        "preferredUsername": urls.domain(),
        "name": urls.domain(),
        "inbox": format!("{id}/inbox"),
        "outbox": format!("{id}/outbox"),
        "manuallyApprovesFollowers": true,
        "publicKey": { "id": format!("{id}#main-key"), "owner": id, "publicKeyPem": key.public_pem },
        "url": urls.base,
    })
}

/// A `Note` for a local status. `parent` is the replied-to status's id
/// (its ActivityPub id), `mentions` the mentioned faces with their actor ids.
pub fn note_document(
    urls: &Urls,
    author: &Identity,
    status: &Status,
    parent: Option<&str>,
    mentions: &[(String, String)],
    tags: &[String],
) -> Value {
    let actor = urls.actor(author);
    let followers = format!("{actor}/followers");
    let mention_ids: Vec<&String> = mentions.iter().map(|(id, _)| id).collect();
    let (to, cc): (Vec<Value>, Vec<Value>) = match status.visibility() {
        Visibility::Public => (
            vec![json!(PUBLIC)],
            std::iter::once(json!(followers))
                .chain(mention_ids.iter().map(|m| json!(m)))
                .collect(),
        ),
        Visibility::Unlisted => (
            vec![json!(followers)],
            std::iter::once(json!(PUBLIC))
                .chain(mention_ids.iter().map(|m| json!(m)))
                .collect(),
        ),
        Visibility::Private => (
            vec![json!(followers)],
            mention_ids.iter().map(|m| json!(m)).collect(),
        ),
        Visibility::Direct => (mention_ids.iter().map(|m| json!(m)).collect(), vec![]),
    };
    let mut tag: Vec<Value> = mentions
        .iter()
        .map(|(id, acct)| json!({ "type": "Mention", "href": id, "name": format!("@{acct}") }))
        .collect();
    tag.extend(tags.iter().map(|t| json!({ "type": "Hashtag", "href": format!("{}/tags/{t}", urls.base), "name": format!("#{t}") })));
    let id = status
        .uri
        .clone()
        .unwrap_or_else(|| urls.status(author, status.id));
    let mut doc = json!({
        "@context": context(),
        "id": id,
        "type": "Note",
        "attributedTo": actor,
        "content": status.content,
        "source": { "content": status.source_text, "mediaType": "text/plain" },
        "summary": if status.spoiler_text.is_empty() { Value::Null } else { json!(status.spoiler_text) },
        "sensitive": status.sensitive,
        "published": status.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "updated": status.edited_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "inReplyTo": parent,
        "url": format!("{}/{}", urls.profile(author), status.id),
        "to": to,
        "cc": cc,
        "tag": tag,
        "tier": author.tier().as_str(),
    });
    let documents = documents(urls, &status.attachments);
    if let (false, Some(o)) = (documents.is_empty(), doc.as_object_mut()) {
        o.insert("attachment".into(), Value::Array(documents));
    }
    doc
}

/// A local post's media as ActivityPub `Document`s: the file, its alt text
/// (`name`), blurhash, focal point and size.
fn documents(urls: &Urls, attachments: &Value) -> Vec<Value> {
    attachments
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a.get("local").and_then(Value::as_bool) == Some(true))
        .filter_map(|a| {
            let key = a.get("key")?.as_str()?;
            let original = a.get("meta").and_then(|m| m.get("original"));
            let focus = a.get("meta").and_then(|m| m.get("focus"));
            let mut d = json!({
                "type": "Document",
                "mediaType": a.get("media_type"),
                "url": format!("{}/media/local/{key}", urls.base),
                "name": a.get("description").cloned().unwrap_or(Value::Null),
                "blurhash": a.get("blurhash"),
                "width": original.and_then(|o| o.get("width")),
                "height": original.and_then(|o| o.get("height")),
            });
            if let (Some(f), Some(o)) = (focus, d.as_object_mut()) {
                o.insert("focalPoint".into(), json!([f.get("x"), f.get("y")]));
            }
            Some(d)
        })
        .collect()
}

/// The WebFinger answer for a local face.
pub fn webfinger(urls: &Urls, face: &Identity) -> Value {
    let actor = urls.actor(face);
    json!({
        "subject": format!("acct:{}@{}", face.handle, urls.domain()),
        "aliases": [actor, urls.profile(face)],
        "links": [
            { "rel": "self", "type": AP_CONTENT_TYPE, "href": actor },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": urls.profile(face) }
        ]
    })
}

/// An `OrderedCollection` that shows only its size.
pub fn collection(id: &str, total: i64) -> Value {
    json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "OrderedCollection", "totalItems": total })
}

/// `Create` wrapping a note, addressed as the note is.
pub fn create_activity(note: &Value) -> Value {
    json!({
        "@context": context(),
        "id": format!("{}/activity", note["id"].as_str().unwrap_or_default()),
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    })
}

/// `Follow` from a local face; its id names the follow so an Accept can be matched.
pub fn follow_activity(
    urls: &Urls,
    follower: &Identity,
    target_actor: &str,
    follow_id: i64,
) -> Value {
    let actor = urls.actor(follower);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/follows/{follow_id}"),
        "type": "Follow",
        "actor": actor,
        "object": target_actor,
    })
}

/// `Accept` or `Reject` of a remote Follow (`follow_id` is the remote activity's id).
pub fn answer_follow(
    urls: &Urls,
    local: &Identity,
    remote_actor: &str,
    follow_id: &str,
    accept: bool,
    answer_id: i64,
) -> Value {
    let actor = urls.actor(local);
    let mut follow = json!({ "type": "Follow", "actor": remote_actor, "object": actor });
    // A request held before its id was kept is named by actor and object alone.
    if let (false, Some(o)) = (follow_id.is_empty(), follow.as_object_mut()) {
        o.insert("id".into(), json!(follow_id));
    }
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/answers/{answer_id}"),
        "type": if accept { "Accept" } else { "Reject" },
        "actor": actor,
        "object": follow,
    })
}

/// `Delete` of one of a face's notes, with a `Tombstone`.
pub fn delete_note_activity(urls: &Urls, author: &Identity, status_id: i64) -> Value {
    let actor = urls.actor(author);
    let note = urls.status(author, status_id);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{note}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": { "id": note, "type": "Tombstone" },
    })
}

/// A vote in a remote poll, as Mastodon sends it: a `Create` of a `Note`
/// whose `name` is the chosen option, replying to the `Question`, addressed
/// to its author only.
pub fn vote_activity(
    urls: &Urls,
    voter: &Identity,
    question: &str,
    author_actor: &str,
    option: &str,
    vote_id: &str,
) -> Value {
    let actor = urls.actor(voter);
    let note = json!({
        "id": format!("{actor}/votes/{vote_id}"),
        "type": "Note",
        "name": option,
        "attributedTo": actor,
        "inReplyTo": question,
        "to": [author_actor],
    });
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/votes/{vote_id}/activity"),
        "type": "Create",
        "actor": actor,
        "to": [author_actor],
        "object": note,
    })
}

/// A local post with a poll, as a `Question`: its options (`oneOf`, or
/// `anyOf` for several choices) with their counts, `endTime`, `closed`
/// once over, and `votersCount`.
pub fn as_question(
    doc: &mut Value,
    options: &[(String, i64)],
    multiple: bool,
    end: Option<chrono::DateTime<chrono::Utc>>,
    closed: bool,
    voters: i64,
) {
    let Some(o) = doc.as_object_mut() else { return };
    o.insert("type".into(), json!("Question"));
    let list: Vec<Value> = options
        .iter()
        .map(|(name, n)| {
            json!({ "type": "Note", "name": name, "replies": { "type": "Collection", "totalItems": n } })
        })
        .collect();
    o.insert(
        if multiple { "anyOf" } else { "oneOf" }.into(),
        Value::Array(list),
    );
    if let Some(t) = end {
        let t = json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        o.insert("endTime".into(), t.clone());
        if closed {
            o.insert("closed".into(), t);
        }
    }
    o.insert("votersCount".into(), json!(voters));
}

/// `Like` of a remote note by a local face.
pub fn like_activity(urls: &Urls, face: &Identity, object: &str, like_id: i64) -> Value {
    let actor = urls.actor(face);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/likes/{like_id}"),
        "type": "Like",
        "actor": actor,
        "object": object,
    })
}

/// `Announce` of a status by a local face; its id is derived from the boost's
/// own status id, so an `Undo` names the same Announce.
pub fn announce_activity(
    urls: &Urls,
    booster: &Identity,
    reblog_id: i64,
    object: &str,
    object_author: &str,
    published: chrono::DateTime<chrono::Utc>,
    visibility: Visibility,
) -> Value {
    let actor = urls.actor(booster);
    let followers = format!("{actor}/followers");
    let (to, cc) = match visibility {
        Visibility::Public => (json!([PUBLIC]), json!([object_author, followers])),
        Visibility::Unlisted => (json!([followers]), json!([PUBLIC, object_author])),
        _ => (json!([followers]), json!([object_author])),
    };
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": announce_id(urls, booster, reblog_id),
        "type": "Announce",
        "actor": actor,
        "published": published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "to": to,
        "cc": cc,
        "object": object,
    })
}

pub fn announce_id(urls: &Urls, booster: &Identity, reblog_id: i64) -> String {
    format!("{}/activity", urls.status(booster, reblog_id))
}

/// `Undo` of an earlier activity of a local face (embedded, as Mastodon does).
pub fn undo_activity(urls: &Urls, face: &Identity, inner: Value, undo_id: i64) -> Value {
    let actor = urls.actor(face);
    let mut inner = inner;
    if let Some(o) = inner.as_object_mut() {
        o.remove("@context");
    }
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/undo/{undo_id}"),
        "type": "Undo",
        "actor": actor,
        "to": inner.get("to").cloned().unwrap_or(json!([PUBLIC])),
        "object": inner,
    })
}

/// `Block` of a remote actor by a local face.
pub fn block_activity(urls: &Urls, face: &Identity, target_actor: &str, block_id: i64) -> Value {
    let actor = urls.actor(face);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}/blocks/{block_id}"),
        "type": "Block",
        "actor": actor,
        "object": target_actor,
    })
}

/// `Update` of a note or of the face itself.
pub fn update_activity(urls: &Urls, face: &Identity, object: &Value, update_id: i64) -> Value {
    let actor = urls.actor(face);
    let mut object = object.clone();
    if let Some(o) = object.as_object_mut() {
        o.remove("@context");
    }
    json!({
        "@context": context(),
        "id": format!("{actor}#updates/{update_id}"),
        "type": "Update",
        "actor": actor,
        "to": object.get("to").cloned().unwrap_or(json!([PUBLIC])),
        "cc": object.get("cc").cloned().unwrap_or(json!([])),
        "object": object,
    })
}

/// `Delete` of the face itself: the actor is gone.
pub fn delete_actor_activity(urls: &Urls, face: &Identity) -> Value {
    let actor = urls.actor(face);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{actor}#delete"),
        "type": "Delete",
        "actor": actor,
        "to": [PUBLIC],
        "object": actor,
    })
}
