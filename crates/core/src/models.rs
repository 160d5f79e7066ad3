//! Storage rows as diesel reads them. These never derive `Serialize`: the
//! Mastodon and ActivityPub shapes are built from them explicitly elsewhere.

use crate::id::Id;
use crate::schema::*;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use guise_policy::{Tier, Visibility};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_on: NaiveDate,
    pub disabled: bool,
    /// Tokens are sealed under the epoch they were issued in; moving it on
    /// kills them all at once.
    pub token_epoch: i64,
    /// Whether its email is confirmed (signed-up logins start unconfirmed
    /// when the instance sends mail).
    pub confirmed: bool,
    /// The TOTP secret, when two-factor sign-in is on.
    pub otp_secret: Option<Vec<u8>>,
    /// False while a sign-up waits for a moderator's approval.
    pub approved: bool,
}

impl Account {
    pub fn id(&self) -> Id {
        Id::from_i64(self.id)
    }
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
    pub fn is_staff(&self) -> bool {
        self.role == "admin" || self.role == "moderator"
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = identities)]
pub struct Identity {
    pub id: i64,
    pub account_id: Option<i64>,
    pub tier: String,
    pub handle: String,
    pub domain: Option<String>,
    pub display_name: String,
    pub note: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub verified: bool,
    pub verified_by: Option<String>,
    pub actor_url: Option<String>,
    pub inbox_url: Option<String>,
    pub shared_inbox_url: Option<String>,
    pub public_key_pem: Option<String>,
    pub private_key_pem: Option<String>,
    pub created_on: NaiveDate,
    pub suspended: bool,
    pub owner_tag: Option<Vec<u8>>,
    pub owner_nonce: Option<Vec<u8>>,
    pub thread_tag: Option<Vec<u8>>,
    pub tombstoned: bool,
    pub real_name_status: Option<String>,
    /// A remote actor's avatar and header URLs (shown through the media proxy).
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    /// Profile fields: a JSON list of `{name, value, verified_at}`.
    pub fields: serde_json::Value,
    /// A local face's own avatar and header (keys in the media store).
    pub avatar_key: Option<String>,
    pub header_key: Option<String>,
    /// What a remote actor says of itself ([`ActorProfile`], as JSON).
    pub profile: serde_json::Value,
    /// Kept off the public timelines by a moderator (Mastodon's "limit").
    pub silenced: bool,
}

/// What a remote actor says of itself beyond its name and keys, kept as
/// sent (`identities.profile`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActorProfile {
    /// Its profile page (`url`), which `rel="me"` links point back to.
    pub url: Option<String>,
    /// Its public posts may be indexed for full-text search.
    pub indexable: bool,
    /// A memorial account: its person has died.
    pub memorial: bool,
    /// Suspended by its own server (this instance's own suspension is
    /// `identities.suspended`).
    pub suspended: bool,
    /// The actor it moved to.
    pub moved_to: Option<String>,
    /// Actors it says it also is: a `Move` from one of them to it is believed.
    pub also_known_as: Vec<String>,
    /// FEP-521a Multikeys `{id, publicKeyMultibase}`: parsed, not yet used.
    pub multikeys: Vec<serde_json::Value>,
}

impl ActorProfile {
    /// As stored; what is missing or malformed reads as the default.
    pub fn from_json(v: &serde_json::Value) -> ActorProfile {
        let flag = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        ActorProfile {
            url: v.get("url").and_then(|m| m.as_str()).map(str::to_owned),
            indexable: flag("indexable"),
            memorial: flag("memorial"),
            suspended: flag("suspended"),
            moved_to: v
                .get("moved_to")
                .and_then(|m| m.as_str())
                .map(str::to_owned),
            also_known_as: strings("also_known_as"),
            multikeys: v
                .get("multikeys")
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url,
            "indexable": self.indexable,
            "memorial": self.memorial,
            "suspended": self.suspended,
            "moved_to": self.moved_to,
            "also_known_as": self.also_known_as,
            "multikeys": self.multikeys,
        })
    }
}

impl Identity {
    pub fn id(&self) -> Id {
        Id::from_i64(self.id)
    }
    pub fn tier(&self) -> Tier {
        self.tier.parse().unwrap_or(Tier::Pseudonymous)
    }
    /// Its [`ActorProfile`] (the defaults for a local face).
    pub fn profile(&self) -> ActorProfile {
        ActorProfile::from_json(&self.profile)
    }
    pub fn is_local(&self) -> bool {
        self.domain.is_none()
    }
    /// `handle` for local faces, `handle@domain` for remote ones.
    pub fn acct(&self) -> String {
        match &self.domain {
            None => self.handle.clone(),
            Some(d) => format!("{}@{}", self.handle, d),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = statuses)]
pub struct Status {
    pub id: i64,
    pub identity_id: i64,
    pub uri: Option<String>,
    pub url: Option<String>,
    pub source_text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: String,
    pub language: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub in_reply_to_identity_id: Option<i64>,
    pub thread_root_id: i64,
    pub reblog_of_id: Option<i64>,
    pub local: bool,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// Remote notes' media, as `guise_federation::remote::RemoteAttachment`s.
    pub attachments: serde_json::Value,
    /// Remote notes' custom emoji, as `RemoteEmoji`s.
    pub emojis: serde_json::Value,
}

impl Status {
    pub fn id(&self) -> Id {
        Id::from_i64(self.id)
    }
    pub fn visibility(&self) -> Visibility {
        self.visibility.parse().unwrap_or(Visibility::Direct)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = status_edits)]
pub struct StatusEdit {
    pub id: i64,
    pub status_id: i64,
    pub source_text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: i64,
    pub identity_id: i64,
    pub from_identity_id: i64,
    pub kind: String,
    pub status_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = preferences)]
pub struct Preferences {
    pub identity_id: i64,
    pub default_visibility: String,
    pub default_sensitive: bool,
    pub default_language: Option<String>,
    /// Who may reach the face anonymously: "everyone", "own_threads" or
    /// "nobody" (see `reach`).
    pub anonymous_reach: String,
    /// Keep anonymous posts out of the face's timelines.
    pub hide_anonymous: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_apps)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: String,
    pub scopes: String,
    pub client_id: String,
    pub client_secret: String,
    pub created_on: NaiveDate,
}
