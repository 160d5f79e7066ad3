//! Guise over ActivityPub: actor and object documents, WebFinger and the
//! signing keys of faces. Built on `activitypub_federation`'s key handling.
//!
//! Every face is its own actor with its own key pair; nothing in one face's
//! documents names another face. Federation knows nothing of the Mastodon API.

pub mod delivery;
pub mod fetch;
pub mod keys;
pub mod media;
pub mod protocol;
pub mod remote;
pub mod sanitize;
pub mod signatures;
pub mod webpush;

pub use protocol::Urls;
