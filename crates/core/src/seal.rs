//! Sealed ownership (unlinkability rule 3).
//!
//! Every account has a random 256-bit `k_anon`. The database holds it only
//! wrapped (XChaCha20-Poly1305) under keys that come from credentials the
//! server does not keep: the password (Argon2id, own salt), each live token,
//! refresh token and pending authorization code (HKDF), and a recovery code.
//! Anything that ties an anonymous face to its owner is a MAC or a ciphertext
//! under `k_anon`, so whoever holds the database and the configuration, but
//! no password or live token, holds noise.
//!
//! Every sealed blob starts with a version byte, and its AEAD binds the slot
//! it belongs to as associated data, so a blob copied to another row or
//! column does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

pub const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The account's anonymity key. Redacts on `Debug`, zeroizes on drop.
#[derive(Clone)]
pub struct KAnon(Zeroizing<[u8; 32]>);

/// A 256-bit wrapping key derived from a credential.
pub struct WrapKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for KAnon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KAnon(<redacted>)")
    }
}

impl fmt::Debug for WrapKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WrapKey(<redacted>)")
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

fn aad(slot: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(slot.len() + 1);
    a.push(VERSION);
    a.extend_from_slice(slot);
    a
}

/// `version ‖ nonce ‖ AEAD(key, plaintext, aad = version ‖ slot)`
fn seal_with(key: &[u8; 32], slot: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce: [u8; NONCE_LEN] = random();
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad(slot),
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open_with(key: &[u8; 32], slot: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let (&version, rest) = blob.split_first()?;
    if version != VERSION {
        return None;
    }
    let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad(slot),
            },
        )
        .ok()
        .map(Zeroizing::new)
}

impl KAnon {
    pub fn generate() -> KAnon {
        KAnon(Zeroizing::new(random()))
    }

    /// Wraps this key for storage under `wrap`, bound to `slot`
    /// (e.g. `b"account-password"`, `b"token"`).
    pub fn wrap(&self, wrap: &WrapKey, slot: &[u8]) -> Vec<u8> {
        seal_with(&wrap.0, slot, self.0.as_ref())
    }

    pub fn unwrap_from(wrap: &WrapKey, slot: &[u8], blob: &[u8]) -> Option<KAnon> {
        let plain = open_with(&wrap.0, slot, blob)?;
        let bytes: [u8; 32] = plain.as_slice().try_into().ok()?;
        Some(KAnon(Zeroizing::new(bytes)))
    }

    /// `HMAC-SHA256(k_anon, label ‖ 0x00 ‖ data)`: owner tags, thread tags,
    /// index slots and rate-limit keys. Distinct labels never collide.
    pub fn tag(&self, label: &str, data: &[u8]) -> [u8; 32] {
        tag_with(self.0.as_ref(), label, data)
    }

    /// Encrypts `plaintext` under `k_anon` itself, bound to `slot`.
    pub fn seal(&self, slot: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, slot, plaintext)
    }

    pub fn open(&self, slot: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        open_with(&self.0, slot, blob)
    }
}

fn tag_with(key: &[u8], label: &str, data: &[u8]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(label.as_bytes());
    mac.update(&[0]);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl WrapKey {
    /// From a bearer token, refresh token or authorization code. A different
    /// derivation from the lookup hash (`SHA-256("lookup" ‖ token)`), so the
    /// stored lookup hash reveals nothing of the wrapping key.
    pub fn from_token(token: &str) -> WrapKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"guise"), token.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"k_anon", out.as_mut());
        WrapKey(out)
    }

    /// From the password with Argon2id and the account's own salt.
    pub fn from_password(password: &str, salt: &[u8]) -> Result<WrapKey, String> {
        let mut out = Zeroizing::new([0u8; 32]);
        argon2::Argon2::default()
            .hash_password_into(password.as_bytes(), salt, out.as_mut())
            .map_err(|e| e.to_string())?;
        Ok(WrapKey(out))
    }

    /// Encrypts `plaintext` under this key, bound to `slot`.
    pub fn seal(&self, slot: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, slot, plaintext)
    }

    pub fn open(&self, slot: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        open_with(&self.0, slot, blob)
    }

    /// `HMAC(key, label ‖ 0 ‖ data)`: a name only this key's holders can
    /// compute (a token row's push subscription is found by one).
    pub fn tag(&self, label: &str, data: &[u8]) -> [u8; 32] {
        tag_with(self.0.as_ref(), label, data)
    }

    /// A fresh random key: the own key of one token row, which the token,
    /// its refresh token and the owner's `k_anon` each wrap.
    pub fn generate() -> WrapKey {
        WrapKey(Zeroizing::new(random()))
    }

    /// Wraps this key under `under`, bound to `slot`.
    pub fn wrap_under(&self, under: &WrapKey, slot: &[u8]) -> Vec<u8> {
        seal_with(&under.0, slot, self.0.as_ref())
    }

    /// Wraps this key under `k_anon`, bound to `slot`.
    pub fn wrap_under_k_anon(&self, k: &KAnon, slot: &[u8]) -> Vec<u8> {
        seal_with(&k.0, slot, self.0.as_ref())
    }

    pub fn unwrap_from(under: &WrapKey, slot: &[u8], blob: &[u8]) -> Option<WrapKey> {
        Self::from_plain(open_with(&under.0, slot, blob)?)
    }

    pub fn unwrap_from_k_anon(k: &KAnon, slot: &[u8], blob: &[u8]) -> Option<WrapKey> {
        Self::from_plain(open_with(&k.0, slot, blob)?)
    }

    fn from_plain(plain: Zeroizing<Vec<u8>>) -> Option<WrapKey> {
        let bytes: [u8; 32] = plain.as_slice().try_into().ok()?;
        Some(WrapKey(Zeroizing::new(bytes)))
    }

    /// From a recovery code (itself 128+ random bits, so HKDF suffices).
    pub fn from_recovery_code(code: &str) -> WrapKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"guise-recovery"), code.trim().as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(b"k_anon", out.as_mut());
        WrapKey(out)
    }
}

pub fn new_salt() -> [u8; 16] {
    random()
}

pub fn new_nonce() -> [u8; 16] {
    random()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_open_only_with_their_key_and_slot() {
        let k = KAnon::generate();
        let w = WrapKey::from_token("token-a");
        let blob = k.wrap(&w, b"token");
        assert_eq!(blob.first(), Some(&VERSION));
        let back = KAnon::unwrap_from(&w, b"token", &blob).unwrap();
        assert_eq!(back.tag("x", b"y"), k.tag("x", b"y"));
        assert!(KAnon::unwrap_from(&WrapKey::from_token("token-b"), b"token", &blob).is_none());
        assert!(
            KAnon::unwrap_from(&w, b"refresh", &blob).is_none(),
            "slot is bound"
        );
        let mut tampered = blob.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(KAnon::unwrap_from(&w, b"token", &tampered).is_none());
        let mut other_version = blob;
        other_version[0] = 2;
        assert!(KAnon::unwrap_from(&w, b"token", &other_version).is_none());
    }

    #[test]
    fn password_wrap() {
        let salt = new_salt();
        let k = KAnon::generate();
        let blob = k.wrap(
            &WrapKey::from_password("pw one", &salt).unwrap(),
            b"password",
        );
        assert!(KAnon::unwrap_from(
            &WrapKey::from_password("pw one", &salt).unwrap(),
            b"password",
            &blob
        )
        .is_some());
        assert!(KAnon::unwrap_from(
            &WrapKey::from_password("pw two", &salt).unwrap(),
            b"password",
            &blob
        )
        .is_none());
    }

    #[test]
    fn tags_depend_on_key_label_and_data() {
        let a = KAnon::generate();
        let b = KAnon::generate();
        assert_ne!(a.tag("face", b"n"), b.tag("face", b"n"));
        assert_ne!(a.tag("face", b"n"), a.tag("thread", b"n"));
        assert_ne!(a.tag("fa", b"ce"), a.tag("f", b"ace"));
        assert_eq!(a.tag("slot", b"1"), a.tag("slot", b"1"));
        assert_eq!(format!("{a:?}"), "KAnon(<redacted>)");
    }

    #[test]
    fn token_key_is_not_the_lookup_hash() {
        let t = "some-token";
        let w = WrapKey::from_token(t);
        assert_ne!(w.0.as_ref().to_vec(), crate::secret::lookup_hash(t));
    }

    #[test]
    fn sealed_payloads_round_trip_and_bind_their_slot() {
        let k = KAnon::generate();
        let blob = k.seal(b"index:0", b"hello");
        assert_eq!(k.open(b"index:0", &blob).unwrap().as_slice(), b"hello");
        assert!(k.open(b"index:1", &blob).is_none());
        assert!(KAnon::generate().open(b"index:0", &blob).is_none());
    }
}
