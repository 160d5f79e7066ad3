//! HTTP signatures (draft-cavage, as Mastodon and most of the fediverse use
//! them), through `http-signature-normalization`, the crate that
//! `activitypub_federation` signs with.
//!
//! Verification happens in our own inbox path, by `keyId`, before anything
//! of the request is stored. Every time check — the `Date` header and the
//! draft-11 `created`/`expires` parameters — is ours, against the injected
//! clock (±1 hour); the library's own checks read the system clock, so they
//! are given a window too wide to decide anything. POSTs must sign a
//! `Digest` that matches the body.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use http_signature_normalization::Config;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

pub const MAX_SKEW_SECS: i64 = 3600;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    #[error("no Signature header")]
    Missing,
    #[error("RFC 9421 signatures are not supported; sign with draft-cavage")]
    Rfc9421,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("the Date header is missing or more than an hour off")]
    Date,
    #[error("the body does not match the signed Digest")]
    Digest,
    #[error("the signature does not verify")]
    Invalid,
    #[error("key: {0}")]
    Key(String),
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// How far the library's own expiry checks reach. It compares the `Date`
/// and `created` with the *system* clock; our checks (in `verify`, against
/// the injected clock) decide, so the library's must never refuse what ours
/// accept, whatever date a test clock or a drifting host says. A thousand
/// years stays far from `SystemTime`'s limits.
const LIBRARY_WINDOW: Duration = Duration::from_secs(1000 * 366 * 86_400);

fn config() -> Config {
    Config::new()
        .mastodon_compat()
        .set_expiration(LIBRARY_WINDOW)
}

/// A draft-11 `created` or `expires` parameter of the Signature header, if
/// present. Parsed here first because the library adds durations to it and
/// would panic on a hostile value near `u64::MAX`.
fn signature_time(sig: &str, name: &str) -> Result<Option<DateTime<Utc>>, SigError> {
    let Some(v) = sig
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
    else {
        return Ok(None);
    };
    v.parse::<i64>()
        .ok()
        .filter(|secs| (0..=253_402_300_799).contains(secs)) // up to 9999-12-31
        .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
        .map(Some)
        .ok_or_else(|| SigError::Malformed(format!("bad {name}")))
}

/// A remote actor's public key (SubjectPublicKeyInfo or PKCS#1 PEM) as the
/// modulus and exponent ring verifies with. Keys of 1 024 bits and more are
/// taken, as Mastodon takes them: verifying involves nothing secret.
fn public_key(pem: &str) -> Result<ring::signature::RsaPublicKeyComponents<Vec<u8>>, SigError> {
    let key = RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| SigError::Key(e.to_string()))?;
    Ok(ring::signature::RsaPublicKeyComponents {
        n: key.n().to_bytes_be(),
        e: key.e().to_bytes_be(),
    })
}

/// A remote actor's public key, parsed once (an inbox keeps it with the
/// sender, so a PEM is not parsed again for every activity).
#[derive(Debug)]
pub struct PublicKey(ring::signature::RsaPublicKeyComponents<Vec<u8>>);

impl PublicKey {
    pub fn from_pem(pem: &str) -> Result<PublicKey, SigError> {
        public_key(pem).map(PublicKey)
    }
}

/// A private key parsed once, ready to sign. Signing is OpenSSL's RSA
/// (the system's libcrypto: constant-time and blinded, and on CPUs with
/// AVX-512 IFMA it runs both CRT halves at once — 2 658 signatures/s on one
/// core of the bench machine against ring's 1 543 and the `rsa` crate's
/// ~440, which also carries RUSTSEC-2023-0071, a timing leak on every
/// signature). Verifying stays with ring: public-key work is cheap.
pub struct SigningKey(openssl::pkey::PKey<openssl::pkey::Private>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigError> {
        // An RSA key's default padding is PKCS#1 v1.5.
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.0)
            .and_then(|mut s| s.sign_oneshot_to_vec(message))
            .map_err(|e| SigError::Key(format!("signing failed: {e}")))
    }
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Result<Vec<u8>, SigError> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    BASE64
        .decode(body)
        .map_err(|e| SigError::Key(format!("PEM: {e}")))
}

/// Headers to add to a request signed by `key_id`: Host, Date, Digest (with a
/// body) and Signature. `path_and_query` is what follows the host.
pub fn sign(
    method: &str,
    host: &str,
    path_and_query: &str,
    body: Option<&[u8]>,
    key_id: &str,
    private_pem: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, SigError> {
    let key = private_key(private_pem)?;
    sign_with(method, host, path_and_query, body, key_id, &key, now)
}

/// A private key parsed once (parsing costs about a signature), for
/// signing many requests. Only a PKCS#8 RSA key of at least 2 048 bits.
pub fn private_key(private_pem: &str) -> Result<SigningKey, SigError> {
    if !private_pem.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(SigError::Key("not a PKCS#8 private key".into()));
    }
    let key = openssl::pkey::PKey::private_key_from_pkcs8(&pem_der(private_pem)?)
        .map_err(|e| SigError::Key(e.to_string()))?;
    if key.id() != openssl::pkey::Id::RSA || key.bits() < 2048 {
        return Err(SigError::Key("not an RSA key of 2048 bits or more".into()));
    }
    Ok(SigningKey(key))
}

/// `sign` with a parsed key.
pub fn sign_with(
    method: &str,
    host: &str,
    path_and_query: &str,
    body: Option<&[u8]>,
    key_id: &str,
    key: &SigningKey,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, SigError> {
    let mut headers = BTreeMap::new();
    headers.insert("host".to_owned(), host.to_owned());
    headers.insert("date".to_owned(), http_date(now));
    if let Some(b) = body {
        headers.insert("digest".to_owned(), digest(b));
        headers.insert(
            "content-type".to_owned(),
            "application/activity+json".to_owned(),
        );
    }
    let signed = config()
        .begin_sign(method, path_and_query, headers.clone())
        .map_err(|e| SigError::Malformed(e.to_string()))?
        .sign(key_id.to_owned(), |signing_string| {
            key.sign(signing_string.as_bytes())
                .map(|s| BASE64.encode(s))
        })?;
    let mut out: Vec<(String, String)> = headers.into_iter().collect();
    out.push(("signature".to_owned(), signed.signature_header()));
    Ok(out)
}

/// The `keyId` of a request's signature, to find the key before anything else.
pub fn key_id(headers: &BTreeMap<String, String>) -> Result<String, SigError> {
    let Some(sig) = headers.get("signature") else {
        return Err(if headers.contains_key("signature-input") {
            SigError::Rfc9421
        } else {
            SigError::Missing
        });
    };
    sig.split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| *k == "keyId")
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .ok_or_else(|| SigError::Malformed("no keyId".into()))
}

/// Verifies a request's signature with `public_pem`. `headers` have
/// lower-case names; `body` is checked against the signed Digest.
pub fn verify(
    method: &str,
    path_and_query: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    public_pem: &str,
    now: DateTime<Utc>,
) -> Result<(), SigError> {
    let key = PublicKey::from_pem(public_pem)?;
    verify_with(method, path_and_query, headers, body, &key, now)
}

/// [`verify`] with a key parsed before.
pub fn verify_with(
    method: &str,
    path_and_query: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    key: &PublicKey,
    now: DateTime<Utc>,
) -> Result<(), SigError> {
    key_id(headers)?;
    let date = headers
        .get("date")
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .map(DateTime::<Utc>::from)
        .ok_or(SigError::Date)?;
    if (now - date).num_seconds().abs() > MAX_SKEW_SECS {
        return Err(SigError::Date);
    }
    let sig = headers
        .get("signature")
        .map(String::as_str)
        .unwrap_or_default();
    if let Some(created) = signature_time(sig, "created")? {
        if (now - created).num_seconds().abs() > MAX_SKEW_SECS {
            return Err(SigError::Date);
        }
    }
    if let Some(expires) = signature_time(sig, "expires")? {
        if (now - expires).num_seconds() > MAX_SKEW_SECS {
            return Err(SigError::Date);
        }
        // The library refuses an `expires` before the *system* clock and
        // cannot be told otherwise: only a test clock far from it meets that.
    }
    let post = !method.eq_ignore_ascii_case("get") && !method.eq_ignore_ascii_case("head");
    let cfg = if post {
        config().require_digest()
    } else {
        config()
    };
    let unverified = cfg
        .begin_verify(method, path_and_query, headers.clone())
        .map_err(|e| SigError::Malformed(e.to_string()))?;
    if post {
        let sent = headers.get("digest").ok_or(SigError::Digest)?;
        let ok = sent.split(',').any(|d| match d.trim().split_once('=') {
            Some((alg, v)) if alg.eq_ignore_ascii_case("sha-256") => {
                v == digest(body).trim_start_matches("SHA-256=")
            }
            _ => false,
        });
        if !ok {
            return Err(SigError::Digest);
        }
    }
    let good = unverified.verify(|signature, signing_string| {
        BASE64
            .decode(signature)
            .ok()
            .map(|sig| {
                key.0
                    .verify(
                        &ring::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                        signing_string.as_bytes(),
                        &sig,
                    )
                    .is_ok()
            })
            .unwrap_or(false)
    });
    if good {
        Ok(())
    } else {
        Err(SigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn lower(h: Vec<(String, String)>) -> BTreeMap<String, String> {
        h.into_iter().map(|(k, v)| (k.to_lowercase(), v)).collect()
    }

    /// Dates far from the day the tests were written, both ways: every
    /// check reads the clock it is given, never the system's.
    fn any_dates() -> [DateTime<Utc>; 3] {
        [
            Utc.with_ymd_and_hms(2019, 3, 1, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2035, 7, 15, 23, 59, 30).unwrap(),
        ]
    }

    /// We sign (OpenSSL) what an independent implementation (the `rsa`
    /// crate) verifies, and verify (ring) what it signs — 1 024-bit keys included, as
    /// older servers still have them.
    #[test]
    fn signatures_agree_with_an_independent_rsa_implementation() {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
        use rsa::{Pkcs1v15Sign, RsaPrivateKey};
        let message = b"(request-target): post /inbox";
        let pair = crate::keys::generate().unwrap();
        let ours = private_key(&pair.private_pem)
            .unwrap()
            .sign(message)
            .unwrap();
        let theirs = RsaPrivateKey::from_pkcs8_pem(&pair.private_pem).unwrap();
        let digest = Sha256::digest(message);
        theirs
            .to_public_key()
            .verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &ours)
            .expect("the rsa crate verifies our signature");
        // PKCS#1 v1.5 is deterministic: the same bytes as the rsa crate's.
        assert_eq!(
            theirs.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap(),
            ours
        );
        let small = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let sig = small.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
        let pem = small
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let key = public_key(&pem).unwrap();
        let check = |m: &[u8]| {
            key.verify(
                &ring::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                m,
                &sig,
            )
        };
        assert!(check(message).is_ok());
        assert!(check(b"(request-target): post /other").is_err());
        // A PKCS#1 private key is refused with a clear error, not a panic.
        let pkcs1 = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&small, LineEnding::LF).unwrap();
        assert!(private_key(&pkcs1).is_err());
        // So is a key too short to sign with.
        let short = rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&small, LineEnding::LF).unwrap();
        assert!(private_key(&short).is_err());
    }

    #[test]
    fn signatures_verify_and_refuse_every_tampering() {
        for now in any_dates() {
            verify_and_refuse_every_tampering_at(now);
        }
    }

    fn verify_and_refuse_every_tampering_at(now: DateTime<Utc>) {
        let alice = crate::keys::generate().unwrap();
        let mallory = crate::keys::generate().unwrap();
        let body = br#"{"type":"Follow"}"#;
        let h = lower(
            sign(
                "POST",
                "b.example",
                "/inbox",
                Some(body),
                "https://a.example/users/alice#main-key",
                &alice.private_pem,
                now,
            )
            .unwrap(),
        );
        assert_eq!(
            key_id(&h).unwrap(),
            "https://a.example/users/alice#main-key"
        );
        assert!(
            h["signature"].contains("headers=\"(request-target) content-type date digest host\""),
            "{}",
            h["signature"]
        );
        assert_eq!(
            verify("POST", "/inbox", &h, body, &alice.public_pem, now),
            Ok(())
        );
        assert_eq!(
            verify(
                "POST",
                "/inbox",
                &h,
                body,
                &alice.public_pem,
                now + chrono::Duration::minutes(59)
            ),
            Ok(())
        );
        // Tampered body, another path, another key, stale or future date, no digest.
        assert_eq!(
            verify(
                "POST",
                "/inbox",
                &h,
                br#"{"type":"Block"}"#,
                &alice.public_pem,
                now
            ),
            Err(SigError::Digest)
        );
        assert_eq!(
            verify("POST", "/users/bob/inbox", &h, body, &alice.public_pem, now),
            Err(SigError::Invalid)
        );
        assert_eq!(
            verify("POST", "/inbox", &h, body, &mallory.public_pem, now),
            Err(SigError::Invalid)
        );
        assert_eq!(
            verify(
                "POST",
                "/inbox",
                &h,
                body,
                &alice.public_pem,
                now + chrono::Duration::hours(2)
            ),
            Err(SigError::Date)
        );
        assert_eq!(
            verify(
                "POST",
                "/inbox",
                &h,
                body,
                &alice.public_pem,
                now - chrono::Duration::hours(2)
            ),
            Err(SigError::Date)
        );
        let mut no_digest = h.clone();
        no_digest.remove("digest");
        assert!(verify("POST", "/inbox", &no_digest, body, &alice.public_pem, now).is_err());
        let mut forged_date = h.clone();
        forged_date.insert("date".into(), http_date(now + chrono::Duration::minutes(5)));
        assert_eq!(
            verify("POST", "/inbox", &forged_date, body, &alice.public_pem, now),
            Err(SigError::Invalid)
        );
        // RFC 9421 is answered so the sender retries with draft-cavage.
        let mut rfc = BTreeMap::new();
        rfc.insert(
            "signature-input".to_owned(),
            "sig1=(\"@method\");keyid=\"k\"".to_owned(),
        );
        assert_eq!(key_id(&rfc), Err(SigError::Rfc9421));
        assert_eq!(key_id(&BTreeMap::new()), Err(SigError::Missing));
    }

    #[test]
    fn signed_gets_need_no_digest() {
        for now in any_dates() {
            signed_get_at(now);
        }
    }

    fn signed_get_at(now: DateTime<Utc>) {
        let k = crate::keys::generate().unwrap();
        let h = lower(
            sign(
                "GET",
                "b.example",
                "/users/bob",
                None,
                "https://a.example/actor#main-key",
                &k.private_pem,
                now,
            )
            .unwrap(),
        );
        assert!(!h.contains_key("digest"));
        assert_eq!(
            verify("GET", "/users/bob", &h, b"", &k.public_pem, now),
            Ok(())
        );
    }

    /// Replaces the Signature header's parameters with `params` (already
    /// signed over), as a draft-11 signer would send them.
    fn with_params(h: &BTreeMap<String, String>, params: &str) -> BTreeMap<String, String> {
        let mut h = h.clone();
        let sig = format!("{},{params}", h["signature"]);
        h.insert("signature".into(), sig);
        h
    }

    #[test]
    fn created_and_expires_are_checked_against_our_clock_and_never_panic() {
        for now in any_dates() {
            let k = crate::keys::generate().unwrap();
            let h = lower(
                sign(
                    "GET",
                    "b.example",
                    "/x",
                    None,
                    "https://a.example/k",
                    &k.private_pem,
                    now,
                )
                .unwrap(),
            );
            // Parameters not named in `headers` are not signed over, but
            // their times are still checked before anything else.
            let fresh = now.timestamp();
            let ok = with_params(&h, &format!("created={fresh}"));
            assert_eq!(verify("GET", "/x", &ok, b"", &k.public_pem, now), Ok(()));
            let stale = with_params(&h, &format!("created={}", fresh - 7200));
            assert_eq!(
                verify("GET", "/x", &stale, b"", &k.public_pem, now),
                Err(SigError::Date)
            );
            let expired = with_params(&h, &format!("expires={}", fresh - 7200));
            assert_eq!(
                verify("GET", "/x", &expired, b"", &k.public_pem, now),
                Err(SigError::Date)
            );
            for hostile in ["18446744073709551615", "-5", "1e9", "99999999999999"] {
                for field in ["created", "expires"] {
                    let bad = with_params(&h, &format!("{field}={hostile}"));
                    assert!(
                        matches!(
                            verify("GET", "/x", &bad, b"", &k.public_pem, now),
                            Err(SigError::Malformed(_))
                        ),
                        "{field}={hostile}"
                    );
                }
            }
        }
    }
}
