//! Every endpoint the client-API issue names answers: none falls through to
//! "no such route". An unknown id may still be "Record not found" — that is
//! the endpoint answering — but never the router's own 404.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::json;

const ID: &str = "1234567";

/// (method, path) of every endpoint of the client-API issue, as Mastodon's
/// documentation names them.
fn table() -> Vec<(Method, String)> {
    use Method as M;
    let g = |p: &str| (M::GET, p.replace(":id", ID));
    let po = |p: &str| (M::POST, p.replace(":id", ID));
    let pu = |p: &str| (M::PUT, p.replace(":id", ID));
    let pa = |p: &str| (M::PATCH, p.replace(":id", ID));
    let d = |p: &str| (M::DELETE, p.replace(":id", ID));
    vec![
        // Start-up and who I am.
        g("/api/v1/accounts/verify_credentials"),
        pa("/api/v1/accounts/update_credentials"),
        g("/api/v1/preferences"),
        g("/api/v1/instance"),
        g("/api/v2/instance"),
        g("/api/v1/instance/extended_description"),
        g("/api/v1/custom_emojis"),
        g("/api/v1/announcements"),
        po("/api/v1/announcements/:id/dismiss"),
        pu("/api/v1/announcements/:id/reactions/%F0%9F%91%8D"),
        d("/api/v1/announcements/:id/reactions/%F0%9F%91%8D"),
        // Markers.
        g("/api/v1/markers"),
        po("/api/v1/markers"),
        // Statuses and what one does to them.
        po("/api/v1/statuses"),
        g("/api/v1/statuses/:id"),
        pu("/api/v1/statuses/:id"),
        d("/api/v1/statuses/:id"),
        g("/api/v1/statuses/:id/context"),
        g("/api/v1/statuses/:id/history"),
        g("/api/v1/statuses/:id/source"),
        g("/api/v1/statuses/:id/favourited_by"),
        g("/api/v1/statuses/:id/reblogged_by"),
        po("/api/v1/statuses/:id/favourite"),
        po("/api/v1/statuses/:id/unfavourite"),
        po("/api/v1/statuses/:id/reblog"),
        po("/api/v1/statuses/:id/unreblog"),
        po("/api/v1/statuses/:id/bookmark"),
        po("/api/v1/statuses/:id/unbookmark"),
        po("/api/v1/statuses/:id/pin"),
        po("/api/v1/statuses/:id/unpin"),
        po("/api/v1/statuses/:id/mute"),
        po("/api/v1/statuses/:id/unmute"),
        g("/api/v1/bookmarks"),
        g("/api/v1/favourites"),
        // Accounts and relations.
        g("/api/v1/accounts/:id"),
        g("/api/v1/accounts/:id/statuses"),
        g("/api/v1/accounts/:id/followers"),
        g("/api/v1/accounts/:id/following"),
        g("/api/v1/accounts/:id/lists"),
        g("/api/v1/accounts/relationships"),
        g("/api/v1/accounts/lookup"),
        po("/api/v1/accounts/:id/follow"),
        po("/api/v1/accounts/:id/unfollow"),
        po("/api/v1/accounts/:id/block"),
        po("/api/v1/accounts/:id/unblock"),
        po("/api/v1/accounts/:id/mute"),
        po("/api/v1/accounts/:id/unmute"),
        po("/api/v1/accounts/:id/note"),
        g("/api/v1/blocks"),
        g("/api/v1/mutes"),
        g("/api/v1/follow_requests"),
        po("/api/v1/follow_requests/:id/authorize"),
        po("/api/v1/follow_requests/:id/reject"),
        g("/api/v1/domain_blocks"),
        po("/api/v1/domain_blocks"),
        d("/api/v1/domain_blocks"),
        po("/api/v1/reports"),
        // Notifications, v1 and grouped v2.
        g("/api/v1/notifications"),
        g("/api/v1/notifications/:id"),
        po("/api/v1/notifications/clear"),
        po("/api/v1/notifications/:id/dismiss"),
        g("/api/v2/notifications"),
        g("/api/v2/notifications/unread_count"),
        // Timelines, lists, tags.
        g("/api/v1/timelines/home"),
        g("/api/v1/timelines/public"),
        g("/api/v1/timelines/tag/guise"),
        g("/api/v1/timelines/list/:id"),
        g("/api/v1/lists"),
        po("/api/v1/lists"),
        g("/api/v1/lists/:id"),
        pu("/api/v1/lists/:id"),
        d("/api/v1/lists/:id"),
        g("/api/v1/lists/:id/accounts"),
        po("/api/v1/lists/:id/accounts"),
        d("/api/v1/lists/:id/accounts"),
        g("/api/v1/followed_tags"),
        g("/api/v1/tags/guise"),
        po("/api/v1/tags/guise/follow"),
        po("/api/v1/tags/guise/unfollow"),
        // Filters, v2 and v1.
        g("/api/v2/filters"),
        po("/api/v2/filters"),
        g("/api/v2/filters/:id"),
        pu("/api/v2/filters/:id"),
        d("/api/v2/filters/:id"),
        g("/api/v2/filters/:id/keywords"),
        po("/api/v2/filters/:id/keywords"),
        g("/api/v2/filters/keywords/:id"),
        pu("/api/v2/filters/keywords/:id"),
        d("/api/v2/filters/keywords/:id"),
        g("/api/v2/filters/:id/statuses"),
        po("/api/v2/filters/:id/statuses"),
        g("/api/v2/filters/statuses/:id"),
        d("/api/v2/filters/statuses/:id"),
        g("/api/v1/filters"),
        po("/api/v1/filters"),
        g("/api/v1/filters/:id"),
        pu("/api/v1/filters/:id"),
        d("/api/v1/filters/:id"),
        // Conversations, scheduled posts.
        g("/api/v1/conversations"),
        d("/api/v1/conversations/:id"),
        po("/api/v1/conversations/:id/read"),
        g("/api/v1/scheduled_statuses"),
        g("/api/v1/scheduled_statuses/:id"),
        pu("/api/v1/scheduled_statuses/:id"),
        d("/api/v1/scheduled_statuses/:id"),
        // Media, profile pictures, polls.
        po("/api/v1/media"),
        po("/api/v2/media"),
        g("/api/v1/media/:id"),
        pu("/api/v1/media/:id"),
        d("/api/v1/media/:id"),
        d("/api/v1/profile/avatar"),
        d("/api/v1/profile/header"),
        g("/api/v1/polls/:id"),
        po("/api/v1/polls/:id/votes"),
        // Sign-up.
        po("/api/v1/accounts"),
        // Web Push.
        g("/api/v1/push/subscription"),
        po("/api/v1/push/subscription"),
        pu("/api/v1/push/subscription"),
        d("/api/v1/push/subscription"),
        // Search, streaming.
        g("/api/v2/search?q=x"),
        g("/api/v1/streaming/health"),
        g("/api/v1/streaming/user"),
        g("/api/v1/streaming/public"),
        g("/api/v1/streaming"),
    ]
}

#[actix_web::test]
async fn every_endpoint_of_the_client_api_answers() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let mut missing = Vec::new();
    for (method, path) in table() {
        // The streaming URLs hold their answer open: only their status is
        // read here, in the end-to-end test the stream itself.
        if path.starts_with("/api/v1/streaming/") && path != "/api/v1/streaming/health" {
            continue;
        }
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH)
            .then(|| Body::Json(json!({})));
        let r = t.call(method.clone(), &path, Some(&alice), body).await;
        if r.status == 404 && r.json["error"] == "Not Found" {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "no route for: {missing:#?}");
    // The check itself can fail: a made-up endpoint is the router's 404.
    let r = t.get("/api/v1/no_such_thing", Some(&alice)).await;
    assert_eq!(
        (r.status.as_u16(), r.json["error"].clone()),
        (404, json!("Not Found"))
    );
}
