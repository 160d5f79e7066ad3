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
    /// Guise's extension, when the remote server is a Guise.
    pub tier: Option<Tier>,
    /// The domain that says it verified this real name (shown only if trusted).
    pub verified_by: Option<String>,
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
        tier,
        verified_by,
        id,
    })
}
