//! Uploaded media (`/api/v1/media`). Until attached, an upload is owned by
//! a capability, never by a login or a face: the caller presents a tag (a
//! MAC of the upload's id under a key only the uploading token yields), and
//! the row keeps just that tag. Attaching it to a status clears the tag,
//! so an upload attached to an anonymous post names nobody — before or
//! after. Ids are random: an upload's id says nothing of when it was made
//! or what was uploaded next to it.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::media_uploads;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

/// How many attachments one status may carry.
pub const MAX_ATTACHMENTS: usize = 4;
/// How long an upload may wait to be attached before it is removed.
pub const UNATTACHED_DAYS: i64 = 2;
/// The longest description (alt text).
pub const MAX_DESCRIPTION: usize = 1500;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = media_uploads)]
pub struct Upload {
    pub id: i64,
    pub owner_tag: Option<Vec<u8>>,
    pub status_id: Option<i64>,
    pub kind: String,
    pub content_type: String,
    pub file_key: String,
    pub preview_key: String,
    pub description: String,
    pub blurhash: String,
    pub meta: Value,
    pub size_bytes: i64,
    pub created_on: NaiveDate,
    pub attached: bool,
    /// Kept for this scheduled post until it is published.
    pub scheduled_id: Option<i64>,
}

/// A processed file, ready to be recorded (its bytes already stored).
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub kind: String,
    pub content_type: String,
    pub file_key: String,
    pub preview_key: String,
    pub description: String,
    pub blurhash: String,
    pub meta: Value,
    pub size_bytes: i64,
}

/// A fresh random id, positive and never 0.
pub fn random_id() -> i64 {
    let v = rand::random::<u64>() >> 2;
    i64::try_from(v).unwrap_or(1).max(1)
}

/// Records an upload owned by `tag_of(id)`.
pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    new: NewUpload,
    tag_of: impl Fn(i64) -> Vec<u8>,
) -> CoreResult<Upload> {
    let id = random_id();
    Ok(diesel::insert_into(media_uploads::table)
        .values((
            media_uploads::id.eq(id),
            media_uploads::owner_tag.eq(Some(tag_of(id))),
            media_uploads::kind.eq(&new.kind),
            media_uploads::content_type.eq(&new.content_type),
            media_uploads::file_key.eq(&new.file_key),
            media_uploads::preview_key.eq(&new.preview_key),
            media_uploads::description.eq(&new.description),
            media_uploads::blurhash.eq(&new.blurhash),
            media_uploads::meta.eq(&new.meta),
            media_uploads::size_bytes.eq(new.size_bytes),
            media_uploads::created_on.eq(clock.today()),
        ))
        .returning(Upload::as_returning())
        .get_result(conn)
        .await?)
}

/// An upload the caller holds the capability for, attached or not to
/// one of `faces`' statuses. `NotFound` otherwise — whoever made it.
pub async fn get(conn: &mut DbConn, id: i64, tag: &[u8], faces: &[i64]) -> CoreResult<Upload> {
    let u: Upload = media_uploads::table
        .find(id)
        .select(Upload::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(CoreError::NotFound)?;
    if u.owner_tag.as_deref() == Some(tag) {
        return Ok(u);
    }
    if let Some(s) = u.status_id {
        let author: Option<i64> = crate::schema::statuses::table
            .find(s)
            .select(crate::schema::statuses::identity_id)
            .first(conn)
            .await
            .optional()?;
        if author.is_some_and(|a| faces.contains(&a)) {
            return Ok(u);
        }
    }
    Err(CoreError::NotFound)
}

/// Changes an unattached upload's description or focal point.
pub async fn update(
    conn: &mut DbConn,
    id: i64,
    tag: &[u8],
    description: Option<&str>,
    focus: Option<(f64, f64)>,
) -> CoreResult<Upload> {
    let mut u = get(conn, id, tag, &[]).await?;
    if let Some(d) = description {
        check_description(d)?;
        u.description = d.to_owned();
    }
    if let Some((x, y)) = focus {
        if let Some(o) = u.meta.as_object_mut() {
            o.insert("focus".into(), json!({ "x": x, "y": y }));
        }
    }
    diesel::update(media_uploads::table.find(id))
        .set((
            media_uploads::description.eq(&u.description),
            media_uploads::meta.eq(&u.meta),
        ))
        .execute(conn)
        .await?;
    Ok(u)
}

pub fn check_description(d: &str) -> CoreResult<()> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(CoreError::Invalid {
            field: "description",
            message: format!("is too long (maximum is {MAX_DESCRIPTION} characters)"),
        });
    }
    Ok(())
}

/// Removes an unattached upload; the caller deletes its files. One
/// attached to a status of `faces` is refused (422), anyone else's is
/// not found.
pub async fn delete(conn: &mut DbConn, id: i64, tag: &[u8], faces: &[i64]) -> CoreResult<Upload> {
    let u = get(conn, id, tag, faces).await?;
    if u.status_id.is_some() || u.attached {
        return Err(CoreError::Invalid {
            field: "media",
            message: "is attached to a status".into(),
        });
    }
    diesel::delete(media_uploads::table.find(id))
        .execute(conn)
        .await?;
    Ok(u)
}

/// An upload to attach: its id and the tag the caller presents for it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: i64,
    pub tag: Vec<u8>,
}

/// Checks that every claimed upload is the caller's and unattached, in
/// order; what the status will carry. Nothing is changed.
pub async fn check_claims(conn: &mut DbConn, claims: &[Claim]) -> CoreResult<Vec<Upload>> {
    if claims.len() > MAX_ATTACHMENTS {
        return Err(CoreError::Invalid {
            field: "media_ids",
            message: format!("must have at most {MAX_ATTACHMENTS} items"),
        });
    }
    let mut out = Vec::new();
    for c in claims {
        let u = get(conn, c.id, &c.tag, &[])
            .await
            .map_err(|_| CoreError::Invalid {
                field: "media_ids",
                message: format!("{} is not one of your uploads", c.id),
            })?;
        if u.attached {
            return Err(CoreError::Invalid {
                field: "media_ids",
                message: format!("{} is attached to a status already", c.id),
            });
        }
        if u.scheduled_id.is_some() {
            return Err(CoreError::Invalid {
                field: "media_ids",
                message: format!("{} is kept for a scheduled post", c.id),
            });
        }
        if out.iter().any(|o: &Upload| o.id == u.id) {
            continue;
        }
        out.push(u);
    }
    Ok(out)
}

/// Attaches checked uploads to `status` (in the caller's transaction): the
/// capability is cleared; a claim raced away since it was checked fails.
pub async fn attach(conn: &mut DbConn, status: i64, claims: &[Claim]) -> CoreResult<()> {
    for c in claims {
        let n = diesel::update(
            media_uploads::table
                .find(c.id)
                .filter(media_uploads::owner_tag.eq(&c.tag))
                .filter(media_uploads::attached.eq(false)),
        )
        .set((
            media_uploads::owner_tag.eq(None::<Vec<u8>>),
            media_uploads::status_id.eq(Some(status)),
            media_uploads::attached.eq(true),
        ))
        .execute(conn)
        .await?;
        if n == 0 {
            return Err(CoreError::Invalid {
                field: "media_ids",
                message: format!("{} is not one of your uploads", c.id),
            });
        }
    }
    Ok(())
}

/// Keeps checked uploads for scheduled post `scheduled` (in the caller's
/// transaction); a claim raced away since it was checked fails.
pub async fn reserve(conn: &mut DbConn, scheduled: i64, claims: &[Claim]) -> CoreResult<()> {
    for c in claims {
        let n = diesel::update(
            media_uploads::table
                .find(c.id)
                .filter(media_uploads::owner_tag.eq(&c.tag))
                .filter(media_uploads::attached.eq(false))
                .filter(media_uploads::scheduled_id.is_null()),
        )
        .set(media_uploads::scheduled_id.eq(Some(scheduled)))
        .execute(conn)
        .await?;
        if n == 0 {
            return Err(CoreError::Invalid {
                field: "media_ids",
                message: format!("{} is not one of your uploads", c.id),
            });
        }
    }
    Ok(())
}

/// The uploads kept for scheduled posts `ids`.
pub async fn of_scheduled(conn: &mut DbConn, ids: &[i64]) -> CoreResult<Vec<Upload>> {
    Ok(media_uploads::table
        .filter(media_uploads::scheduled_id.eq_any(ids))
        .select(Upload::as_select())
        .load(conn)
        .await?)
}

/// A new description or focal point for media a post carries.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub id: i64,
    pub description: Option<String>,
    pub focus: Option<(f64, f64)>,
}

/// What an edit does to a post's media: the order after it, and the new
/// uploads (checked) it attaches.
#[derive(Debug, Clone)]
pub struct EditPlan {
    pub order: Vec<i64>,
    pub new: Vec<Claim>,
}

/// Checks an edit's media (`None`: unchanged). An id the post carries
/// already is kept whatever tag comes with it; any other must be the
/// caller's unattached upload. Nothing is changed.
pub async fn plan_edit(
    conn: &mut DbConn,
    status: i64,
    media: Option<&[Claim]>,
) -> CoreResult<Option<EditPlan>> {
    let Some(media) = media else {
        return Ok(None);
    };
    let carried: Vec<i64> = media_uploads::table
        .filter(media_uploads::status_id.eq(status))
        .select(media_uploads::id)
        .load(conn)
        .await?;
    let mut order = Vec::new();
    let mut new = Vec::new();
    for c in media {
        if order.contains(&c.id) {
            continue;
        }
        if !carried.contains(&c.id) {
            new.push(c.clone());
        }
        order.push(c.id);
    }
    if order.len() > MAX_ATTACHMENTS {
        return Err(CoreError::Invalid {
            field: "media_ids",
            message: format!("must have at most {MAX_ATTACHMENTS} items"),
        });
    }
    check_claims(conn, &new).await?;
    Ok(Some(EditPlan { order, new }))
}

/// Applies an edit's media (in the caller's transaction): uploads left out
/// are let go (the sweep removes their files), new ones attached, the
/// attributes set, and the post's attachments written again in order.
pub async fn apply_edit(
    conn: &mut DbConn,
    status: i64,
    plan: Option<&EditPlan>,
    attributes: &[Attribute],
) -> CoreResult<crate::models::Status> {
    use crate::schema::statuses;
    let order: Vec<i64> = match plan {
        Some(p) => {
            diesel::update(
                media_uploads::table
                    .filter(media_uploads::status_id.eq(status))
                    .filter(media_uploads::id.ne_all(&p.order)),
            )
            .set(media_uploads::status_id.eq(None::<i64>))
            .execute(conn)
            .await?;
            attach(conn, status, &p.new).await?;
            p.order.clone()
        }
        None => {
            let current: Value = statuses::table
                .find(status)
                .select(statuses::attachments)
                .first(conn)
                .await?;
            current
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("id")?.as_str()?.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    let mut rows: Vec<Upload> = media_uploads::table
        .filter(media_uploads::status_id.eq(status))
        .select(Upload::as_select())
        .load(conn)
        .await?;
    for a in attributes {
        let Some(u) = rows.iter_mut().find(|u| u.id == a.id) else {
            return Err(CoreError::invalid(
                "media_attributes",
                format!("{} is not attached to this status", a.id),
            ));
        };
        if let Some(d) = &a.description {
            check_description(d)?;
            u.description = d.clone();
        }
        if let (Some((x, y)), Some(o)) = (a.focus, u.meta.as_object_mut()) {
            o.insert("focus".into(), json!({ "x": x, "y": y }));
        }
        diesel::update(media_uploads::table.find(u.id))
            .set((
                media_uploads::description.eq(&u.description),
                media_uploads::meta.eq(&u.meta),
            ))
            .execute(conn)
            .await?;
    }
    let attachments: Vec<Value> = order
        .iter()
        .filter_map(|id| rows.iter().find(|u| u.id == *id))
        .map(attachment_json)
        .collect();
    Ok(diesel::update(statuses::table.find(status))
        .set(statuses::attachments.eq(Value::Array(attachments)))
        .returning(crate::models::Status::as_returning())
        .get_result(conn)
        .await?)
}

/// How a status stores its local attachments (in `statuses.attachments`,
/// beside the remote ones): everything an entity or a Document needs.
pub fn attachment_json(u: &Upload) -> Value {
    json!({
        "local": true,
        "id": u.id.to_string(),
        "type": u.kind,
        "media_type": u.content_type,
        "key": u.file_key,
        "preview_key": u.preview_key,
        "description": if u.description.is_empty() { Value::Null } else { json!(u.description) },
        "blurhash": u.blurhash,
        "meta": u.meta,
    })
}

/// Uploads to remove: never attached and older than `UNATTACHED_DAYS`, or
/// attached to a status since deleted. Their rows go; the caller deletes
/// the files named.
pub async fn take_orphans(
    conn: &mut DbConn,
    clock: &dyn Clock,
    limit: i64,
) -> CoreResult<Vec<Upload>> {
    let cutoff = clock.today() - chrono::Duration::days(UNATTACHED_DAYS);
    let ids: Vec<i64> = media_uploads::table
        .filter(media_uploads::status_id.is_null())
        .filter(media_uploads::scheduled_id.is_null())
        .filter(
            media_uploads::attached
                .eq(true)
                .or(media_uploads::created_on.lt(cutoff)),
        )
        .select(media_uploads::id)
        .limit(limit)
        .load(conn)
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(
        diesel::delete(media_uploads::table.filter(media_uploads::id.eq_any(&ids)))
            .returning(Upload::as_returning())
            .get_results(conn)
            .await?,
    )
}
