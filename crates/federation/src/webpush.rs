//! Web Push out: message encryption (RFC 8291 `aes128gcm`, and the legacy
//! `aesgcm` draft that Mastodon apps subscribe with unless they ask for the
//! standard), VAPID (RFC 8292) with an ES256 JWT, and the request to the
//! push service.
//!
//! The instance's VAPID key is kept in `instance_keys` under "vapid": the
//! PKCS#8 document (base64) as its private part and the uncompressed P-256
//! point (URL-safe base64) as its public part.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use guise_core::keys::KeyPair;
use guise_core::{CoreError, CoreResult};
use ring::rand::SystemRandom;
use ring::{aead, agreement, signature};
use sha2::Sha256;
use url::Url;

/// The name of the VAPID key in `instance_keys`.
pub const KEY_NAME: &str = "vapid";
/// How long a push service keeps a push for an offline device (Mastodon's 48 hours).
pub const TTL_SECS: u32 = 48 * 3600;
/// The record size written in an `aes128gcm` header.
const RECORD_SIZE: u32 = 4096;
/// The longest payload one record holds (record size, less the tag and the
/// padding delimiter, with room for the legacy two-byte padding length).
pub const MAX_PAYLOAD: usize = RECORD_SIZE as usize - 16 - 2;

/// A new VAPID key, in the shape `instance_keys` keeps.
pub fn generate() -> CoreResult<KeyPair> {
    let rng = SystemRandom::new();
    let pkcs8 =
        signature::EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| CoreError::Internal("making a VAPID key".into()))?;
    let pair = signature::EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .map_err(|_| CoreError::Internal("reading a VAPID key".into()))?;
    use ring::signature::KeyPair as _;
    Ok(KeyPair {
        public_pem: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        private_pem: STANDARD.encode(pkcs8.as_ref()),
    })
}

/// The instance's VAPID key, ready to sign.
pub struct Vapid {
    pair: signature::EcdsaKeyPair,
    public: Vec<u8>,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("public", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl Vapid {
    pub fn from_pair(pair: &KeyPair) -> CoreResult<Vapid> {
        let pkcs8 = STANDARD
            .decode(pair.private_pem.trim())
            .map_err(|_| CoreError::Internal("the stored VAPID key is not base64".into()))?;
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| CoreError::Internal("the stored VAPID key does not parse".into()))?;
        use ring::signature::KeyPair as _;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Vapid { pair, public })
    }

    /// The instance's, made on first use.
    pub async fn load(conn: &mut guise_core::DbConn) -> CoreResult<Vapid> {
        let pair = guise_core::keys::instance_key(conn, KEY_NAME, generate).await?;
        Vapid::from_pair(&pair)
    }

    /// The public key as apps read it (`vapid_key`, `server_key`,
    /// `configuration.vapid.public_key`): URL-safe base64 of the
    /// uncompressed point, padded, as Mastodon writes it.
    pub fn public_key(&self) -> String {
        URL_SAFE.encode(&self.public)
    }

    /// An ES256 JWT for `audience` (the push service's origin), valid until
    /// `expires` (seconds since the epoch), naming `subject` as the contact.
    pub fn jwt(&self, audience: &str, expires: i64, subject: &str) -> CoreResult<String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({ "aud": audience, "exp": expires, "sub": subject }).to_string(),
        );
        let signing_input = format!("{header}.{claims}");
        let sig = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| CoreError::Internal("signing a VAPID token".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(sig.as_ref())
        ))
    }
}

/// A user agent's key or secret as apps send it: base64, URL-safe or not,
/// padded or not.
pub fn decode_key(s: &str) -> Option<Vec<u8>> {
    let normal: String = s
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normal).ok()
}

/// One push, ready to POST.
#[derive(Debug, Clone)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[&[u8]], out: &mut [u8]) -> CoreResult<()> {
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, out)
        .map_err(|_| CoreError::Internal("HKDF length".into()))
}

/// The secrets of one message: the sender's fresh public key, the salt,
/// and the content key and nonce derived for `standard` or legacy.
struct Keys {
    sender_public: Vec<u8>,
    salt: [u8; 16],
    cek: [u8; 16],
    nonce: [u8; 12],
}

fn derive(
    standard: bool,
    ua_public: &[u8],
    auth: &[u8],
    salt: [u8; 16],
    shared: &[u8],
    sender_public: Vec<u8>,
) -> CoreResult<Keys> {
    let mut ikm = [0u8; 32];
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    if standard {
        // RFC 8291 §3.4: the auth secret and both public keys go into the
        // input keying material; then RFC 8188's key and nonce.
        hkdf(
            auth,
            shared,
            &[b"WebPush: info\0", ua_public, &sender_public],
            &mut ikm,
        )?;
        hkdf(&salt, &ikm, &[b"Content-Encoding: aes128gcm\0"], &mut cek)?;
        hkdf(&salt, &ikm, &[b"Content-Encoding: nonce\0"], &mut nonce)?;
    } else {
        // draft-ietf-webpush-encryption-04 with aesgcm: a "P-256" context
        // of both keys, length-prefixed, receiver first.
        hkdf(auth, shared, &[b"Content-Encoding: auth\0"], &mut ikm)?;
        let len = |k: &[u8]| u16::try_from(k.len()).unwrap_or(0).to_be_bytes();
        let (l_ua, l_as) = (len(ua_public), len(&sender_public));
        let context: [&[u8]; 5] = [b"P-256\0", &l_ua, ua_public, &l_as, &sender_public];
        let mut info_key: Vec<&[u8]> = vec![b"Content-Encoding: aesgcm\0"];
        info_key.extend(context);
        let mut info_nonce: Vec<&[u8]> = vec![b"Content-Encoding: nonce\0"];
        info_nonce.extend(context);
        hkdf(&salt, &ikm, &info_key, &mut cek)?;
        hkdf(&salt, &ikm, &info_nonce, &mut nonce)?;
    }
    Ok(Keys {
        sender_public,
        salt,
        cek,
        nonce,
    })
}

fn seal(keys: &Keys, mut record: Vec<u8>) -> CoreResult<Vec<u8>> {
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &keys.cek)
            .map_err(|_| CoreError::Internal("AES key".into()))?,
    );
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(keys.nonce),
        aead::Aad::empty(),
        &mut record,
    )
    .map_err(|_| CoreError::Internal("encrypting a push".into()))?;
    Ok(record)
}

/// Where a push goes: the subscription's endpoint, encoding, and the user
/// agent's public key and auth secret.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub endpoint: &'a Url,
    pub standard: bool,
    pub p256dh: &'a [u8],
    pub auth: &'a [u8],
}

/// Encrypts `payload` for `to` and signs the request. `now` is seconds
/// since the epoch; `contact` is the JWT subject (a `mailto:` or `https:`
/// URI).
pub fn message(
    vapid: &Vapid,
    to: Target<'_>,
    now: i64,
    contact: &str,
    payload: &[u8],
) -> CoreResult<Message> {
    let Target {
        endpoint,
        standard,
        p256dh: ua_public,
        auth,
    } = to;
    if payload.len() > MAX_PAYLOAD {
        return Err(CoreError::Internal("push payload too large".into()));
    }
    let rng = SystemRandom::new();
    let ephemeral = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng)
        .map_err(|_| CoreError::Internal("making an ECDH key".into()))?;
    let sender_public = ephemeral
        .compute_public_key()
        .map_err(|_| CoreError::Internal("ECDH public key".into()))?
        .as_ref()
        .to_vec();
    let shared = agreement::agree_ephemeral(
        ephemeral,
        &agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, ua_public),
        |s| s.to_vec(),
    )
    .map_err(|_| CoreError::invalid("subscription[keys][p256dh]", "not a P-256 point"))?;
    let salt: [u8; 16] = rand::random();
    let keys = derive(standard, ua_public, auth, salt, &shared, sender_public)?;
    let audience = endpoint.origin().ascii_serialization();
    let jwt = vapid.jwt(&audience, now + 12 * 3600, contact)?;
    let server_key = URL_SAFE_NO_PAD.encode(&vapid.public);
    let mut headers = vec![
        ("TTL".to_owned(), TTL_SECS.to_string()),
        ("Urgency".to_owned(), "normal".to_owned()),
        (
            "Content-Type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
    ];
    let body = if standard {
        // One record: the payload and the last-record delimiter.
        let mut record = payload.to_vec();
        record.push(2);
        let sealed = seal(&keys, record)?;
        let mut body = Vec::with_capacity(86 + sealed.len());
        body.extend_from_slice(&keys.salt);
        body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
        body.push(u8::try_from(keys.sender_public.len()).unwrap_or(65));
        body.extend_from_slice(&keys.sender_public);
        body.extend_from_slice(&sealed);
        headers.push(("Content-Encoding".to_owned(), "aes128gcm".to_owned()));
        headers.push((
            "Authorization".to_owned(),
            format!("vapid t={jwt}, k={server_key}"),
        ));
        body
    } else {
        // Two bytes of padding length (none), then the payload.
        let mut record = vec![0, 0];
        record.extend_from_slice(payload);
        headers.push(("Content-Encoding".to_owned(), "aesgcm".to_owned()));
        headers.push((
            "Encryption".to_owned(),
            format!("salt={}", URL_SAFE_NO_PAD.encode(keys.salt)),
        ));
        headers.push((
            "Crypto-Key".to_owned(),
            format!(
                "dh={};p256ecdsa={server_key}",
                URL_SAFE_NO_PAD.encode(&keys.sender_public)
            ),
        ));
        headers.push(("Authorization".to_owned(), format!("WebPush {jwt}")));
        seal(&keys, record)?
    };
    Ok(Message { headers, body })
}

/// The receiving side of a push, for tests and tools: opens `m` with the
/// user agent's key (ring keeps no static ECDH keys, so this key opens one
/// push) and auth secret, and returns the payload without its padding.
pub fn open_push(
    ua: agreement::EphemeralPrivateKey,
    ua_public: &[u8],
    auth: &[u8],
    m: &Message,
) -> Option<Vec<u8>> {
    let header = |name: &str| {
        m.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let standard = match header("Content-Encoding")? {
        "aes128gcm" => true,
        "aesgcm" => false,
        _ => return None,
    };
    let (salt, sender, sealed) = if standard {
        let salt: [u8; 16] = m.body.get(..16)?.try_into().ok()?;
        let idlen = usize::from(*m.body.get(20)?);
        let sender = m.body.get(21..21 + idlen)?.to_vec();
        (salt, sender, m.body.get(21 + idlen..)?)
    } else {
        let salt = decode_key(header("Encryption")?.strip_prefix("salt=")?)?;
        let dh = header("Crypto-Key")?
            .split(';')
            .find_map(|p| p.trim().strip_prefix("dh="))?;
        (salt.try_into().ok()?, decode_key(dh)?, m.body.as_slice())
    };
    let shared = agreement::agree_ephemeral(
        ua,
        &agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &sender),
        |s| s.to_vec(),
    )
    .ok()?;
    let keys = derive(standard, ua_public, auth, salt, &shared, sender).ok()?;
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &keys.cek).ok()?);
    let mut buf = sealed.to_vec();
    let plain = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(keys.nonce),
            aead::Aad::empty(),
            &mut buf,
        )
        .ok()?;
    if standard {
        // Strip the zero padding, then the last-record delimiter.
        let end = plain.iter().rposition(|b| *b != 0)?;
        (plain.get(end) == Some(&2)).then(|| plain.get(..end).unwrap_or_default().to_vec())
    } else {
        let pad = usize::from(u16::from_be_bytes([*plain.first()?, *plain.get(1)?]));
        plain.get(2 + pad..).map(<[u8]>::to_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::KeyPair as _;

    /// A user agent: a one-use ECDH key (ring keeps no static ones, so each
    /// test message gets its own) and an auth secret.
    fn user_agent() -> (agreement::EphemeralPrivateKey, Vec<u8>, [u8; 16]) {
        let rng = SystemRandom::new();
        let k = agreement::EphemeralPrivateKey::generate(&agreement::ECDH_P256, &rng).unwrap();
        let public = k.compute_public_key().unwrap().as_ref().to_vec();
        (k, public, rand::random())
    }

    fn header<'a>(m: &'a Message, name: &str) -> &'a str {
        m.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    fn to<'a>(url: &'a Url, standard: bool, p256dh: &'a [u8], auth: &'a [u8]) -> Target<'a> {
        Target {
            endpoint: url,
            standard,
            p256dh,
            auth,
        }
    }

    fn vapid() -> Vapid {
        Vapid::from_pair(&generate().unwrap()).unwrap()
    }

    #[test]
    fn a_standard_message_opens_with_the_user_agents_key() {
        let v = vapid();
        let url = Url::parse("https://push.example:8443/send/abc").unwrap();
        let (ua, ua_public, auth) = user_agent();
        let m = message(
            &v,
            to(&url, true, &ua_public, &auth),
            1_000,
            "https://guise.example/",
            b"hello",
        )
        .unwrap();
        assert_eq!(header(&m, "Content-Encoding"), "aes128gcm");
        assert_eq!(u32::from_be_bytes(m.body[16..20].try_into().unwrap()), 4096);
        assert_eq!(m.body[20], 65);
        assert!(header(&m, "Authorization").starts_with("vapid t="));
        assert!(header(&m, "Authorization")
            .ends_with(&format!(", k={}", URL_SAFE_NO_PAD.encode(&v.public))));
        assert_eq!(open_push(ua, &ua_public, &auth, &m).unwrap(), b"hello");
        // Another auth secret does not open it.
        let (ua, ua_public, auth) = user_agent();
        let m = message(&v, to(&url, true, &ua_public, &auth), 1_000, "x", b"hello").unwrap();
        let wrong: [u8; 16] = rand::random();
        assert!(open_push(ua, &ua_public, &wrong, &m).is_none());
    }

    #[test]
    fn a_legacy_message_names_its_salt_and_key_in_headers() {
        let v = vapid();
        let url = Url::parse("https://push.example/x").unwrap();
        let (ua, ua_public, auth) = user_agent();
        let m = message(
            &v,
            to(&url, false, &ua_public, &auth),
            1_000,
            "https://guise.example/",
            b"hi",
        )
        .unwrap();
        assert_eq!(header(&m, "Content-Encoding"), "aesgcm");
        assert!(header(&m, "Encryption").starts_with("salt="));
        assert!(header(&m, "Crypto-Key")
            .ends_with(&format!("p256ecdsa={}", URL_SAFE_NO_PAD.encode(&v.public))));
        assert!(header(&m, "Authorization").starts_with("WebPush "));
        assert_eq!(open_push(ua, &ua_public, &auth, &m).unwrap(), b"hi");
        // The same bytes read as the standard encoding do not open.
        let (ua, ua_public, auth) = user_agent();
        let mut m = message(&v, to(&url, false, &ua_public, &auth), 1_000, "x", b"hi").unwrap();
        for h in &mut m.headers {
            if h.0 == "Content-Encoding" {
                h.1 = "aes128gcm".into();
            }
        }
        assert!(open_push(ua, &ua_public, &auth, &m).is_none());
    }

    #[test]
    fn the_jwt_verifies_under_the_published_key_and_names_the_origin() {
        let v = vapid();
        let jwt = v
            .jwt(
                "https://push.example:8443",
                5_000,
                "mailto:admin@guise.example",
            )
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example:8443");
        assert_eq!(claims["exp"], 5_000);
        let public = decode_key(&v.public_key()).unwrap();
        assert_eq!(public, v.pair.public_key().as_ref());
        let key = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &public);
        let signed = format!("{}.{}", parts[0], parts[1]);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        key.verify(signed.as_bytes(), &sig).unwrap();
        let mut tampered = sig.clone();
        tampered[0] ^= 1;
        assert!(key.verify(signed.as_bytes(), &tampered).is_err());
    }

    #[test]
    fn keys_decode_in_every_spelling_apps_use() {
        let bytes: Vec<u8> = (0u8..=64).collect();
        for s in [
            STANDARD.encode(&bytes),
            URL_SAFE.encode(&bytes),
            URL_SAFE_NO_PAD.encode(&bytes),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes),
        ] {
            assert_eq!(decode_key(&s).unwrap(), bytes, "{s}");
        }
        assert!(decode_key("not base64!").is_none());
    }

    #[test]
    fn oversized_payloads_and_bad_points_are_refused() {
        let v = vapid();
        let (_, ua_public, auth) = user_agent();
        let url = Url::parse("https://push.example/x").unwrap();
        let big = vec![b'a'; MAX_PAYLOAD + 1];
        assert!(message(&v, to(&url, true, &ua_public, &auth), 0, "x", &big).is_err());
        let mut bad = ua_public.clone();
        bad[10] ^= 0xff;
        assert!(message(&v, to(&url, true, &bad, &auth), 0, "x", b"x").is_err());
    }
}
