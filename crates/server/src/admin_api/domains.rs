//! Mastodon's admin domain blocks and allows, and the public list of
//! moderated servers. A change applies in this process at once and in every
//! other within a second (`domain_rules`).

use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{ok, parse_id};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::audit::{logged, Target};
use guise_core::domains::{self, BlockTerms, DomainAllow, DomainBlock};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;

fn digest(domain: &str) -> String {
    hex::encode(sha2::Sha256::digest(domain.as_bytes()))
}

fn comment(c: &str) -> Value {
    if c.is_empty() {
        Value::Null
    } else {
        Value::String(c.to_owned())
    }
}

/// Mastodon's `Admin::DomainBlock`.
fn block_json(b: &DomainBlock) -> Value {
    json!({
        "id": b.id.to_string(),
        "domain": b.domain,
        "digest": digest(&b.domain),
        "created_at": crate::mastodon_api::types::iso(b.created_at),
        "severity": b.severity,
        "reject_media": b.reject_media,
        "reject_reports": b.reject_reports,
        "private_comment": comment(&b.private_comment),
        "public_comment": comment(&b.public_comment),
        "obfuscate": b.obfuscate,
    })
}

/// Mastodon's `Admin::DomainAllow`.
fn allow_json(a: &DomainAllow) -> Value {
    json!({
        "id": a.id.to_string(),
        "domain": a.domain,
        "created_at": crate::mastodon_api::types::iso(a.created_at),
    })
}

/// A domain as given, normalized as every check matches it.
fn domain_param(d: Option<&str>) -> ApiResult<String> {
    let d = d
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| ApiError::unprocessable("Validation failed: domain can't be blank"))?;
    guise_federation::fetch::normalize_domain(d)
        .filter(|n| *n != "localhost" || d == "localhost")
        .ok_or_else(|| ApiError::unprocessable("Validation failed: domain is not a domain name"))
}

/// Applies the change here now (other processes follow within a second).
async fn apply(state: &AppState) {
    if let Err(e) = crate::domain_rules::reload(state).await {
        tracing::warn!(error = %e, "could not reload the domain rules");
    }
}

#[derive(Deserialize, Default)]
struct BlockParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    domain: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    reject_media: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    reject_reports: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    private_comment: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    public_comment: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    obfuscate: Option<bool>,
}

impl BlockParams {
    /// `base` with what these parameters change.
    fn over(self, base: BlockTerms) -> BlockTerms {
        BlockTerms {
            severity: self.severity.unwrap_or(base.severity),
            reject_media: self.reject_media.unwrap_or(base.reject_media),
            reject_reports: self.reject_reports.unwrap_or(base.reject_reports),
            private_comment: self.private_comment.unwrap_or(base.private_comment),
            public_comment: self.public_comment.unwrap_or(base.public_comment),
            obfuscate: self.obfuscate.unwrap_or(base.obfuscate),
        }
    }
}

async fn list_blocks(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:domain_blocks").await?;
    let mut conn = state.db.conn().await?;
    let all = domains::blocks(&mut conn).await?;
    Ok(ok(&all.iter().map(block_json).collect::<Vec<_>>()))
}

async fn show_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:domain_blocks").await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&block_json(
        &domains::block(&mut conn, parse_id(&path)?).await?,
    )))
}

async fn add_block(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<BlockParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:domain_blocks").await?;
    let domain = p.domain.clone();
    let terms = p.over(BlockTerms::default());
    let b = create_block(&state, staff.id, domain.as_deref(), &terms).await?;
    Ok(ok(&block_json(&b)))
}

/// Blocks a domain on an admin's behalf (the admin API and the staff
/// page): checked, audited, applied here at once.
pub(crate) async fn create_block(
    state: &AppState,
    admin: i64,
    domain: Option<&str>,
    terms: &BlockTerms,
) -> ApiResult<DomainBlock> {
    let domain = domain_param(domain)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let b = logged(&mut conn, clock, Some(admin), async |c| {
        let b = domains::add_block(c, clock, &domain, terms).await?;
        let target = Target::DomainBlock(b.id);
        Ok((b, "create_domain_block", target))
    })
    .await?;
    apply(state).await;
    Ok(b)
}

/// Lifts a domain block on an admin's behalf: audited, applied at once.
pub(crate) async fn delete_block(state: &AppState, admin: i64, id: i64) -> ApiResult<()> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(admin), async |c| {
        domains::remove_block(c, id).await?;
        Ok(((), "destroy_domain_block", Target::DomainBlock(id)))
    })
    .await?;
    apply(state).await;
    Ok(())
}

async fn change_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<BlockParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:domain_blocks").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let old = domains::block(&mut conn, id).await?;
    let terms = p.over(BlockTerms {
        severity: old.severity,
        reject_media: old.reject_media,
        reject_reports: old.reject_reports,
        private_comment: old.private_comment,
        public_comment: old.public_comment,
        obfuscate: old.obfuscate,
    });
    let b = logged(&mut conn, clock, Some(staff.id), async |c| {
        let b = domains::change_block(c, id, &terms).await?;
        Ok((b, "update_domain_block", Target::DomainBlock(id)))
    })
    .await?;
    apply(&state).await;
    Ok(ok(&block_json(&b)))
}

async fn remove_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:domain_blocks").await?;
    delete_block(&state, staff.id, parse_id(&path)?).await?;
    Ok(ok(&json!({})))
}

async fn list_allows(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:domain_allows").await?;
    let mut conn = state.db.conn().await?;
    let all = domains::allows(&mut conn).await?;
    Ok(ok(&all.iter().map(allow_json).collect::<Vec<_>>()))
}

async fn show_allow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:domain_allows").await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&allow_json(
        &domains::allow(&mut conn, parse_id(&path)?).await?,
    )))
}

#[derive(Deserialize)]
struct AllowParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    domain: Option<String>,
}

async fn add_allow(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<AllowParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:domain_allows").await?;
    let domain = domain_param(p.domain.as_deref())?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let a = logged(&mut conn, clock, Some(staff.id), async |c| {
        let a = domains::add_allow(c, clock, &domain).await?;
        let target = Target::DomainAllow(a.id);
        Ok((a, "create_domain_allow", target))
    })
    .await?;
    apply(&state).await;
    Ok(ok(&allow_json(&a)))
}

async fn remove_allow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:domain_allows").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        domains::remove_allow(c, id).await?;
        Ok(((), "destroy_domain_allow", Target::DomainAllow(id)))
    })
    .await?;
    apply(&state).await;
    Ok(ok(&json!({})))
}

/// Mastodon's `Admin::EmailDomainBlock`, with the sign-ups it turned away
/// on each of the last seven days as its `history` (`accounts` and `uses`
/// alike: each would have been a login).
async fn email_block_json(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    b: &guise_core::domains::EmailDomainBlock,
) -> ApiResult<Value> {
    let uses = domains::email_block_uses(conn, b.id, state.clock.today(), 7).await?;
    let history: Vec<Value> = uses
        .iter()
        .map(|(day, n)| {
            let at = day
                .and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp());
            json!({ "day": at.to_string(), "accounts": n.to_string(), "uses": n.to_string() })
        })
        .collect();
    Ok(json!({
        "id": b.id.to_string(),
        "domain": b.domain,
        "created_at": crate::mastodon_api::types::iso(b.created_at),
        "history": history,
    }))
}

async fn list_email_blocks(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:email_domain_blocks").await?;
    let mut conn = state.db.conn().await?;
    let all = domains::email_blocks(&mut conn).await?;
    let mut out = Vec::with_capacity(all.len());
    for b in &all {
        out.push(email_block_json(&state, &mut conn, b).await?);
    }
    Ok(ok(&out))
}

async fn show_email_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:email_domain_blocks").await?;
    let mut conn = state.db.conn().await?;
    let b = domains::email_block(&mut conn, parse_id(&path)?).await?;
    Ok(ok(&email_block_json(&state, &mut conn, &b).await?))
}

async fn add_email_block(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<AllowParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:email_domain_blocks").await?;
    let domain = domain_param(p.domain.as_deref())?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let b = logged(&mut conn, clock, Some(staff.id), async |c| {
        let b = domains::add_email_block(c, clock, &domain).await?;
        let target = Target::EmailDomainBlock(b.id);
        Ok((b, "create_email_domain_block", target))
    })
    .await?;
    Ok(ok(&email_block_json(&state, &mut conn, &b).await?))
}

async fn remove_email_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:email_domain_blocks").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        domains::remove_email_block(c, id).await?;
        Ok((
            (),
            "destroy_email_domain_block",
            Target::EmailDomainBlock(id),
        ))
    })
    .await?;
    Ok(ok(&json!({})))
}

/// Mastodon's `Admin::IpBlock`.
fn ip_block_json(b: &guise_core::domains::IpBlock) -> Value {
    json!({
        "id": b.id.to_string(),
        "ip": b.ip,
        "severity": b.severity,
        "comment": b.comment,
        "created_at": crate::mastodon_api::types::iso(b.created_at),
        "expires_at": b.expires_at.map(crate::mastodon_api::types::iso),
    })
}

#[derive(Deserialize)]
struct IpParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    ip: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    severity: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    comment: Option<String>,
    /// Seconds from now until the block lapses.
    #[serde(default, deserialize_with = "de::opt_i64")]
    expires_in: Option<i64>,
}

impl IpParams {
    /// The terms these give over `base` (a new block: none).
    fn terms(
        self,
        now: chrono::DateTime<chrono::Utc>,
        base: Option<&guise_core::domains::IpBlock>,
    ) -> ApiResult<guise_core::domains::IpTerms> {
        let ip = match (self.ip, base) {
            (Some(ip), _) => ip,
            (None, Some(b)) => b.ip.clone(),
            (None, None) => {
                return Err(ApiError::unprocessable(
                    "Validation failed: ip can't be blank",
                ))
            }
        };
        // Kept as the network it names ("192.0.2.7/24" is 192.0.2.0/24).
        let ip = crate::guard::cidr_text(ip.trim()).ok_or_else(|| {
            ApiError::unprocessable("Validation failed: ip is not an address or a CIDR network")
        })?;
        let expires_at = match (self.expires_in, base) {
            (Some(s), _) if s > 0 => Some(now + chrono::Duration::seconds(s)),
            (Some(_), _) => {
                return Err(ApiError::unprocessable(
                    "Validation failed: expires_in must be above zero",
                ))
            }
            (None, Some(b)) => b.expires_at,
            (None, None) => None,
        };
        Ok(guise_core::domains::IpTerms {
            ip,
            severity: self
                .severity
                .or_else(|| base.map(|b| b.severity.clone()))
                .unwrap_or_default(),
            comment: self
                .comment
                .or_else(|| base.map(|b| b.comment.clone()))
                .unwrap_or_default(),
            expires_at,
        })
    }
}

async fn apply_ip_blocks(state: &AppState) {
    if let Err(e) = crate::domain_rules::reload_ip_blocks(state).await {
        tracing::warn!(error = %e, "could not reload the IP blocks");
    }
}

async fn list_ip_blocks(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:ip_blocks").await?;
    let mut conn = state.db.conn().await?;
    let all = domains::ip_blocks(&mut conn).await?;
    Ok(ok(&all.iter().map(ip_block_json).collect::<Vec<_>>()))
}

async fn show_ip_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read:ip_blocks").await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&ip_block_json(
        &domains::ip_block(&mut conn, parse_id(&path)?).await?,
    )))
}

async fn add_ip_block(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<IpParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:ip_blocks").await?;
    let clock = state.clock.as_ref();
    let terms = p.terms(clock.now(), None)?;
    let mut conn = state.db.conn().await?;
    let b = logged(&mut conn, clock, Some(staff.id), async |c| {
        let b = domains::add_ip_block(c, clock, &terms).await?;
        let target = Target::IpBlock(b.id);
        Ok((b, "create_ip_block", target))
    })
    .await?;
    apply_ip_blocks(&state).await;
    Ok(ok(&ip_block_json(&b)))
}

async fn change_ip_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<IpParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:ip_blocks").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let old = domains::ip_block(&mut conn, id).await?;
    let terms = p.terms(clock.now(), Some(&old))?;
    let b = logged(&mut conn, clock, Some(staff.id), async |c| {
        let b = domains::change_ip_block(c, id, &terms).await?;
        Ok((b, "update_ip_block", Target::IpBlock(id)))
    })
    .await?;
    apply_ip_blocks(&state).await;
    Ok(ok(&ip_block_json(&b)))
}

async fn remove_ip_block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write:ip_blocks").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        domains::remove_ip_block(c, id).await?;
        Ok(((), "destroy_ip_block", Target::IpBlock(id)))
    })
    .await?;
    apply_ip_blocks(&state).await;
    Ok(ok(&json!({})))
}

/// `domain` with about a third of its letters starred (Mastodon's obfuscation).
fn obfuscated(domain: &str) -> String {
    let n = domain.chars().count();
    domain
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if c != '.' && i > 0 && i + 1 < n && i % 3 != 0 {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Mastodon's `GET /api/v1/instance/domain_blocks`: the moderated servers,
/// for anyone to read (the about page shows the same list).
async fn public_blocks(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let mut out: Vec<Value> = domains::blocks(&mut conn)
        .await?
        .iter()
        .map(|b| {
            json!({
                "domain": if b.obfuscate { obfuscated(&b.domain) } else { b.domain.clone() },
                "digest": digest(&b.domain),
                "severity": b.severity,
                "comment": comment(&b.public_comment),
            })
        })
        .collect();
    for d in &state.config.federation.blocked_domains {
        if let Some(d) = guise_federation::fetch::normalize_domain(d) {
            out.push(json!({ "domain": d, "digest": digest(&d), "severity": "suspend", "comment": null }));
        }
    }
    Ok(ok(&out))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/instance/domain_blocks",
        web::get().to(public_blocks),
    )
    .route("/api/v1/admin/domain_blocks", web::get().to(list_blocks))
    .route("/api/v1/admin/domain_blocks", web::post().to(add_block))
    .route(
        "/api/v1/admin/domain_blocks/{id}",
        web::get().to(show_block),
    )
    .route(
        "/api/v1/admin/domain_blocks/{id}",
        web::put().to(change_block),
    )
    .route(
        "/api/v1/admin/domain_blocks/{id}",
        web::delete().to(remove_block),
    )
    .route(
        "/api/v1/admin/email_domain_blocks",
        web::get().to(list_email_blocks),
    )
    .route(
        "/api/v1/admin/email_domain_blocks",
        web::post().to(add_email_block),
    )
    .route(
        "/api/v1/admin/email_domain_blocks/{id}",
        web::get().to(show_email_block),
    )
    .route(
        "/api/v1/admin/email_domain_blocks/{id}",
        web::delete().to(remove_email_block),
    )
    .route("/api/v1/admin/ip_blocks", web::get().to(list_ip_blocks))
    .route("/api/v1/admin/ip_blocks", web::post().to(add_ip_block))
    .route("/api/v1/admin/ip_blocks/{id}", web::get().to(show_ip_block))
    .route(
        "/api/v1/admin/ip_blocks/{id}",
        web::put().to(change_ip_block),
    )
    .route(
        "/api/v1/admin/ip_blocks/{id}",
        web::delete().to(remove_ip_block),
    )
    .route("/api/v1/admin/domain_allows", web::get().to(list_allows))
    .route("/api/v1/admin/domain_allows", web::post().to(add_allow))
    .route(
        "/api/v1/admin/domain_allows/{id}",
        web::get().to(show_allow),
    )
    .route(
        "/api/v1/admin/domain_allows/{id}",
        web::delete().to(remove_allow),
    );
}
