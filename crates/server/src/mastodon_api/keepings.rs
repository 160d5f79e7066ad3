//! What a face keeps for itself: favourites and bookmarks lists, bookmarks,
//! pins, muted threads, notes, blocked domains, markers and reports. Who may
//! do what is the access table's (`access.rs`).

use super::access::{Answer, Group};
use super::sealed::{self, Slot};
use super::{ok, paginated, parse_id, types, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::keepings::{self, Marker};
use guise_core::seal::KAnon;
use serde::Deserialize;
use serde_json::json;

/// A face-list of statuses, paginated by the list's own cursors.
async fn status_list(
    req: &HttpRequest,
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    listed: keepings::Listed,
) -> ApiResult<HttpResponse> {
    let ids: Vec<i64> = listed.iter().map(|(_, s)| *s).collect();
    let visible = guise_core::statuses::visible_ids(conn, viewer, &ids, false).await?;
    let out = types::statuses_by_ids(state, conn, viewer, &visible).await?;
    let cursors: Vec<i64> = listed.iter().map(|(c, _)| *c).collect();
    Ok(paginated(req, state, &out, &cursors))
}

async fn favourites(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FavouritesList, "read:favourites")?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    if auth.is_anonymous() {
        // Its anonymous faces' favourites, each face's list in turn merged.
        let faces = guise_core::anon::my_faces(&mut conn, auth.anon_key()?).await?;
        let mut all = Vec::new();
        for f in &faces {
            all.extend(keepings::favourites_of(&mut conn, f.id, &page).await?);
        }
        all.sort_by_key(|b| std::cmp::Reverse(b.0));
        all.truncate(usize::try_from(page.limit).unwrap_or(20));
        return status_list(&req, &state, &mut conn, None, all).await;
    }
    let me = auth.face()?;
    let listed = keepings::favourites_of(&mut conn, me.id, &page).await?;
    status_list(&req, &state, &mut conn, Some(me.id), listed).await
}

async fn bookmarks(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::BookmarksList, "read:bookmarks")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    let listed = keepings::bookmarks_of(&mut conn, me.id, &page).await?;
    status_list(&req, &state, &mut conn, Some(me.id), listed).await
}

async fn status_answer(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    face: i64,
    id: i64,
) -> ApiResult<HttpResponse> {
    Ok(ok(&types::status_by_id(state, conn, Some(face), id).await?))
}

async fn bookmark(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Bookmarking, "write:bookmarks")?;
    let me = auth.face()?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    keepings::bookmark(&mut conn, state.clock.as_ref(), me, id).await?;
    status_answer(&state, &mut conn, me.id, id).await
}

async fn unbookmark(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Bookmarking, "write:bookmarks")?;
    let me = auth.face()?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    guise_core::statuses::visible_status(&mut conn, Some(me.id), id).await?;
    keepings::unbookmark(&mut conn, me, id).await?;
    status_answer(&state, &mut conn, me.id, id).await
}

async fn pin(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Pinning, "write:accounts")?;
    let me = auth.face()?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    keepings::pin(&mut conn, state.clock.as_ref(), me, id).await?;
    status_answer(&state, &mut conn, me.id, id).await
}

async fn unpin(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Pinning, "write:accounts")?;
    let me = auth.face()?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    guise_core::statuses::visible_status(&mut conn, Some(me.id), id).await?;
    keepings::unpin(&mut conn, me, id).await?;
    status_answer(&state, &mut conn, me.id, id).await
}

async fn mute_thread(
    state: &AppState,
    auth: &Auth,
    path: &str,
    mute: bool,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ThreadMutes, "write:mutes")?;
    let me = auth.face()?;
    let id = parse_id(path)?;
    let mut conn = state.db.conn().await?;
    keepings::mute_thread(&mut conn, me, id, mute).await?;
    status_answer(state, &mut conn, me.id, id).await
}

async fn mute_conversation(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    mute_thread(&state, &auth, &path, true).await
}

async fn unmute_conversation(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    mute_thread(&state, &auth, &path, false).await
}

#[derive(Deserialize)]
struct NoteParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    comment: Option<String>,
}

async fn note(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<NoteParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::RelationsWrite, "write:accounts")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let target = guise_core::accounts::get_identity(&mut conn, parse_id(&path)?).await?;
    keepings::set_note(&mut conn, me, &target, p.comment.as_deref().unwrap_or("")).await?;
    let rel = guise_core::social::relationship(&mut conn, me.id, target.id).await?;
    Ok(ok(&types::Relationship::from(rel)))
}

#[derive(Deserialize)]
struct DomainParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    domain: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
}

async fn domain_blocks(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<DomainParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::RelationLists, "read:blocks")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let limit = p.limit.unwrap_or(100).clamp(1, 200);
    Ok(ok(
        &keepings::blocked_domains(&mut conn, me.id, limit).await?
    ))
}

async fn block_domain(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<DomainParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::RelationsWrite, "write:blocks")?;
    let me = auth.face()?;
    let domain = p
        .domain
        .ok_or_else(|| ApiError::unprocessable("Validation failed: domain can't be blank"))?;
    if domain.eq_ignore_ascii_case(state.domain()) {
        return Err(ApiError::unprocessable(
            "Validation failed: domain cannot be this instance",
        ));
    }
    let mut conn = state.db.conn().await?;
    keepings::block_domain(&mut conn, me, &domain).await?;
    Ok(ok(&json!({})))
}

async fn unblock_domain(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<DomainParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::RelationsWrite, "write:blocks")?;
    let me = auth.face()?;
    let domain = p
        .domain
        .ok_or_else(|| ApiError::unprocessable("Validation failed: domain can't be blank"))?;
    let mut conn = state.db.conn().await?;
    keepings::unblock_domain(&mut conn, me, &domain).await?;
    Ok(ok(&json!({})))
}

// Markers.

fn marker_json(m: &Marker) -> serde_json::Value {
    json!({
        "last_read_id": m.last_read_id.to_string(),
        "version": m.version,
        "updated_at": types::iso(m.updated_at),
    })
}

/// A marker of an "Anonymous" or "All my faces" token: one per login,
/// binding and timeline, sealed under `k_anon` outside the database rather
/// than a row that would move each time its owner reads, next to what their
/// anonymous faces write.
fn marker_slot(k: &KAnon, binding: &str, timeline: &str) -> Slot {
    Slot::new(k, "marker", &format!("marker:{binding}:{timeline}"))
}

fn open_marker(plain: &[u8]) -> Option<Marker> {
    let last = i64::from_be_bytes(plain.get(0..8)?.try_into().ok()?);
    let version = i32::from_be_bytes(plain.get(8..12)?.try_into().ok()?);
    let at = i64::from_be_bytes(plain.get(12..20)?.try_into().ok()?);
    Some(Marker {
        last_read_id: last,
        version,
        updated_at: chrono::DateTime::from_timestamp(at, 0)?,
    })
}

/// The markers a token sees: its face's, or its sealed ones.
pub async fn markers_for(state: &AppState, auth: &Auth) -> ApiResult<Vec<(String, Marker)>> {
    match auth.answer(Group::Markers, "read:statuses")? {
        Answer::Sealed => {
            let k = auth.anon_key()?;
            let binding = if auth.is_anonymous() {
                "anonymous"
            } else {
                "all"
            };
            let mut out = Vec::new();
            for t in keepings::TIMELINES {
                let plain = sealed::read(state, k, &marker_slot(k, binding, t)).await?;
                if let Some(m) = plain.as_deref().and_then(|p| open_marker(p)) {
                    out.push((t.to_owned(), m));
                }
            }
            Ok(out)
        }
        _ => {
            let me = auth.face()?;
            let mut conn = state.db.conn().await?;
            Ok(keepings::markers_of(&mut conn, me.id).await?)
        }
    }
}

#[derive(Deserialize)]
struct MarkerQuery {
    #[serde(default, deserialize_with = "de::string_list")]
    timeline: Vec<String>,
}

async fn get_markers(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<MarkerQuery>,
) -> ApiResult<HttpResponse> {
    let all = markers_for(&state, &auth).await?;
    let mut out = serde_json::Map::new();
    for (t, m) in all {
        if p.timeline.contains(&t) {
            out.insert(t, marker_json(&m));
        }
    }
    Ok(ok(&out))
}

/// `home[last_read_id]` and `notifications[last_read_id]`, however sent.
fn marker_ids(v: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in keepings::TIMELINES {
        // JSON `{"home": {"last_read_id": …}}`, or a form's
        // `home[last_read_id]=…` (which the parameter reader makes a list).
        let id = v
            .get(t)
            .and_then(|m| m.get("last_read_id").or_else(|| m.get(0)))
            .or_else(|| v.get(&format!("{t}[last_read_id]")))
            .and_then(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .or_else(|| x.as_i64().map(|n| n.to_string()))
            })
            .and_then(|s| s.parse::<i64>().ok());
        if let Some(id) = id {
            out.push((t.to_owned(), id));
        }
    }
    out
}

async fn post_markers(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<HttpResponse> {
    let answer = auth.answer(Group::Markers, "write:statuses")?;
    let ids = marker_ids(&p);
    if ids.is_empty() {
        return Err(ApiError::unprocessable(
            "Validation failed: give home[last_read_id] or notifications[last_read_id]",
        ));
    }
    let mut out = serde_json::Map::new();
    if answer == Answer::Sealed {
        let k = auth.anon_key()?;
        let binding = if auth.is_anonymous() {
            "anonymous"
        } else {
            "all"
        };
        let now = state.clock.now();
        for (t, id) in ids {
            let plain = sealed::update(&state, k, &marker_slot(k, binding, &t), |old| {
                let m = Marker {
                    last_read_id: id,
                    version: old.and_then(open_marker).map_or(0, |o| o.version + 1),
                    updated_at: keepings::minute(now),
                };
                let mut plain = Vec::with_capacity(20);
                plain.extend_from_slice(&m.last_read_id.to_be_bytes());
                plain.extend_from_slice(&m.version.to_be_bytes());
                plain.extend_from_slice(&m.updated_at.timestamp().to_be_bytes());
                plain
            })
            .await?;
            if let Some(m) = open_marker(&plain) {
                out.insert(t.clone(), marker_json(&m));
            }
        }
        return Ok(ok(&out));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    for (t, id) in ids {
        keepings::set_marker(&mut conn, state.clock.as_ref(), me.id, &t, id).await?;
    }
    for (t, m) in keepings::markers_of(&mut conn, me.id).await? {
        out.insert(t, marker_json(&m));
    }
    Ok(ok(&out))
}

// Reports.

#[derive(Deserialize)]
struct ReportParams {
    #[serde(default, deserialize_with = "de::opt_id")]
    account_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    status_ids: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    comment: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    forward: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    category: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    rule_ids: Vec<String>,
}

async fn report(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<ReportParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Reports, "write:reports")?;
    let me = auth.face()?;
    let target = p
        .account_id
        .ok_or_else(|| ApiError::unprocessable("Validation failed: account_id can't be blank"))?;
    let target = parse_id(&target)?;
    let ids = |v: &[String]| -> ApiResult<Vec<i64>> {
        v.iter()
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| ApiError::unprocessable("Validation failed: not an id"))
            })
            .collect()
    };
    let mut conn = state.db.conn().await?;
    let r = keepings::report(
        &mut conn,
        state.clock.as_ref(),
        me,
        keepings::NewReport {
            target,
            status_ids: ids(&p.status_ids)?,
            comment: p.comment.unwrap_or_default(),
            category: p.category.unwrap_or_else(|| "other".into()),
            rule_ids: ids(&p.rule_ids)?,
            forward: p.forward.unwrap_or(false),
        },
    )
    .await?;
    let face = guise_core::accounts::get_identity(&mut conn, r.target_identity_id).await?;
    let forwarded = p.forward == Some(true) && forward_report(&state, &mut conn, &r, &face).await?;
    let account = types::account(&state, &mut conn, &face).await?;
    Ok(ok(&json!({
        "id": r.id.to_string(),
        "action_taken": r.action_taken_at.is_some(),
        "action_taken_at": r.action_taken_at.map(types::iso),
        "category": r.category,
        "comment": r.comment,
        "forwarded": forwarded,
        "created_at": types::iso(r.created_at),
        "status_ids": r.status_ids.iter().map(i64::to_string).collect::<Vec<_>>(),
        "rule_ids": r.rule_ids.iter().map(i64::to_string).collect::<Vec<_>>(),
        "target_account": account,
    })))
}

/// Sends a report about a remote face on to its server, as a `Flag` from
/// the instance actor — never from the reporter, whose face the other
/// server does not learn — naming the face and the reported posts, as
/// Mastodon does. False when the face is this instance's own.
async fn forward_report(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    r: &keepings::Report,
    target: &guise_core::models::Identity,
) -> ApiResult<bool> {
    let (Some(actor), Some(inbox)) = (
        target.actor_url.clone().filter(|_| target.domain.is_some()),
        target
            .shared_inbox_url
            .clone()
            .or_else(|| target.inbox_url.clone()),
    ) else {
        return Ok(false);
    };
    let mut objects = vec![actor];
    for id in &r.status_ids {
        if let Some(uri) = guise_core::statuses::get_status(conn, *id).await?.uri {
            objects.push(uri);
        }
    }
    let urls = guise_federation::Urls::new(state.base_url.to_string());
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/flags/{}", state.base_url, guise_core::id::Id::random().get()),
        "type": "Flag",
        "actor": urls.instance_actor(),
        "content": r.comment,
        "object": objects,
    });
    guise_core::queue::enqueue(
        conn,
        state.clock.as_ref(),
        &[guise_core::queue::NewDelivery {
            inbox_url: inbox,
            signer_identity_id: None,
            activity: activity.into(),
            not_before: None,
        }],
    )
    .await?;
    guise_core::reports::mark_forwarded(conn, r.id).await?;
    Ok(true)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/favourites", web::get().to(favourites))
        .route("/api/v1/bookmarks", web::get().to(bookmarks))
        .route("/api/v1/statuses/{id}/bookmark", web::post().to(bookmark))
        .route(
            "/api/v1/statuses/{id}/unbookmark",
            web::post().to(unbookmark),
        )
        .route("/api/v1/statuses/{id}/pin", web::post().to(pin))
        .route("/api/v1/statuses/{id}/unpin", web::post().to(unpin))
        .route(
            "/api/v1/statuses/{id}/mute",
            web::post().to(mute_conversation),
        )
        .route(
            "/api/v1/statuses/{id}/unmute",
            web::post().to(unmute_conversation),
        )
        .route("/api/v1/accounts/{id}/note", web::post().to(note))
        .route("/api/v1/domain_blocks", web::get().to(domain_blocks))
        .route("/api/v1/domain_blocks", web::post().to(block_domain))
        .route("/api/v1/domain_blocks", web::delete().to(unblock_domain))
        .route("/api/v1/markers", web::get().to(get_markers))
        .route("/api/v1/markers", web::post().to(post_markers))
        .route("/api/v1/reports", web::post().to(report));
}
