//! The instance's own domain blocks and allows (the admin API's), kept in
//! PostgreSQL and applied by every process without a restart: each change
//! raises `live_versions.domains` (a trigger), and each process reloads when
//! it sees the number move (`version`, read once a second). Domains arrive
//! here already normalized (lower case, punycode, no port or trailing dot).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::{
    email_domain_blocks as email_blocks, instance_domain_allows as allows,
    instance_domain_blocks as blocks, ip_blocks,
};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

pub const SEVERITIES: [&str; 3] = ["silence", "suspend", "noop"];

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = blocks)]
pub struct DomainBlock {
    pub id: i64,
    pub domain: String,
    pub severity: String,
    pub reject_media: bool,
    pub reject_reports: bool,
    pub private_comment: String,
    pub public_comment: String,
    pub obfuscate: bool,
    pub created_at: DateTime<Utc>,
}

/// What a block says (all of it but its id, domain and time).
#[derive(Debug, Clone, PartialEq, Eq, AsChangeset, Insertable)]
#[diesel(table_name = blocks)]
pub struct BlockTerms {
    pub severity: String,
    pub reject_media: bool,
    pub reject_reports: bool,
    pub private_comment: String,
    pub public_comment: String,
    pub obfuscate: bool,
}

impl Default for BlockTerms {
    fn default() -> Self {
        BlockTerms {
            severity: "silence".into(),
            reject_media: false,
            reject_reports: false,
            private_comment: String::new(),
            public_comment: String::new(),
            obfuscate: false,
        }
    }
}

impl BlockTerms {
    fn check(&self) -> CoreResult<()> {
        if !SEVERITIES.contains(&self.severity.as_str()) {
            return Err(CoreError::invalid(
                "severity",
                "is not one of silence, suspend, noop",
            ));
        }
        for (field, text) in [
            ("private_comment", &self.private_comment),
            ("public_comment", &self.public_comment),
        ] {
            if text.chars().count() > 1000 {
                return Err(CoreError::invalid(field, "is longer than 1000 characters"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = allows)]
pub struct DomainAllow {
    pub id: i64,
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

/// The number every process compares with the one it loaded.
pub async fn version(conn: &mut DbConn) -> CoreResult<i64> {
    crate::policies::live_version_of(conn, "domains").await
}

/// Every block, newest first.
pub async fn blocks(conn: &mut DbConn) -> CoreResult<Vec<DomainBlock>> {
    Ok(blocks::table
        .order(blocks::id.desc())
        .select(DomainBlock::as_select())
        .load(conn)
        .await?)
}

pub async fn block(conn: &mut DbConn, id: i64) -> CoreResult<DomainBlock> {
    blocks::table
        .find(id)
        .select(DomainBlock::as_select())
        .first(conn)
        .await
        .found()
}

/// Blocks `domain`; a domain is blocked at most once (change the block instead).
pub async fn add_block(
    conn: &mut DbConn,
    clock: &dyn Clock,
    domain: &str,
    terms: &BlockTerms,
) -> CoreResult<DomainBlock> {
    terms.check()?;
    let r = diesel::insert_into(blocks::table)
        .values((
            blocks::id.eq(Id::generate(clock.now()).get()),
            blocks::domain.eq(domain),
            terms,
            blocks::created_at.eq(clock.now()),
        ))
        .returning(DomainBlock::as_returning())
        .get_result(conn)
        .await
        .map_err(CoreError::from);
    match r {
        Err(e) if e.is_unique_violation() => Err(CoreError::invalid(
            "domain",
            "is already blocked (change that block instead)",
        )),
        r => r,
    }
}

pub async fn change_block(
    conn: &mut DbConn,
    id: i64,
    terms: &BlockTerms,
) -> CoreResult<DomainBlock> {
    terms.check()?;
    diesel::update(blocks::table.find(id))
        .set(terms)
        .returning(DomainBlock::as_returning())
        .get_result(conn)
        .await
        .found()
}

pub async fn remove_block(conn: &mut DbConn, id: i64) -> CoreResult<DomainBlock> {
    diesel::delete(blocks::table.find(id))
        .returning(DomainBlock::as_returning())
        .get_result(conn)
        .await
        .found()
}

pub async fn allows(conn: &mut DbConn) -> CoreResult<Vec<DomainAllow>> {
    Ok(allows::table
        .order(allows::id.desc())
        .select(DomainAllow::as_select())
        .load(conn)
        .await?)
}

pub async fn allow(conn: &mut DbConn, id: i64) -> CoreResult<DomainAllow> {
    allows::table
        .find(id)
        .select(DomainAllow::as_select())
        .first(conn)
        .await
        .found()
}

/// Allows `domain`, or finds it allowed already (as Mastodon does).
pub async fn add_allow(
    conn: &mut DbConn,
    clock: &dyn Clock,
    domain: &str,
) -> CoreResult<DomainAllow> {
    let made = diesel::insert_into(allows::table)
        .values((
            allows::id.eq(Id::generate(clock.now()).get()),
            allows::domain.eq(domain),
            allows::created_at.eq(clock.now()),
        ))
        .on_conflict(allows::domain)
        .do_nothing()
        .returning(DomainAllow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match made {
        Some(a) => Ok(a),
        None => allows::table
            .filter(allows::domain.eq(domain))
            .select(DomainAllow::as_select())
            .first(conn)
            .await
            .found(),
    }
}

pub async fn remove_allow(conn: &mut DbConn, id: i64) -> CoreResult<DomainAllow> {
    diesel::delete(allows::table.find(id))
        .returning(DomainAllow::as_returning())
        .get_result(conn)
        .await
        .found()
}

/// SQL over `s` (a post): true when its author is kept off public
/// timelines — suspended, silenced, or on a domain the instance silenced
/// (the block names the domain or a parent of it).
pub(crate) const OFF_PUBLIC: &str = "EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id
    AND (i.suspended OR i.silenced OR (i.domain IS NOT NULL AND EXISTS (
    SELECT 1 FROM instance_domain_blocks db WHERE db.severity = 'silence'
       AND (split_part(i.domain, ':', 1) = db.domain
            OR right(split_part(i.domain, ':', 1), length(db.domain) + 1) = '.' || db.domain)))))";

/// An email domain sign-ups may not use.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = email_blocks)]
pub struct EmailDomainBlock {
    pub id: i64,
    pub domain: String,
    pub created_at: DateTime<Utc>,
}

pub async fn email_blocks(conn: &mut DbConn) -> CoreResult<Vec<EmailDomainBlock>> {
    Ok(email_blocks::table
        .order(email_blocks::id.desc())
        .select(EmailDomainBlock::as_select())
        .load(conn)
        .await?)
}

pub async fn email_block(conn: &mut DbConn, id: i64) -> CoreResult<EmailDomainBlock> {
    email_blocks::table
        .find(id)
        .select(EmailDomainBlock::as_select())
        .first(conn)
        .await
        .found()
}

/// Blocks sign-ups from `domain` (normalized by the caller).
pub async fn add_email_block(
    conn: &mut DbConn,
    clock: &dyn Clock,
    domain: &str,
) -> CoreResult<EmailDomainBlock> {
    let r = diesel::insert_into(email_blocks::table)
        .values((
            email_blocks::id.eq(Id::generate(clock.now()).get()),
            email_blocks::domain.eq(domain),
            email_blocks::created_at.eq(clock.now()),
        ))
        .returning(EmailDomainBlock::as_returning())
        .get_result(conn)
        .await
        .map_err(CoreError::from);
    match r {
        Err(e) if e.is_unique_violation() => {
            Err(CoreError::invalid("domain", "is already blocked"))
        }
        r => r,
    }
}

pub async fn remove_email_block(conn: &mut DbConn, id: i64) -> CoreResult<EmailDomainBlock> {
    diesel::delete(email_blocks::table.find(id))
        .returning(EmailDomainBlock::as_returning())
        .get_result(conn)
        .await
        .found()
}

/// Whether an address on `domain` (lower case) may not sign up.
pub async fn email_domain_blocked(
    conn: &mut DbConn,
    clock: &dyn Clock,
    domain: &str,
) -> CoreResult<bool> {
    #[derive(diesel::QueryableByName)]
    struct Hit {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        blocked: bool,
    }
    // The most specific block that covers it counts the turned-away sign-up
    // for today.
    let hit: Hit = diesel::sql_query(
        "WITH hit AS (SELECT id FROM email_domain_blocks
                       WHERE $1 = domain OR right($1, length(domain) + 1) = '.' || domain
                       ORDER BY length(domain) DESC LIMIT 1),
              counted AS (INSERT INTO email_domain_block_uses (block_id, day, uses)
                          SELECT id, $2, 1 FROM hit
                          ON CONFLICT (block_id, day)
                          DO UPDATE SET uses = email_domain_block_uses.uses + 1)
         SELECT EXISTS (SELECT 1 FROM hit) AS blocked",
    )
    .bind::<diesel::sql_types::Text, _>(domain)
    .bind::<diesel::sql_types::Date, _>(clock.today())
    .get_result(conn)
    .await?;
    Ok(hit.blocked)
}

/// The sign-ups a block turned away on each of the `days` days up to
/// `today`, newest first (days without any count zero).
pub async fn email_block_uses(
    conn: &mut DbConn,
    block_id: i64,
    today: NaiveDate,
    days: i64,
) -> CoreResult<Vec<(NaiveDate, i32)>> {
    use crate::schema::email_domain_block_uses as u;
    let from = today - chrono::Duration::days(days - 1);
    let rows: Vec<(NaiveDate, i32)> = u::table
        .filter(u::block_id.eq(block_id))
        .filter(u::day.between(from, today))
        .select((u::day, u::uses))
        .load(conn)
        .await?;
    Ok((0..days)
        .map(|back| {
            let day = today - chrono::Duration::days(back);
            let n = rows.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
            (day, n)
        })
        .collect())
}

/// An address or network that may not sign up, or not sign in at all.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ip_blocks)]
pub struct IpBlock {
    pub id: i64,
    pub ip: String,
    pub severity: String,
    pub comment: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The live number of the IP blocks.
pub async fn ip_version(conn: &mut DbConn) -> CoreResult<i64> {
    crate::policies::live_version_of(conn, "ip_blocks").await
}

pub async fn ip_blocks(conn: &mut DbConn) -> CoreResult<Vec<IpBlock>> {
    Ok(ip_blocks::table
        .order(ip_blocks::id.desc())
        .select(IpBlock::as_select())
        .load(conn)
        .await?)
}

pub async fn ip_block(conn: &mut DbConn, id: i64) -> CoreResult<IpBlock> {
    ip_blocks::table
        .find(id)
        .select(IpBlock::as_select())
        .first(conn)
        .await
        .found()
}

/// What an IP block says (the caller checked `ip` is CIDR text).
#[derive(Debug, Clone)]
pub struct IpTerms {
    pub ip: String,
    pub severity: String,
    pub comment: String,
    pub expires_at: Option<DateTime<Utc>>,
}

fn check_ip_terms(t: &IpTerms) -> CoreResult<()> {
    match t.severity.as_str() {
        "sign_up_block" | "no_access" => Ok(()),
        "sign_up_requires_approval" => Err(CoreError::invalid(
            "severity",
            "sign-ups here are never held for approval: use sign_up_block",
        )),
        _ => Err(CoreError::invalid(
            "severity",
            "is not one of sign_up_block, no_access",
        )),
    }
}

pub async fn add_ip_block(
    conn: &mut DbConn,
    clock: &dyn Clock,
    t: &IpTerms,
) -> CoreResult<IpBlock> {
    check_ip_terms(t)?;
    let r = diesel::insert_into(ip_blocks::table)
        .values((
            ip_blocks::id.eq(Id::generate(clock.now()).get()),
            ip_blocks::ip.eq(&t.ip),
            ip_blocks::severity.eq(&t.severity),
            ip_blocks::comment.eq(&t.comment),
            ip_blocks::created_at.eq(clock.now()),
            ip_blocks::expires_at.eq(t.expires_at),
        ))
        .returning(IpBlock::as_returning())
        .get_result(conn)
        .await
        .map_err(CoreError::from);
    match r {
        Err(e) if e.is_unique_violation() => Err(CoreError::invalid("ip", "is already blocked")),
        r => r,
    }
}

pub async fn change_ip_block(conn: &mut DbConn, id: i64, t: &IpTerms) -> CoreResult<IpBlock> {
    check_ip_terms(t)?;
    diesel::update(ip_blocks::table.find(id))
        .set((
            ip_blocks::ip.eq(&t.ip),
            ip_blocks::severity.eq(&t.severity),
            ip_blocks::comment.eq(&t.comment),
            ip_blocks::expires_at.eq(t.expires_at),
        ))
        .returning(IpBlock::as_returning())
        .get_result(conn)
        .await
        .found()
}

pub async fn remove_ip_block(conn: &mut DbConn, id: i64) -> CoreResult<IpBlock> {
    diesel::delete(ip_blocks::table.find(id))
        .returning(IpBlock::as_returning())
        .get_result(conn)
        .await
        .found()
}
