//! Instance metadata, NodeInfo, and the endpoints apps call at start-up that
//! answer the right shape while Guise has nothing to show there yet.

use super::ok;
use crate::error::ApiResult;
use crate::extract::{Auth, MaybeAuth};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub const MASTODON_COMPAT: &str = "4.3.0";

pub fn version_string() -> String {
    format!(
        "{MASTODON_COMPAT} (compatible; Guise {})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Tiers on offer: those the admin enabled.
pub fn tiers_on_offer(state: &AppState) -> Vec<&'static str> {
    state
        .rules()
        .tiers_enabled
        .iter()
        .map(|t| t.as_str())
        .collect()
}

fn configuration(state: &AppState) -> serde_json::Value {
    json!({
        "accounts": { "max_featured_tags": 0, "max_pinned_statuses": guise_core::keepings::MAX_PINNED },
        "statuses": {
            "max_characters": state.live().policy.max_characters,
            "max_media_attachments": guise_core::uploads::MAX_ATTACHMENTS,
            "characters_reserved_per_url": 23
        },
        "media_attachments": {
            "supported_mime_types": crate::imaging::ACCEPTED,
            "image_size_limit": state.config.media.max_upload_mb.saturating_mul(1024 * 1024),
            "image_matrix_limit": crate::imaging::MAX_PIXELS,
            "video_size_limit": 0, "video_frame_rate_limit": 0, "video_matrix_limit": 0,
            "description_limit": guise_core::uploads::MAX_DESCRIPTION
        },
        "polls": {
            "max_options": guise_core::polls::MAX_OPTIONS,
            "max_characters_per_option": guise_core::polls::MAX_OPTION_CHARS,
            "min_expiration": guise_core::polls::MIN_EXPIRATION,
            "max_expiration": guise_core::polls::MAX_EXPIRATION
        }
    })
}

/// Where apps open their streams: this instance's own address, WebSocket
/// scheme (apps append `/api/v1/streaming`).
fn streaming_url(state: &AppState) -> String {
    let base = &state.base_url;
    match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", base.trim_start_matches("http://")),
    }
}

/// Mastodon's `Rule` entities: the instance's rules, in order.
pub async fn rules_json(conn: &mut guise_core::DbConn) -> ApiResult<Vec<serde_json::Value>> {
    Ok(guise_core::rules::all(conn)
        .await?
        .iter()
        .map(|r| json!({ "id": r.id.to_string(), "text": r.text, "hint": r.hint }))
        .collect())
}

async fn rules(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    Ok(ok(&rules_json(&mut conn).await?))
}

async fn v1(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let rules = rules_json(&mut conn).await?;
    let (users, posts, domains) = guise_core::accounts::instance_stats(&mut conn).await?;
    let i = &state.config.instance;
    Ok(ok(&json!({
        "uri": i.domain,
        "title": i.name,
        "short_description": i.description,
        "description": i.description,
        "email": i.contact_email,
        "version": version_string(),
        "urls": { "streaming_api": streaming_url(&state) },
        "stats": { "user_count": users, "status_count": posts, "domain_count": domains },
        "thumbnail": null,
        "languages": ["en"],
        "registrations": state.live().policy.registrations_open,
        "approval_required": state.live().policy.registrations_require_approval,
        "invites_enabled": false,
        "configuration": configuration(&state),
        "contact_account": null,
        "rules": rules,
        "guise": { "tiers": tiers_on_offer(&state) }
    })))
}

async fn v2(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let rules = rules_json(&mut conn).await?;
    let (users, _, _) = guise_core::accounts::instance_stats(&mut conn).await?;
    let i = &state.config.instance;
    let mut config = configuration(&state);
    if let Some(o) = config.as_object_mut() {
        o.insert("urls".into(), json!({ "streaming": streaming_url(&state) }));
        o.insert(
            "vapid".into(),
            json!({ "public_key": state.vapid().await?.public_key() }),
        );
        o.insert("translation".into(), json!({ "enabled": false }));
    }
    Ok(ok(&json!({
        "domain": i.domain,
        "title": i.name,
        "version": version_string(),
        "source_url": "https://github.com/guise-social/guise",
        "description": i.description,
        "usage": { "users": { "active_month": users } },
        "thumbnail": { "url": format!("{}/avatars/original/missing.png", state.base_url) },
        "icon": [],
        "languages": ["en"],
        "configuration": config,
        "registrations": { "enabled": state.live().policy.registrations_open, "approval_required": state.live().policy.registrations_require_approval, "message": null, "url": null },
        "api_versions": { "mastodon": 2 },
        "contact": { "email": i.contact_email, "account": null },
        "rules": rules,
        "guise": { "tiers": tiers_on_offer(&state) }
    })))
}

async fn nodeinfo_links(state: web::Data<AppState>) -> HttpResponse {
    ok(&json!({
        "links": [
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0", "href": format!("{}/nodeinfo/2.0", state.base_url) },
            { "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": format!("{}/nodeinfo/2.1", state.base_url) }
        ]
    }))
}

async fn nodeinfo(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let version = path.into_inner();
    if version != "2.0" && version != "2.1" {
        return Err(crate::error::ApiError::not_found());
    }
    let mut conn = state.db.conn().await?;
    let (users, posts, _) = guise_core::accounts::instance_stats(&mut conn).await?;
    let live = state.live();
    let mut software = json!({ "name": "guise", "version": env!("CARGO_PKG_VERSION") });
    if version == "2.1" {
        if let Some(o) = software.as_object_mut() {
            o.insert(
                "repository".into(),
                json!("https://github.com/guise-social/guise"),
            );
        }
    }
    let body = json!({
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": state.live().policy.registrations_open,
        "usage": { "users": { "total": users }, "localPosts": posts },
        "metadata": {
            "nodeName": state.config.instance.name,
            "nodeDescription": state.config.instance.description,
            // Clients that recognise only known software names read this.
            "upstream": { "name": "mastodon", "version": MASTODON_COMPAT },
            "guise": {
                "tiers": tiers_on_offer(&state),
                "anonymous_ownership": if tiers_on_offer(&state).contains(&"anonymous") { json!("sealed") } else { json!(null) },
                // Sealed even against this instance's own staff: no one
                // here can tell who is behind an anonymous face.
                "staff_can_unmask_anonymous": false,
                "ip_logging": false,
                "policy": {
                    "version": live.version,
                    "real_names_verified": live.policy.real_name_requires_verification,
                    "anonymous_face_per": match live.policy.anonymous_face_per {
                        crate::config::FacePer::Thread => "thread",
                        crate::config::FacePer::Post => "post",
                    },
                    "anonymous_top_level": live.policy.anonymous_top_level,
                    "anonymous_posts_per_epoch": live.policy.anonymous_posts_per_epoch,
                    "real_name_posts_per_epoch": live.policy.real_name_posts_per_epoch,
                    "pseudonymous_posts_per_epoch": live.policy.pseudonymous_posts_per_epoch,
                    "trusted_verifiers": live.policy.trusted_verifiers,
                    "announcer_needs_approval": live.policy.announcer_needs_approval,
                }
            }
        }
    });
    let ctype = format!(
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\""
    );
    Ok(HttpResponse::Ok().content_type(ctype).json(body))
}

async fn empty_list() -> HttpResponse {
    ok(&json!([]))
}

async fn empty_list_authed(auth: Auth) -> ApiResult<HttpResponse> {
    auth.require("read")
        .or_else(|_| auth.require("read:accounts"))
        .or_else(|_| auth.require("read:statuses"))?;
    Ok(ok(&json!([])))
}

/// Mastodon's ExtendedDescription: the instance's description as HTML.
async fn extended_description(state: web::Data<AppState>) -> HttpResponse {
    let content = guise_core::text::escape(&state.config.instance.description);
    ok(&json!({
        // No edit history is kept: the Unix epoch says "never updated".
        "updated_at": "1970-01-01T00:00:00.000Z",
        "content": format!("<p>{content}</p>"),
    }))
}

async fn public_empty(_auth: MaybeAuth) -> HttpResponse {
    ok(&json!([]))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/instance", web::get().to(v1))
        .route("/api/v2/instance", web::get().to(v2))
        .route("/.well-known/nodeinfo", web::get().to(nodeinfo_links))
        .route("/nodeinfo/{version}", web::get().to(nodeinfo))
        .route("/api/v1/custom_emojis", web::get().to(empty_list))
        .route("/api/v1/instance/peers", web::get().to(empty_list))
        .route("/api/v1/instance/rules", web::get().to(rules))
        .route(
            "/api/v1/instance/extended_description",
            web::get().to(extended_description),
        )
        .route("/api/v1/trends", web::get().to(public_empty))
        .route("/api/v1/trends/tags", web::get().to(public_empty))
        .route("/api/v1/trends/statuses", web::get().to(public_empty))
        .route("/api/v1/trends/links", web::get().to(public_empty))
        .route("/api/v1/suggestions", web::get().to(empty_list_authed))
        .route("/api/v2/suggestions", web::get().to(empty_list_authed))
        .route("/api/v1/featured_tags", web::get().to(empty_list_authed))
        .route("/api/v1/endorsements", web::get().to(empty_list_authed));
}
