//! The second factor at every door a password opens for signing in: the
//! web sign-in, the OAuth authorize page and the password grant. One
//! login guards every face, so one check guards them all.

use crate::error::ApiResult;
use crate::state::AppState;
use guise_core::models::Account;
use guise_core::otp::{self, Second};

/// What a sign-in's second factor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not needed (two-factor sign-in is off), or given and right.
    Passed,
    /// Needed and not given.
    Needed,
    /// Given and wrong (or a code already used).
    Wrong,
}

/// Checks `code` for `account` (whose password was just checked, under
/// the same attempt limit). A recovery code is used up; a TOTP code is
/// refused the second time.
pub async fn check(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    account: &Account,
    code: Option<&str>,
) -> ApiResult<Outcome> {
    if account.otp_secret.is_none() {
        return Ok(Outcome::Passed);
    }
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(Outcome::Needed);
    };
    let now = state.clock.now().timestamp();
    Ok(match otp::check(conn, account.id, code, now).await? {
        Some(Second::Step(step)) if state.passwords.fresh_otp_step(account.id, step) => {
            Outcome::Passed
        }
        Some(Second::Recovery) => Outcome::Passed,
        _ => Outcome::Wrong,
    })
}
