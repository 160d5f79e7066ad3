//! Pure decisions for Guise. No I/O, no async, no database: every function
//! here takes plain data and returns a decision that carries a reason code,
//! which the API shows to users and admins.
//!
//! This crate owns the vocabulary of tiers and visibilities.

pub mod delivery;
pub mod incoming;
pub mod names;
mod posting;
pub mod reach;
mod vocab;

pub use posting::{check_post, Decision, PostAttempt, PostingRules, Refusal};
pub use vocab::{ParseError, Tier, Visibility};
