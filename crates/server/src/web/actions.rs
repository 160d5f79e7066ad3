//! Acting on a post from the web face — favourite, boost, bookmark and
//! their undoing — as the session's first face (as an "All my faces"
//! token does where a request names no face), and public timelines.

use super::home::{status_with, Actions};
use super::pages::{nav, signed_in, signed_in_form};
use super::session;
use super::Lang;
use super::{page, see_other};
use crate::error::ApiResult;
use crate::mastodon_api::types;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct ActForm {
    #[serde(default)]
    csrf: String,
    /// Where to go back to: a path on this site.
    #[serde(default)]
    back: String,
}

/// A path on this site to go back to, or home.
fn back_to(b: &str) -> String {
    if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') {
        b.to_owned()
    } else {
        "/".to_owned()
    }
}

pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<ActForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let (id, action) = path.into_inner();
    let id = crate::mastodon_api::parse_id(&id)?;
    let face = s.auth.face()?.clone();
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let done = match action.as_str() {
        "favourite" => guise_core::social::favourite(&mut conn, clock, &face, id)
            .await
            .map(|_| ()),
        "unfavourite" => guise_core::social::unfavourite(&mut conn, clock, &face, id)
            .await
            .map(|_| ()),
        "reblog" => guise_core::social::reblog(&mut conn, clock, &face, id, None)
            .await
            .map(|_| ()),
        "unreblog" => guise_core::social::unreblog(&mut conn, clock, &face, id)
            .await
            .map(|_| ()),
        "bookmark" => guise_core::keepings::bookmark(&mut conn, clock, &face, id).await,
        "unbookmark" => guise_core::keepings::unbookmark(&mut conn, &face, id).await,
        _ => Err(guise_core::CoreError::NotFound),
    };
    match done {
        Ok(()) => Ok(see_other(&back_to(&form.back))),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

/// The local or the federated timeline.
pub(crate) async fn public(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let local = match path.as_str() {
        "local" => Some(true),
        "federated" => None,
        _ => return Ok(see_other("/")),
    };
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let mut conn = state.db.conn().await?;
    let page_ = super::pages::first_page(20);
    let ids = guise_core::statuses::public_timeline(&mut conn, viewer, local, &page_).await?;
    let posts = types::statuses_in(&state, &mut conn, viewer, &ids, "public").await?;
    let title = l.t(if local.is_some() {
        "timeline-local"
    } else {
        "timeline-federated"
    });
    let back = format!("/web/timelines/{}", path.as_str());
    Ok(timeline(&state, l, &s, &title, &back, &posts))
}

/// The public posts with a hashtag (what a hashtag link in a post opens).
pub(crate) async fn tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let name = path.into_inner().to_lowercase();
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let mut conn = state.db.conn().await?;
    let page_ = super::pages::first_page(20);
    let ids = guise_core::statuses::tag_timeline(&mut conn, viewer, &name, &page_).await?;
    let posts = types::statuses_in(&state, &mut conn, viewer, &ids, "public").await?;
    let title = l.t_with("timeline-tag", &[("name", &name)]);
    let back = format!("/web/tags/{}", super::path_segment(&name));
    Ok(timeline(&state, l, &s, &title, &back, &posts))
}

/// A page of posts under a title, each with its buttons.
fn timeline(
    state: &AppState,
    l: Lang,
    s: &super::session::WebSession,
    title: &str,
    back: &str,
    posts: &[types::Status],
) -> HttpResponse {
    let actions = Actions {
        csrf: &s.csrf,
        back,
    };
    page(
        state,
        l,
        title,
        nav(l, s),
        html! {
            h1 { (title) }
            @if posts.is_empty() { p { (l.t("timeline-empty")) } }
            @for p in posts { (status_with(l, p, Some(&actions))) }
        },
    )
}

/// Reporting a post to the moderators: what is wrong, and a comment. The
/// report names the post and its face — anonymous ones too; moderators act
/// on the face without learning who is behind it.
pub(crate) async fn report_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let mut conn = state.db.conn().await?;
    let post = types::status_by_id(&state, &mut conn, viewer, id).await?;
    Ok(page(
        &state,
        l,
        &l.t("report"),
        nav(l, &s),
        html! {
            h1 { (l.t("report")) }
            (status_with(l, &post, None))
            p.hint { (l.t("report-hint")) }
            form method="post" action={ "/web/statuses/" (id) "/report" } {
                input type="hidden" name="csrf" value=(s.csrf);
                fieldset {
                    legend { (l.t("report-category")) }
                    @for (i, c) in ["spam", "violation", "legal", "other"].iter().enumerate() {
                        label.choice {
                            input type="radio" name="category" value=(c) checked[i == 3];
                            " " (l.t(&format!("report-{c}")))
                        }
                    }
                }
                label for="comment" { (l.t("report-comment")) }
                textarea #comment name="comment" rows="3" maxlength="1000" {}
                button type="submit" { (l.t("report-send")) }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    comment: String,
}

pub(crate) async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ReportForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let me = s.auth.face()?.clone();
    let mut conn = state.db.conn().await?;
    let post = guise_core::statuses::visible_status(&mut conn, Some(me.id), id).await?;
    let filed = guise_core::keepings::report(
        &mut conn,
        state.clock.as_ref(),
        &me,
        guise_core::keepings::NewReport {
            target: post.identity_id,
            status_ids: vec![id],
            comment: form.comment.clone(),
            category: if form.category.is_empty() {
                "other".into()
            } else {
                form.category.clone()
            },
            rule_ids: Vec::new(),
            forward: false,
        },
    )
    .await;
    match filed {
        Ok(_) => Ok(page(
            &state,
            l,
            &l.t("report"),
            nav(l, &s),
            html! { h1 { (l.t("report-sent")) } p { a href="/" { (l.t("back")) } } },
        )),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Search: faces (`@user@host` looked up on its server), hashtags, and a
/// post by its link — as the API's search does for a signed-in app.
pub(crate) async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let q = query.q.trim().to_owned();
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let found = crate::mastodon_api::search::find(&state, viewer, true, &q, None, 20, true).await?;
    let back = format!("/web/search?q={}", super::path_segment(&q));
    let actions = Actions {
        csrf: &s.csrf,
        back: &back,
    };
    let nothing = !q.is_empty()
        && found.accounts.is_empty()
        && found.hashtags.is_empty()
        && found.statuses.is_empty();
    Ok(page(
        &state,
        l,
        &l.t("search"),
        nav(l, &s),
        html! {
            h1 { (l.t("search")) }
            form role="search" method="get" action="/web/search" {
                label for="q" { (l.t("search-label")) }
                input #q type="search" name="q" value=(q) aria-describedby="q-hint" autofocus;
                p.hint #q-hint { (l.t("search-hint")) }
                button type="submit" { (l.t("search")) }
            }
            @if nothing { p role="status" { (l.t("search-nothing")) } }
            @if !found.accounts.is_empty() {
                section aria-labelledby="found-faces" {
                    h2 #found-faces { (l.t("search-accounts")) }
                    ul {
                        @for a in &found.accounts {
                            li {
                                a href={ "/web/accounts/" (a.id) } {
                                    strong { (if a.display_name.is_empty() { &a.username } else { &a.display_name }) }
                                }
                                " " span.acct { "@" (a.acct) }
                            }
                        }
                    }
                }
            }
            @if !found.hashtags.is_empty() {
                section aria-labelledby="found-tags" {
                    h2 #found-tags { (l.t("search-hashtags")) }
                    ul {
                        @for t in &found.hashtags {
                            li { a href={ "/web/tags/" (super::path_segment(t)) } { "#" (t) } }
                        }
                    }
                }
            }
            @if !found.statuses.is_empty() {
                section aria-labelledby="found-posts" {
                    h2 #found-posts { (l.t("search-statuses")) }
                    @for p in &found.statuses { (status_with(l, p, Some(&actions))) }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct VoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    choice: String,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// A vote in a post's poll, as the first face (as favourites are).
pub(crate) async fn vote(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<VoteForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut choices: Vec<i64> = form.choice.trim().parse().into_iter().collect();
    choices.extend(
        (0..guise_core::polls::MAX_OPTIONS as i64)
            .filter(|i| form.rest.get(&format!("choice_{i}")).map(String::as_str) == Some("true")),
    );
    match crate::mastodon_api::polls::vote_as(&state, &s.auth, id, &choices).await {
        Ok(_) => Ok(see_other(&back_to(&form.back))),
        Err(e) => Ok(session::refusal(&state, l, &e)),
    }
}
