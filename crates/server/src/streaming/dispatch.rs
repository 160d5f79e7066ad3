//! Turns one event into frames on this process's open streams: who may see
//! it is asked of the database once per event (for all of this process's
//! readers at once), and what they see is rendered once per reader — or
//! once for everyone, on the public and hashtag streams.

use super::{Conn, Out, Sub};
use crate::mastodon_api::types;
use crate::state::AppState;
use guise_core::events::DomainEvent;
use guise_core::{CoreError, CoreResult, DbConn};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::broadcast;

pub async fn run(state: AppState, mut rx: broadcast::Receiver<Arc<DomainEvent>>) {
    loop {
        match rx.recv().await {
            Ok(e) => {
                if let Err(err) = handle(&state, &e).await {
                    tracing::warn!(error = %err, kind = e.kind(), "stream dispatch");
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "stream dispatch fell behind");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> Arc<str> {
    serde_json::to_string(v).unwrap_or_default().into()
}

fn send(state: &AppState, c: &Conn, sub: &Sub, event: &'static str, payload: Option<Arc<str>>) {
    state
        .hub
        .sent
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    c.send(Out {
        stream: sub.names(),
        event,
        payload,
    });
}

/// Handles one event for every open stream of this process.
pub async fn handle(state: &AppState, e: &DomainEvent) -> CoreResult<()> {
    let conns = state.hub.snapshot();
    if conns.is_empty() {
        return Ok(());
    }
    let mut db = state.db.conn().await?;
    use DomainEvent::*;
    match e {
        StatusCreated { status } | RemoteStatusCreated { status } => {
            status_out(state, &mut db, &conns, *status, "update").await
        }
        ReblogCreated { reblog } => status_out(state, &mut db, &conns, *reblog, "update").await,
        StatusUpdated { status } | RemoteStatusUpdated { status } => {
            status_out(state, &mut db, &conns, *status, "status.update").await
        }
        StatusDeleted {
            status,
            author,
            addressed,
            ..
        } => deleted(state, &mut db, &conns, *status, *author, addressed).await,
        RemoteStatusDeleted { status, author } => {
            deleted(state, &mut db, &conns, *status, *author, &[]).await
        }
        ReblogDeleted {
            reblog, booster, ..
        } => deleted(state, &mut db, &conns, *reblog, *booster, &[]).await,
        NotificationCreated { notification, face } => {
            notified(state, &mut db, &conns, *notification, *face).await
        }
        FiltersChanged { face } => {
            for c in conns.iter().filter(|c| c.viewer.face == Some(*face)) {
                if let Ok(mut f) = c.filters.lock() {
                    *f = None;
                }
                for s in c.subs().iter().filter(|s| **s == Sub::User) {
                    send(state, c, s, "filters_changed", None);
                }
            }
            Ok(())
        }
        // Nothing a live stream shows (`DomainEvent::routes`).
        FaceUpdated { .. }
        | FaceSuspended { .. }
        | FaceUnsuspended { .. }
        | FaceDeleted { .. }
        | FollowCreated { .. }
        | FollowDeleted { .. }
        | FollowAnswered { .. }
        | BlockCreated { .. }
        | BlockDeleted { .. }
        | FavouriteCreated { .. }
        | FavouriteDeleted { .. }
        | PollVoted { .. } => Ok(()),
    }
}

/// The reader's filters for `context` in force now, read once per stream.
async fn filters_of(
    state: &AppState,
    db: &mut DbConn,
    c: &Conn,
    face: i64,
    context: &str,
) -> CoreResult<Vec<guise_core::filters::Filter>> {
    let cached = c.filters.lock().ok().and_then(|f| f.clone());
    let all = match cached {
        Some(a) => a,
        None => {
            let a = Arc::new(guise_core::filters::of(db, face).await?);
            if let Ok(mut f) = c.filters.lock() {
                *f = Some(a.clone());
            }
            a
        }
    };
    let now = state.clock.now();
    Ok(all
        .iter()
        .filter(|f| f.row.context.iter().any(|x| x == context))
        .filter(|f| f.row.expires_at.is_none_or(|t| t > now))
        .cloned()
        .collect())
}

async fn status_out(
    state: &AppState,
    db: &mut DbConn,
    conns: &[Arc<Conn>],
    id: i64,
    event: &'static str,
) -> CoreResult<()> {
    let st = match guise_core::statuses::get_status(db, id).await {
        Ok(s) => s,
        Err(CoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let author = guise_core::accounts::get_identity(db, st.identity_id).await?;

    // Home: each reader's own rendering (their filters, their flags).
    let home: BTreeSet<i64> = conns
        .iter()
        .filter(|c| c.viewer.read_statuses && c.subs().contains(&Sub::User))
        .filter_map(|c| c.viewer.face)
        .collect();
    let home: Vec<i64> = home.into_iter().collect();
    let readers = guise_core::timelines::home_readers(db, id, &home).await?;
    let mut rendered: HashMap<i64, Option<Arc<str>>> = HashMap::new();
    for r in &readers {
        let out = types::statuses_in(state, db, Some(*r), &[id], "home").await?;
        rendered.insert(*r, out.first().map(json));
    }
    // "Anonymous": its home is its own anonymous posts.
    let mut own_anon: Option<Arc<str>> = None;
    for c in conns {
        let subs = c.subs();
        if !c.viewer.read_statuses || !subs.contains(&Sub::User) {
            continue;
        }
        let payload = match c.viewer.face {
            Some(f) if !c.viewer.anonymous => rendered.get(&f).cloned().flatten(),
            _ if c.viewer.anonymous && c.viewer.owns(&author) => {
                if own_anon.is_none() {
                    let out = types::statuses_by_ids(state, db, None, &[id]).await?;
                    own_anon = out.first().map(json);
                }
                own_anon.clone()
            }
            _ => None,
        };
        if let Some(p) = payload {
            send(state, c, &Sub::User, event, Some(p));
        }
    }

    // Lists: rendered for their owner.
    let lists: BTreeSet<i64> = conns
        .iter()
        .filter(|c| c.viewer.read_statuses)
        .flat_map(|c| c.subs())
        .filter_map(|s| match s {
            Sub::List(l) => Some(l),
            _ => None,
        })
        .collect();
    if !lists.is_empty() {
        let lists: Vec<i64> = lists.into_iter().collect();
        let showing = guise_core::timelines::list_readers(db, id, &lists).await?;
        for c in conns {
            let Some(face) = c.viewer.face else { continue };
            for s in c.subs() {
                if let Sub::List(l) = s {
                    if showing.contains(&l) {
                        let out = types::statuses_in(state, db, Some(face), &[id], "home").await?;
                        if let Some(p) = out.first() {
                            send(state, c, &s, event, Some(json(p)));
                        }
                    }
                }
            }
        }
    }

    // Public and hashtag streams: one rendering, each reader's blocks,
    // mutes and filters applied.
    let wants_public = |s: &Sub| matches!(s, Sub::Public { .. } | Sub::Hashtag { .. });
    let public: Vec<&Arc<Conn>> = conns
        .iter()
        .filter(|c| c.viewer.read_statuses && c.subs().iter().any(wants_public))
        .collect();
    if !public.is_empty() {
        let viewers: BTreeSet<i64> = public.iter().map(|c| c.viewer.face.unwrap_or(0)).collect();
        let viewers: Vec<i64> = viewers.into_iter().collect();
        let ok = guise_core::statuses::public_readers(db, id, &viewers).await?;
        if !ok.is_empty() {
            let tags = guise_core::statuses::tags_of(db, id).await?;
            let has_media = st.attachments.as_array().is_some_and(|a| !a.is_empty());
            let base = types::statuses_by_ids(state, db, None, &[id]).await?;
            if let Some(base) = base.into_iter().next() {
                let plain = json(&base);
                let base_value = serde_json::to_value(&base).unwrap_or_default();
                let text = guise_core::text::html_to_text(&st.content);
                for c in public {
                    let face = c.viewer.face.unwrap_or(0);
                    if !ok.contains(&face) {
                        continue;
                    }
                    let mut payload = plain.clone();
                    if face != 0 {
                        let active = filters_of(state, db, c, face, "public").await?;
                        let found =
                            guise_core::filters::matches(&active, id, &text, &st.spoiler_text);
                        if found.iter().any(|m| m.filter.row.filter_action == "hide") {
                            continue;
                        }
                        if !found.is_empty() {
                            let filtered: Vec<serde_json::Value> = found
                                .iter()
                                .map(|m| {
                                    serde_json::json!({
                                        "filter": types::filter_json(&m.filter),
                                        "keyword_matches": m.keywords,
                                        "status_matches": m.statuses.iter().map(i64::to_string).collect::<Vec<_>>(),
                                    })
                                })
                                .collect();
                            let mut v = base_value.clone();
                            if let Some(o) = v.as_object_mut() {
                                o.insert("filtered".into(), serde_json::Value::Array(filtered));
                            }
                            payload = json(&v);
                        }
                    }
                    for s in c.subs() {
                        let fits = match &s {
                            Sub::Public { local, media } => {
                                local.is_none_or(|l| l == st.local) && (!media || has_media)
                            }
                            Sub::Hashtag { tag, local } => {
                                tags.contains(tag) && (!local || st.local)
                            }
                            _ => false,
                        };
                        if fits {
                            send(state, c, &s, event, Some(payload.clone()));
                        }
                    }
                }
            }
        }
    }

    // Direct messages: the conversation, to each participant's stream.
    if st.visibility == "direct" && event == "update" {
        let mut people = guise_core::stream::mentioned(db, id).await?;
        people.push(st.identity_id);
        let faces = guise_core::accounts::identities_by_ids(db, &people).await?;
        for c in conns {
            if !c.viewer.read_statuses || !c.subs().contains(&Sub::Direct) {
                continue;
            }
            let mine: Vec<i64> = faces
                .iter()
                .filter(|f| {
                    (!c.viewer.anonymous && c.viewer.face == Some(f.id)) || c.viewer.owns(f)
                })
                .map(|f| f.id)
                .collect();
            if mine.is_empty() {
                continue;
            }
            match guise_core::conversations::get(db, &mine, st.thread_root_id, false).await {
                Ok(conv) => {
                    let v = crate::mastodon_api::conversations::json_of(state, db, &conv)
                        .await
                        .map_err(|e| CoreError::Internal(e.to_string()))?;
                    send(state, c, &Sub::Direct, "conversation", Some(json(&v)));
                }
                Err(CoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

async fn deleted(
    state: &AppState,
    db: &mut DbConn,
    conns: &[Arc<Conn>],
    id: i64,
    author: i64,
    addressed: &[i64],
) -> CoreResult<()> {
    let payload: Arc<str> = id.to_string().into();
    let faces: BTreeSet<i64> = conns.iter().filter_map(|c| c.viewer.face).collect();
    let faces: Vec<i64> = faces.into_iter().collect();
    let mut told = guise_core::stream::followers_among(db, author, &faces).await?;
    told.push(author);
    told.extend_from_slice(addressed);
    // Whether the author was one of an "Anonymous" stream's faces: its row
    // is still there for a post (only a face's deletion takes it away).
    let author_row = guise_core::accounts::get_identity(db, author).await.ok();
    for c in conns {
        if !c.viewer.read_statuses {
            continue;
        }
        let sees_home = match c.viewer.face {
            Some(f) if !c.viewer.anonymous => told.contains(&f),
            _ => author_row.as_ref().is_some_and(|a| c.viewer.owns(a)),
        };
        for s in c.subs() {
            let to = match &s {
                Sub::User | Sub::List(_) => sees_home,
                Sub::Public { .. } | Sub::Hashtag { .. } => true,
                Sub::UserNotification | Sub::Direct => false,
            };
            if to {
                send(state, c, &s, "delete", Some(payload.clone()));
            }
        }
    }
    Ok(())
}

async fn notified(
    state: &AppState,
    db: &mut DbConn,
    conns: &[Arc<Conn>],
    notification: i64,
    face: i64,
) -> CoreResult<()> {
    let target = match guise_core::accounts::get_identity(db, face).await {
        Ok(t) => t,
        Err(CoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let row = match guise_core::social::get_notification(db, &[face], notification).await {
        Ok(r) => r,
        Err(CoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut rendered: HashMap<Option<i64>, Option<Arc<str>>> = HashMap::new();
    for c in conns {
        if !c.viewer.read_notifications {
            continue;
        }
        let theirs = c.viewer.notified.contains(&face) || c.viewer.owns(&target);
        if !theirs {
            continue;
        }
        let viewer = if c.viewer.anonymous {
            None
        } else {
            c.viewer.face
        };
        let payload = match rendered.get(&viewer) {
            Some(p) => p.clone(),
            None => {
                let out =
                    types::notifications(state, db, viewer, std::slice::from_ref(&row)).await?;
                let p = out.first().map(json);
                rendered.insert(viewer, p.clone());
                p
            }
        };
        let Some(p) = payload else { continue };
        for s in c.subs() {
            if matches!(s, Sub::User | Sub::UserNotification) {
                send(state, c, &s, "notification", Some(p.clone()));
            }
        }
    }
    Ok(())
}
