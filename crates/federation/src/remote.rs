//! Remote actors, parsed from hostile JSON: nothing is believed that its
//! origin cannot vouch for. An actor's id must sit on the host it was
//! fetched from, its inbox and key on the same host, and its key must be
//! owned by it.

use guise_policy::Tier;
use serde_json::Value;
use url::Url;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RemoteError {
    #[error("not an actor: {0}")]
    NotAnActor(String),
    #[error("missing or invalid {0}")]
    Field(&'static str),
    #[error("{0} is not on the actor's own host")]
    Origin(&'static str),
    #[error("the key is not owned by the actor")]
    KeyOwner,
    #[error("not a note: {0}")]
    NotANote(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteActor {
    pub id: Url,
    pub kind: String,
    pub username: String,
    pub name: String,
    pub summary: String,
    pub url: Option<Url>,
    pub inbox: Url,
    pub shared_inbox: Option<Url>,
    pub key_id: String,
    pub public_key_pem: String,
    pub locked: bool,
    pub discoverable: bool,
    /// A `Service` or `Application`: an automated account.
    pub bot: bool,
    /// `icon` and `image`: avatar and header (http(s) URLs only).
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    /// Guise's extension, when the remote server is a Guise.
    pub tier: Option<Tier>,
    /// The domain that says it verified this real name (shown only if trusted).
    pub verified_by: Option<String>,
    /// Its public posts may be indexed for full-text search (`indexable`).
    pub indexable: bool,
    /// A memorial account (`memorial`): its person has died.
    pub memorial: bool,
    /// Suspended by its own server (`suspended`).
    pub suspended: bool,
    /// The account it moved to (`movedTo`), on any server.
    pub moved_to: Option<Url>,
    /// Other actors it says it also is (`alsoKnownAs`): a `Move` to it from
    /// one of them is believed.
    pub also_known_as: Vec<Url>,
    /// Profile fields (`attachment` of `PropertyValue`s): names as text,
    /// values as sanitized HTML.
    pub fields: Vec<ProfileField>,
    /// When it was made (`published`).
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    /// Its `Multikey` verification methods (FEP-521a), on its own host and
    /// controlled by it. Parsed, not yet used to verify anything.
    pub multikeys: Vec<Multikey>,
}

/// A profile field of a remote actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileField {
    pub name: String,
    /// Sanitized HTML, as statuses are.
    pub value: String,
}

/// A `Multikey` an actor lists under `assertionMethod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multikey {
    pub id: Url,
    /// `publicKeyMultibase`, as sent (e.g. `z6Mk…` for Ed25519).
    pub public_key_multibase: String,
}

/// Profile fields kept of one actor, and their sizes.
const MAX_FIELDS: usize = 16;
const MAX_FIELD_NAME: usize = 255;
const MAX_FIELD_VALUE: usize = 2048;
/// Aliases kept of one actor.
const MAX_ALIASES: usize = 20;

/// An http(s) URL of at most 2048 bytes (a string, or an object's `id`).
fn web_url_of(v: &Value) -> Option<Url> {
    let s = v.as_str().or_else(|| at(v, "id").as_str())?;
    Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && s.len() <= 2048)
}

/// A JSON value as a list (a single value is a list of one).
fn listed(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        x => vec![x],
    }
}

fn profile_fields(v: &Value) -> Vec<ProfileField> {
    listed(at(v, "attachment"))
        .into_iter()
        .filter(|f| at(f, "type").as_str() == Some("PropertyValue"))
        .filter_map(|f| {
            let name = text(at(f, "name"), MAX_FIELD_NAME);
            let raw = at(f, "value").as_str()?;
            if name.trim().is_empty() || raw.len() > MAX_FIELD_VALUE * 4 {
                return None;
            }
            let value = crate::sanitize::status_html(raw)?;
            (value.len() <= MAX_FIELD_VALUE).then_some(ProfileField { name, value })
        })
        .take(MAX_FIELDS)
        .collect()
}

fn multikeys(v: &Value, id: &Url) -> Vec<Multikey> {
    listed(at(v, "assertionMethod"))
        .into_iter()
        .filter(|k| at(k, "type").as_str() == Some("Multikey"))
        .filter(|k| at(k, "controller").as_str() == Some(id.as_str()))
        .filter_map(|k| {
            let key_id = web_url_of(at(k, "id")).filter(|u| same_origin(u, id))?;
            let multibase = at(k, "publicKeyMultibase")
                .as_str()
                .filter(|m| m.len() <= 1024 && m.starts_with('z'))?;
            Some(Multikey {
                id: key_id,
                public_key_multibase: multibase.to_owned(),
            })
        })
        .take(8)
        .collect()
}

/// A member of a JSON object, or null (never panics).
fn at<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

const ACTOR_TYPES: &[&str] = &["Person", "Service", "Application", "Group", "Organization"];
const MAX_NAME: usize = 200;
const MAX_SUMMARY: usize = 20_000;

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn url_field(v: &Value, name: &'static str) -> Result<Url, RemoteError> {
    v.as_str()
        .and_then(|s| Url::parse(s).ok())
        .ok_or(RemoteError::Field(name))
}

fn text(v: &Value, max: usize) -> String {
    v.as_str()
        .map(|s| s.chars().take(max).collect())
        .unwrap_or_default()
}

/// The URL of an `Image` (or the first of a list of them), or a bare URL.
fn image_url(v: &Value) -> Option<String> {
    let one = match v {
        Value::Array(a) => a.first()?,
        x => x,
    };
    let url = match at(one, "url") {
        Value::String(s) => Some(s.as_str()),
        Value::Object(_) => at(at(one, "url"), "href").as_str(),
        _ => one.as_str(),
    }?;
    Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && url.len() <= 2048)
        .map(|_| url.to_owned())
}

/// Parses an actor document fetched from `fetched_from` (the final URL after
/// any redirect).
pub fn parse_actor(v: &Value, fetched_from: &Url) -> Result<RemoteActor, RemoteError> {
    let kind = at(v, "type").as_str().unwrap_or_default();
    if !ACTOR_TYPES.contains(&kind) {
        return Err(RemoteError::NotAnActor(kind.to_owned()));
    }
    let id = url_field(at(v, "id"), "id")?;
    if !same_origin(&id, fetched_from) {
        return Err(RemoteError::Origin("id"));
    }
    let inbox = url_field(at(v, "inbox"), "inbox")?;
    if !same_origin(&inbox, &id) {
        return Err(RemoteError::Origin("inbox"));
    }
    let shared_inbox = match at(at(v, "endpoints"), "sharedInbox").as_str() {
        Some(s) => {
            let u = Url::parse(s).map_err(|_| RemoteError::Field("sharedInbox"))?;
            same_origin(&u, &id).then_some(u)
        }
        None => None,
    };
    let key = &at(v, "publicKey");
    let key_id = at(key, "id")
        .as_str()
        .ok_or(RemoteError::Field("publicKey.id"))?
        .to_owned();
    let key_url = Url::parse(&key_id).map_err(|_| RemoteError::Field("publicKey.id"))?;
    if !same_origin(&key_url, &id) {
        return Err(RemoteError::Origin("publicKey.id"));
    }
    if at(key, "owner").as_str() != Some(id.as_str()) {
        return Err(RemoteError::KeyOwner);
    }
    let public_key_pem = at(key, "publicKeyPem")
        .as_str()
        .ok_or(RemoteError::Field("publicKeyPem"))?
        .to_owned();
    if !public_key_pem.contains("PUBLIC KEY") || public_key_pem.len() > 4096 {
        return Err(RemoteError::Field("publicKeyPem"));
    }
    let username = at(v, "preferredUsername")
        .as_str()
        .filter(|u| !u.is_empty() && u.len() <= 100)
        .ok_or(RemoteError::Field("preferredUsername"))?;
    let tier = at(v, "tier").as_str().and_then(|t| t.parse().ok());
    let verified_by = if tier == Some(Tier::RealName) {
        at(v, "verifiedBy")
            .as_str()
            .and_then(|s| Url::parse(s).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
    } else {
        None
    };
    Ok(RemoteActor {
        url: at(v, "url").as_str().and_then(|s| Url::parse(s).ok()),
        kind: kind.to_owned(),
        username: username.to_owned(),
        name: text(at(v, "name"), MAX_NAME),
        summary: text(at(v, "summary"), MAX_SUMMARY),
        inbox,
        shared_inbox,
        key_id,
        public_key_pem,
        locked: at(v, "manuallyApprovesFollowers")
            .as_bool()
            .unwrap_or(false),
        discoverable: at(v, "discoverable").as_bool().unwrap_or(false),
        bot: matches!(kind, "Service" | "Application"),
        avatar_url: image_url(at(v, "icon")),
        header_url: image_url(at(v, "image")),
        tier,
        verified_by,
        indexable: at(v, "indexable").as_bool().unwrap_or(false),
        memorial: at(v, "memorial").as_bool().unwrap_or(false),
        suspended: at(v, "suspended").as_bool().unwrap_or(false),
        moved_to: web_url_of(at(v, "movedTo")).filter(|m| *m != id),
        also_known_as: listed(at(v, "alsoKnownAs"))
            .into_iter()
            .filter_map(web_url_of)
            .filter(|a| *a != id)
            .take(MAX_ALIASES)
            .collect(),
        fields: profile_fields(v),
        published: time(at(v, "published")),
        multikeys: multikeys(v, &id),
        id,
    })
}

/// The object types we store as statuses (Lemmy posts are `Page`s).
const NOTE_TYPES: &[&str] = &["Note", "Article", "Page", "Question"];
const MAX_CONTENT: usize = 100_000;
const MAX_LIST: usize = 100;

/// A media attachment of a remote note: shown by its remote URL, never fetched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteAttachment {
    pub url: String,
    pub media_type: Option<String>,
    pub description: Option<String>,
    pub blurhash: Option<String>,
}

/// A custom emoji used in a remote note or name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteEmoji {
    pub shortcode: String,
    pub url: String,
}

/// A remote note, parsed from hostile JSON. Its id must be on its author's
/// host; the rest is taken as given and bounded in size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNoteDoc {
    pub id: Url,
    pub kind: String,
    pub attributed_to: Url,
    /// HTML as sent; reduced to text by the caller.
    pub content: String,
    /// Content warning (`summary` on a Note; Lemmy's `name` is a title, kept here too).
    pub summary: String,
    pub sensitive: bool,
    pub in_reply_to: Option<String>,
    pub url: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
    /// Actor ids of `Mention` tags.
    pub mentions: Vec<String>,
    /// Hashtag names without `#`, lowercased.
    pub hashtags: Vec<String>,
    pub emojis: Vec<RemoteEmoji>,
    pub attachments: Vec<RemoteAttachment>,
    pub tier: Option<Tier>,
    /// A `Question`'s options and counts.
    pub poll: Option<guise_core::polls::RemotePoll>,
    /// A `Note`'s `name` (a vote in a poll carries the option there).
    pub name: String,
}

/// An http(s) URL, or nothing (`javascript:`, `data:` and the like are dropped).
fn web_url(s: &str) -> Option<String> {
    Url::parse(s)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|_| s.to_owned())
}

/// How many addressees are read (Mitra addresses each subscriber by name).
const MAX_ADDRESSEES: usize = 1000;
/// How many tags are looked at; of each kind at most `MAX_LIST` are kept.
const MAX_TAGS_READ: usize = 1000;

/// A list of strings or objects with ids (`to`, `cc`), or a single one.
fn ids(v: &Value) -> Vec<String> {
    let one = |x: &Value| {
        x.as_str()
            .map(str::to_owned)
            .or_else(|| at(x, "id").as_str().map(str::to_owned))
    };
    match v {
        Value::Array(a) => a.iter().take(MAX_ADDRESSEES).filter_map(one).collect(),
        Value::Null => Vec::new(),
        x => one(x).into_iter().collect(),
    }
}

fn list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().take(MAX_TAGS_READ).collect(),
        Value::Null => Vec::new(),
        x => vec![x],
    }
}

fn time(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `attributedTo` as a string, an object, or (Lemmy, Mitra) a list whose
/// first actor is the author.
fn author_of(v: &Value) -> Option<Url> {
    let a = at(v, "attributedTo");
    let s = match a {
        Value::Array(items) => items.iter().find_map(|x| {
            x.as_str()
                .or_else(|| at(x, "id").as_str())
                .filter(|_| x.is_string() || at(x, "type").as_str() != Some("Group"))
        }),
        x => x.as_str().or_else(|| at(x, "id").as_str()),
    };
    s.and_then(|s| Url::parse(s).ok())
}

/// `content`, or (when that is missing or empty) its `contentMap` in any language.
fn content_of(v: &Value) -> String {
    if let Some(c) = at(v, "content").as_str().filter(|c| !c.is_empty()) {
        return c.chars().take(MAX_CONTENT).collect();
    }
    if let Some(m) = at(v, "contentMap").as_object() {
        if let Some(c) = m.values().find_map(Value::as_str) {
            return c.chars().take(MAX_CONTENT).collect();
        }
    }
    String::new()
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Parses a remote note (Note, Article, Page, Question). The id must sit on
/// the author's host.
pub fn parse_note(v: &Value) -> Result<RemoteNoteDoc, RemoteError> {
    let kind = at(v, "type").as_str().unwrap_or_default();
    if !NOTE_TYPES.contains(&kind) {
        return Err(RemoteError::NotANote(kind.to_owned()));
    }
    let id = url_field(at(v, "id"), "id")?;
    let attributed_to = author_of(v).ok_or(RemoteError::Field("attributedTo"))?;
    if !same_origin(&id, &attributed_to) {
        return Err(RemoteError::Origin("id"));
    }
    let mut mentions = Vec::new();
    let mut hashtags = Vec::new();
    let mut emojis = Vec::new();
    for t in list(at(v, "tag")) {
        match at(t, "type").as_str() {
            Some("Mention") if mentions.len() < MAX_LIST => {
                if let Some(h) = at(t, "href").as_str().and_then(web_url) {
                    mentions.push(h);
                }
            }
            Some("Hashtag") if hashtags.len() < MAX_LIST => {
                let name = at(t, "name").as_str().unwrap_or_default();
                let name = name.trim_start_matches('#').to_lowercase();
                // What a local hashtag may hold (letters, digits, `_`): no
                // control character (PostgreSQL refuses NUL in text), no
                // space or slash to break a `/tags/…` URL.
                let word = name.chars().all(|c| c.is_alphanumeric() || c == '_');
                if !name.is_empty() && name.len() <= 100 && word {
                    hashtags.push(name);
                }
            }
            Some("Emoji") if emojis.len() < MAX_LIST => {
                let code = at(t, "name").as_str().unwrap_or_default().trim_matches(':');
                let icon = at(t, "icon");
                let url = at(icon, "url").as_str().or_else(|| icon.as_str());
                if let (false, Some(url)) =
                    (code.is_empty() || code.len() > 100, url.and_then(web_url))
                {
                    emojis.push(RemoteEmoji {
                        shortcode: code.to_owned(),
                        url,
                    });
                }
            }
            _ => {}
        }
    }
    let mut attachments = Vec::new();
    // A `Link` to a web page (Lemmy's link posts) is not media: it is kept
    // with the text instead.
    let mut links = Vec::new();
    for a in list(at(v, "attachment")).into_iter().take(MAX_LIST) {
        let media_type = at(a, "mediaType").as_str().map(str::to_owned);
        let url = match at(a, "url") {
            Value::String(s) => Some(s.clone()),
            Value::Array(links) => links
                .iter()
                .find_map(|l| at(l, "href").as_str().map(str::to_owned)),
            x => at(x, "href").as_str().map(str::to_owned),
        }
        .or_else(|| at(a, "href").as_str().map(str::to_owned));
        let Some(url) = url.as_deref().and_then(web_url) else {
            continue;
        };
        let is_media = media_type
            .as_deref()
            .map(|m| m.starts_with("image/") || m.starts_with("video/") || m.starts_with("audio/"))
            .unwrap_or(at(a, "type").as_str() != Some("Link"));
        if !is_media {
            links.push(url);
            continue;
        }
        // Alt text: `summary` (GoToSocial), else `name` (Mastodon, others).
        let description = at(a, "summary")
            .as_str()
            .filter(|s| !s.is_empty())
            .or_else(|| at(a, "name").as_str())
            .map(|s| s.chars().take(1500).collect());
        attachments.push(RemoteAttachment {
            url,
            media_type,
            description,
            blurhash: at(a, "blurhash")
                .as_str()
                .filter(|b| b.len() <= 100)
                .map(str::to_owned),
        });
    }
    // A Page or Article has a title in `name`: shown above the text (as
    // Mastodon does), never as a content warning.
    let summary = at(v, "summary").as_str().unwrap_or_default().to_owned();
    let mut content = content_of(v);
    if matches!(kind, "Page" | "Article") {
        let title = text(at(v, "name"), 500);
        let mut head = String::new();
        if !title.is_empty() {
            head.push_str(&format!("<p>{}</p>", escape_html(&title)));
        }
        for l in &links {
            head.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape_html(l)));
        }
        content = format!("{head}{content}");
    }
    let in_reply_to = match at(v, "inReplyTo") {
        Value::String(s) => Some(s.clone()),
        x => at(x, "id").as_str().map(str::to_owned),
    };
    let url = match at(v, "url") {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a
            .iter()
            .find_map(|l| l.as_str().or_else(|| at(l, "href").as_str()))
            .map(str::to_owned),
        x => at(x, "href").as_str().map(str::to_owned),
    }
    .and_then(|u| web_url(&u));
    let poll = (kind == "Question").then(|| question(v)).flatten();
    let name = if kind == "Note" {
        text(at(v, "name"), 500)
    } else {
        String::new()
    };
    Ok(RemoteNoteDoc {
        poll,
        name,
        kind: kind.to_owned(),
        content: content.chars().take(MAX_CONTENT).collect(),
        summary: summary.chars().take(MAX_SUMMARY).collect(),
        sensitive: at(v, "sensitive").as_bool().unwrap_or(false),
        in_reply_to,
        url,
        to: ids(at(v, "to")),
        cc: ids(at(v, "cc")),
        published: time(at(v, "published")),
        updated: time(at(v, "updated")),
        mentions,
        hashtags,
        emojis,
        attachments,
        tier: at(v, "tier").as_str().and_then(|t| t.parse().ok()),
        attributed_to,
        id,
    })
}

/// How many options of a remote poll are kept.
const MAX_POLL_OPTIONS: usize = 20;

/// A `Question`'s options (`oneOf`, or `anyOf` for several choices), each
/// with its `replies.totalItems`; `endTime` (or `closed`), `votersCount`.
fn question(v: &Value) -> Option<guise_core::polls::RemotePoll> {
    let (list, multiple) = match (at(v, "oneOf"), at(v, "anyOf")) {
        (Value::Array(a), _) => (a, false),
        (_, Value::Array(a)) => (a, true),
        _ => return None,
    };
    let options: Vec<(String, i64)> = list
        .iter()
        .take(MAX_POLL_OPTIONS)
        .filter_map(|o| {
            let name = text(at(o, "name"), 200);
            (!name.is_empty()).then(|| {
                let n = at(at(o, "replies"), "totalItems")
                    .as_i64()
                    .unwrap_or(0)
                    .max(0);
                (name, n)
            })
        })
        .collect();
    if options.is_empty() {
        return None;
    }
    let closed_at = time(at(v, "closed"));
    let closed = closed_at.is_some() || at(v, "closed").as_bool() == Some(true);
    Some(guise_core::polls::RemotePoll {
        options,
        multiple,
        expires_at: time(at(v, "endTime")).or(closed_at),
        voters_count: at(v, "votersCount").as_i64().map(|n| n.max(0)),
        closed,
    })
}

/// An activity's envelope: its type, id, actor, and object (an id, or an
/// embedded object that is not trusted beyond its id unless its origin matches).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteActivity {
    pub kind: String,
    pub id: Url,
    pub actor: Url,
    /// The object's id (an embedded object's `id`).
    pub object_id: Option<String>,
    /// The embedded object, when there is one.
    pub object: Option<Value>,
    /// `target` (a `Move`'s new actor), as an id.
    pub target: Option<Url>,
    /// Every object's id when `object` is a list (a `Flag` names an actor
    /// and some of its posts); the one object's otherwise. At most 100.
    pub objects: Vec<String>,
    /// `content`, as sent (a `Flag`'s comment), at most 5 000 characters.
    pub content: Option<String>,
}

/// Parses an activity's envelope; the id must be on the actor's host.
pub fn parse_activity(v: &Value) -> Result<RemoteActivity, RemoteError> {
    let kind = at(v, "type")
        .as_str()
        .filter(|k| !k.is_empty() && k.len() < 50)
        .ok_or(RemoteError::Field("type"))?;
    let id = url_field(at(v, "id"), "id")?;
    let actor_v = at(v, "actor");
    let actor = actor_v
        .as_str()
        .or_else(|| at(actor_v, "id").as_str())
        .and_then(|s| Url::parse(s).ok())
        .ok_or(RemoteError::Field("actor"))?;
    if !same_origin(&id, &actor) {
        return Err(RemoteError::Origin("id"));
    }
    let object = at(v, "object");
    let (object_id, object) = match object {
        Value::String(s) => (Some(s.clone()), None),
        Value::Object(_) => (
            at(object, "id").as_str().map(str::to_owned),
            Some(object.clone()),
        ),
        _ => (None, None),
    };
    let id_of = |o: &Value| {
        o.as_str()
            .or_else(|| at(o, "id").as_str())
            .map(str::to_owned)
    };
    let objects = match at(v, "object") {
        Value::Array(list) => list.iter().take(100).filter_map(id_of).collect(),
        one => id_of(one).into_iter().collect(),
    };
    let content = at(v, "content")
        .as_str()
        .map(|c| c.chars().take(5000).collect());
    Ok(RemoteActivity {
        kind: kind.to_owned(),
        id,
        actor,
        object_id,
        object,
        target: web_url_of(at(v, "target")),
        objects,
        content,
    })
}

/// Whether two URLs share scheme, host and port.
pub fn same_host(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => same_origin(&a, &b),
        _ => false,
    }
}
