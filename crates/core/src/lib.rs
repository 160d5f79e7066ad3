//! Guise's domain and its persistence: accounts (logins), identities (faces),
//! statuses and the social graph, OAuth records, and the use cases that change
//! them. Every use case asks `guise-policy` first and writes its side effects
//! as `outbox_events` rows in the same transaction (a transactional outbox).
//!
//! Core knows nothing of HTTP, of the Mastodon API's JSON, or of ActivityPub.

pub mod accounts;
pub mod announcements;
pub mod announcer;
pub mod anon;
pub mod audit;
pub mod clock;
pub mod conversations;
pub mod db;
pub mod domains;
pub mod error;
pub mod events;
pub mod faces;
pub mod filters;
pub mod held;
pub mod id;
pub mod keepings;
pub mod keys;
pub mod lists;
pub mod measures;
pub mod media;
pub mod models;
pub mod moderation;
pub mod oauth;
pub mod otp;
pub mod policies;
pub mod policy_rules;
pub mod polls;
pub mod prepared;
pub mod push;
pub mod queue;
pub mod reach;
pub mod remote;
pub mod reports;
pub mod rules;
pub mod scheduled;
pub mod schema;
pub mod seal;
pub mod secret;
pub mod social;
pub mod statuses;
pub mod stream;
pub mod text;
pub mod timelines;
pub mod uploads;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use db::{Db, DbConn};
pub use error::{CoreError, CoreResult};
pub use id::Id;
