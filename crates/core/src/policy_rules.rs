//! The incoming policy chain's rules as stored (the admin API's), turned
//! into `guise_policy::incoming` rules, and the log of what the chain did
//! to remote posts (days only, kept 90 days).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::{incoming_rules as ir, policy_decisions as pd};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use guise_policy::incoming::{Action, Context, Matcher, Rule};
use guise_policy::Tier;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ir)]
pub struct StoredRule {
    pub id: i64,
    pub kind: String,
    pub pattern: String,
    pub amount: Option<i64>,
    pub action: String,
    pub replacement: String,
    pub tiers: Vec<String>,
    pub contexts: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A rule as asked for (the admin API's fields).
#[derive(Debug, Clone, Default)]
pub struct NewRule {
    pub kind: String,
    pub pattern: String,
    pub amount: Option<i64>,
    pub action: String,
    pub replacement: String,
    pub tiers: Vec<String>,
    pub contexts: Vec<String>,
}

/// The policy rule a stored (or asked-for) rule means, or what is wrong.
pub fn rule_of(
    kind: &str,
    pattern: &str,
    amount: Option<i64>,
    action: &str,
    replacement: &str,
    tiers: &[String],
    contexts: &[String],
) -> CoreResult<Rule> {
    let pattern = pattern.trim().to_owned();
    let amount_of =
        || amount.ok_or_else(|| CoreError::invalid("amount", "is needed for this kind of rule"));
    let matcher = match kind {
        "domain" => Matcher::Domain(pattern.to_lowercase()),
        "keyword" => Matcher::Keyword(pattern),
        "hashtag" => Matcher::Hashtag(pattern.trim_start_matches('#').to_lowercase()),
        "mention_limit" => Matcher::MentionsOver(
            usize::try_from(amount_of()?)
                .map_err(|_| CoreError::invalid("amount", "must not be negative"))?,
        ),
        "new_account" => Matcher::AccountYoungerThan(amount_of()?),
        _ => {
            return Err(CoreError::invalid(
                "kind",
                "is not one of domain, keyword, hashtag, mention_limit, new_account",
            ))
        }
    };
    let action = match action {
        "reject" => Action::Reject,
        "strip_media" => Action::StripMedia,
        "sensitive" => Action::MarkSensitive,
        "delist" => Action::Delist,
        "replace" => Action::Replace(replacement.to_owned()),
        "hold" => Action::Hold,
        _ => {
            return Err(CoreError::invalid(
                "action",
                "is not one of reject, strip_media, sensitive, delist, replace, hold",
            ))
        }
    };
    let tiers = tiers
        .iter()
        .map(|t| {
            t.parse::<Tier>()
                .map_err(|_| CoreError::invalid("tiers", format!("{t:?} is not a tier")))
        })
        .collect::<CoreResult<Vec<_>>>()?;
    let contexts = contexts
        .iter()
        .map(|c| {
            Context::parse(c).ok_or_else(|| {
                CoreError::invalid(
                    "contexts",
                    format!("{c:?} is not one of post, reply, mention, direct"),
                )
            })
        })
        .collect::<CoreResult<Vec<_>>>()?;
    Rule::new(matcher, action, tiers, contexts).map_err(|e| CoreError::invalid("rule", e.message()))
}

impl StoredRule {
    pub fn rule(&self) -> CoreResult<Rule> {
        rule_of(
            &self.kind,
            &self.pattern,
            self.amount,
            &self.action,
            &self.replacement,
            &self.tiers,
            &self.contexts,
        )
    }
}

/// The number every process compares with the one it loaded.
pub async fn version(conn: &mut DbConn) -> CoreResult<i64> {
    crate::policies::live_version_of(conn, "incoming_rules").await
}

/// Every rule, in the order they were made.
pub async fn all(conn: &mut DbConn) -> CoreResult<Vec<StoredRule>> {
    Ok(ir::table
        .order(ir::id.asc())
        .select(StoredRule::as_select())
        .load(conn)
        .await?)
}

/// Adds a rule, once it is known to mean something.
pub async fn add(conn: &mut DbConn, clock: &dyn Clock, r: &NewRule) -> CoreResult<StoredRule> {
    rule_of(
        &r.kind,
        &r.pattern,
        r.amount,
        &r.action,
        &r.replacement,
        &r.tiers,
        &r.contexts,
    )?;
    Ok(diesel::insert_into(ir::table)
        .values((
            ir::id.eq(Id::generate(clock.now()).get()),
            ir::kind.eq(&r.kind),
            ir::pattern.eq(r.pattern.trim()),
            ir::amount.eq(r.amount),
            ir::action.eq(&r.action),
            ir::replacement.eq(&r.replacement),
            ir::tiers.eq(&r.tiers),
            ir::contexts.eq(&r.contexts),
            ir::created_at.eq(clock.now()),
        ))
        .returning(StoredRule::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn remove(conn: &mut DbConn, id: i64) -> CoreResult<StoredRule> {
    diesel::delete(ir::table.find(id))
        .returning(StoredRule::as_returning())
        .get_result(conn)
        .await
        .found()
}

/// One line of the decision log.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = pd)]
pub struct DecisionLine {
    pub id: i64,
    pub object_uri: String,
    pub domain: String,
    pub codes: Vec<String>,
    pub rejected: bool,
    pub decided_on: NaiveDate,
}

/// Records what the chain did to one remote post.
pub async fn record(
    conn: &mut DbConn,
    clock: &dyn Clock,
    object_uri: &str,
    domain: &str,
    codes: &[String],
    rejected: bool,
) -> CoreResult<()> {
    diesel::insert_into(pd::table)
        .values((
            pd::id.eq(Id::random().get()),
            pd::object_uri.eq(object_uri),
            pd::domain.eq(domain),
            pd::codes.eq(codes),
            pd::rejected.eq(rejected),
            pd::decided_on.eq(clock.today()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest days first, up to `limit` lines.
pub async fn recent(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<DecisionLine>> {
    Ok(pd::table
        .order((pd::decided_on.desc(), pd::id.asc()))
        .limit(limit)
        .select(DecisionLine::as_select())
        .load(conn)
        .await?)
}

/// Forgets decisions older than 90 days.
pub async fn prune(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<usize> {
    let cut = clock.today() - chrono::Duration::days(90);
    Ok(diesel::delete(pd::table.filter(pd::decided_on.lt(cut)))
        .execute(conn)
        .await?)
}
