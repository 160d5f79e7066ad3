//! Logins and their persistent faces.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::models::{Account, Identity, Preferences};
use crate::schema::{accounts, identities, preferences};
use crate::seal::{self, KAnon, WrapKey};
use crate::secret::Secret;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::Tier;

/// A local handle: 1–30 ASCII letters, digits or underscores. Handles of all
/// faces share one case-insensitive namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> CoreResult<Username> {
        let s = s.trim();
        if s.is_empty() || s.len() > 30 {
            return Err(CoreError::invalid("username", "must be 1 to 30 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(CoreError::invalid(
                "username",
                "may contain only letters, digits and underscores",
            ));
        }
        Ok(Username(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> CoreResult<Email> {
        let s = s.trim();
        let ok = s.len() <= 254
            && s.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
            && !s.chars().any(char::is_whitespace);
        if !ok {
            return Err(CoreError::invalid("email", "is not an email address"));
        }
        Ok(Email(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

/// Argon2id is deliberately slow: run it off the async workers.
pub async fn hash_password(password: String) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || crate::secret::hash_password(&password))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?
        .map_err(CoreError::Internal)
}

async fn verify_password(password: String, hash: String) -> CoreResult<bool> {
    tokio::task::spawn_blocking(move || crate::secret::verify_password(&password, &hash))
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))
}

/// The sealed `k_anon` columns of a new key, and the recovery code that opens one of them.
pub struct NewKeys {
    pub k_anon: KAnon,
    pub salt: Vec<u8>,
    pub password_wrap: Vec<u8>,
    pub recovery_wrap: Vec<u8>,
    pub recovery_code: Secret,
}

pub const PASSWORD_SLOT: &[u8] = b"account:password";
pub const RECOVERY_SLOT: &[u8] = b"account:recovery";

/// A fresh `k_anon`, wrapped under the password and a new recovery code.
pub async fn new_keys(password: &str) -> CoreResult<NewKeys> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let k_anon = KAnon::generate();
        let salt = seal::new_salt().to_vec();
        let pw = WrapKey::from_password(&password, &salt).map_err(CoreError::Internal)?;
        let recovery_code = Secret::generate();
        let recovery_wrap = k_anon.wrap(
            &WrapKey::from_recovery_code(recovery_code.expose()),
            RECOVERY_SLOT,
        );
        Ok(NewKeys {
            password_wrap: k_anon.wrap(&pw, PASSWORD_SLOT),
            k_anon,
            salt,
            recovery_wrap,
            recovery_code,
        })
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))?
}

/// Opens the account's `k_anon` with its password. Accounts made before
/// sealed anonymity existed get their key here, at their next sign-in.
pub async fn unlock_k_anon(
    conn: &mut DbConn,
    account_id: i64,
    password: &str,
) -> CoreResult<(KAnon, Option<Secret>)> {
    let (salt, wrap): (Option<Vec<u8>>, Option<Vec<u8>>) = accounts::table
        .find(account_id)
        .select((accounts::k_anon_salt, accounts::k_anon_password_wrap))
        .first(conn)
        .await
        .found()?;
    if let (Some(salt), Some(wrap)) = (salt, wrap) {
        let password = password.to_owned();
        let k = tokio::task::spawn_blocking(move || {
            let key = WrapKey::from_password(&password, &salt).ok()?;
            KAnon::unwrap_from(&key, PASSWORD_SLOT, &wrap)
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        return k.map(|k| (k, None)).ok_or(CoreError::Forbidden(
            "the anonymity key does not open with this password",
        ));
    }
    let keys = new_keys(password).await?;
    store_keys(conn, account_id, &keys).await?;
    Ok((keys.k_anon, Some(keys.recovery_code)))
}

async fn store_keys(conn: &mut DbConn, account_id: i64, keys: &NewKeys) -> CoreResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::k_anon_salt.eq(&keys.salt),
            accounts::k_anon_password_wrap.eq(&keys.password_wrap),
            accounts::k_anon_recovery_wrap.eq(&keys.recovery_wrap),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates a login with its first face (pseudonymous, handle = username)
/// and its sealed `k_anon`; returns the recovery code, to be shown once.
pub async fn create_account(
    conn: &mut DbConn,
    clock: &dyn Clock,
    username: &Username,
    email: &Email,
    password: &str,
    role: Role,
) -> CoreResult<(Account, Identity, Secret)> {
    let r = register(
        conn,
        clock,
        username,
        email,
        password,
        role,
        SignUp {
            confirm_email: false,
            with_keys: true,
            awaiting_approval: None,
        },
    )
    .await?;
    let code = r
        .recovery_code
        .ok_or(CoreError::Internal("no recovery code was made".into()))?;
    Ok((r.account, r.identity, code))
}

/// How a login comes to be.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// Unconfirmed until the emailed link is followed.
    pub confirm_email: bool,
    /// Make `k_anon` and its recovery code now (to show the code at once);
    /// otherwise they are made at the first sign-in that can show it.
    pub with_keys: bool,
    /// Waits for a moderator's approval, with what the person wrote
    /// (`None`: usable at once).
    pub awaiting_approval: Option<String>,
}

/// A new login.
pub struct Registered {
    pub account: Account,
    pub identity: Identity,
    /// Shown once, never stored.
    pub recovery_code: Option<Secret>,
    /// The token of the confirmation link, to email (only its hash is kept).
    pub confirmation: Option<Secret>,
}

/// How long a confirmation link works.
pub const CONFIRMATION_DAYS: i64 = 7;

/// Creates a login with its first face (pseudonymous, handle = username).
pub async fn register(
    conn: &mut DbConn,
    clock: &dyn Clock,
    username: &Username,
    email: &Email,
    password: &str,
    role: Role,
    how: SignUp,
) -> CoreResult<Registered> {
    if crate::faces::reserved(username.as_str()) {
        return Err(CoreError::invalid("username", "is reserved"));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let password_hash = hash_password(password.to_owned()).await?;
    let keys = if how.with_keys {
        Some(new_keys(password).await?)
    } else {
        None
    };
    let confirmation = how.confirm_email.then(Secret::generate);
    let confirmation_hash = confirmation
        .as_ref()
        .map(|c| crate::secret::lookup_hash(c.expose()));
    let today = clock.today();
    // Neither id carries the time: a login's faces must not sort by
    // creation (rule 2); their order is `identities.position`.
    let account_id = Id::random().get();
    let identity_id = Id::random().get();
    let username = username.as_str().to_owned();
    let email = email.as_str().to_owned();
    let result = conn
        .transaction::<_, CoreError, _>(async move |conn| {
            let account: Account = diesel::insert_into(accounts::table)
                .values((
                    accounts::id.eq(account_id),
                    accounts::email.eq(&email),
                    accounts::password_hash.eq(&password_hash),
                    accounts::role.eq(role.as_str()),
                    accounts::created_on.eq(today),
                    accounts::k_anon_salt.eq(keys.as_ref().map(|k| &k.salt)),
                    accounts::k_anon_password_wrap.eq(keys.as_ref().map(|k| &k.password_wrap)),
                    accounts::k_anon_recovery_wrap.eq(keys.as_ref().map(|k| &k.recovery_wrap)),
                    accounts::confirmed.eq(confirmation_hash.is_none()),
                    accounts::confirmation_hash.eq(&confirmation_hash),
                    accounts::confirmation_sent_on.eq(confirmation_hash.as_ref().map(|_| today)),
                    accounts::approved.eq(how.awaiting_approval.is_none()),
                    accounts::sign_up_reason.eq(&how.awaiting_approval),
                ))
                .returning(Account::as_returning())
                .get_result(conn)
                .await?;
            let identity = insert_local_identity(
                conn,
                identity_id,
                Some(account_id),
                Tier::Pseudonymous,
                &username,
                &username,
                today,
            )
            .await?;
            Ok(Registered {
                account,
                identity,
                recovery_code: keys.map(|k| k.recovery_code),
                confirmation,
            })
        })
        .await;
    match result {
        Err(e) if e.is_unique_violation() => Err(CoreError::Conflict(
            "that username or email is already taken",
        )),
        other => other,
    }
}

/// Refuses a login whose email is not confirmed yet (as Mastodon says it).
pub fn ensure_confirmed(account: &Account) -> CoreResult<()> {
    if !account.confirmed {
        Err(CoreError::Forbidden(
            "Your login is missing a confirmed e-mail address",
        ))
    } else if !account.approved {
        Err(CoreError::Forbidden(PENDING_APPROVAL))
    } else {
        Ok(())
    }
}

/// What a login waiting for approval is told when it tries to act.
pub const PENDING_APPROVAL: &str = "Your login is currently pending approval";

/// Approves a login that waits for it; `NotFound` if it does not wait
/// (or is gone). Returns its email, to tell it.
pub async fn approve(conn: &mut DbConn, account_id: i64) -> CoreResult<String> {
    diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::approved.eq(false)),
    )
    .set((
        accounts::approved.eq(true),
        accounts::sign_up_reason.eq(None::<String>),
    ))
    .returning(accounts::email)
    .get_result(conn)
    .await
    .found()
}

/// Whether the login waits for approval, and what it wrote when it
/// signed up.
pub async fn approval_state(
    conn: &mut DbConn,
    account_id: i64,
) -> CoreResult<(bool, Option<String>)> {
    accounts::table
        .find(account_id)
        .select((accounts::approved, accounts::sign_up_reason))
        .first(conn)
        .await
        .found()
}

/// Confirms the login whose emailed link carried `token` (within
/// `CONFIRMATION_DAYS` of sending).
pub async fn confirm_email(
    conn: &mut DbConn,
    clock: &dyn Clock,
    token: &str,
) -> CoreResult<Account> {
    let oldest = clock.today() - chrono::Duration::days(CONFIRMATION_DAYS);
    diesel::update(
        accounts::table
            .filter(accounts::confirmation_hash.eq(crate::secret::lookup_hash(token)))
            .filter(accounts::confirmation_sent_on.ge(oldest)),
    )
    .set((
        accounts::confirmed.eq(true),
        accounts::confirmation_hash.eq(None::<Vec<u8>>),
        accounts::confirmation_sent_on.eq(None::<chrono::NaiveDate>),
    ))
    .returning(Account::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or(CoreError::NotFound)
}

/// A new confirmation link for the unconfirmed login of `email` (the old
/// one stops working); `None` if there is no such login.
pub async fn renew_confirmation(
    conn: &mut DbConn,
    clock: &dyn Clock,
    email: &str,
) -> CoreResult<Option<(Account, Secret)>> {
    let token = Secret::generate();
    let account: Option<Account> = diesel::update(
        accounts::table
            .filter(accounts::email.eq(email.trim()))
            .filter(accounts::confirmed.eq(false)),
    )
    .set((
        accounts::confirmation_hash.eq(Some(crate::secret::lookup_hash(token.expose()))),
        accounts::confirmation_sent_on.eq(Some(clock.today())),
    ))
    .returning(Account::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    Ok(account.map(|a| (a, token)))
}

/// Days an emailed password-reset link works: the day it was sent and the next.
pub const RESET_DAYS: i64 = 1;

/// A password-reset link for the login of `email` (an earlier one stops
/// working); `None` if no login has that address.
pub async fn request_reset(
    conn: &mut DbConn,
    clock: &dyn Clock,
    email: &str,
) -> CoreResult<Option<(Account, Secret)>> {
    let token = Secret::generate();
    let account: Option<Account> = diesel::update(
        accounts::table.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email.trim())
                .sql(")"),
        ),
    )
    .set((
        accounts::reset_hash.eq(Some(crate::secret::lookup_hash(token.expose()))),
        accounts::reset_sent_on.eq(Some(clock.today())),
    ))
    .returning(Account::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    Ok(account.map(|a| (a, token)))
}

/// The login an emailed reset link names, if the link is current.
pub async fn reset_link_login(
    conn: &mut DbConn,
    clock: &dyn Clock,
    token: &str,
) -> CoreResult<Option<Account>> {
    let oldest = clock.today() - chrono::Duration::days(RESET_DAYS);
    Ok(accounts::table
        .filter(accounts::reset_hash.eq(crate::secret::lookup_hash(token)))
        .filter(accounts::reset_sent_on.ge(oldest))
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Resets the password through an emailed link (used up): as
/// [`reset_password_losing_anonymity`] — the key to the login's anonymous
/// posts is lost, a new recovery code is returned once.
pub async fn reset_with_link(
    conn: &mut DbConn,
    clock: &dyn Clock,
    token: &str,
    new: &str,
    cooldown_days: i64,
) -> CoreResult<Secret> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let oldest = clock.today() - chrono::Duration::days(RESET_DAYS);
    let account: Account = diesel::update(
        accounts::table
            .filter(accounts::reset_hash.eq(crate::secret::lookup_hash(token)))
            .filter(accounts::reset_sent_on.ge(oldest)),
    )
    .set((
        accounts::reset_hash.eq(None::<Vec<u8>>),
        accounts::reset_sent_on.eq(None::<chrono::NaiveDate>),
    ))
    .returning(Account::as_returning())
    .get_result(conn)
    .await
    .optional()?
    .ok_or(CoreError::NotFound)?;
    reset_password_losing_anonymity(conn, clock, &account.email, new, cooldown_days).await
}

/// Where a new persistent face of the login goes in its order: after the
/// others. The first face made is the login's default face.
pub async fn next_position(conn: &mut DbConn, account_id: i64) -> CoreResult<i32> {
    let max: Option<i32> = identities::table
        .filter(identities::account_id.eq(account_id))
        .select(diesel::dsl::max(identities::position))
        .first(conn)
        .await?;
    Ok(max.map_or(0, |m| m + 1))
}

/// Inserts a local face and its preferences row.
pub async fn insert_local_identity(
    conn: &mut DbConn,
    id: i64,
    account_id: Option<i64>,
    tier: Tier,
    handle: &str,
    display_name: &str,
    today: chrono::NaiveDate,
) -> CoreResult<Identity> {
    let position = match account_id {
        Some(a) => Some(next_position(conn, a).await?),
        None => None,
    };
    let identity: Identity = diesel::insert_into(identities::table)
        .values((
            identities::id.eq(id),
            identities::account_id.eq(account_id),
            identities::position.eq(position),
            identities::tier.eq(tier.as_str()),
            identities::handle.eq(handle),
            identities::display_name.eq(display_name),
            identities::created_on.eq(today),
        ))
        .returning(Identity::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(preferences::table)
        .values(preferences::identity_id.eq(id))
        .execute(conn)
        .await?;
    Ok(identity)
}

/// Signs in by email or by the handle of one of the account's persistent faces.
/// Returns `None` for a wrong login or password without saying which.
pub async fn authenticate(
    conn: &mut DbConn,
    login: &str,
    password: &str,
) -> CoreResult<Option<Account>> {
    let login = login.trim();
    let by_email: Option<Account> = accounts::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(login)
                .sql(")"),
        )
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()?;
    let account = match by_email {
        Some(a) => Some(a),
        None => accounts::table
            .inner_join(identities::table.on(identities::account_id.eq(accounts::id.nullable())))
            .filter(identities::domain.is_null())
            .filter(identities::tier.ne(Tier::Anonymous.as_str()))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(identities.handle) = lower(")
                    .bind::<diesel::sql_types::Text, _>(login)
                    .sql(")"),
            )
            .select(Account::as_select())
            .first(conn)
            .await
            .optional()?,
    };
    let Some(account) = account else {
        // Spend the same time as a real check so timing does not reveal logins.
        let _ = verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await;
        return Ok(None);
    };
    // A disabled login is checked all the same, so it answers in the time a
    // wrong password does and its state is not learnt by timing.
    let right = verify_password(password.to_owned(), account.password_hash.clone()).await?;
    if right && !account.disabled {
        Ok(Some(account))
    } else {
        Ok(None)
    }
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Yv5n1ffvXvX0A1cXyoYJxv8ey3B0fHfWb8Mw1kDUnM";

pub async fn get_account(conn: &mut DbConn, id: i64) -> CoreResult<Account> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .await
        .found()
}

/// The account's persistent faces in the login's order: the first is its
/// default face. (Ids are random and say nothing of the order.)
pub async fn faces_of(conn: &mut DbConn, account_id: i64) -> CoreResult<Vec<Identity>> {
    Ok(identities::table
        .filter(identities::account_id.eq(account_id))
        .filter(identities::tier.ne(Tier::Anonymous.as_str()))
        .order((
            identities::position.asc().nulls_last(),
            identities::id.asc(),
        ))
        .select(Identity::as_select())
        .load(conn)
        .await?)
}

pub async fn get_identity(conn: &mut DbConn, id: i64) -> CoreResult<Identity> {
    identities::table
        .find(id)
        .select(Identity::as_select())
        .first(conn)
        .await
        .found()
}

pub async fn identities_by_ids(conn: &mut DbConn, ids: &[i64]) -> CoreResult<Vec<Identity>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(identities::table
        .filter(identities::id.eq_any(ids))
        .select(Identity::as_select())
        .load(conn)
        .await?)
}

/// A local face by handle (case-insensitive), or a remote one by handle and domain.
pub async fn find_identity_by_acct(
    conn: &mut DbConn,
    handle: &str,
    domain: Option<&str>,
) -> CoreResult<Option<Identity>> {
    let q = identities::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(identities.handle) = lower(")
                .bind::<diesel::sql_types::Text, _>(handle)
                .sql(")"),
        )
        .select(Identity::as_select())
        .into_boxed();
    let q = match domain {
        None => q.filter(identities::domain.is_null()),
        Some(d) => q.filter(identities::domain.eq(d.to_ascii_lowercase())),
    };
    Ok(q.first(conn).await.optional()?)
}

pub async fn preferences_of(conn: &mut DbConn, identity_id: i64) -> CoreResult<Preferences> {
    preferences::table
        .find(identity_id)
        .select(Preferences::as_select())
        .first(conn)
        .await
        .found()
}

/// Changes the password and re-wraps `k_anon` under it (an explicit settings
/// change: the only kind of request that may write the account row). Every
/// token of the login dies with the old password: the caller gets a new one
/// (sealed under the new epoch, which is returned with `k_anon`).
pub async fn change_password(
    conn: &mut DbConn,
    account: &Account,
    current: &str,
    new: &str,
) -> CoreResult<(KAnon, i64)> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if !verify_password(current.to_owned(), account.password_hash.clone()).await? {
        return Err(CoreError::invalid("current_password", "is wrong"));
    }
    let (k_anon, _) = unlock_k_anon(conn, account.id, current).await?;
    let id = account.id;
    let new = new.to_owned();
    let k = k_anon.clone();
    let epoch = conn
        .transaction::<_, CoreError, _>(async move |conn| {
            set_password(conn, id, &new, &k).await?;
            revoke_all_tokens(conn, id).await
        })
        .await?;
    Ok((k_anon, epoch))
}

async fn set_password(
    conn: &mut DbConn,
    account_id: i64,
    new: &str,
    k_anon: &KAnon,
) -> CoreResult<()> {
    let hash = hash_password(new.to_owned()).await?;
    let (new_owned, k) = (new.to_owned(), k_anon.clone());
    let (salt, wrap) = tokio::task::spawn_blocking(move || {
        let salt = seal::new_salt().to_vec();
        let key = WrapKey::from_password(&new_owned, &salt).map_err(CoreError::Internal)?;
        Ok::<_, CoreError>((salt.clone(), k.wrap(&key, PASSWORD_SLOT)))
    })
    .await
    .map_err(|e| CoreError::Internal(e.to_string()))??;
    diesel::update(accounts::table.find(account_id))
        .set((
            accounts::password_hash.eq(hash),
            accounts::k_anon_salt.eq(salt),
            accounts::k_anon_password_wrap.eq(wrap),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A login by its email or username (any case).
pub async fn find_login(conn: &mut DbConn, login: &str) -> CoreResult<Option<Account>> {
    let by_email: Option<Account> = accounts::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(login.trim())
                .sql(")"),
        )
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()?;
    if by_email.is_some() {
        return Ok(by_email);
    }
    Ok(accounts::table
        .inner_join(identities::table.on(identities::account_id.eq(accounts::id.nullable())))
        .filter(identities::domain.is_null())
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(identities.handle) = lower(")
                .bind::<diesel::sql_types::Text, _>(login.trim())
                .sql(")"),
        )
        .select(Account::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Disables (or enables) a login. Disabling moves its token epoch on, so
/// every token it had is dead even once it is enabled again: it signs in
/// anew. (Its tokens name it only sealed, so this is the way to reach them.)
pub async fn set_disabled(conn: &mut DbConn, account_id: i64, disabled: bool) -> CoreResult<()> {
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::update(accounts::table.find(account_id))
            .set(accounts::disabled.eq(disabled))
            .execute(conn)
            .await?;
        if disabled {
            revoke_all_tokens(conn, account_id).await?;
        }
        Ok(())
    })
    .await
}

/// Kills every token and pending code of the login at once: each is sealed
/// under the epoch it was issued in, and none names its login in the clear,
/// so moving the epoch on is the one way to reach them all.
pub async fn revoke_all_tokens(conn: &mut DbConn, account_id: i64) -> CoreResult<i64> {
    let epoch: i64 = diesel::update(accounts::table.find(account_id))
        .set(accounts::token_epoch.eq(accounts::token_epoch + 1))
        .returning(accounts::token_epoch)
        .get_result(conn)
        .await?;
    Ok(epoch)
}

/// A forgotten password, with the recovery code: `k_anon` survives. The
/// code is used up (a new one is returned) and every token is revoked.
pub async fn recover_with_code(
    conn: &mut DbConn,
    login: &str,
    recovery_code: &str,
    new: &str,
) -> CoreResult<Secret> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let refused = || CoreError::Forbidden("that login and recovery code do not match");
    let account = find_login(conn, login).await?.ok_or_else(refused)?;
    let wrap: Option<Vec<u8>> = accounts::table
        .find(account.id)
        .select(accounts::k_anon_recovery_wrap)
        .first(conn)
        .await?;
    let k_anon = wrap
        .and_then(|w| {
            KAnon::unwrap_from(
                &WrapKey::from_recovery_code(recovery_code),
                RECOVERY_SLOT,
                &w,
            )
        })
        .ok_or_else(refused)?;
    let code = Secret::generate();
    let recovery_wrap = k_anon.wrap(&WrapKey::from_recovery_code(code.expose()), RECOVERY_SLOT);
    let (id, new) = (account.id, new.to_owned());
    conn.transaction::<_, CoreError, _>(async move |conn| {
        set_password(conn, id, &new, &k_anon).await?;
        diesel::update(accounts::table.find(id))
            .set(accounts::k_anon_recovery_wrap.eq(recovery_wrap))
            .execute(conn)
            .await?;
        revoke_all_tokens(conn, id).await
    })
    .await?;
    Ok(code)
}

/// Changes a login's role (by email or username); staff roles can use the
/// admin API and the staff page. Returns the login's id.
pub async fn set_role(conn: &mut DbConn, login: &str, role: Role) -> CoreResult<i64> {
    let account = find_login(conn, login).await?.ok_or(CoreError::NotFound)?;
    set_role_of(conn, account.id, role).await?;
    Ok(account.id)
}

/// Gives the login `account_id` the role `role`.
pub async fn set_role_of(conn: &mut DbConn, account_id: i64, role: Role) -> CoreResult<()> {
    let n = diesel::update(accounts::table.find(account_id))
        .set(accounts::role.eq(role.as_str()))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// A reset without the recovery code (by an admin): the old `k_anon` is
/// lost with every tie to the account's anonymous posts, a new key is made,
/// anonymous posting pauses for `cooldown_days` so a new key cannot shed a
/// ban, and every token is revoked. Returns the new recovery code.
pub async fn reset_password_losing_anonymity(
    conn: &mut DbConn,
    clock: &dyn Clock,
    login: &str,
    new: &str,
    cooldown_days: i64,
) -> CoreResult<Secret> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CoreError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let account = find_login(conn, login).await?.ok_or(CoreError::NotFound)?;
    let hash = hash_password(new.to_owned()).await?;
    let keys = new_keys(new).await?;
    let until = clock.today() + chrono::Duration::days(cooldown_days.max(0));
    let id = account.id;
    let keys = conn
        .transaction::<_, CoreError, _>(async move |conn| {
            diesel::update(accounts::table.find(id))
                .set((
                    accounts::password_hash.eq(hash),
                    accounts::anon_cooldown_until.eq(Some(until)),
                ))
                .execute(conn)
                .await?;
            store_keys(conn, id, &keys).await?;
            revoke_all_tokens(conn, id).await?;
            Ok(keys)
        })
        .await?;
    Ok(keys.recovery_code)
}

/// The day anonymous posting resumes after a reset, if it has not yet.
pub async fn anonymous_cooldown(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
) -> CoreResult<Option<chrono::NaiveDate>> {
    let until: Option<chrono::NaiveDate> = accounts::table
        .find(account_id)
        .select(accounts::anon_cooldown_until)
        .first(conn)
        .await?;
    Ok(until.filter(|d| *d > clock.today()))
}

/// Deletes a login: schedules the deletion of everything its anonymous
/// faces posted (found through the sealed index, which the password
/// opens), each post at its own time within `spread`; then deletes the
/// login with its persistent faces (their `Delete`s held back at random
/// times within `spread` too). Its tokens die with it.
pub async fn delete_account(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account: &Account,
    password: &str,
    spread: chrono::Duration,
) -> CoreResult<usize> {
    if !verify_password(password.to_owned(), account.password_hash.clone()).await? {
        return Err(CoreError::invalid("password", "is wrong"));
    }
    let (k_anon, _) = unlock_k_anon(conn, account.id, password).await?;
    let n = crate::anon::schedule_deletion(conn, clock, &k_anon, spread).await?;
    remove_login(conn, clock, account.id, spread).await?;
    Ok(n)
}

/// Deletes a login as staff: its persistent faces go (each at its own
/// random time within `spread`) and the login with them. Its anonymous
/// posts stay: they are found only through the owner's key, which staff
/// never hold — they belong to no one reachable, unless moderated one by
/// one.
pub async fn delete_account_as_staff(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
    spread: chrono::Duration,
) -> CoreResult<()> {
    get_account(conn, account_id).await?;
    remove_login(conn, clock, account_id, spread).await
}

async fn remove_login(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
    spread: chrono::Duration,
) -> CoreResult<()> {
    // Each face ends in its own transaction, its Delete(Person) at its own
    // random time within `spread`.
    for face in faces_of(conn, account_id).await? {
        use rand::Rng;
        let delay = rand::rngs::OsRng.gen_range(0..=spread.num_seconds().max(0));
        let at = clock.now() + chrono::Duration::seconds(delay);
        let id = face.id;
        conn.transaction::<_, CoreError, _>(async move |conn| {
            crate::faces::tombstone(conn, clock, id, Some(at)).await
        })
        .await?;
    }
    diesel::delete(accounts::table.find(account_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Local persistent faces whose handle or display name starts with `q`.
/// Anonymous faces, suspended ones and those not discoverable stay out.
pub async fn search_faces(conn: &mut DbConn, q: &str, limit: i64) -> CoreResult<Vec<Identity>> {
    let q = q.trim().trim_start_matches('@');
    let (user, domain) = match q.split_once('@') {
        Some((u, d)) => (u, Some(d)),
        None => (q, None),
    };
    if user.is_empty() {
        return Ok(Vec::new());
    }
    let pattern = format!(
        "{}%",
        user.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut query = identities::table
        .filter(identities::tier.ne(Tier::Anonymous.as_str()))
        .filter(identities::suspended.eq(false))
        .filter(identities::discoverable.eq(true))
        .filter(
            identities::handle
                .ilike(pattern.clone())
                .or(identities::display_name.ilike(pattern)),
        )
        .select(Identity::as_select())
        .into_boxed();
    query = match domain {
        Some(d) => query.filter(identities::domain.eq(d.to_ascii_lowercase())),
        None => query,
    };
    Ok(query
        .order(identities::handle.asc())
        .limit(limit)
        .load(conn)
        .await?)
}

/// Hashtags in use that start with `q`.
pub async fn search_tags(conn: &mut DbConn, q: &str, limit: i64) -> CoreResult<Vec<String>> {
    use crate::schema::status_tags;
    let q = q.trim().trim_start_matches('#').to_lowercase();
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let pattern = format!(
        "{}%",
        q.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    Ok(status_tags::table
        .filter(status_tags::name.like(pattern))
        .select(status_tags::name)
        .distinct()
        .order(status_tags::name.asc())
        .limit(limit)
        .load(conn)
        .await?)
}

/// Public instance figures: logins, local statuses, known remote domains.
pub async fn instance_stats(conn: &mut DbConn) -> CoreResult<(i64, i64, i64)> {
    use crate::schema::statuses;
    let users: i64 = accounts::table.count().get_result(conn).await?;
    let posts: i64 = statuses::table
        .filter(statuses::local.eq(true))
        .count()
        .get_result(conn)
        .await?;
    let domains: i64 = identities::table
        .filter(identities::domain.is_not_null())
        .select(diesel::dsl::count(identities::domain).aggregate_distinct())
        .first(conn)
        .await?;
    Ok((users, posts, domains))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_emails() {
        assert!(Username::parse("alice_1").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("ali@ce").is_err());
        assert!(Username::parse(&"a".repeat(31)).is_err());
        assert!(Email::parse("a@b.example").is_ok());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("@b.example").is_err());
        assert!(Email::parse("a b@c.example").is_err());
    }
}
