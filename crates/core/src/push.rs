//! Web Push subscriptions and the pushes owed to them.
//!
//! Only persistent faces are pushed to: a push for an anonymous face would
//! need a stored link from that face to a device, and so to its login.
//! A subscription belongs to one token, named only by the token's
//! `push_tag` (a MAC under the token row's own key): nothing at rest ties
//! a subscription to a token row. It names its login and face in the
//! clear, as persistent faces do anyway, and the login's token epoch at
//! subscription time: after a revoke-all the subscription is dead.
//!
//! A push is owed when a notification is written (same transaction), to
//! every live subscription of the recipient face whose alerts and policy
//! take it. A worker leases what is due, sends it, and removes it.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::id::Id;
use crate::oauth::{Binding, Session};
use crate::schema::{accounts, push_deliveries, push_subscriptions};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

/// Every alert Mastodon knows, in its order. Guise writes notifications of
/// the first nine kinds it has; the others are kept as the app set them.
pub const ALERTS: &[&str] = &[
    "mention",
    "status",
    "reblog",
    "follow",
    "follow_request",
    "favourite",
    "poll",
    "update",
    "quote",
    "quoted_update",
    "admin.sign_up",
    "admin.report",
];

/// Whose notifications are pushed: everyone's, only from faces the
/// recipient follows, only from its followers, or nobody's.
pub const POLICIES: &[&str] = &["all", "followed", "follower", "none"];

/// The longest endpoint URL kept.
pub const MAX_ENDPOINT: usize = 2048;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = push_subscriptions)]
pub struct Subscription {
    pub id: i64,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
    pub standard: bool,
    pub alerts: Vec<String>,
    pub policy: String,
}

/// What an app asks to subscribe with.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub endpoint: String,
    /// The user agent's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The user agent's 16-byte authentication secret.
    pub auth: Vec<u8>,
    /// RFC 8291 `aes128gcm`; else the legacy `aesgcm` draft.
    pub standard: bool,
    pub alerts: Vec<String>,
    pub policy: String,
}

fn check_alerts_and_policy(alerts: &[String], policy: &str) -> CoreResult<()> {
    if let Some(a) = alerts.iter().find(|a| !ALERTS.contains(&a.as_str())) {
        return Err(CoreError::invalid(
            "data[alerts]",
            format!("unknown alert {a}"),
        ));
    }
    if !POLICIES.contains(&policy) {
        return Err(CoreError::invalid(
            "policy",
            "must be all, followed, follower or none",
        ));
    }
    Ok(())
}

/// Subscribes the token of `session`, replacing its earlier subscription
/// (one per token, as in Mastodon). Anonymous tokens are refused.
pub async fn subscribe(
    conn: &mut DbConn,
    session: &Session,
    new: NewSubscription,
) -> CoreResult<Subscription> {
    let Some(grant) = session.grant else {
        return Err(CoreError::Forbidden(
            "This method requires an authenticated user",
        ));
    };
    let face = match grant.binding {
        Binding::Face(id) => Some(id),
        Binding::All => None,
        Binding::Anonymous => {
            return Err(CoreError::invalid(
                "subscription",
                "anonymous faces get no push notifications: a push would need a stored link from the face to you",
            ))
        }
    };
    if new.endpoint.is_empty() || new.endpoint.len() > MAX_ENDPOINT {
        return Err(CoreError::invalid(
            "subscription[endpoint]",
            "must be a URL of at most 2048 characters",
        ));
    }
    if new.p256dh.len() != 65 || !new.p256dh.starts_with(&[4]) {
        return Err(CoreError::invalid(
            "subscription[keys][p256dh]",
            "must be an uncompressed P-256 public key (65 bytes)",
        ));
    }
    if new.auth.len() != 16 {
        return Err(CoreError::invalid(
            "subscription[keys][auth]",
            "must be 16 bytes",
        ));
    }
    check_alerts_and_policy(&new.alerts, &new.policy)?;
    let tag = session.push_tag;
    let id = Id::random().get();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        unsubscribe(conn, &tag).await?;
        let row = diesel::insert_into(push_subscriptions::table)
            .values((
                push_subscriptions::id.eq(id),
                push_subscriptions::token_tag.eq(tag.as_slice()),
                push_subscriptions::account_id.eq(grant.account_id),
                push_subscriptions::identity_id.eq(face),
                push_subscriptions::epoch.eq(grant.epoch),
                push_subscriptions::expires_on.eq(session.expires_on),
                push_subscriptions::endpoint.eq(&new.endpoint),
                push_subscriptions::p256dh.eq(&new.p256dh),
                push_subscriptions::auth.eq(&new.auth),
                push_subscriptions::standard.eq(new.standard),
                push_subscriptions::alerts.eq(&new.alerts),
                push_subscriptions::policy.eq(&new.policy),
            ))
            .returning(Subscription::as_returning())
            .get_result(conn)
            .await?;
        Ok(row)
    })
    .await
}

/// The token's subscription.
pub async fn get(conn: &mut DbConn, tag: &[u8; 32]) -> CoreResult<Subscription> {
    push_subscriptions::table
        .filter(push_subscriptions::token_tag.eq(tag.as_slice()))
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(CoreError::NotFound)
}

/// Changes what the token's subscription is sent (only the data part can
/// change, as in Mastodon). `None` leaves that part as it was.
pub async fn update(
    conn: &mut DbConn,
    tag: &[u8; 32],
    alerts: Option<Vec<String>>,
    policy: Option<String>,
) -> CoreResult<Subscription> {
    let old = get(conn, tag).await?;
    let alerts = alerts.unwrap_or(old.alerts);
    let policy = policy.unwrap_or(old.policy);
    check_alerts_and_policy(&alerts, &policy)?;
    Ok(diesel::update(push_subscriptions::table.find(old.id))
        .set((
            push_subscriptions::alerts.eq(&alerts),
            push_subscriptions::policy.eq(&policy),
        ))
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await?)
}

/// Removes the token's subscription, if it has one, and its pending pushes.
pub async fn unsubscribe(conn: &mut DbConn, tag: &[u8; 32]) -> CoreResult<()> {
    diesel::delete(
        push_subscriptions::table.filter(push_subscriptions::token_tag.eq(tag.as_slice())),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops a subscription the push service says is gone (404 or 410), or
/// whose token is dead.
pub async fn drop_subscription(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    diesel::delete(push_subscriptions::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Owes a push for notification `notification` (of `kind`, from face
/// `from`, to face `to`) to every live subscription that takes it. Called
/// in the transaction that writes the notification. Anonymous faces never
/// match: they have no login here to subscribe through.
pub(crate) async fn enqueue(
    conn: &mut DbConn,
    clock: &dyn Clock,
    notification: i64,
    to: i64,
    from: i64,
    kind: &str,
) -> CoreResult<usize> {
    use diesel::sql_types::{BigInt, Date, Text, Timestamptz};
    let now = clock.now();
    Ok(diesel::sql_query(
        "INSERT INTO push_deliveries (subscription_id, notification_id, next_at) \
         SELECT s.id, $1, $2 FROM push_subscriptions s \
         JOIN identities i ON i.id = $3 AND i.account_id = s.account_id \
                          AND i.tier <> 'anonymous' \
         JOIN accounts a ON a.id = s.account_id AND a.token_epoch = s.epoch \
                        AND NOT a.disabled \
         WHERE (s.identity_id = $3 OR s.identity_id IS NULL) \
           AND $5 = ANY (s.alerts) \
           AND (s.expires_on IS NULL OR s.expires_on > $6) \
           AND CASE s.policy \
                 WHEN 'all' THEN TRUE \
                 WHEN 'followed' THEN EXISTS (SELECT 1 FROM follows f \
                      WHERE f.identity_id = $3 AND f.target_identity_id = $4) \
                 WHEN 'follower' THEN EXISTS (SELECT 1 FROM follows f \
                      WHERE f.identity_id = $4 AND f.target_identity_id = $3) \
                 ELSE FALSE END \
           AND NOT EXISTS (SELECT 1 FROM blocks b \
                WHERE b.identity_id = $3 AND b.target_identity_id = $4) \
           AND NOT EXISTS (SELECT 1 FROM mutes m \
                WHERE m.identity_id = $3 AND m.target_identity_id = $4 \
                  AND m.hide_notifications \
                  AND (m.expires_at IS NULL OR m.expires_at > $2))",
    )
    .bind::<BigInt, _>(notification)
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(to)
    .bind::<BigInt, _>(from)
    .bind::<Text, _>(kind)
    .bind::<Date, _>(clock.today())
    .execute(conn)
    .await?)
}

/// A push leased for sending.
#[derive(Debug, Clone)]
pub struct Due {
    pub attempts: i32,
    pub notification_id: i64,
    pub subscription: Subscription,
}

/// Leases up to `limit` due pushes for `lease` (another worker takes them
/// if this one dies before it settles them). Pushes whose subscription
/// died with its token (revoke-all, expiry, disabled login) are dropped
/// with the subscription here.
pub async fn lease_due(
    conn: &mut DbConn,
    clock: &dyn Clock,
    limit: i64,
    lease: chrono::Duration,
) -> CoreResult<Vec<Due>> {
    use diesel::sql_types::{BigInt, Integer, Timestamptz};
    #[derive(QueryableByName)]
    struct Leased {
        #[diesel(sql_type = BigInt)]
        subscription_id: i64,
        #[diesel(sql_type = BigInt)]
        notification_id: i64,
        #[diesel(sql_type = Integer)]
        attempts: i32,
    }
    let now = clock.now();
    let leased: Vec<Leased> = diesel::sql_query(
        "UPDATE push_deliveries SET next_at = $2, attempts = attempts + 1 \
         WHERE (subscription_id, notification_id) IN \
               (SELECT subscription_id, notification_id FROM push_deliveries \
                WHERE next_at <= $1 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING subscription_id, notification_id, attempts",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now + lease)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    let mut out = Vec::with_capacity(leased.len());
    for l in leased {
        let live: Option<(Subscription, i64, i64, bool, Option<chrono::NaiveDate>)> =
            push_subscriptions::table
                .inner_join(accounts::table.on(accounts::id.eq(push_subscriptions::account_id)))
                .filter(push_subscriptions::id.eq(l.subscription_id))
                .select((
                    Subscription::as_select(),
                    push_subscriptions::epoch,
                    accounts::token_epoch,
                    accounts::disabled,
                    push_subscriptions::expires_on,
                ))
                .first(conn)
                .await
                .optional()?;
        match live {
            Some((s, epoch, current, false, expires))
                if epoch == current && expires.is_none_or(|e| e > clock.today()) =>
            {
                out.push(Due {
                    attempts: l.attempts,
                    notification_id: l.notification_id,
                    subscription: s,
                })
            }
            Some(_) => drop_subscription(conn, l.subscription_id).await?,
            None => settle(conn, l.subscription_id, l.notification_id).await?,
        }
    }
    Ok(out)
}

/// The push was taken (or given up on): it is owed no more.
pub async fn settle(conn: &mut DbConn, subscription: i64, notification: i64) -> CoreResult<()> {
    diesel::delete(push_deliveries::table.find((subscription, notification)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Tries again at `at`.
pub async fn retry_at(
    conn: &mut DbConn,
    subscription: i64,
    notification: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> CoreResult<()> {
    diesel::update(push_deliveries::table.find((subscription, notification)))
        .set(push_deliveries::next_at.eq(at))
        .execute(conn)
        .await?;
    Ok(())
}

/// Pushes owed and not yet settled (for tests and the admin's eyes).
pub async fn pending(conn: &mut DbConn) -> CoreResult<i64> {
    Ok(push_deliveries::table.count().get_result(conn).await?)
}

/// The notification a push is about, if it still exists.
pub async fn notification(
    conn: &mut DbConn,
    id: i64,
) -> CoreResult<Option<crate::models::Notification>> {
    use crate::schema::notifications;
    Ok(notifications::table
        .find(id)
        .select(crate::models::Notification::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Removes subscriptions whose token is dead though never presented again:
/// signed out by a revoke-all (the login's epoch moved on), expired, or of
/// a disabled login. How many went.
pub async fn sweep(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<usize> {
    use diesel::sql_types::Date;
    Ok(diesel::sql_query(
        "DELETE FROM push_subscriptions s USING accounts a \
         WHERE a.id = s.account_id \
           AND (a.token_epoch <> s.epoch OR a.disabled OR s.expires_on <= $1)",
    )
    .bind::<Date, _>(clock.today())
    .execute(conn)
    .await?)
}
