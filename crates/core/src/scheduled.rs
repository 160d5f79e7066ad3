//! Scheduled posts: a persistent face's post kept until its time, then
//! published by the worker. Anonymous faces cannot schedule: at publish
//! time no one holds the `k_anon` an anonymous post needs, and a row
//! waiting under a login would tie the post to it.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::models::Identity;
use crate::schema::scheduled_statuses;
use crate::statuses::{NewStatus, Page};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{json, Value};

/// How far ahead a post must be scheduled, and how many a face may hold.
pub const MIN_LEAD: Duration = Duration::minutes(5);
pub const MAX_PER_FACE: i64 = 300;
/// How many a face may have due on one day.
pub const MAX_PER_DAY: i64 = 25;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scheduled_statuses)]
pub struct Scheduled {
    pub id: i64,
    pub identity_id: i64,
    pub scheduled_at: DateTime<Utc>,
    pub params: serde_json::Value,
}

/// What is published, as kept in `params` (Mastodon's ScheduledStatus
/// params, less what Guise does not take).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: Option<bool>,
    pub visibility: Option<String>,
    pub language: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub application_id: Option<i64>,
    pub idempotency: Option<String>,
    /// The uploads it will carry, in order (kept for it until then).
    pub media_ids: Vec<i64>,
    /// The poll it will carry; it runs from when the post is published.
    pub poll: Option<crate::polls::PollInput>,
}

impl Scheduled {
    pub fn params(&self) -> Params {
        Params::from_json(&self.params)
    }
}

impl Params {
    /// As kept, and as Mastodon's entity shows it (ids as strings).
    pub fn to_json(&self) -> Value {
        json!({
            "text": self.text,
            "spoiler_text": self.spoiler_text,
            "sensitive": self.sensitive,
            "visibility": self.visibility,
            "language": self.language,
            "in_reply_to_id": self.in_reply_to_id.map(|i| i.to_string()),
            "application_id": self.application_id,
            "idempotency": self.idempotency,
            "media_ids": if self.media_ids.is_empty() {
                Value::Null
            } else {
                json!(self.media_ids.iter().map(i64::to_string).collect::<Vec<_>>())
            },
            "poll": self.poll.as_ref().map(|p| json!({
                "options": p.options,
                "expires_in": p.expires_in.to_string(),
                "multiple": p.multiple,
                "hide_totals": p.hide_totals,
            })),
        })
    }

    pub fn from_json(v: &Value) -> Params {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Params {
            text: text("text").unwrap_or_default(),
            spoiler_text: text("spoiler_text").unwrap_or_default(),
            sensitive: v.get("sensitive").and_then(Value::as_bool),
            visibility: text("visibility"),
            language: text("language"),
            in_reply_to_id: text("in_reply_to_id").and_then(|s| s.parse().ok()),
            application_id: v.get("application_id").and_then(Value::as_i64),
            idempotency: text("idempotency"),
            media_ids: v
                .get("media_ids")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|i| i.as_str()?.parse().ok()).collect())
                .unwrap_or_default(),
            poll: v
                .get("poll")
                .filter(|p| p.is_object())
                .map(|p| crate::polls::PollInput {
                    options: p
                        .get("options")
                        .and_then(Value::as_array)
                        .map(|o| {
                            o.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    expires_in: p
                        .get("expires_in")
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_default(),
                    multiple: p.get("multiple").and_then(Value::as_bool).unwrap_or(false),
                    hide_totals: p
                        .get("hide_totals")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                }),
        }
    }

    /// The status it becomes; `media` are the claims on its kept uploads.
    fn to_new(&self, media: Vec<crate::uploads::Claim>) -> CoreResult<NewStatus> {
        Ok(NewStatus {
            id: None,
            text: self.text.clone(),
            spoiler_text: self.spoiler_text.clone(),
            sensitive: self.sensitive.unwrap_or(false),
            visibility: match &self.visibility {
                None => None,
                Some(v) => Some(
                    v.parse()
                        .map_err(|_| CoreError::invalid("visibility", "is not a visibility"))?,
                ),
            },
            language: self.language.clone(),
            in_reply_to_id: self.in_reply_to_id,
            idempotency_key: self.idempotency.clone(),
            media,
            poll: self.poll.clone(),
        })
    }
}

async fn check_time(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    at: DateTime<Utc>,
    except: Option<i64>,
) -> CoreResult<()> {
    if at < clock.now() + MIN_LEAD {
        return Err(CoreError::invalid(
            "scheduled_at",
            "must be at least 5 minutes in the future",
        ));
    }
    let day = at.date_naive();
    let start = day.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    let end = start.map(|s| s + Duration::days(1));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(CoreError::invalid("scheduled_at", "is out of range"));
    };
    let that_day: i64 = scheduled_statuses::table
        .filter(scheduled_statuses::identity_id.eq(face))
        .filter(scheduled_statuses::scheduled_at.ge(start))
        .filter(scheduled_statuses::scheduled_at.lt(end))
        .filter(scheduled_statuses::id.ne(except.unwrap_or(0)))
        .count()
        .get_result(conn)
        .await?;
    if that_day >= MAX_PER_DAY {
        return Err(CoreError::invalid(
            "scheduled_at",
            format!("at most {MAX_PER_DAY} posts can be scheduled for one day"),
        ));
    }
    Ok(())
}

/// Keeps a post of `face` for `at`. The text is checked when published, as
/// everything else is; what can be checked now is.
pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    at: DateTime<Utc>,
    params: Params,
    media: &[crate::uploads::Claim],
) -> CoreResult<Scheduled> {
    if face.tier() == guise_policy::Tier::Anonymous {
        return Err(CoreError::invalid(
            "scheduled_at",
            "anonymous posts cannot be scheduled",
        ));
    }
    params.to_new(Vec::new())?;
    if params.text.trim().is_empty() && media.is_empty() {
        return Err(CoreError::invalid("status", "can't be blank"));
    }
    if let Some(p) = &params.poll {
        if !media.is_empty() {
            return Err(CoreError::invalid(
                "poll",
                "a post cannot have both media and a poll",
            ));
        }
        p.check()?;
    }
    crate::uploads::check_claims(conn, media).await?;
    let mut params = params;
    params.media_ids = Vec::new();
    for c in media {
        if !params.media_ids.contains(&c.id) {
            params.media_ids.push(c.id);
        }
    }
    let face_id = face.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let held: i64 = scheduled_statuses::table
            .filter(scheduled_statuses::identity_id.eq(face_id))
            .count()
            .get_result(conn)
            .await?;
        if held >= MAX_PER_FACE {
            return Err(CoreError::invalid(
                "scheduled_at",
                format!("at most {MAX_PER_FACE} posts can be scheduled"),
            ));
        }
        check_time(conn, clock, face_id, at, None).await?;
        let s: Scheduled = diesel::insert_into(scheduled_statuses::table)
            .values((
                scheduled_statuses::id.eq(Id::generate(clock.now()).get()),
                scheduled_statuses::identity_id.eq(face_id),
                scheduled_statuses::scheduled_at.eq(at),
                scheduled_statuses::params.eq(params.to_json()),
            ))
            .returning(Scheduled::as_returning())
            .get_result(conn)
            .await?;
        crate::uploads::reserve(conn, s.id, media).await?;
        Ok(s)
    })
    .await
}

/// A face's scheduled posts, soonest made first by id.
pub async fn of(conn: &mut DbConn, face: i64, page: &Page) -> CoreResult<Vec<Scheduled>> {
    let mut q = scheduled_statuses::table
        .filter(scheduled_statuses::identity_id.eq(face))
        .select(Scheduled::as_select())
        .into_boxed();
    if let Some(m) = page.max_id {
        q = q.filter(scheduled_statuses::id.lt(m));
    }
    if let Some(s) = page.since_id {
        q = q.filter(scheduled_statuses::id.gt(s));
    }
    if let Some(m) = page.min_id {
        let mut v: Vec<Scheduled> = q
            .filter(scheduled_statuses::id.gt(m))
            .order(scheduled_statuses::id.asc())
            .limit(page.limit)
            .load(conn)
            .await?;
        v.reverse();
        return Ok(v);
    }
    Ok(q.order(scheduled_statuses::id.desc())
        .limit(page.limit)
        .load(conn)
        .await?)
}

pub async fn get(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<Scheduled> {
    scheduled_statuses::table
        .filter(scheduled_statuses::id.eq(id))
        .filter(scheduled_statuses::identity_id.eq(face))
        .select(Scheduled::as_select())
        .first(conn)
        .await
        .found()
}

/// Moves a scheduled post to another time.
pub async fn reschedule(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    id: i64,
    at: DateTime<Utc>,
) -> CoreResult<Scheduled> {
    get(conn, face, id).await?;
    check_time(conn, clock, face, at, Some(id)).await?;
    Ok(diesel::update(scheduled_statuses::table.find(id))
        .set(scheduled_statuses::scheduled_at.eq(at))
        .returning(Scheduled::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn cancel(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<()> {
    let n = diesel::delete(
        scheduled_statuses::table
            .filter(scheduled_statuses::id.eq(id))
            .filter(scheduled_statuses::identity_id.eq(face)),
    )
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// What publishing due posts did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub published: usize,
    /// Refused when their time came (the reply's post gone, the text no
    /// longer allowed, the face suspended): dropped.
    pub dropped: usize,
}

/// Publishes up to `limit` posts whose time has come. Each is taken under
/// a row lock (`SKIP LOCKED`), so several workers publish each once; its
/// row goes in the same transaction as its status is written.
pub async fn publish_due(
    conn: &mut DbConn,
    ctx: &crate::statuses::Ctx<'_>,
    limit: i64,
) -> CoreResult<Published> {
    let mut done = Published::default();
    for _ in 0..limit {
        let now = ctx.clock.now();
        let outcome = conn
            .transaction::<_, CoreError, _>(async move |conn| {
                let due: Option<Scheduled> = scheduled_statuses::table
                    .filter(scheduled_statuses::scheduled_at.le(now))
                    .order(scheduled_statuses::scheduled_at.asc())
                    .select(Scheduled::as_select())
                    .for_update()
                    .skip_locked()
                    .first(conn)
                    .await
                    .optional()?;
                let Some(s) = due else {
                    return Ok(None);
                };
                // Its uploads, by the capability each still carries, in
                // the post's order (one deleted since is simply left out).
                let params = s.params();
                let kept = crate::uploads::of_scheduled(conn, &[s.id]).await?;
                let media: Vec<crate::uploads::Claim> = params
                    .media_ids
                    .iter()
                    .filter_map(|id| kept.iter().find(|u| u.id == *id))
                    .filter_map(|u| {
                        Some(crate::uploads::Claim {
                            id: u.id,
                            tag: u.owner_tag.clone()?,
                        })
                    })
                    .collect();
                // Deleting the row lets go of the uploads (ON DELETE SET
                // NULL), so the post can attach them.
                diesel::delete(scheduled_statuses::table.find(s.id))
                    .execute(conn)
                    .await?;
                let face = crate::accounts::get_identity(conn, s.identity_id).await;
                let result = match (face, params.to_new(media)) {
                    (Ok(face), Ok(new)) if !(face.tier() == guise_policy::Tier::Anonymous) => {
                        crate::statuses::publish(conn, ctx, &face, new).await.map(|_| ())
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                    _ => Err(CoreError::Forbidden("anonymous")),
                };
                // Publishing ran in its own savepoint: whatever refused it,
                // the post is dropped (a lost connection fails the commit
                // below instead, and the post waits for the next round).
                match result {
                    Ok(()) => Ok(Some(true)),
                    Err(e) => {
                        tracing::warn!(id = s.id, error = %e, "a scheduled post was refused when due");
                        Ok(Some(false))
                    }
                }
            })
            .await?;
        match outcome {
            None => break,
            Some(true) => done.published += 1,
            Some(false) => done.dropped += 1,
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_keep_what_they_were_given() {
        let p = Params {
            text: "hello".into(),
            spoiler_text: "cw".into(),
            sensitive: Some(true),
            visibility: Some("unlisted".into()),
            language: Some("de".into()),
            in_reply_to_id: Some(1234567890123),
            application_id: Some(7),
            idempotency: Some("k".into()),
            media_ids: vec![11, 12],
            poll: Some(crate::polls::PollInput {
                options: vec!["a".into(), "b".into()],
                expires_in: 600,
                multiple: true,
                hide_totals: false,
            }),
        };
        assert_eq!(Params::from_json(&p.to_json()), p);
        assert_eq!(
            Params::from_json(&Params::default().to_json()),
            Params::default()
        );
    }
}
