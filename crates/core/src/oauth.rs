//! OAuth 2 records: registered apps, authorization codes, tokens and scopes.
//! A token is bound to exactly one face (or, with the tiers work, to
//! "Anonymous" or "All my faces") and acts only as that.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::id::Id;
use crate::models::{App, Token};
use crate::schema::{identities, oauth_apps, oauth_codes, oauth_tokens};
use crate::seal::{KAnon, WrapKey};
use crate::secret::{constant_time_eq, lookup_hash, pkce_s256_matches, Secret};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

pub const CODE_LIFETIME_SECS: i64 = 600;
pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

const TOP_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "admin:read",
    "admin:write",
];
const READ_SUBS: &[&str] = &[
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
];
const WRITE_SUBS: &[&str] = &[
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
];
const ADMIN_SUBS: &[&str] = &[
    "accounts",
    "reports",
    "domain_allows",
    "domain_blocks",
    "ip_blocks",
    "email_domain_blocks",
    "canonical_email_blocks",
];

/// A validated, de-duplicated set of OAuth scopes in the order asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a space- (or plus-) separated list; unknown scopes are an error.
    /// An empty list means "read", as in Mastodon.
    pub fn parse(s: &str) -> CoreResult<Scopes> {
        let mut out: Vec<String> = Vec::new();
        for w in s.split([' ', '+', ',']).filter(|w| !w.is_empty()) {
            if !Self::known(w) {
                return Err(CoreError::invalid("scope", format!("unknown scope {w:?}")));
            }
            if !out.iter().any(|x| x == w) {
                out.push(w.to_owned());
            }
        }
        if out.is_empty() {
            out.push("read".into());
        }
        Ok(Scopes(out))
    }

    fn known(w: &str) -> bool {
        if TOP_SCOPES.contains(&w) {
            return true;
        }
        if let Some(sub) = w.strip_prefix("read:") {
            return READ_SUBS.contains(&sub);
        }
        if let Some(sub) = w.strip_prefix("write:") {
            return WRITE_SUBS.contains(&sub);
        }
        if let Some(sub) = w
            .strip_prefix("admin:read:")
            .or_else(|| w.strip_prefix("admin:write:"))
        {
            return ADMIN_SUBS.contains(&sub);
        }
        false
    }

    /// Whether these scopes grant `required` (e.g. "read:statuses").
    pub fn allows(&self, required: &str) -> bool {
        self.0.iter().any(|have| Self::grants(have, required))
    }

    fn grants(have: &str, required: &str) -> bool {
        if have == required {
            return true;
        }
        if let Some((parent, _)) = required.rsplit_once(':') {
            if have == parent {
                return true;
            }
        }
        match have {
            // The legacy `follow` scope covers the relationship sub-scopes.
            "follow" => matches!(
                required,
                "read:blocks"
                    | "write:blocks"
                    | "read:follows"
                    | "write:follows"
                    | "read:mutes"
                    | "write:mutes"
            ),
            // `profile` grants only verify_credentials.
            "profile" => required == "profile",
            _ => false,
        }
    }

    /// Whether every scope here is granted by `outer` (asked scopes ⊆ app scopes).
    pub fn within(&self, outer: &Scopes) -> bool {
        self.0
            .iter()
            .all(|s| outer.allows(s) || outer.0.contains(s))
    }

    pub fn as_string(&self) -> String {
        self.0.join(" ")
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// What a token acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Exactly one face.
    Face(i64),
    /// Per-thread anonymous faces (tiers work).
    Anonymous,
    /// Every face of the account, chosen per request (tiers work).
    All,
}

impl Binding {
    fn columns(self) -> (&'static str, Option<i64>) {
        match self {
            Binding::Face(id) => ("face", Some(id)),
            Binding::Anonymous => ("anonymous", None),
            Binding::All => ("all", None),
        }
    }

    pub fn from_columns(binding: Option<&str>, identity_id: Option<i64>) -> Option<Binding> {
        match (binding, identity_id) {
            (Some("face"), Some(id)) => Some(Binding::Face(id)),
            (Some("anonymous"), None) => Some(Binding::Anonymous),
            (Some("all"), None) => Some(Binding::All),
            _ => None,
        }
    }
}

pub struct NewApp<'a> {
    pub name: &'a str,
    pub website: Option<&'a str>,
    pub redirect_uris: Vec<String>,
    pub scopes: Scopes,
}

pub fn validate_redirect_uri(uri: &str) -> CoreResult<()> {
    if uri == OOB_REDIRECT {
        return Ok(());
    }
    match url::Url::parse(uri) {
        // Native apps use custom schemes (e.g. `tusky://oauth`); only a fragment is refused.
        Ok(u) if u.fragment().is_none() => Ok(()),
        _ => Err(CoreError::invalid("redirect_uris", "must be absolute URIs")),
    }
}

pub async fn create_app(conn: &mut DbConn, clock: &dyn Clock, new: NewApp<'_>) -> CoreResult<App> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(CoreError::invalid(
            "client_name",
            "must be 1 to 60 characters",
        ));
    }
    if new.redirect_uris.is_empty() {
        return Err(CoreError::invalid("redirect_uris", "can't be blank"));
    }
    for u in &new.redirect_uris {
        validate_redirect_uri(u)?;
    }
    let app: App = diesel::insert_into(oauth_apps::table)
        .values((
            oauth_apps::id.eq(Id::generate(clock.now()).get()),
            oauth_apps::name.eq(name),
            oauth_apps::website.eq(new.website.filter(|w| !w.is_empty())),
            oauth_apps::redirect_uris.eq(new.redirect_uris.join("\n")),
            oauth_apps::scopes.eq(new.scopes.as_string()),
            oauth_apps::client_id.eq(Secret::generate().expose()),
            oauth_apps::client_secret.eq(Secret::generate().expose()),
            oauth_apps::created_on.eq(clock.today()),
        ))
        .returning(App::as_returning())
        .get_result(conn)
        .await?;
    Ok(app)
}

pub async fn app_by_client_id(conn: &mut DbConn, client_id: &str) -> CoreResult<Option<App>> {
    Ok(oauth_apps::table
        .filter(oauth_apps::client_id.eq(client_id))
        .select(App::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn get_app(conn: &mut DbConn, id: i64) -> CoreResult<App> {
    use crate::error::OptionalExt;
    oauth_apps::table
        .find(id)
        .select(App::as_select())
        .first(conn)
        .await
        .found()
}

/// Checks the client's secret in constant time.
pub fn client_secret_matches(app: &App, secret: &str) -> bool {
    constant_time_eq(app.client_secret.as_bytes(), secret.as_bytes())
}

pub fn redirect_allowed(app: &App, uri: &str) -> bool {
    app.redirect_uris.lines().any(|u| u == uri)
}

pub fn app_scopes(app: &App) -> Scopes {
    Scopes::parse(&app.scopes).unwrap_or_else(|_| Scopes(vec!["read".into()]))
}

pub struct PendingCode<'a> {
    pub app_id: i64,
    pub account_id: i64,
    pub scopes: &'a Scopes,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    /// Opened at sign-in from the password; wrapped under the code so that an
    /// "Anonymous" or "All my faces" token can carry it on.
    pub k_anon: Option<&'a KAnon>,
}

pub const CODE_SLOT: &[u8] = b"oauth:code";
pub const TOKEN_SLOT: &[u8] = b"oauth:token";
pub const REFRESH_SLOT: &[u8] = b"oauth:refresh";

/// Opens the `k_anon` a token carries (only "Anonymous" and "All my faces" tokens carry one).
pub fn token_k_anon(token: &Token, raw: &str) -> Option<KAnon> {
    let wrap = token.k_anon_wrap.as_ref()?;
    KAnon::unwrap_from(&WrapKey::from_token(raw), TOKEN_SLOT, wrap)
}

pub const CODE_OWNER_SLOT: &[u8] = b"oauth:code-owner";

/// Who a code belongs to and what it will be bound to, sealed under the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeOwner {
    account_id: i64,
    binding: Option<Binding>,
}

impl CodeOwner {
    fn seal(&self, code: &str) -> Vec<u8> {
        let (kind, face) = match self.binding {
            None => (0u8, 0i64),
            Some(Binding::Face(id)) => (1, id),
            Some(Binding::Anonymous) => (2, 0),
            Some(Binding::All) => (3, 0),
        };
        let mut plain = Vec::with_capacity(17);
        plain.extend_from_slice(&self.account_id.to_be_bytes());
        plain.push(kind);
        plain.extend_from_slice(&face.to_be_bytes());
        WrapKey::from_token(code).seal(CODE_OWNER_SLOT, &plain)
    }

    fn open(code: &str, blob: &[u8]) -> Option<CodeOwner> {
        let plain = WrapKey::from_token(code).open(CODE_OWNER_SLOT, blob)?;
        let account_id = i64::from_be_bytes(plain.get(0..8)?.try_into().ok()?);
        let face = i64::from_be_bytes(plain.get(9..17)?.try_into().ok()?);
        let binding = match plain.get(8)? {
            0 => None,
            1 => Some(Binding::Face(face)),
            2 => Some(Binding::Anonymous),
            3 => Some(Binding::All),
            _ => return None,
        };
        Some(CodeOwner {
            account_id,
            binding,
        })
    }
}

/// Records an authorization code right after sign-in; it is usable only once
/// `bind_code` has fixed which face the token will act as. The row names its
/// login only inside a blob sealed under the code.
pub async fn create_code(
    conn: &mut DbConn,
    clock: &dyn Clock,
    p: PendingCode<'_>,
) -> CoreResult<Secret> {
    let code = Secret::generate();
    let owner = CodeOwner {
        account_id: p.account_id,
        binding: None,
    };
    diesel::insert_into(oauth_codes::table)
        .values((
            oauth_codes::id.eq(Id::generate(clock.now()).get()),
            oauth_codes::code_hash.eq(lookup_hash(code.expose())),
            oauth_codes::app_id.eq(p.app_id),
            oauth_codes::scopes.eq(p.scopes.as_string()),
            oauth_codes::redirect_uri.eq(p.redirect_uri),
            oauth_codes::code_challenge.eq(p.code_challenge),
            oauth_codes::expires_at.eq(clock.now() + chrono::Duration::seconds(CODE_LIFETIME_SECS)),
            oauth_codes::owner.eq(owner.seal(code.expose())),
            oauth_codes::k_anon_wrap.eq(p
                .k_anon
                .map(|k| k.wrap(&WrapKey::from_token(code.expose()), CODE_SLOT))),
        ))
        .execute(conn)
        .await?;
    Ok(code)
}

#[derive(Debug, Clone)]
pub struct CodeInfo {
    pub app_id: i64,
    pub account_id: i64,
    pub redirect_uri: String,
    pub scopes: String,
}

/// Looks up a live, not yet bound code.
pub async fn pending_code(
    conn: &mut DbConn,
    clock: &dyn Clock,
    code: &str,
) -> CoreResult<Option<CodeInfo>> {
    let row: Option<(i64, String, String, Vec<u8>)> = oauth_codes::table
        .filter(oauth_codes::code_hash.eq(lookup_hash(code)))
        .filter(oauth_codes::expires_at.gt(clock.now()))
        .select((
            oauth_codes::app_id,
            oauth_codes::redirect_uri,
            oauth_codes::scopes,
            oauth_codes::owner,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(app_id, redirect_uri, scopes, owner)| {
        let owner = CodeOwner::open(code, &owner).filter(|o| o.binding.is_none())?;
        Some(CodeInfo {
            app_id,
            account_id: owner.account_id,
            redirect_uri,
            scopes,
        })
    }))
}

/// Fixes the face a pending code's token will act as. A face must belong to
/// the code's account.
pub async fn bind_code(
    conn: &mut DbConn,
    clock: &dyn Clock,
    code: &str,
    binding: Binding,
) -> CoreResult<()> {
    let Some(info) = pending_code(conn, clock, code).await? else {
        return Err(CoreError::NotFound);
    };
    let q = || oauth_codes::table.filter(oauth_codes::code_hash.eq(lookup_hash(code)));
    if let Binding::Face(id) = binding {
        ensure_face_of(conn, info.account_id, id).await?;
        // A face-bound token never carries the key to the owner's anonymous posts.
        diesel::update(q())
            .set(oauth_codes::k_anon_wrap.eq(None::<Vec<u8>>))
            .execute(conn)
            .await?;
    }
    let owner = CodeOwner {
        account_id: info.account_id,
        binding: Some(binding),
    };
    diesel::update(q())
        .set(oauth_codes::owner.eq(owner.seal(code)))
        .execute(conn)
        .await?;
    Ok(())
}

async fn ensure_face_of(conn: &mut DbConn, account_id: i64, identity_id: i64) -> CoreResult<()> {
    let owner: Option<Option<i64>> = identities::table
        .find(identity_id)
        .filter(identities::tier.ne("anonymous"))
        .select(identities::account_id)
        .first(conn)
        .await
        .optional()?;
    if owner.flatten() == Some(account_id) {
        Ok(())
    } else {
        Err(CoreError::invalid("face", "is not one of your faces"))
    }
}

pub struct IssuedToken {
    pub access: Secret,
    pub refresh: Secret,
    pub token: Token,
}

pub async fn issue_token(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app_id: i64,
    account: Option<(i64, Binding)>,
    scopes: &Scopes,
    k_anon: Option<&KAnon>,
) -> CoreResult<IssuedToken> {
    if let Some((account_id, Binding::Face(id))) = account {
        ensure_face_of(conn, account_id, id).await?;
    }
    let access = Secret::generate();
    let refresh = Secret::generate();
    // Only "Anonymous" and "All my faces" tokens carry k_anon, and they must.
    let carries = matches!(account, Some((_, Binding::Anonymous | Binding::All)));
    let k_anon = if carries {
        Some(k_anon.ok_or(CoreError::Forbidden(
            "signing in again with the password is needed for this token",
        ))?)
    } else {
        None
    };
    let (binding, identity_id) = match account {
        Some((_, b)) => {
            let (b, i) = b.columns();
            (Some(b), i)
        }
        None => (None, None),
    };
    let token: Token = diesel::insert_into(oauth_tokens::table)
        .values((
            oauth_tokens::id.eq(Id::generate(clock.now()).get()),
            oauth_tokens::token_hash.eq(lookup_hash(access.expose())),
            oauth_tokens::refresh_hash.eq(account.map(|_| lookup_hash(refresh.expose()))),
            oauth_tokens::app_id.eq(app_id),
            oauth_tokens::account_id.eq(account.map(|(a, _)| a)),
            oauth_tokens::binding.eq(binding),
            oauth_tokens::identity_id.eq(identity_id),
            oauth_tokens::scopes.eq(scopes.as_string()),
            oauth_tokens::created_on.eq(clock.today()),
            oauth_tokens::k_anon_wrap
                .eq(k_anon.map(|k| k.wrap(&WrapKey::from_token(access.expose()), TOKEN_SLOT))),
            oauth_tokens::refresh_k_anon_wrap
                .eq(k_anon.map(|k| k.wrap(&WrapKey::from_token(refresh.expose()), REFRESH_SLOT))),
        ))
        .returning(Token::as_returning())
        .get_result(conn)
        .await?;
    Ok(IssuedToken {
        access,
        refresh,
        token,
    })
}

#[derive(Debug)]
pub enum GrantError {
    InvalidGrant,
    InvalidClient,
    Core(CoreError),
}

impl From<CoreError> for GrantError {
    fn from(e: CoreError) -> Self {
        GrantError::Core(e)
    }
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        GrantError::Core(CoreError::Database(e))
    }
}

/// Exchanges a bound code for a token; the code is consumed either way.
pub async fn exchange_code(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app: &App,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&str>,
) -> Result<IssuedToken, GrantError> {
    let now = clock.now();
    let app_id = app.id;
    let hash = lookup_hash(code);
    let code_key = WrapKey::from_token(code);
    let redirect_uri = redirect_uri.to_owned();
    let verifier = code_verifier.map(str::to_owned);
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        Vec<u8>,
        Option<Vec<u8>>,
    );
    let code = code.to_owned();
    conn.transaction::<_, GrantError, _>(async move |conn| {
        let row: Option<Row> =
            diesel::delete(oauth_codes::table.filter(oauth_codes::code_hash.eq(&hash)))
                .returning((
                    oauth_codes::app_id,
                    oauth_codes::scopes,
                    oauth_codes::redirect_uri,
                    oauth_codes::code_challenge,
                    oauth_codes::expires_at,
                    oauth_codes::owner,
                    oauth_codes::k_anon_wrap,
                ))
                .get_result(conn)
                .await
                .optional()?;
        let Some((code_app, scopes, code_redirect, challenge, expires_at, owner, k_wrap)) = row
        else {
            return Err(GrantError::InvalidGrant);
        };
        if code_app != app_id || expires_at <= now || code_redirect != redirect_uri {
            return Err(GrantError::InvalidGrant);
        }
        if let Some(challenge) = challenge {
            match verifier.as_deref() {
                Some(v) if pkce_s256_matches(v, &challenge) => {}
                _ => return Err(GrantError::InvalidGrant),
            }
        }
        let Some(CodeOwner {
            account_id,
            binding: Some(binding),
        }) = CodeOwner::open(&code, &owner)
        else {
            return Err(GrantError::InvalidGrant);
        };
        let scopes = Scopes::parse(&scopes)?;
        let k_anon = k_wrap.and_then(|w| KAnon::unwrap_from(&code_key, CODE_SLOT, &w));
        Ok(issue_token(
            conn,
            clock,
            app_id,
            Some((account_id, binding)),
            &scopes,
            k_anon.as_ref(),
        )
        .await?)
    })
    .await
}

/// Trades a refresh token for a new token with the same binding and scopes.
pub async fn refresh(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app: &App,
    refresh_token: &str,
) -> Result<IssuedToken, GrantError> {
    let app_id = app.id;
    let hash = lookup_hash(refresh_token);
    let refresh_key = WrapKey::from_token(refresh_token);
    conn.transaction::<_, GrantError, _>(async move |conn| {
        let old: Option<Token> = diesel::delete(
            oauth_tokens::table
                .filter(oauth_tokens::refresh_hash.eq(&hash))
                .filter(oauth_tokens::app_id.eq(app_id)),
        )
        .returning(Token::as_returning())
        .get_result(conn)
        .await
        .optional()?;
        let Some(old) = old else {
            return Err(GrantError::InvalidGrant);
        };
        let binding = Binding::from_columns(old.binding.as_deref(), old.identity_id);
        let (Some(account_id), Some(binding)) = (old.account_id, binding) else {
            return Err(GrantError::InvalidGrant);
        };
        let scopes = Scopes::parse(&old.scopes)?;
        let k_anon = old
            .refresh_k_anon_wrap
            .as_ref()
            .and_then(|w| KAnon::unwrap_from(&refresh_key, REFRESH_SLOT, w));
        Ok(issue_token(
            conn,
            clock,
            app_id,
            Some((account_id, binding)),
            &scopes,
            k_anon.as_ref(),
        )
        .await?)
    })
    .await
}

/// Finds a live token by its raw value. No write happens here: a token
/// carries no last-used time (unlinkability rule 4).
pub async fn token_by_secret(
    conn: &mut DbConn,
    clock: &dyn Clock,
    raw: &str,
) -> CoreResult<Option<Token>> {
    let token: Option<Token> = oauth_tokens::table
        .filter(oauth_tokens::token_hash.eq(lookup_hash(raw)))
        .select(Token::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(token.filter(|t| t.expires_on.is_none_or(|e| e > clock.today())))
}

/// Revokes a token of this app. Revoking an unknown token is not an error (RFC 7009).
pub async fn revoke(conn: &mut DbConn, app: &App, raw: &str) -> CoreResult<()> {
    diesel::delete(
        oauth_tokens::table
            .filter(oauth_tokens::token_hash.eq(lookup_hash(raw)))
            .filter(oauth_tokens::app_id.eq(app.id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("read", "read:statuses", true),
            ("read:statuses", "read:statuses", true),
            ("read:accounts", "read:statuses", false),
            ("write", "read:statuses", false),
            ("write", "write:statuses", true),
            ("follow", "write:follows", true),
            ("follow", "read:mutes", true),
            ("follow", "write:statuses", false),
            ("profile", "profile", true),
            ("profile", "read:accounts", false),
            ("read write", "write:favourites", true),
            ("admin:read", "admin:read:accounts", true),
            ("admin:read", "admin:write:accounts", false),
        ];
        for (have, need, want) in cases {
            assert_eq!(
                Scopes::parse(have).unwrap().allows(need),
                *want,
                "{have} / {need}"
            );
        }
    }

    #[test]
    fn scope_parsing() {
        assert_eq!(Scopes::parse("").unwrap().as_string(), "read");
        assert_eq!(
            Scopes::parse("read+write follow read").unwrap().as_string(),
            "read write follow"
        );
        assert!(Scopes::parse("read superuser").is_err());
        assert!(Scopes::parse("read:nothing").is_err());
        let app = Scopes::parse("read write").unwrap();
        assert!(Scopes::parse("read:statuses write").unwrap().within(&app));
        assert!(!Scopes::parse("follow").unwrap().within(&app));
    }

    #[test]
    fn redirect_uris() {
        assert!(validate_redirect_uri(OOB_REDIRECT).is_ok());
        assert!(validate_redirect_uri("https://app.example/cb").is_ok());
        assert!(validate_redirect_uri("tusky://oauth").is_ok());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("https://app.example/cb#frag").is_err());
    }
}
