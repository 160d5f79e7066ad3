//! The audit log: every staff action, recorded in the transaction that does
//! it — who (the staff login), what, on which face or post, on which day.
//! Days only, as for every row tied to a login; an action on an anonymous
//! face names the face, never its hidden author (staff cannot know it).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::CoreResult;
use crate::id::Id;
use crate::schema::{accounts, audit_log};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// What was acted on.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Face(i64),
    /// A post, and its author.
    Status {
        id: i64,
        author: i64,
    },
    Report(i64),
    Announcement(i64),
    /// A login (its role changed): never an anonymous face's.
    Login(i64),
    DomainBlock(i64),
    DomainAllow(i64),
    IncomingRule(i64),
    /// A version of the instance policy.
    Policy(i64),
    EmailDomainBlock(i64),
    /// One of the instance's rules.
    Rule(i64),
    IpBlock(i64),
    /// A remote post held for a moderator, and its (remote) author.
    HeldPost {
        id: i64,
        author: i64,
    },
}

impl Target {
    fn parts(self) -> (&'static str, i64, Option<i64>) {
        match self {
            Target::Face(id) => ("face", id, Some(id)),
            Target::Status { id, author } => ("status", id, Some(author)),
            Target::Report(id) => ("report", id, None),
            Target::Announcement(id) => ("announcement", id, None),
            Target::Login(id) => ("login", id, None),
            Target::DomainBlock(id) => ("domain_block", id, None),
            Target::DomainAllow(id) => ("domain_allow", id, None),
            Target::IncomingRule(id) => ("incoming_rule", id, None),
            Target::Policy(v) => ("instance_policy", v, None),
            Target::EmailDomainBlock(id) => ("email_domain_block", id, None),
            Target::Rule(id) => ("rule", id, None),
            Target::IpBlock(id) => ("ip_block", id, None),
            Target::HeldPost { id, author } => ("held_post", id, Some(author)),
        }
    }
}

/// Does `work` and logs what it says it did, in one transaction: no action
/// without its line, no line without its action.
pub async fn logged<T>(
    conn: &mut DbConn,
    clock: &dyn Clock,
    staff: Option<i64>,
    work: impl AsyncFnOnce(&mut DbConn) -> CoreResult<(T, &'static str, Target)>,
) -> CoreResult<T> {
    // By hand rather than through `transaction`, whose closure must be
    // `Send` (handlers' futures need not be). Transactions the work opens
    // nest as savepoints.
    use diesel_async::{AsyncConnection, TransactionManager};
    type Tm = <DbConn as AsyncConnection>::TransactionManager;
    Tm::begin_transaction(conn).await?;
    let done = match work(conn).await {
        Ok((out, what, target)) => record(conn, clock, staff, what, target).await.map(|()| out),
        Err(e) => Err(e),
    };
    match done {
        Ok(out) => {
            Tm::commit_transaction(conn).await?;
            Ok(out)
        }
        Err(e) => {
            Tm::rollback_transaction(conn).await?;
            Err(e)
        }
    }
}

/// Records `action` by `staff` (None: `guise admin` on the command line)
/// on `target`.
pub async fn record(
    conn: &mut DbConn,
    clock: &dyn Clock,
    staff: Option<i64>,
    action: &str,
    target: Target,
) -> CoreResult<()> {
    let (kind, id, face) = target.parts();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(Id::random().get()),
            audit_log::staff_account_id.eq(staff),
            audit_log::action.eq(action),
            audit_log::target_kind.eq(kind),
            audit_log::target_id.eq(id),
            audit_log::face_id.eq(face),
            audit_log::logged_on.eq(clock.today()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// One line of the log, with the staff login's email (its name to staff).
#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub id: i64,
    pub staff_account_id: Option<i64>,
    pub staff_email: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: i64,
    pub face_id: Option<i64>,
    pub logged_on: chrono::NaiveDate,
}

/// The newest days first, up to `limit` lines, before `before` (a day) if given.
pub async fn recent(
    conn: &mut DbConn,
    limit: i64,
    before: Option<chrono::NaiveDate>,
) -> CoreResult<Vec<Entry>> {
    let mut q = audit_log::table
        .left_join(accounts::table.on(accounts::id.nullable().eq(audit_log::staff_account_id)))
        .select((
            audit_log::id,
            audit_log::staff_account_id,
            accounts::email.nullable(),
            audit_log::action,
            audit_log::target_kind,
            audit_log::target_id,
            audit_log::face_id,
            audit_log::logged_on,
        ))
        .order((audit_log::logged_on.desc(), audit_log::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some(day) = before {
        q = q.filter(audit_log::logged_on.lt(day));
    }
    Ok(q.load(conn).await?)
}
