//! Every refusal is a Mastodon-style `{"error": "..."}` with the right
//! status. Internal details are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use guise_core::CoreError;
use std::fmt;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For OAuth endpoints: RFC 6749 error code.
    pub oauth_code: Option<&'static str>,
    /// Seconds to wait, sent as `Retry-After` (with 429).
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            oauth_code: None,
            retry_after: None,
        }
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "The access token is invalid")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Record not found")
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn oauth(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            oauth_code: Some(code),
            retry_after: None,
        }
    }
    /// 429, for a password check refused by `guard::PasswordGuard`.
    pub fn password_guard(r: crate::guard::Refused) -> Self {
        let (message, wait) = match r {
            crate::guard::Refused::TooMany(s) => ("Too many attempts, try again later", s),
            crate::guard::Refused::Busy => ("Too many sign-ins at once, try again shortly", 5),
            crate::guard::Refused::Blocked => {
                return Self::new(
                    StatusCode::FORBIDDEN,
                    "Your network address may not do this on this server",
                )
            }
        };
        ApiError {
            retry_after: Some(wait),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let body = match self.oauth_code {
            Some(code) => serde_json::json!({ "error": code, "error_description": self.message }),
            None => serde_json::json!({ "error": self.message }),
        };
        let mut r = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            r.insert_header((actix_web::http::header::RETRY_AFTER, s.to_string()));
        }
        r.json(body)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound => ApiError::not_found(),
            CoreError::Invalid { field, message } => {
                ApiError::unprocessable(format!("Validation failed: {field} {message}"))
            }
            CoreError::Refused(r) => {
                if r == guise_policy::Refusal::Suspended {
                    ApiError::forbidden(r.message())
                } else {
                    ApiError::unprocessable(r.message())
                }
            }
            CoreError::Forbidden(m) => ApiError::forbidden(m),
            CoreError::Conflict(m) => ApiError::unprocessable(m),
            CoreError::Unavailable(m) => ApiError {
                retry_after: Some(5),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, m)
            },
            CoreError::Database(_) | CoreError::Pool(_) | CoreError::Internal(_) => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}
