//! Two-factor sign-in: TOTP codes (RFC 6238 — HMAC-SHA1, 30-second steps,
//! 6 digits, the kind every authenticator app makes) and one-time recovery
//! codes for a lost phone.
//!
//! Checking a code writes nothing tied to the login (signing in never
//! does: see docs/anonymity.md, rule 4). A TOTP code's step is returned so
//! the caller can refuse the same code twice from process memory; a
//! recovery code is one row of `otp_recovery`, named only by a salted hash,
//! deleted when used.

use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::{accounts, otp_recovery};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hmac::{Hmac, Mac};
use sha2::Digest;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Steps either side of now that are still accepted (clock drift).
const DRIFT_STEPS: i64 = 1;
/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;

/// The 6-digit code for `step` (RFC 4226 dynamic truncation).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.get(19).copied().unwrap_or(0) & 0x0f);
    let word = h
        .get(offset..offset + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_be_bytes(b) & 0x7fff_ffff)
        .unwrap_or(0);
    word % 1_000_000
}

/// The step a Unix time falls in.
pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step within the drift window whose code `code` is, if any.
pub fn matching_step(secret: &[u8], code: &str, now_unix: i64) -> Option<i64> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = digits.parse().ok()?;
    let now = step_of(now_unix);
    // Compared in full for every candidate step (no early exit on a match).
    let mut found = None;
    for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
        if code_at(secret, step) == want && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32, no padding (what authenticator apps take).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let letter = |v: u32| char::from(ALPHABET.get((v & 31) as usize).copied().unwrap_or(b'A'));
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(letter(buffer >> bits));
        }
    }
    if bits > 0 {
        out.push(letter(buffer << (5 - bits)));
    }
    out
}

/// Decodes [`base32`] (case and spaces ignored).
pub fn from_base32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in s.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A new secret (160 bits, as RFC 4226 recommends).
pub fn new_secret() -> Vec<u8> {
    rand::random::<[u8; 20]>().to_vec()
}

/// The `otpauth://` URI an authenticator app takes (as a link or QR code).
pub fn uri(issuer: &str, login: &str, secret: &[u8]) -> String {
    let label: String =
        url::form_urlencoded::byte_serialize(format!("{issuer}:{login}").as_bytes()).collect();
    let issuer_q: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
    format!(
        "otpauth://totp/{label}?secret={}&issuer={issuer_q}&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

fn recovery_hash(salt: &[u8], code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha2::Sha256::new()
        .chain_update(b"guise otp recovery\0")
        .chain_update(salt)
        .chain_update(normal.as_bytes())
        .finalize()
        .to_vec()
}

/// Turns two-factor sign-in on with `secret` (which `code` must match now)
/// and makes a fresh set of recovery codes, returned once.
pub async fn enable(
    conn: &mut DbConn,
    account_id: i64,
    secret: &[u8],
    code: &str,
    now_unix: i64,
) -> CoreResult<Vec<String>> {
    if secret.len() < 16 {
        return Err(CoreError::invalid("secret", "is too short"));
    }
    if matching_step(secret, code, now_unix).is_none() {
        return Err(CoreError::invalid(
            "code",
            "does not match: check the time on your phone",
        ));
    }
    diesel::update(accounts::table.find(account_id))
        .set(accounts::otp_secret.eq(Some(secret)))
        .execute(conn)
        .await?;
    new_recovery_codes(conn, account_id).await
}

/// Turns two-factor sign-in off; its recovery codes stop working.
pub async fn disable(conn: &mut DbConn, account_id: i64) -> CoreResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::otp_secret.eq(None::<Vec<u8>>),
            accounts::otp_salt.eq(Some(rand::random::<[u8; 16]>().to_vec())),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A new set of recovery codes (the old ones stop working), returned once.
pub async fn new_recovery_codes(conn: &mut DbConn, account_id: i64) -> CoreResult<Vec<String>> {
    let salt = rand::random::<[u8; 16]>().to_vec();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw = base32(&rand::random::<[u8; 10]>()).to_lowercase();
            format!("{}-{}", &raw[..8], &raw[8..])
        })
        .collect();
    let rows: Vec<_> = codes
        .iter()
        .map(|c| otp_recovery::code_hash.eq(recovery_hash(&salt, c)))
        .collect();
    let salt_c = salt.clone();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::update(accounts::table.find(account_id))
            .set(accounts::otp_salt.eq(Some(salt_c)))
            .execute(conn)
            .await?;
        diesel::insert_into(otp_recovery::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(codes)
}

/// How a second factor was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Second {
    /// A TOTP code of this step (refuse the same step twice).
    Step(i64),
    /// A recovery code, now used up.
    Recovery,
}

/// Checks `code` (a TOTP code or a recovery code) for a login that has
/// two-factor sign-in on. A recovery code is used up.
pub async fn check(
    conn: &mut DbConn,
    account_id: i64,
    code: &str,
    now_unix: i64,
) -> CoreResult<Option<Second>> {
    let (secret, salt): (Option<Vec<u8>>, Option<Vec<u8>>) = accounts::table
        .find(account_id)
        .select((accounts::otp_secret, accounts::otp_salt))
        .first(conn)
        .await?;
    let Some(secret) = secret else {
        return Ok(None);
    };
    if let Some(step) = matching_step(&secret, code, now_unix) {
        return Ok(Some(Second::Step(step)));
    }
    let Some(salt) = salt else {
        return Ok(None);
    };
    let used = diesel::delete(
        otp_recovery::table.filter(otp_recovery::code_hash.eq(recovery_hash(&salt, code))),
    )
    .execute(conn)
    .await?;
    Ok((used == 1).then_some(Second::Recovery))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret "12345678901234567890" and
    /// the last six digits of its 8-digit test values.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
            (20_000_000_000, 353_130),
        ] {
            assert_eq!(code_at(secret, step_of(t)), want, "t = {t}");
        }
    }

    #[test]
    fn codes_match_within_one_step_either_side() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let code = |step: i64| format!("{:06}", code_at(secret, step));
        assert_eq!(
            matching_step(secret, &code(step_of(now)), now),
            Some(step_of(now))
        );
        assert_eq!(
            matching_step(secret, &code(step_of(now) - 1), now),
            Some(step_of(now) - 1)
        );
        assert_eq!(
            matching_step(secret, &code(step_of(now) + 1), now),
            Some(step_of(now) + 1)
        );
        assert_eq!(matching_step(secret, &code(step_of(now) - 2), now), None);
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_as_rfc_4648_says() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(from_base32("mzxw 6ytb oi").unwrap(), b"foobar");
        let s = new_secret();
        assert_eq!(from_base32(&base32(&s)).unwrap(), s);
        assert!(from_base32("not base32!").is_none());
    }
}
