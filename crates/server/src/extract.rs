//! Request extractors: the bearer token and its binding, and parameters
//! from the query string and a form-encoded, JSON or multipart body — every
//! way Mastodon clients send them.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures::StreamExt;
use guise_core::models::Identity;
use guise_core::oauth::{Binding, Scopes, Session};
use guise_core::seal::KAnon;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// A signed-in request: a live token, what it is bound to, and its scopes.
pub struct Auth {
    /// The token opened with its raw value: its row holds all this sealed.
    pub session: Session,
    pub scopes: Scopes,
    /// The face a face-bound token acts as; for "All my faces" tokens, the
    /// account's first face (the default where a request names none).
    pub face: Option<Identity>,
    /// The account's anonymity key, opened with the raw token: only
    /// "Anonymous" and "All my faces" tokens carry one.
    pub k_anon: Option<KAnon>,
    /// An id for the synthetic "Anonymous" account of an anonymous token:
    /// derived from the raw token, stored nowhere, shown nowhere else.
    pub synthetic_id: i64,
    /// The key an upload's capability is made with: derived from the raw
    /// token (which the database never holds), so only this token's bearer
    /// can name its uploads, and no row ties them to a login.
    pub media_key: [u8; 32],
}

impl Auth {
    /// 403 unless the token's scopes grant `scope`.
    pub fn require(&self, scope: &str) -> ApiResult<()> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "This action is outside the authorized scopes",
            ))
        }
    }

    /// Checks the scope and returns the face the token acts as.
    pub fn face_with(&self, scope: &str) -> ApiResult<&Identity> {
        self.require(scope)?;
        self.face()
    }

    pub fn face(&self) -> ApiResult<&Identity> {
        match &self.face {
            Some(f) => Ok(f),
            None if self.is_anonymous() => Err(ApiError::unprocessable(
                "An anonymous token cannot do this: it would write a row tied to your account",
            )),
            None if self.session.grant.is_none() => Err(ApiError::unprocessable(
                "This method requires an authenticated user",
            )),
            None => Err(ApiError::unprocessable(
                "This token is not bound to a single face",
            )),
        }
    }

    pub fn binding(&self) -> Option<Binding> {
        self.session.binding()
    }

    /// The login the token acts for, or 401 for an app's own token.
    pub fn account_id(&self) -> ApiResult<i64> {
        self.session.account_id().ok_or_else(ApiError::unauthorized)
    }

    /// The capability for upload `id`: `HMAC(media_key, "upload" ‖ id)`.
    pub fn media_tag(&self, id: i64) -> Vec<u8> {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.media_key) else {
            return Vec::new();
        };
        mac.update(b"upload\0");
        mac.update(&id.to_be_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn is_anonymous(&self) -> bool {
        self.binding() == Some(Binding::Anonymous)
    }

    pub fn is_all(&self) -> bool {
        self.binding() == Some(Binding::All)
    }

    /// The key to the owner's anonymous posts, or 422 for tokens without one.
    pub fn anon_key(&self) -> ApiResult<&KAnon> {
        self.k_anon.as_ref().ok_or_else(|| {
            ApiError::unprocessable(
                "Only \"Anonymous\" and \"All my faces\" tokens reach anonymous posts",
            )
        })
    }

    /// Every face whose notifications this token reads: its face, or the
    /// owner's anonymous faces, or (for "All my faces") both kinds.
    pub async fn reading_faces(&self, conn: &mut guise_core::DbConn) -> ApiResult<Vec<i64>> {
        let mut out = Vec::new();
        match self.binding() {
            Some(Binding::Face(id)) => out.push(id),
            Some(Binding::All) => {
                if let Some(account) = self.session.account_id() {
                    out.extend(
                        guise_core::accounts::faces_of(conn, account)
                            .await?
                            .iter()
                            .map(|f| f.id),
                    );
                }
            }
            _ => {}
        }
        if let Some(k) = &self.k_anon {
            out.extend(
                guise_core::anon::my_faces(conn, k)
                    .await?
                    .iter()
                    .map(|f| f.id),
            );
        }
        Ok(out)
    }
}

fn synthetic_id(raw: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest([b"synthetic-account\0".as_slice(), raw.as_bytes()].concat());
    let mut b = [0u8; 8];
    b.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    (u64::from_be_bytes(b) >> 1) as i64
}

fn media_key(raw: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(raw.as_bytes()) else {
        return [0; 32];
    };
    mac.update(b"guise media capability");
    mac.finalize().into_bytes().into()
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

pub(crate) async fn authenticate(state: &AppState, raw: &str) -> ApiResult<Auth> {
    let key = guise_core::secret::lookup_hash(raw);
    if let Some(opened) = state.tokens.get(&key, crate::kept::token_usable) {
        let scopes = Scopes::parse(&opened.session.scopes).map_err(|_| ApiError::unauthorized())?;
        return Ok(Auth {
            session: opened.session,
            scopes,
            face: opened.face,
            k_anon: None,
            synthetic_id: synthetic_id(raw),
            media_key: media_key(raw),
        });
    }
    let generation = state.tokens.generation();
    let auth = open_token(state, raw).await?;
    if auth.k_anon.is_none() {
        state.tokens.keep(
            key,
            generation,
            crate::kept::Opened {
                session: auth.session.clone(),
                face: auth.face.clone(),
            },
        );
    }
    Ok(auth)
}

/// Opens a token from its row, with its login's state (and face) read now.
async fn open_token(state: &AppState, raw: &str) -> ApiResult<Auth> {
    let mut conn = state.db.conn().await?;
    let mut session = guise_core::oauth::session_by_token(&mut conn, state.clock.as_ref(), raw)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let scopes = Scopes::parse(&session.scopes).map_err(|_| ApiError::unauthorized())?;
    let k_anon = session.k_anon.take();
    let binding = session.binding();
    if matches!(binding, Some(Binding::Anonymous | Binding::All)) && k_anon.is_none() {
        return Err(ApiError::unauthorized());
    }
    let face = match (binding, session.account_id()) {
        (Some(Binding::All), Some(a)) => guise_core::accounts::faces_of(&mut conn, a)
            .await?
            .into_iter()
            .next(),
        (Some(Binding::Face(id)), Some(a)) => {
            // Read with the login's state when the token was looked up.
            let face = match session.face.take() {
                Some(f) if f.id == id => f,
                _ => guise_core::accounts::get_identity(&mut conn, id)
                    .await
                    .map_err(|_| ApiError::unauthorized())?,
            };
            // A face deleted since the token was issued takes the token with it.
            if face.account_id != Some(a) || face.tombstoned {
                return Err(ApiError::unauthorized());
            }
            if face.suspended {
                return Err(ApiError::forbidden("Your login is currently disabled"));
            }
            Some(face)
        }
        _ => None,
    };
    Ok(Auth {
        session,
        scopes,
        face,
        k_anon,
        synthetic_id: synthetic_id(raw),
        media_key: media_key(raw),
    })
}

fn state_of(req: &HttpRequest) -> ApiResult<AppState> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
            )
        })
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = ApiResult<Auth>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = bearer(req);
        let state = state_of(req);
        Box::pin(async move {
            let state = state?;
            let raw = raw.ok_or_else(|| {
                ApiError::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "The access token is invalid",
                )
            })?;
            authenticate(&state, &raw).await
        })
    }
}

/// A token if one was sent (it must then be valid), or nobody.
pub struct MaybeAuth(pub Option<Auth>);

impl MaybeAuth {
    /// The face reading: None for nobody and for anonymous tokens, which
    /// read as the public does.
    pub fn viewer(&self) -> Option<i64> {
        self.0.as_ref().and_then(|a| a.face.as_ref()).map(|f| f.id)
    }
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = ApiResult<MaybeAuth>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = bearer(req);
        let state = state_of(req);
        Box::pin(async move {
            let state = state?;
            match raw {
                None => Ok(MaybeAuth(None)),
                Some(raw) => Ok(MaybeAuth(Some(authenticate(&state, &raw).await?))),
            }
        })
    }
}

/// Parameters from the query string merged with the body (body wins).
pub struct Params<T>(pub T);

/// Rails-style parameter names, as Mastodon apps send them in forms:
/// `types[]=a` and `types[0]=a` make a list; `home[last_read_id]=7` an
/// object; `keywords_attributes[][keyword]=a` a list of objects (a field
/// seen again starts the next one); `fields_attributes[0][name]=a` an object
/// keyed by index (handlers read both shapes, as JSON apps send lists).
fn insert_param(map: &mut Map<String, Value>, key: &str, value: String) {
    let Some(open) = key.find('[').filter(|_| key.ends_with(']')) else {
        map.insert(key.to_owned(), Value::String(value));
        return;
    };
    let name = &key[..open];
    let segments: Vec<&str> = key[open + 1..key.len() - 1].split("][").collect();
    let value = Value::String(value);
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match segments.as_slice() {
        [one] if one.is_empty() || numeric(one) => {
            match map
                .entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(a) => a.push(value),
                other => *other = Value::Array(vec![value]),
            }
        }
        [field] => {
            let entry = map
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(o) = entry {
                o.insert((*field).to_owned(), value);
            }
        }
        ["", field] => {
            let entry = map
                .entry(name.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(a) = entry {
                let fresh = a
                    .last()
                    .and_then(|l| l.as_object())
                    .is_none_or(|o| o.contains_key(*field));
                if fresh {
                    a.push(Value::Object(Map::new()));
                }
                if let Some(Value::Object(o)) = a.last_mut() {
                    o.insert((*field).to_owned(), value);
                }
            }
        }
        // `poll[options][]=a&poll[options][]=b`: a list inside an object.
        [outer, idx] if idx.is_empty() || numeric(idx) => {
            let entry = map
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(o) = entry {
                let inner = o
                    .entry((*outer).to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !inner.is_array() {
                    *inner = Value::Array(Vec::new());
                }
                if let Value::Array(a) = inner {
                    a.push(value);
                }
            }
        }
        [outer, field] => {
            let entry = map
                .entry(name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(o) = entry {
                let inner = o
                    .entry((*outer).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(i) = inner {
                    i.insert((*field).to_owned(), value);
                }
            }
        }
        // Deeper nesting: kept whole under its full name.
        _ => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// A list of objects sent either as a JSON list or as Rails' indexed
/// object (`{"0": {…}, "1": {…}}`), in index order.
pub fn attribute_list(v: Option<&Value>) -> Vec<Map<String, Value>> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_object().cloned()).collect(),
        Some(Value::Object(o)) => {
            let mut items: Vec<(usize, Map<String, Value>)> = o
                .iter()
                .filter_map(|(k, x)| Some((k.parse().ok()?, x.as_object()?.clone())))
                .collect();
            items.sort_by_key(|(k, _)| *k);
            items.into_iter().map(|(_, x)| x).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod param_tests {
    use super::*;

    #[test]
    fn rails_style_names() {
        let mut m = Map::new();
        parse_form(
            b"types[]=a&types[]=b&home[last_read_id]=7&keywords_attributes[][keyword]=x&keywords_attributes[][whole_word]=true&keywords_attributes[][keyword]=y&fields_attributes[1][name]=b&fields_attributes[0][name]=a&fields_attributes[0][value]=v&plain=1",
            &mut m,
        );
        assert_eq!(m["types"], serde_json::json!(["a", "b"]));
        assert_eq!(m["home"], serde_json::json!({ "last_read_id": "7" }));
        assert_eq!(
            m["keywords_attributes"],
            serde_json::json!([{ "keyword": "x", "whole_word": "true" }, { "keyword": "y" }])
        );
        let fields = attribute_list(m.get("fields_attributes"));
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0]["name"], "a");
        assert_eq!(fields[1]["name"], "b");
        assert_eq!(m["plain"], "1");
    }
}

pub fn parse_form(bytes: &[u8], map: &mut Map<String, Value>) {
    for (k, v) in url::form_urlencoded::parse(bytes) {
        insert_param(map, &k, v.into_owned());
    }
}

/// A file part of a multipart body: its field name and bytes. The file
/// name and the client's Content-Type are dropped: an upload is known by
/// its bytes, and its name is nothing Guise keeps.
pub struct FilePart {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Text fields of a multipart/form-data body; file parts go to `files`
/// when given, else are skipped.
fn parse_multipart(
    body: &[u8],
    boundary: &str,
    map: &mut Map<String, Value>,
    mut files: Option<&mut Vec<FilePart>>,
) -> ApiResult<()> {
    let delim = format!("--{boundary}");
    let text = body;
    // Whatever precedes the first boundary is preamble.
    for part in split_bytes(text, delim.as_bytes()).into_iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some((head, content)) = split_once(part, b"\r\n\r\n") else {
            return Err(ApiError::bad_request("Malformed multipart body"));
        };
        let head = String::from_utf8_lossy(head);
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        let Some(name) = header_param(disposition, "name") else {
            continue;
        };
        if disposition.contains("filename=") {
            if let Some(f) = files.as_deref_mut() {
                f.push(FilePart {
                    name,
                    bytes: content.to_vec(),
                });
            }
            continue;
        }
        insert_param(map, &name, String::from_utf8_lossy(content).into_owned());
    }
    Ok(())
}

fn header_param(h: &str, key: &str) -> Option<String> {
    for piece in h.split(';') {
        let piece = piece.trim();
        if let Some(v) = piece.strip_prefix(&format!("{key}=")) {
            return Some(v.trim_matches('"').to_owned());
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The bytes before and after the first `needle`.
fn split_once<'a>(hay: &'a [u8], needle: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let i = find(hay, needle)?;
    let (before, rest) = hay.split_at_checked(i)?;
    Some((before, rest.get(needle.len()..)?))
}

fn split_bytes<'a>(hay: &'a [u8], delim: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = hay;
    while let Some((before, after)) = split_once(rest, delim) {
        out.push(before);
        rest = after;
    }
    out.push(rest);
    out
}

/// Reads a request body of at most `limit` bytes within `deadline`: a
/// sender that trickles its body cannot hold a worker for minutes (408).
pub async fn read_body(
    payload: &mut Payload,
    limit: usize,
    deadline: std::time::Duration,
) -> ApiResult<Vec<u8>> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::bad_request("Could not read the request body"))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "Request body too large",
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(deadline, read).await.map_err(|_| {
        ApiError::new(
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            "The request body took too long to arrive",
        )
    })?
}

/// How long a request's body may take to arrive.
pub fn body_deadline(req: &HttpRequest) -> std::time::Duration {
    let secs = state_of(req).map_or(10, |s| s.config.server.body_timeout_secs.max(1));
    std::time::Duration::from_secs(secs)
}

/// Parses query and body into a JSON object of parameters.
pub async fn collect_params(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> ApiResult<Map<String, Value>> {
    collect(req, payload, limit, None).await
}

/// Parameters and file parts of an upload, the body limited to `limit`.
pub async fn collect_upload(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> ApiResult<(Map<String, Value>, Vec<FilePart>)> {
    let mut files = Vec::new();
    let map = collect(req, payload, limit, Some(&mut files)).await?;
    Ok((map, files))
}

async fn collect(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
    files: Option<&mut Vec<FilePart>>,
) -> ApiResult<Map<String, Value>> {
    let mut map = Map::new();
    parse_form(req.query_string().as_bytes(), &mut map);
    let body = read_body(payload, limit, body_deadline(req)).await?;
    if body.is_empty() {
        return Ok(map);
    }
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("application/json") || ctype.ends_with("+json") {
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
        match v {
            Value::Object(o) => map.extend(o),
            Value::Null => {}
            _ => return Err(ApiError::bad_request("The JSON body must be an object")),
        }
    } else if ctype.starts_with("multipart/form-data") {
        let raw_ctype = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = header_param(raw_ctype, "boundary")
            .ok_or_else(|| ApiError::bad_request("Missing multipart boundary"))?;
        parse_multipart(&body, &boundary, &mut map, files)?;
    } else {
        parse_form(&body, &mut map);
    }
    Ok(map)
}

impl<T: DeserializeOwned + 'static> FromRequest for Params<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = ApiResult<Params<T>>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let limit = state_of(&req)?.config.server.max_body_bytes;
            let map = collect_params(&req, &mut payload, limit).await?;
            serde_json::from_value(Value::Object(map))
                .map(Params)
                .map_err(|e| ApiError::unprocessable(format!("Validation failed: {e}")))
        })
    }
}

/// Lenient deserializers: form values arrive as strings.
pub mod de {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub fn bool_of(v: &Value) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => Some(n.as_i64() != Some(0)),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "on" | "yes" => Some(true),
                "0" | "false" | "off" | "no" | "" => Some(false),
                _ => None,
            },
            Value::Null => None,
            _ => None,
        }
    }

    pub fn flex_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        bool_of(&v).ok_or_else(|| serde::de::Error::custom(format!("expected a boolean, got {v}")))
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        bool_of(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a boolean, got {v}")))
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("expected an integer")),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => {
                s.trim().parse().map(Some).map_err(|_| {
                    serde::de::Error::custom(format!("expected an integer, got {s:?}"))
                })
            }
            other => Err(serde::de::Error::custom(format!(
                "expected an integer, got {other}"
            ))),
        }
    }

    /// Ids are strings in Mastodon's API but some clients send numbers.
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(serde::de::Error::custom(format!(
                "expected an id, got {other}"
            ))),
        }
    }

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, got {other}"
            ))),
        }
    }

    /// Like `string_list`, telling a list that was sent (even empty, or as
    /// one empty form value) from none: `None` when absent.
    pub fn opt_string_list<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<String>>, D::Error> {
        Ok(Some(
            string_list(d)?
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }

    /// A list given as an array, or one value, or a space/comma-separated string.
    pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(Vec::new()),
            Value::String(s) => Ok(vec![s]),
            Value::Array(a) => Ok(a
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect()),
            other => Err(serde::de::Error::custom(format!(
                "expected a list, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_inside_objects() {
        let mut m = Map::new();
        parse_form(
            b"poll[options][]=yes&poll[options][]=no&poll[expires_in]=600&poll[multiple]=true",
            &mut m,
        );
        assert_eq!(
            m["poll"],
            serde_json::json!({ "options": ["yes", "no"], "expires_in": "600", "multiple": "true" })
        );
    }

    #[test]
    fn form_arrays_and_scalars() {
        let mut m = Map::new();
        parse_form(b"types[]=mention&types[]=follow&limit=5&x=a+b", &mut m);
        assert_eq!(m["types"], serde_json::json!(["mention", "follow"]));
        assert_eq!(m["limit"], serde_json::json!("5"));
        assert_eq!(m["x"], serde_json::json!("a b"));
    }

    #[test]
    fn multipart_text_fields() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"status\"\r\n\r\nhello\r\nworld\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\nContent-Disposition: form-data; name=\"media_ids[]\"\r\n\r\n1\r\n--XyZ--\r\n";
        let mut m = Map::new();
        parse_multipart(body, "XyZ", &mut m, None).unwrap();
        assert_eq!(m["status"], serde_json::json!("hello\r\nworld"));
        assert_eq!(m["media_ids"], serde_json::json!(["1"]));
        assert!(!m.contains_key("file"));
        // An upload keeps the file's bytes and field name, not its file name.
        let mut files = Vec::new();
        parse_multipart(body, "XyZ", &mut Map::new(), Some(&mut files)).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].name, "file");
        assert_eq!(files[0].bytes, b"\x89PNG");
    }

    #[test]
    fn booleans_in_every_spelling() {
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("0", false),
            ("false", false),
            ("TRUE", true),
        ] {
            assert_eq!(de::bool_of(&Value::String(v.into())), Some(want));
        }
        assert_eq!(de::bool_of(&Value::Bool(true)), Some(true));
        assert_eq!(de::bool_of(&Value::String("maybe".into())), None);
    }
}
