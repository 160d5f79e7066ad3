//! `/api/v1/streaming`: one WebSocket with `subscribe`/`unsubscribe`
//! messages, or one server-sent-events stream per URL, and the health
//! check apps probe first.

use super::{Hub, Out, Registration, Sub, SubError, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use guise_core::oauth::Binding;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Apps probe this before opening a stream.
async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// The token: the `Authorization` header, the `access_token` parameter,
/// or (browsers cannot set headers on a WebSocket) `Sec-WebSocket-Protocol`.
fn token(req: &HttpRequest, query: &Query) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some((scheme, t)) = v.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(t.trim().to_owned());
            }
        }
    }
    if let Some(t) = query.access_token.as_ref().filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    req.headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[derive(Deserialize, Default)]
struct Query {
    access_token: Option<String>,
    stream: Option<String>,
    tag: Option<String>,
    list: Option<String>,
}

/// Who the token streams for. Every stream needs a signed-in user.
async fn viewer(state: &AppState, auth: &Auth) -> ApiResult<Viewer> {
    use crate::mastodon_api::access::{answer, Answer, Group};
    if auth.kind().map(|k| answer(k, Group::Streaming)) == Some(Answer::Refused) {
        return Err(ApiError::unprocessable("This token cannot stream"));
    }
    let read = |s: &str| auth.scopes.allows(s);
    let mut v = Viewer {
        face: None,
        notified: Vec::new(),
        k_anon: auth.k_anon.clone(),
        anonymous: false,
        read_statuses: read("read:statuses"),
        read_notifications: read("read:notifications"),
    };
    match auth.binding() {
        Some(Binding::Face(id)) => {
            v.face = Some(id);
            v.notified.push(id);
        }
        Some(Binding::All) => {
            v.face = auth.face.as_ref().map(|f| f.id);
            let mut conn = state.db.conn().await?;
            let account = auth.account_id()?;
            v.notified = guise_core::accounts::faces_of(&mut conn, account)
                .await?
                .iter()
                .map(|f| f.id)
                .collect();
        }
        Some(Binding::Anonymous) => v.anonymous = true,
        None => {
            return Err(ApiError::unauthorized());
        }
    }
    if !v.read_statuses && !v.read_notifications {
        return Err(ApiError::forbidden(
            "This action is outside the authorized scopes",
        ));
    }
    Ok(v)
}

async fn authenticated(state: &AppState, req: &HttpRequest, q: &Query) -> ApiResult<Auth> {
    let raw = token(req, q).ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Missing access token",
        )
    })?;
    crate::extract::authenticate(state, &raw).await
}

/// Checks that the viewer may have `sub`.
async fn allowed(state: &AppState, v: &Viewer, sub: &Sub) -> Result<(), SubError> {
    let needs_notifications = *sub == Sub::UserNotification;
    if needs_notifications && !v.read_notifications || !needs_notifications && !v.read_statuses {
        return Err(SubError::Scope);
    }
    if let Sub::List(id) = sub {
        let Some(face) = v.face.filter(|_| !v.anonymous) else {
            return Err(SubError::NotYourList);
        };
        let Ok(mut conn) = state.db.conn().await else {
            return Err(SubError::NotYourList);
        };
        if guise_core::lists::get(&mut conn, face, *id).await.is_err() {
            return Err(SubError::NotYourList);
        }
    }
    Ok(())
}

fn error_frame(e: SubError) -> String {
    let (msg, status) = e.message();
    serde_json::json!({ "error": msg, "status": status }).to_string()
}

#[derive(Deserialize)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    stream: String,
    tag: Option<String>,
    list: Option<serde_json::Value>,
}

async fn command(state: &AppState, reg: &Registration, text: &str) -> Option<String> {
    let Ok(cmd) = serde_json::from_str::<Command>(text) else {
        return Some(serde_json::json!({ "error": "Invalid JSON", "status": 400 }).to_string());
    };
    let list = match &cmd.list {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let sub = match Sub::parse(&cmd.stream, cmd.tag.as_deref(), list.as_deref()) {
        Ok(s) => s,
        Err(e) => return Some(error_frame(e)),
    };
    match cmd.kind.as_str() {
        "subscribe" => match allowed(state, &reg.conn.viewer, &sub).await {
            Ok(()) => {
                reg.conn.subscribe(sub);
                None
            }
            Err(e) => Some(error_frame(e)),
        },
        "unsubscribe" => {
            reg.conn.unsubscribe(&sub);
            None
        }
        _ => {
            Some(serde_json::json!({ "error": "Unknown message type", "status": 400 }).to_string())
        }
    }
}

/// The WebSocket: subscriptions come as messages (or one as `stream=`).
async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    web::Query(q): web::Query<Query>,
) -> ApiResult<HttpResponse> {
    if !req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return Err(ApiError::bad_request(
            "This endpoint expects a WebSocket upgrade; server-sent events live under /api/v1/streaming/<stream>",
        ));
    }
    let auth = authenticated(&state, &req, &q).await?;
    let v = viewer(&state, &auth).await?;
    // masto.js sends the token as the sub-protocol and wants it echoed.
    let offered: Vec<String> = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(',').map(|p| p.trim().to_owned()).collect())
        .unwrap_or_default();
    let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
    let (response, mut session, mut msgs) =
        actix_ws::handle_with_protocols(&req, body, &offered)
            .map_err(|_| ApiError::bad_request("Bad WebSocket handshake"))?;
    let state = state.get_ref().clone();
    let hub: Arc<Hub> = state.hub.clone();
    let (reg, mut rx) = hub.register(v);
    let first = match q.stream.as_deref() {
        Some(s) => Some(match Sub::parse(s, q.tag.as_deref(), q.list.as_deref()) {
            Ok(sub) => allowed(&state, &reg.conn.viewer, &sub).await.map(|()| sub),
            Err(e) => Err(e),
        }),
        None => None,
    };
    actix_web::rt::spawn(async move {
        match first {
            Some(Ok(sub)) => reg.conn.subscribe(sub),
            Some(Err(e)) => {
                let _ = session.text(error_frame(e)).await;
            }
            None => {}
        }
        let mut ping = tokio::time::interval(Duration::from_secs(30));
        ping.tick().await;
        loop {
            tokio::select! {
                out = rx.recv() => {
                    let Some(out) = out else { break };
                    if session.text(out.ws()).await.is_err() {
                        break;
                    }
                }
                msg = msgs.next() => {
                    match msg {
                        Some(Ok(actix_ws::Message::Text(t))) => {
                            if let Some(reply) = command(&state, &reg, &t).await {
                                if session.text(reply).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Some(Ok(actix_ws::Message::Ping(b))) => {
                            if session.pong(&b).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(actix_ws::Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    }
                }
                _ = ping.tick() => {
                    if session.ping(b"").await.is_err() {
                        break;
                    }
                }
            }
        }
        drop(reg);
        let _ = session.close(None).await;
    });
    Ok(response)
}

/// A server-sent-events stream for one subscription.
async fn sse(
    req: HttpRequest,
    state: web::Data<AppState>,
    web::Query(q): web::Query<Query>,
    stream: &'static str,
) -> ApiResult<HttpResponse> {
    let auth = authenticated(&state, &req, &q).await?;
    let v = viewer(&state, &auth).await?;
    let sub = Sub::parse(stream, q.tag.as_deref(), q.list.as_deref()).map_err(|e| {
        let (msg, status) = e.message();
        ApiError::new(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
            msg,
        )
    })?;
    if let Err(e) = allowed(&state, &v, &sub).await {
        let (msg, status) = e.message();
        return Err(ApiError::new(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
            msg,
        ));
    }
    let (reg, rx) = state.hub.register(v);
    reg.conn.subscribe(sub);
    // A comment line every 15 s keeps proxies from closing an idle stream.
    let beats = tokio_stream_interval(Duration::from_secs(15));
    let frames = futures::stream::unfold((reg, rx), |(reg, mut rx)| async move {
        let out: Out = rx.recv().await?;
        Some((out.sse(), (reg, rx)))
    });
    let body = futures::stream::select(frames, beats.map(|_| ":thump\n\n".to_owned()))
        .map(|s| Ok::<_, actix_web::Error>(web::Bytes::from(s)));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(
            futures::stream::once(async { Ok(web::Bytes::from_static(b":)\n\n")) }).chain(body),
        ))
}

fn tokio_stream_interval(every: Duration) -> impl futures::Stream<Item = ()> {
    futures::stream::unfold(
        tokio::time::interval_at(tokio::time::Instant::now() + every, every),
        |mut i| async move {
            i.tick().await;
            Some(((), i))
        },
    )
}

macro_rules! sse_route {
    ($name:ident, $stream:literal) => {
        async fn $name(
            req: HttpRequest,
            state: web::Data<AppState>,
            q: web::Query<Query>,
        ) -> ApiResult<HttpResponse> {
            sse(req, state, q, $stream).await
        }
    };
}

sse_route!(sse_user, "user");
sse_route!(sse_user_notification, "user:notification");
sse_route!(sse_public, "public");
sse_route!(sse_public_local, "public:local");
sse_route!(sse_public_remote, "public:remote");
sse_route!(sse_hashtag, "hashtag");
sse_route!(sse_hashtag_local, "hashtag:local");
sse_route!(sse_list, "list");
sse_route!(sse_direct, "direct");

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/streaming/health", web::get().to(health))
        .route("/api/v1/streaming/user", web::get().to(sse_user))
        .route(
            "/api/v1/streaming/user/notification",
            web::get().to(sse_user_notification),
        )
        .route("/api/v1/streaming/public", web::get().to(sse_public))
        .route(
            "/api/v1/streaming/public/local",
            web::get().to(sse_public_local),
        )
        .route(
            "/api/v1/streaming/public/remote",
            web::get().to(sse_public_remote),
        )
        .route("/api/v1/streaming/hashtag", web::get().to(sse_hashtag))
        .route(
            "/api/v1/streaming/hashtag/local",
            web::get().to(sse_hashtag_local),
        )
        .route("/api/v1/streaming/list", web::get().to(sse_list))
        .route("/api/v1/streaming/direct", web::get().to(sse_direct))
        .route("/api/v1/streaming", web::get().to(websocket));
}
