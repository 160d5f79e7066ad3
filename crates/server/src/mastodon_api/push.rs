//! Web Push (`/api/v1/push/subscription`) and the job that sends pushes.
//!
//! One subscription per token, for persistent faces only: an "Anonymous"
//! token is refused (422) — a push for an anonymous face would need a
//! stored link from the face to a device — and reads as having none (404).
//! An "All my faces" token's subscription takes every persistent face's
//! notifications and none of the anonymous ones. The subscription is found
//! by the token's `push_tag`, which only its sealed row yields.
//!
//! Pushes are owed in the transaction that writes a notification
//! (`guise_core::push::enqueue`) and sent by the worker jobs: encrypted
//! (RFC 8291 `aes128gcm` when the app asked for `standard`, else the legacy
//! `aesgcm` Mastodon apps expect), signed with the instance's VAPID key,
//! retried with backoff, and the subscription dropped on 404 or 410.

use super::access::Group;
use super::ok;
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::push::{self, NewSubscription, Subscription, ALERTS};
use guise_federation::webpush;
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize, Default)]
struct PushParams {
    #[serde(default)]
    subscription: Option<Value>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default, deserialize_with = "de::opt_string")]
    policy: Option<String>,
}

impl PushParams {
    /// The alerts switched on, if the request names any.
    fn alerts(&self) -> Option<Vec<String>> {
        let given = self.data.as_ref()?.get("alerts")?.as_object()?;
        Some(
            ALERTS
                .iter()
                .filter(|a| given.get(**a).and_then(de::bool_of).unwrap_or(false))
                .map(|a| (*a).to_owned())
                .collect(),
        )
    }

    /// `policy` at the top or inside `data`, as apps send either.
    fn policy(&self) -> Option<String> {
        self.policy.clone().or_else(|| {
            self.data
                .as_ref()?
                .get("policy")?
                .as_str()
                .map(str::to_owned)
        })
    }
}

async fn entity(state: &AppState, s: &Subscription) -> ApiResult<Value> {
    let alerts: Map<String, Value> = ALERTS
        .iter()
        .map(|a| ((*a).to_owned(), json!(s.alerts.iter().any(|x| x == a))))
        .collect();
    Ok(json!({
        "id": s.id.to_string(),
        "endpoint": s.endpoint,
        "standard": s.standard,
        "alerts": alerts,
        "policy": s.policy,
        "server_key": state.vapid().await?.public_key(),
    }))
}

async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PushParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::PushWrite, "push")?;
    let sub = p.subscription.as_ref();
    let field = |path: &[&str]| -> Option<String> {
        let mut v = sub?;
        for k in path {
            v = v.get(*k)?;
        }
        v.as_str().map(str::to_owned)
    };
    let endpoint = field(&["endpoint"]).unwrap_or_default();
    let url = url::Url::parse(&endpoint)
        .map_err(|_| ApiError::unprocessable("Validation failed: Endpoint is not a valid URL"))?;
    guise_federation::fetch::check_url(&url, state.config.federation.allow_private_addresses)
        .map_err(|e| ApiError::unprocessable(format!("Validation failed: Endpoint {e}")))?;
    let key = |name: &str| {
        field(&["keys", name])
            .as_deref()
            .and_then(webpush::decode_key)
            .ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "Validation failed: subscription[keys][{name}] is missing or not base64"
                ))
            })
    };
    let standard = sub
        .and_then(|s| s.get("standard"))
        .and_then(de::bool_of)
        .unwrap_or(false);
    let new = NewSubscription {
        endpoint,
        p256dh: key("p256dh")?,
        auth: key("auth")?,
        standard,
        alerts: p.alerts().unwrap_or_default(),
        policy: p.policy().unwrap_or_else(|| "all".to_owned()),
    };
    let mut conn = state.db.conn().await?;
    let s = push::subscribe(&mut conn, &auth.session, new).await?;
    Ok(ok(&entity(&state, &s).await?))
}

async fn show(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if auth.answer(Group::PushRead, "push")? == super::access::Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let mut conn = state.db.conn().await?;
    let s = push::get(&mut conn, &auth.session.push_tag).await?;
    Ok(ok(&entity(&state, &s).await?))
}

async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PushParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::PushWrite, "push")?;
    let mut conn = state.db.conn().await?;
    let s = push::update(&mut conn, &auth.session.push_tag, p.alerts(), p.policy()).await?;
    Ok(ok(&entity(&state, &s).await?))
}

async fn delete(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    auth.answer(Group::PushWrite, "push")?;
    let mut conn = state.db.conn().await?;
    push::unsubscribe(&mut conn, &auth.session.push_tag).await?;
    Ok(ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/push/subscription")
            .route(web::post().to(create))
            .route(web::get().to(show))
            .route(web::put().to(update))
            .route(web::delete().to(delete)),
    );
}

/// At most this many characters of a post go into a push (as Mastodon).
const BODY_CHARS: usize = 140;
/// A sender's name is cut to this many characters in a push's title.
const NAME_CHARS: usize = 64;
/// Tries before a push is given up (30 s, 2 min, 8 min, 32 min between).
const MAX_ATTEMPTS: i32 = 5;

fn cut(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The push's JSON, as Mastodon's: what happened, who did it, and a few
/// words of the post. No access token: Guise does not keep raw tokens.
async fn payload(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    n: &guise_core::models::Notification,
) -> guise_core::CoreResult<Vec<u8>> {
    let from = guise_core::accounts::get_identity(conn, n.from_identity_id).await?;
    let name = if from.tier() == guise_policy::Tier::Anonymous {
        "Anonymous".to_owned()
    } else if from.display_name.trim().is_empty() {
        from.handle.clone()
    } else {
        cut(&from.display_name, NAME_CHARS)
    };
    let title = match n.kind.as_str() {
        "mention" => format!("{name} mentioned you"),
        "status" => format!("{name} just posted"),
        "reblog" => format!("{name} boosted your post"),
        "follow" => format!("{name} followed you"),
        "follow_request" => format!("{name} has requested to follow you"),
        "favourite" => format!("{name} favourited your post"),
        "poll" => "A poll has ended".to_owned(),
        "update" => format!("{name} edited a post"),
        other => format!("New notification: {other}"),
    };
    let status = match n.status_id {
        Some(id) => guise_core::statuses::get_status(conn, id).await.ok(),
        None => None,
    };
    let body = match status {
        Some(s) if !s.spoiler_text.trim().is_empty() => cut(&s.spoiler_text, BODY_CHARS),
        Some(s) if !s.source_text.trim().is_empty() => cut(&s.source_text, BODY_CHARS),
        Some(s) => cut(&guise_core::text::html_to_text(&s.content), BODY_CHARS),
        None => format!("@{}", from.acct()),
    };
    Ok(json!({
        "notification_id": n.id,
        "notification_type": n.kind,
        "preferred_locale": "en",
        "title": title,
        "body": body,
        "icon": super::types::avatar_url(state, &from),
    })
    .to_string()
    .into_bytes())
}

/// What became of one push.
enum Outcome {
    Taken,
    Gone,
    Retry,
    GiveUp,
}

async fn send_one(
    state: &AppState,
    vapid: &webpush::Vapid,
    contact: &str,
    d: &push::Due,
) -> guise_core::CoreResult<Outcome> {
    let mut conn = state.db.conn().await?;
    let Some(n) = push::notification(&mut conn, d.notification_id).await? else {
        return Ok(Outcome::GiveUp);
    };
    let body = payload(state, &mut conn, &n).await?;
    drop(conn);
    let s = &d.subscription;
    let Ok(endpoint) = url::Url::parse(&s.endpoint) else {
        return Ok(Outcome::Gone);
    };
    let target = webpush::Target {
        endpoint: &endpoint,
        standard: s.standard,
        p256dh: &s.p256dh,
        auth: &s.auth,
    };
    let message =
        match webpush::message(vapid, target, state.clock.now().timestamp(), contact, &body) {
            Ok(m) => m,
            // A key that is no P-256 point never will be.
            Err(guise_core::CoreError::Invalid { .. }) => return Ok(Outcome::Gone),
            Err(e) => return Err(e),
        };
    Ok(
        match state
            .fetcher
            .post(&endpoint, message.headers, message.body)
            .await
        {
            Ok(Some(200..=299)) => Outcome::Taken,
            Ok(Some(404 | 410)) => Outcome::Gone,
            Ok(Some(429 | 500..=599)) | Ok(None) => Outcome::Retry,
            Ok(Some(status)) => {
                tracing::warn!(status, "push service refused a push");
                Outcome::GiveUp
            }
            Err(e) => {
                tracing::warn!(error = %e, "push endpoint refused");
                Outcome::GiveUp
            }
        },
    )
}

/// Sends what is due, a few at a time; how many were tried.
pub async fn send_due(state: &AppState) -> guise_core::CoreResult<usize> {
    use futures::StreamExt;
    let due = {
        let mut conn = state.db.conn().await?;
        push::lease_due(
            &mut conn,
            state.clock.as_ref(),
            32,
            chrono::Duration::minutes(5),
        )
        .await?
    };
    if due.is_empty() {
        return Ok(0);
    }
    let vapid = state.vapid().await?;
    let contact = match state.config.instance.contact_email.trim() {
        "" => state.base_url.to_string(),
        email => format!("mailto:{email}"),
    };
    let tried = due.len();
    futures::stream::iter(due)
        .for_each_concurrent(8, |d| {
            let (vapid, contact) = (vapid.clone(), contact.clone());
            async move {
                let outcome = send_one(state, &vapid, &contact, &d).await;
                if let Err(e) = &outcome {
                    tracing::warn!(error = %e, "preparing a push");
                }
                let Ok(mut conn) = state.db.conn().await else {
                    return;
                };
                let settled = match outcome {
                    Ok(Outcome::Taken | Outcome::GiveUp) => {
                        push::settle(&mut conn, d.subscription.id, d.notification_id).await
                    }
                    Ok(Outcome::Gone) => {
                        push::drop_subscription(&mut conn, d.subscription.id).await
                    }
                    Ok(Outcome::Retry) | Err(_) if d.attempts >= MAX_ATTEMPTS => {
                        push::settle(&mut conn, d.subscription.id, d.notification_id).await
                    }
                    Ok(Outcome::Retry) | Err(_) => {
                        let wait = 30i64 << (2 * (d.attempts.clamp(1, MAX_ATTEMPTS) - 1));
                        push::retry_at(
                            &mut conn,
                            d.subscription.id,
                            d.notification_id,
                            state.clock.now() + chrono::Duration::seconds(wait),
                        )
                        .await
                    }
                };
                if let Err(e) = settled {
                    tracing::warn!(error = %e, "settling a push");
                }
            }
        })
        .await;
    Ok(tried)
}
