//! Core's one error type. The server maps each variant to a status code and
//! a Mastodon-style message; internal details never reach a client.

use guise_policy::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("not found")]
    NotFound,
    /// Input that fails validation; `field` names the offending parameter.
    #[error("validation failed on {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("refused by policy: {}", .0.code())]
    Refused(Refusal),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("internal: {0}")]
    Internal(String),
    /// Not now: try again shortly (503).
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Whether the database refused a write because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            CoreError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// `Option` from a diesel lookup that may legitimately find nothing.
pub trait OptionalExt<T> {
    fn found(self) -> CoreResult<T>;
}

impl<T> OptionalExt<T> for Result<T, diesel::result::Error> {
    fn found(self) -> CoreResult<T> {
        match self {
            Ok(v) => Ok(v),
            Err(diesel::result::Error::NotFound) => Err(CoreError::NotFound),
            Err(e) => Err(CoreError::Database(e)),
        }
    }
}
