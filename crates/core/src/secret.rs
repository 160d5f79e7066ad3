//! Secrets: bearer tokens, authorization codes, client secrets and password
//! hashing. Raw secrets live in `Secret`, which redacts on `Debug` and zeroizes
//! on drop; the database stores only derived lookup hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// A raw secret string handed to a client once.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// 256 random bits, URL-safe base64.
    pub fn generate() -> Secret {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Secret(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
    }

    pub fn from_string(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The database key for a token or code: SHA-256("lookup" || secret).
/// Never the same derivation as anything that wraps a key under the token.
pub fn lookup_hash(secret: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"lookup");
    h.update(secret.as_bytes());
    h.finalize().to_vec()
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), own salt per hash.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// PKCE S256: BASE64URL(SHA-256(verifier)) == challenge, compared in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest);
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_redact_and_differ() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
        assert_eq!(a.expose().len(), 43);
    }

    #[test]
    fn passwords_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn pkce_s256() {
        // Challenge computed independently: base64url(sha256(verifier)) with Python's hashlib.
        assert!(pkce_s256_matches(
            "dBjftJeZ4CVP-mJ0kzsMRrb6ERgEbY6vZoM5mnqPmpI",
            "gOS-LUaHSRKe2EE-Jc1hK9ZzStXpcrARM579jgdXtj0"
        ));
        assert!(!pkce_s256_matches(
            "other",
            "gOS-LUaHSRKe2EE-Jc1hK9ZzStXpcrARM579jgdXtj0"
        ));
    }
}
