//! OAuth 2 records: registered apps, authorization codes, tokens and scopes.
//! A token is bound to exactly one face (or, with the tiers work, to
//! "Anonymous" or "All my faces") and acts only as that.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::id::Id;
use crate::models::App;
use crate::schema::{accounts, identities, oauth_apps, oauth_codes, oauth_tokens};
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

/// The client id of the web face's own app.
pub const WEB_CLIENT_ID: &str = "guise-web";

/// The app the web face's sessions are tokens of, made on first use. Its
/// secret is never shown: only the server issues its tokens.
pub async fn web_app(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<App> {
    if let Some(app) = app_by_client_id(conn, WEB_CLIENT_ID).await? {
        return Ok(app);
    }
    diesel::insert_into(oauth_apps::table)
        .values((
            oauth_apps::id.eq(Id::generate(clock.now()).get()),
            oauth_apps::name.eq("Guise web"),
            oauth_apps::website.eq(None::<String>),
            oauth_apps::redirect_uris.eq("urn:ietf:wg:oauth:2.0:oob"),
            oauth_apps::scopes.eq("read write follow push"),
            oauth_apps::client_id.eq(WEB_CLIENT_ID),
            oauth_apps::client_secret.eq(Secret::generate().expose()),
            oauth_apps::created_on.eq(clock.today()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    app_by_client_id(conn, WEB_CLIENT_ID)
        .await?
        .ok_or(CoreError::Internal("the web app vanished".into()))
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
    /// The login's token epoch at sign-in: a password change before the
    /// code is exchanged kills the code too.
    pub epoch: i64,
    pub scopes: &'a Scopes,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    /// Opened at sign-in from the password; wrapped under the code so that
    /// the token can carry it on (and be listed by its owner later).
    pub k_anon: Option<&'a KAnon>,
}

pub const CODE_SLOT: &[u8] = b"oauth:code";

pub const CODE_OWNER_SLOT: &[u8] = b"oauth:code-owner:2";

/// Who a code belongs to and what it will be bound to, sealed under the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CodeOwner {
    account_id: i64,
    epoch: i64,
    binding: Option<Binding>,
}

fn binding_bytes(b: Option<Binding>) -> (u8, i64) {
    match b {
        None => (0, 0),
        Some(Binding::Face(id)) => (1, id),
        Some(Binding::Anonymous) => (2, 0),
        Some(Binding::All) => (3, 0),
    }
}

fn binding_from(kind: u8, face: i64) -> Option<Option<Binding>> {
    match kind {
        0 => Some(None),
        1 => Some(Some(Binding::Face(face))),
        2 => Some(Some(Binding::Anonymous)),
        3 => Some(Some(Binding::All)),
        _ => None,
    }
}

fn be_i64(plain: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(plain.get(at..at + 8)?.try_into().ok()?))
}

impl CodeOwner {
    fn seal(&self, code: &str) -> Vec<u8> {
        let (kind, face) = binding_bytes(self.binding);
        let mut plain = Vec::with_capacity(25);
        plain.extend_from_slice(&self.account_id.to_be_bytes());
        plain.extend_from_slice(&self.epoch.to_be_bytes());
        plain.push(kind);
        plain.extend_from_slice(&face.to_be_bytes());
        WrapKey::from_token(code).seal(CODE_OWNER_SLOT, &plain)
    }

    fn open(code: &str, blob: &[u8]) -> Option<CodeOwner> {
        let plain = WrapKey::from_token(code).open(CODE_OWNER_SLOT, blob)?;
        Some(CodeOwner {
            account_id: be_i64(&plain, 0)?,
            epoch: be_i64(&plain, 8)?,
            binding: binding_from(*plain.get(16)?, be_i64(&plain, 17)?)?,
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
        epoch: p.epoch,
        binding: None,
    };
    diesel::insert_into(oauth_codes::table)
        .values((
            oauth_codes::id.eq(Id::random().get()),
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
    Ok(pending(conn, clock, code).await?.map(|(info, _)| info))
}

async fn pending(
    conn: &mut DbConn,
    clock: &dyn Clock,
    code: &str,
) -> CoreResult<Option<(CodeInfo, CodeOwner)>> {
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
        Some((
            CodeInfo {
                app_id,
                account_id: owner.account_id,
                redirect_uri,
                scopes,
            },
            owner,
        ))
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
    let Some((info, owner)) = pending(conn, clock, code).await? else {
        return Err(CoreError::NotFound);
    };
    if let Binding::Face(id) = binding {
        ensure_face_of(conn, info.account_id, id).await?;
    }
    let owner = CodeOwner {
        binding: Some(binding),
        ..owner
    };
    diesel::update(oauth_codes::table.filter(oauth_codes::code_hash.eq(lookup_hash(code))))
        .set(oauth_codes::owner.eq(owner.seal(code)))
        .execute(conn)
        .await?;
    Ok(())
}

async fn ensure_face_of(conn: &mut DbConn, account_id: i64, identity_id: i64) -> CoreResult<()> {
    let owner: Option<Option<i64>> = identities::table
        .find(identity_id)
        .filter(identities::tier.ne("anonymous"))
        .filter(identities::tombstoned.eq(false))
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

/// The login's current token epoch and whether it is disabled (or its
/// email still unconfirmed); `None` if the login is gone. Every token
/// sealed under another epoch is dead.
pub async fn login_state(conn: &mut DbConn, account_id: i64) -> CoreResult<Option<(i64, bool)>> {
    Ok(login_state_full(conn, account_id)
        .await?
        .map(|l| (l.epoch, l.disabled || !l.confirmed || !l.approved)))
}

/// What a token's use needs to know of its login, in one read.
#[derive(Debug, Queryable)]
struct LoginState {
    epoch: i64,
    disabled: bool,
    confirmed: bool,
    approved: bool,
    role: String,
}

async fn login_state_full(conn: &mut DbConn, account_id: i64) -> CoreResult<Option<LoginState>> {
    Ok(accounts::table
        .find(account_id)
        .select((
            accounts::token_epoch,
            accounts::disabled,
            accounts::confirmed,
            accounts::approved,
            accounts::role,
        ))
        .first(conn)
        .await
        .optional()?)
}

/// `login_state_full`, and the face a face-bound token names, in one read
/// (a token's every use needs both).
async fn login_state_with_face(
    conn: &mut DbConn,
    account_id: i64,
    face: Option<i64>,
) -> CoreResult<Option<(LoginState, Option<crate::models::Identity>)>> {
    let Some(face) = face else {
        return Ok(login_state_full(conn, account_id).await?.map(|l| (l, None)));
    };
    let both: Option<(crate::models::Identity, LoginState)> = identities::table
        .inner_join(accounts::table.on(accounts::id.eq(account_id)))
        .filter(identities::id.eq(face))
        .select((
            crate::models::Identity::as_select(),
            (
                accounts::token_epoch,
                accounts::disabled,
                accounts::confirmed,
                accounts::approved,
                accounts::role,
            ),
        ))
        .first(conn)
        .await
        .optional()?;
    match both {
        Some((f, l)) => Ok(Some((l, Some(f)))),
        // The face is gone (the caller refuses the token): the login alone.
        None => Ok(login_state_full(conn, account_id).await?.map(|l| (l, None))),
    }
}

/// Who a token acts for: sealed in its row, so that at rest the row names
/// neither a login, nor a face, nor even the app it was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub account_id: i64,
    /// The login's token epoch when the grant was made.
    pub epoch: i64,
    pub binding: Binding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TokenOwner {
    app_id: i64,
    grant: Option<Grant>,
}

/// Slots of a token row's sealed columns, each bound to the row's id so a
/// blob copied to another row does not open.
fn row_slot(label: &[u8], id: i64) -> Vec<u8> {
    let mut s = label.to_vec();
    s.push(b':');
    s.extend_from_slice(&id.to_be_bytes());
    s
}

const ROW_KEY_BY_TOKEN: &[u8] = b"oauth:row-key:token";
const ROW_KEY_BY_REFRESH: &[u8] = b"oauth:row-key:refresh";
const ROW_KEY_BY_K_ANON: &[u8] = b"oauth:row-key:k_anon";
const OWNER_SLOT: &[u8] = b"oauth:owner";
pub const TOKEN_SLOT: &[u8] = b"oauth:token";

impl TokenOwner {
    fn seal(&self, row_key: &WrapKey, id: i64) -> Vec<u8> {
        let mut plain = Vec::with_capacity(34);
        plain.extend_from_slice(&self.app_id.to_be_bytes());
        match self.grant {
            None => plain.extend_from_slice(&[0u8; 26]),
            Some(g) => {
                plain.push(1);
                plain.extend_from_slice(&g.account_id.to_be_bytes());
                plain.extend_from_slice(&g.epoch.to_be_bytes());
                let (kind, face) = binding_bytes(Some(g.binding));
                plain.push(kind);
                plain.extend_from_slice(&face.to_be_bytes());
            }
        }
        row_key.seal(&row_slot(OWNER_SLOT, id), &plain)
    }

    fn open(row_key: &WrapKey, id: i64, blob: &[u8]) -> Option<TokenOwner> {
        let plain = row_key.open(&row_slot(OWNER_SLOT, id), blob)?;
        let app_id = be_i64(&plain, 0)?;
        let grant = match plain.get(8)? {
            0 => None,
            1 => Some(Grant {
                account_id: be_i64(&plain, 9)?,
                epoch: be_i64(&plain, 17)?,
                binding: binding_from(*plain.get(25)?, be_i64(&plain, 26)?)??,
            }),
            _ => return None,
        };
        Some(TokenOwner { app_id, grant })
    }
}

/// A live token, opened with its raw value: everything its row holds only
/// sealed.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub app_id: i64,
    pub grant: Option<Grant>,
    pub scopes: String,
    pub created_on: chrono::NaiveDate,
    pub has_refresh: bool,
    /// Only "Anonymous" and "All my faces" tokens carry `k_anon`.
    pub k_anon: Option<KAnon>,
    /// The last day the token works, if it expires.
    pub expires_on: Option<chrono::NaiveDate>,
    /// Names the token's push subscription: `HMAC(row key, "push" ‖ id)`.
    /// The row key is wrapped under the token, its refresh token and
    /// `k_anon`, so only they find the subscription, and it stays the same
    /// when the token is refreshed.
    pub push_tag: [u8; 32],
    /// The login's role, read with its token epoch when the token was
    /// looked up (`None` otherwise, and for an app's own token).
    pub role: Option<String>,
    /// The face a face-bound token names, read with the login's state when
    /// the token was looked up (`None` otherwise, or if it is gone).
    pub face: Option<crate::models::Identity>,
}

impl Session {
    pub fn account_id(&self) -> Option<i64> {
        self.grant.map(|g| g.account_id)
    }

    pub fn binding(&self) -> Option<Binding> {
        self.grant.map(|g| g.binding)
    }
}

pub struct IssuedToken {
    pub access: Secret,
    pub refresh: Secret,
    pub session: Session,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_tokens)]
struct TokenRow {
    id: i64,
    scopes: String,
    created_on: chrono::NaiveDate,
    expires_on: Option<chrono::NaiveDate>,
    refresh_hash: Option<Vec<u8>>,
    key_by_token: Vec<u8>,
    key_by_refresh: Option<Vec<u8>>,
    key_by_k_anon: Option<Vec<u8>>,
    owner: Vec<u8>,
    k_anon_wrap: Option<Vec<u8>>,
}

impl TokenRow {
    fn open(self, row_key: &WrapKey) -> Option<Session> {
        let owner = TokenOwner::open(row_key, self.id, &self.owner)?;
        let k_anon = match &self.k_anon_wrap {
            Some(w) => Some(KAnon::unwrap_from(
                row_key,
                &row_slot(TOKEN_SLOT, self.id),
                w,
            )?),
            None => None,
        };
        Some(Session {
            id: self.id,
            app_id: owner.app_id,
            grant: owner.grant,
            scopes: self.scopes,
            created_on: self.created_on,
            has_refresh: self.refresh_hash.is_some(),
            k_anon,
            expires_on: self.expires_on,
            push_tag: push_tag(row_key, self.id),
            role: None,
            face: None,
        })
    }
}

/// Issues a token. `grant` is `None` for an app's own (client credentials)
/// token. `k_anon`, when at hand, lets the owner list and revoke the token
/// later; only "Anonymous" and "All my faces" tokens carry it themselves.
pub async fn issue_token(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app_id: i64,
    grant: Option<Grant>,
    scopes: &Scopes,
    k_anon: Option<&KAnon>,
) -> CoreResult<IssuedToken> {
    if let Some(Grant {
        account_id,
        binding: Binding::Face(id),
        ..
    }) = grant
    {
        ensure_face_of(conn, account_id, id).await?;
    }
    let carries = matches!(
        grant,
        Some(Grant {
            binding: Binding::Anonymous | Binding::All,
            ..
        })
    );
    if carries && k_anon.is_none() {
        return Err(CoreError::Forbidden(
            "signing in again with the password is needed for this token",
        ));
    }
    let access = Secret::generate();
    let refresh = Secret::generate();
    let id = Id::random().get();
    let row_key = WrapKey::generate();
    let owner = TokenOwner { app_id, grant };
    let k_anon_wrap = if carries {
        k_anon.map(|k| k.wrap(&row_key, &row_slot(TOKEN_SLOT, id)))
    } else {
        None
    };
    // An app's own token has no refresh token (as in Mastodon).
    let refreshable = grant.is_some();
    let row: TokenRow = diesel::insert_into(oauth_tokens::table)
        .values((
            oauth_tokens::id.eq(id),
            oauth_tokens::token_hash.eq(lookup_hash(access.expose())),
            oauth_tokens::refresh_hash.eq(refreshable.then(|| lookup_hash(refresh.expose()))),
            oauth_tokens::scopes.eq(scopes.as_string()),
            oauth_tokens::created_on.eq(clock.today()),
            oauth_tokens::key_by_token.eq(row_key.wrap_under(
                &WrapKey::from_token(access.expose()),
                &row_slot(ROW_KEY_BY_TOKEN, id),
            )),
            oauth_tokens::key_by_refresh.eq(refreshable.then(|| {
                row_key.wrap_under(
                    &WrapKey::from_token(refresh.expose()),
                    &row_slot(ROW_KEY_BY_REFRESH, id),
                )
            })),
            oauth_tokens::key_by_k_anon
                .eq(k_anon.map(|k| row_key.wrap_under_k_anon(k, &row_slot(ROW_KEY_BY_K_ANON, id)))),
            oauth_tokens::owner.eq(owner.seal(&row_key, id)),
            oauth_tokens::k_anon_wrap.eq(k_anon_wrap),
        ))
        .returning(TokenRow::as_returning())
        .get_result(conn)
        .await?;
    let session = row
        .open(&row_key)
        .ok_or_else(|| CoreError::Internal("a new token does not open".into()))?;
    Ok(IssuedToken {
        access,
        refresh,
        session,
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

/// Whether a grant made at `epoch` still stands: the login exists, is not
/// disabled, and no password change, reset or deletion came since.
async fn grant_stands(conn: &mut DbConn, g: &Grant) -> CoreResult<bool> {
    Ok(login_state(conn, g.account_id)
        .await?
        .is_some_and(|(epoch, disabled)| epoch == g.epoch && !disabled))
}

/// Exchanges a bound code for a token; the code is consumed either way.
/// A code issued with a PKCE challenge needs its verifier; one issued
/// without needs the client's secret (`client_authenticated`): a verifier
/// never stands in for a secret.
pub async fn exchange_code(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app: &App,
    client_authenticated: bool,
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
        match challenge {
            Some(challenge) => match verifier.as_deref() {
                Some(v) if pkce_s256_matches(v, &challenge) => {}
                _ => return Err(GrantError::InvalidGrant),
            },
            None if !client_authenticated => return Err(GrantError::InvalidClient),
            None => {}
        }
        let Some(CodeOwner {
            account_id,
            epoch,
            binding: Some(binding),
        }) = CodeOwner::open(&code, &owner)
        else {
            return Err(GrantError::InvalidGrant);
        };
        let grant = Grant {
            account_id,
            epoch,
            binding,
        };
        if !grant_stands(conn, &grant).await? {
            return Err(GrantError::InvalidGrant);
        }
        let scopes = Scopes::parse(&scopes)?;
        let k_anon = k_wrap.and_then(|w| KAnon::unwrap_from(&code_key, CODE_SLOT, &w));
        Ok(issue_token(conn, clock, app_id, Some(grant), &scopes, k_anon.as_ref()).await?)
    })
    .await
}

/// Trades a refresh token for a new access and refresh token. The row keeps
/// its id, its sealed owner and its key: only the two token hashes and the
/// wraps of the row key change, so nothing account-tied is written.
pub async fn refresh(
    conn: &mut DbConn,
    clock: &dyn Clock,
    app: &App,
    refresh_token: &str,
) -> Result<IssuedToken, GrantError> {
    let row: Option<TokenRow> = oauth_tokens::table
        .filter(oauth_tokens::refresh_hash.eq(lookup_hash(refresh_token)))
        .select(TokenRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else {
        return Err(GrantError::InvalidGrant);
    };
    let id = row.id;
    let row_key = row
        .key_by_refresh
        .as_ref()
        .and_then(|w| {
            WrapKey::unwrap_from(
                &WrapKey::from_token(refresh_token),
                &row_slot(ROW_KEY_BY_REFRESH, id),
                w,
            )
        })
        .ok_or(GrantError::InvalidGrant)?;
    let expired = row.expires_on.is_some_and(|e| e <= clock.today());
    let session = row.open(&row_key).ok_or(GrantError::InvalidGrant)?;
    let Some(grant) = session
        .grant
        .filter(|_| session.app_id == app.id && !expired)
    else {
        return Err(GrantError::InvalidGrant);
    };
    if !grant_stands(conn, &grant).await? {
        forget(conn, id, &session.push_tag).await?;
        return Err(GrantError::InvalidGrant);
    }
    let access = Secret::generate();
    let refresh = Secret::generate();
    let changed = diesel::update(
        oauth_tokens::table
            .find(id)
            .filter(oauth_tokens::refresh_hash.eq(lookup_hash(refresh_token))),
    )
    .set((
        oauth_tokens::token_hash.eq(lookup_hash(access.expose())),
        oauth_tokens::refresh_hash.eq(Some(lookup_hash(refresh.expose()))),
        oauth_tokens::key_by_token.eq(row_key.wrap_under(
            &WrapKey::from_token(access.expose()),
            &row_slot(ROW_KEY_BY_TOKEN, id),
        )),
        oauth_tokens::key_by_refresh.eq(Some(row_key.wrap_under(
            &WrapKey::from_token(refresh.expose()),
            &row_slot(ROW_KEY_BY_REFRESH, id),
        ))),
    ))
    .execute(conn)
    .await?;
    if changed != 1 {
        // Refreshed concurrently by someone else: this refresh token is spent.
        return Err(GrantError::InvalidGrant);
    }
    Ok(IssuedToken {
        access,
        refresh,
        session,
    })
}

/// Finds the live token `raw`, opened. No write happens here (a token
/// carries no last-used time, rule 4), except that a dead token's row is
/// removed when it is presented: it names no one, and now nobody can use it.
/// A disabled login's tokens answer `Forbidden`.
pub async fn session_by_token(
    conn: &mut DbConn,
    clock: &dyn Clock,
    raw: &str,
) -> CoreResult<Option<Session>> {
    let row: Option<TokenRow> = oauth_tokens::table
        .filter(oauth_tokens::token_hash.eq(lookup_hash(raw)))
        .select(TokenRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id = row.id;
    if row.expires_on.is_some_and(|e| e <= clock.today()) {
        return Ok(None);
    }
    let Some(session) = WrapKey::unwrap_from(
        &WrapKey::from_token(raw),
        &row_slot(ROW_KEY_BY_TOKEN, id),
        &row.key_by_token,
    )
    .and_then(|k| row.open(&k)) else {
        return Ok(None);
    };
    let mut session = session;
    if let Some(g) = session.grant {
        let bound_face = match g.binding {
            Binding::Face(f) => Some(f),
            Binding::Anonymous | Binding::All => None,
        };
        match login_state_with_face(conn, g.account_id, bound_face).await? {
            Some((
                LoginState {
                    epoch,
                    disabled,
                    confirmed,
                    approved,
                    role,
                },
                face,
            )) if epoch == g.epoch => {
                session.role = Some(role);
                session.face = face;
                if disabled {
                    return Err(CoreError::Forbidden("Your login is currently disabled"));
                }
                if !confirmed {
                    return Err(CoreError::Forbidden(
                        "Your login is missing a confirmed e-mail address",
                    ));
                }
                if !approved {
                    return Err(CoreError::Forbidden(crate::accounts::PENDING_APPROVAL));
                }
            }
            _ => {
                forget(conn, id, &session.push_tag).await?;
                return Ok(None);
            }
        }
    }
    Ok(Some(session))
}

fn push_tag(row_key: &WrapKey, id: i64) -> [u8; 32] {
    row_key.tag("push", &id.to_be_bytes())
}

/// Removes a token row and its push subscription (found by the tag only
/// the opened row gives).
async fn forget(conn: &mut DbConn, id: i64, push_tag: &[u8; 32]) -> CoreResult<()> {
    conn.transaction::<_, CoreError, _>(async move |conn| {
        crate::push::unsubscribe(conn, push_tag).await?;
        diesel::delete(oauth_tokens::table.find(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// Revokes a token (or a refresh token) of this app. Revoking an unknown
/// token is not an error (RFC 7009).
pub async fn revoke(conn: &mut DbConn, app: &App, raw: &str) -> CoreResult<()> {
    let hash = lookup_hash(raw);
    let row: Option<TokenRow> = oauth_tokens::table
        .filter(
            oauth_tokens::token_hash
                .eq(&hash)
                .or(oauth_tokens::refresh_hash.eq(&hash)),
        )
        .select(TokenRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(row) = row else {
        return Ok(());
    };
    let id = row.id;
    let key = WrapKey::from_token(raw);
    let row_key = WrapKey::unwrap_from(&key, &row_slot(ROW_KEY_BY_TOKEN, id), &row.key_by_token)
        .or_else(|| {
            row.key_by_refresh
                .as_ref()
                .and_then(|w| WrapKey::unwrap_from(&key, &row_slot(ROW_KEY_BY_REFRESH, id), w))
        });
    if let Some(s) = row_key
        .and_then(|k| row.open(&k))
        .filter(|s| s.app_id == app.id)
    {
        forget(conn, id, &s.push_tag).await?;
    }
    Ok(())
}

/// One of the login's tokens as its owner sees it in "authorized apps".
#[derive(Debug, Clone)]
pub struct OwnToken {
    pub session: Session,
    pub app: Option<App>,
}

/// Every live token of the owner of `k_anon` (those issued while the key
/// was at hand: every sign-in with the password or an authorization code).
/// Found by trying `k_anon` on each token row's wrap: no column says whose
/// a row is, so this reads them all.
pub async fn own_tokens(
    conn: &mut DbConn,
    k_anon: &KAnon,
    account_id: i64,
) -> CoreResult<Vec<OwnToken>> {
    let Some((epoch, _)) = login_state(conn, account_id).await? else {
        return Ok(Vec::new());
    };
    let rows: Vec<TokenRow> = oauth_tokens::table
        .filter(oauth_tokens::key_by_k_anon.is_not_null())
        .select(TokenRow::as_select())
        .load(conn)
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let id = row.id;
        let Some(row_key) = row
            .key_by_k_anon
            .as_ref()
            .and_then(|w| WrapKey::unwrap_from_k_anon(k_anon, &row_slot(ROW_KEY_BY_K_ANON, id), w))
        else {
            continue;
        };
        let Some(session) = row.open(&row_key) else {
            continue;
        };
        if session
            .grant
            .is_some_and(|g| g.account_id == account_id && g.epoch == epoch)
        {
            out.push(OwnToken {
                app: get_app(conn, session.app_id).await.ok(),
                session,
            });
        }
    }
    out.sort_by_key(|t| (t.session.created_on, t.session.id));
    Ok(out)
}

/// Revokes one of the owner's own tokens, found with `k_anon`.
pub async fn revoke_own(
    conn: &mut DbConn,
    k_anon: &KAnon,
    account_id: i64,
    token_id: i64,
) -> CoreResult<()> {
    let own = own_tokens(conn, k_anon, account_id).await?;
    let Some(t) = own.iter().find(|t| t.session.id == token_id) else {
        return Err(CoreError::NotFound);
    };
    forget(conn, token_id, &t.session.push_tag).await
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
