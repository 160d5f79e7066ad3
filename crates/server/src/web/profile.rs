//! A face's page for a signed-in browser: who it is (the tier shown as it
//! is), its posts, and — acting as the session's first face — follow, mute
//! and block, each undone when done. Anonymous faces cannot be followed.

use super::home::{status_with, Actions};
use super::pages::{nav, signed_in, signed_in_form};
use super::session;
use super::{page, see_other};
use crate::error::ApiResult;
use crate::mastodon_api::types;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::statuses::AuthorFilter;
use guise_policy::Tier;
use maud::{html, PreEscaped};
use serde::Deserialize;

pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let me = s.auth.face()?.clone();
    let mut conn = state.db.conn().await?;
    let who = guise_core::accounts::get_identity(&mut conn, id).await?;
    let account = types::account(&state, &mut conn, &who).await?;
    let rel = guise_core::social::relationship(&mut conn, me.id, who.id).await?;
    let page_ = super::pages::first_page(20);
    let ids = guise_core::statuses::author_timeline(
        &mut conn,
        Some(me.id),
        who.id,
        AuthorFilter {
            exclude_replies: false,
            exclude_reblogs: false,
            only_media: false,
        },
        &page_,
    )
    .await?;
    let posts = types::statuses_in(&state, &mut conn, Some(me.id), &ids, "account").await?;
    let back = format!("/web/accounts/{id}");
    let acts = Actions {
        csrf: &s.csrf,
        back: &back,
    };
    let name = if account.display_name.is_empty() {
        account.username.clone()
    } else {
        account.display_name.clone()
    };
    let buttons: Vec<(&str, bool)> = if who.id == me.id {
        Vec::new()
    } else {
        let mut b = Vec::new();
        if who.tier() != Tier::Anonymous {
            b.push(("follow", rel.following || rel.requested));
        }
        b.push(("mute", rel.muting));
        b.push(("block", rel.blocking));
        b
    };
    Ok(page(
        &state,
        l,
        &name,
        nav(l, &s),
        html! {
            h1 { (name) }
            p {
                span.acct { "@" (account.acct) } " "
                span.tier { (super::home::tier_word(l, account.guise.tier)) }
            }
            div.content { (PreEscaped(&account.note)) }
            p.hint { (l.t_with("profile-counts", &[
                ("posts", &account.statuses_count.to_string()),
                ("following", &account.following_count.to_string()),
                ("followers", &account.followers_count.to_string()),
            ])) }
            @if rel.followed_by { p.hint { (l.t("profile-follows-you")) } }
            div.actions {
                @for (what, on) in &buttons {
                    @let action = if *on { format!("un{what}") } else { (*what).to_owned() };
                    form method="post" action={ "/web/accounts/" (id) "/" (action) } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button.small type="submit" aria-pressed=(if *on { "true" } else { "false" }) { (l.t(&format!("profile-{what}"))) }
                    }
                }
            }
            h2 { (l.t("profile-posts")) }
            @if posts.is_empty() { p { (l.t("timeline-empty")) } }
            @for p in &posts { (status_with(l, p, Some(&acts))) }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let (id, action) = path.into_inner();
    let id = crate::mastodon_api::parse_id(&id)?;
    let me = s.auth.face()?.clone();
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let who = guise_core::accounts::get_identity(&mut conn, id).await?;
    use guise_core::social;
    let done = match action.as_str() {
        "follow" => social::follow(&mut conn, clock, &me, &who).await,
        "unfollow" => social::unfollow(&mut conn, clock, &me, &who).await,
        "mute" => social::mute(&mut conn, clock, &me, &who, true, None).await,
        "unmute" => social::unmute(&mut conn, &me, &who).await,
        "block" => social::block(&mut conn, clock, &me, &who).await,
        "unblock" => social::unblock(&mut conn, clock, &me, &who).await,
        _ => Err(guise_core::CoreError::NotFound),
    };
    match done {
        Ok(()) => Ok(see_other(&format!("/web/accounts/{id}"))),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}
