//! The front page: for a visitor, what this instance is and a way in; for
//! a signed-in browser, the composer — which face each post goes out as,
//! one control away from the text — and the home timeline.

use super::i18n::Lang;
use super::session::{self, WebSession};
use super::{lang, page, see_other};
use crate::error::{ApiError, ApiResult};
use crate::mastodon_api::statuses::{poster, publish_as, Poster};
use crate::mastodon_api::types;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::models::Identity;
use guise_core::statuses::{NewStatus, Page};
use guise_policy::Tier;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

pub(crate) fn tier_word(l: Lang, tier: &str) -> String {
    match tier {
        "real_name" => l.t("tier-real-name"),
        "pseudonymous" => l.t("tier-pseudonym"),
        "anonymous" => l.t("tier-anonymous"),
        _ => String::new(),
    }
}

pub(crate) fn face_label(l: Lang, f: &Identity) -> String {
    let name = if f.display_name.trim().is_empty() {
        &f.handle
    } else {
        &f.display_name
    };
    let kind = match f.tier() {
        Tier::RealName if f.verified => l.t("tier-real-name-verified"),
        Tier::RealName if f.real_name_status.as_deref() == Some("rejected") => {
            l.t("tier-real-name-rejected")
        }
        Tier::RealName => l.t("tier-real-name-unverified"),
        Tier::Pseudonymous => l.t("tier-pseudonym"),
        Tier::Anonymous => l.t("tier-anonymous"),
    };
    format!("{name} (@{}) — {kind}", f.handle)
}

/// What a signed-in page lets one do to the posts it shows.
pub(crate) struct Actions<'a> {
    pub csrf: &'a str,
    /// The page to come back to.
    pub back: &'a str,
}

/// One post, as the "posted" notice shows it.
pub(crate) fn status(l: Lang, s: &types::Status) -> Markup {
    status_with(l, s, None)
}

/// The buttons under a post: favourite, boost, bookmark, each undone when
/// done already.
fn action_buttons(l: Lang, s: &types::Status, a: &Actions<'_>) -> Markup {
    let target = s.reblog.as_deref().unwrap_or(s);
    let id = &target.id;
    let done = |v: Option<bool>| v.unwrap_or(false);
    let buttons = [
        (done(target.favourited), "favourite"),
        (done(target.reblogged), "reblog"),
        (done(target.bookmarked), "bookmark"),
    ];
    html! {
        div.actions {
            a.small href={ "/web/statuses/" (id) "/report" } { (l.t("report")) }
            @for (on, what) in buttons {
                @let action = if on { format!("un{what}") } else { what.to_owned() };
                form method="post" action={ "/web/statuses/" (id) "/" (action) } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    input type="hidden" name="back" value=(a.back);
                    button.small type="submit" aria-pressed=(if on { "true" } else { "false" }) { (l.t(&format!("action-{what}"))) }
                }
            }
        }
    }
}

/// One post, with the buttons to act on it when `actions` is given.
pub(crate) fn status_with(l: Lang, s: &types::Status, actions: Option<&Actions<'_>>) -> Markup {
    let a = &s.account;
    let name = if a.display_name.is_empty() {
        &a.username
    } else {
        &a.display_name
    };
    html! {
        article.status aria-label=(l.t_with("post-by", &[("name", name)])) {
            header {
                a.who href={ "/web/accounts/" (a.id) } { strong { (name) } }
                " "
                span.acct { "@" (a.acct) }
                " "
                span.tier { (tier_word(l, a.guise.tier)) }
                " · "
                time datetime=(s.created_at) { (s.created_at.get(..16).unwrap_or(&s.created_at).replace('T', " ")) }
                " · "
                a href={ "/web/statuses/" (s.id) } aria-label=(l.t_with("open-thread-of", &[("name", name)])) { (l.t("open-thread")) }
            }
            // Our own rendering, or remote markup sanitized to Mastodon's
            // allow-list when it arrived; mentions and hashtags lead here.
            @let content = super::local_links(&s.content, &s.mentions, &s.tags);
            @if s.spoiler_text.is_empty() {
                div.content { (PreEscaped(&content)) }
            } @else {
                details {
                    summary { (s.spoiler_text) }
                    div.content { (PreEscaped(&content)) }
                }
            }
            @if !s.media_attachments.is_empty() {
                div.media {
                    @for m in &s.media_attachments {
                        @let src = m["preview_url"].as_str().or(m["url"].as_str()).unwrap_or_default();
                        @let full = m["url"].as_str().unwrap_or(src);
                        @let alt = m["description"].as_str().unwrap_or_default();
                        a href=(full) { img src=(src) alt=(alt) loading="lazy"; }
                    }
                }
            }
            @if let Some(p) = &s.poll { (poll(l, s, p, actions)) }
            @if let Some(a) = actions { (action_buttons(l, s, a)) }
        }
    }
}

/// A post's poll: a form to vote while it is open and not voted in, else
/// the counts.
fn poll(
    l: Lang,
    s: &types::Status,
    p: &serde_json::Value,
    actions: Option<&Actions<'_>>,
) -> Markup {
    let expired = p["expired"].as_bool().unwrap_or(false);
    let voted = p["voted"].as_bool().unwrap_or(false);
    let multiple = p["multiple"].as_bool().unwrap_or(false);
    let options: Vec<(String, Option<i64>)> = p["options"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            (
                o["title"].as_str().unwrap_or_default().to_owned(),
                o["votes_count"].as_i64(),
            )
        })
        .collect();
    let total = p["votes_count"].as_i64().unwrap_or(0).to_string();
    html! {
        @match actions.filter(|_| !expired && !voted) {
            Some(a) => {
                form.poll method="post" action={ "/web/statuses/" (s.id) "/vote" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    input type="hidden" name="back" value=(a.back);
                    fieldset {
                        legend { (l.t("poll-options")) }
                        @for (i, (title, _)) in options.iter().enumerate() {
                            label.choice {
                                @if multiple {
                                    input type="checkbox" name={ "choice_" (i) } value="true";
                                } @else {
                                    input type="radio" name="choice" value=(i) required;
                                }
                                " " (title)
                            }
                        }
                    }
                    button.small type="submit" { (l.t("poll-vote")) }
                }
            }
            None => {
                ul.poll {
                    @for (title, votes) in &options {
                        li { (title) @if let Some(v) = votes { " — " (v) } }
                    }
                }
                p.hint {
                    (l.t_with("poll-votes", &[("count", &total)]))
                    @if expired { " · " (l.t("poll-closed")) }
                }
            }
        }
    }
}

/// What the composer was given, to show again after a refusal.
#[derive(Deserialize, Default)]
pub(crate) struct Compose {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub spoiler_text: String,
    #[serde(default)]
    pub visibility: String,
    /// A face id, or "anonymous".
    #[serde(default)]
    pub face: String,
    /// The post replied to, if this is a reply.
    #[serde(default)]
    pub in_reply_to_id: String,
    /// A poll's options (empty ones left out: no poll when all are).
    #[serde(default)]
    pub poll_0: String,
    #[serde(default)]
    pub poll_1: String,
    #[serde(default)]
    pub poll_2: String,
    #[serde(default)]
    pub poll_3: String,
    /// Seconds the poll runs.
    #[serde(default)]
    pub poll_expires_in: String,
    #[serde(default)]
    pub poll_multiple: String,
    /// The alt text of the attached image.
    #[serde(default)]
    pub media_description: String,
}

impl Compose {
    fn poll_options(&self) -> Vec<String> {
        [&self.poll_0, &self.poll_1, &self.poll_2, &self.poll_3]
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// How long a poll may run, in seconds, as the composer offers it.
const POLL_DURATIONS: [(i64, &str); 5] = [
    (300, "poll-5-minutes"),
    (3600, "poll-1-hour"),
    (86_400, "poll-1-day"),
    (259_200, "poll-3-days"),
    (604_800, "poll-7-days"),
];

pub(crate) fn composer(
    l: Lang,
    s: &WebSession,
    faces: &[Identity],
    anonymous: bool,
    c: &Compose,
) -> Markup {
    let acting = s.auth.face.as_ref().map(|f| f.id);
    let chosen = if c.face.is_empty() {
        faces
            .iter()
            .find(|f| Some(f.id) == acting)
            .or(faces.first())
            .map(|f| f.id.to_string())
            .unwrap_or_default()
    } else {
        c.face.clone()
    };
    let vis = if c.visibility.is_empty() {
        "public"
    } else {
        c.visibility.as_str()
    };
    html! {
        form.composer method="post" action="/web/statuses" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(s.csrf);
            @if !c.in_reply_to_id.is_empty() {
                input type="hidden" name="in_reply_to_id" value=(c.in_reply_to_id);
            }
            label for="status" { (l.t("compose-text")) }
            textarea #status name="status" rows="4" required { (c.status) }
            fieldset {
                legend { (l.t("post-as")) }
                @for f in faces {
                    @let id = f.id.to_string();
                    label.choice {
                        input type="radio" name="face" value=(id) checked[chosen == id];
                        " " (face_label(l, f))
                    }
                }
                @if anonymous {
                    label.choice {
                        input type="radio" name="face" value="anonymous" checked[chosen == "anonymous"] aria-describedby="anon-promise";
                        " " (l.t("anonymous"))
                    }
                    p.hint #anon-promise { (l.t("anonymous-promise")) }
                }
            }
            label for="media" { (l.t("media-image")) }
            input #media type="file" name="media" accept="image/jpeg,image/png,image/gif,image/webp" aria-describedby="media-hint";
            p.hint #media-hint { (l.t("media-hint")) }
            label for="media_description" { (l.t("media-description")) }
            input #media_description type="text" name="media_description" value=(c.media_description) maxlength="1500";
            details.poll open[!c.poll_options().is_empty()] {
                summary { (l.t("poll-add")) }
                fieldset {
                    legend { (l.t("poll-options")) }
                    @for (i, v) in [&c.poll_0, &c.poll_1, &c.poll_2, &c.poll_3].into_iter().enumerate() {
                        label for={ "poll_" (i) } { (l.t_with("poll-option", &[("n", &(i + 1).to_string())])) }
                        input id={ "poll_" (i) } type="text" name={ "poll_" (i) } value=(v) maxlength="50";
                    }
                }
                label for="poll_expires_in" { (l.t("poll-duration")) }
                select #poll_expires_in name="poll_expires_in" {
                    @for (secs, key) in POLL_DURATIONS {
                        @let chosen = if c.poll_expires_in.is_empty() { secs == 86_400 } else { c.poll_expires_in == secs.to_string() };
                        option value=(secs) selected[chosen] { (l.t(key)) }
                    }
                }
                label.choice {
                    input type="checkbox" name="poll_multiple" value="true" checked[c.poll_multiple == "true"];
                    " " (l.t("poll-multiple"))
                }
            }
            label for="spoiler_text" { (l.t("content-warning")) }
            input #spoiler_text type="text" name="spoiler_text" value=(c.spoiler_text);
            label for="visibility" { (l.t("who-can-see")) }
            select #visibility name="visibility" {
                @for v in ["public", "unlisted", "private", "direct"] {
                    option value=(v) selected[vis == v] { (l.t(&format!("visibility-{v}"))) }
                }
            }
            button type="submit" { (l.t("post")) }
        }
    }
}

async fn home(
    state: &AppState,
    l: Lang,
    s: &WebSession,
    compose: &Compose,
    notice: Option<Markup>,
    error: Option<&str>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let account = s.auth.account_id()?;
    let faces = guise_core::accounts::faces_of(&mut conn, account).await?;
    let anonymous = state.rules().tiers_enabled.contains(&Tier::Anonymous);
    // The face the browser acts as (the first unless it chose another).
    let first = s
        .auth
        .face
        .as_ref()
        .and_then(|a| faces.iter().find(|f| f.id == a.id))
        .or(faces.first());
    let timeline = match first {
        Some(first) => {
            let page = Page {
                max_id: None,
                since_id: None,
                min_id: None,
                limit: 20,
            };
            let ids = guise_core::statuses::home_timeline(&mut conn, first.id, &page).await?;
            types::statuses_in(state, &mut conn, Some(first.id), &ids, "home").await?
        }
        None => Vec::new(),
    };
    let first_name = first.map(|f| face_label(l, f)).unwrap_or_default();
    let acting_id = first.map(|f| f.id);
    Ok(page(
        state,
        l,
        &l.t("home"),
        super::pages::nav(l, s),
        html! {
            h1 { (l.t("home")) }
            @if let Some(n) = notice { (n) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            section aria-labelledby="compose-h" {
                h2 #compose-h { (l.t("new-post")) }
                (composer(l, s, &faces, anonymous, compose))
            }
            @if faces.len() > 1 {
                form.acting method="post" action="/web/acting" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="acting" { (l.t("acting-as")) }
                    select #acting name="face" aria-describedby="acting-hint" {
                        @for f in &faces {
                            option value=(f.id) selected[Some(f.id) == acting_id] { (face_label(l, f)) }
                        }
                    }
                    button.small type="submit" { (l.t("acting-switch")) }
                    p.hint #acting-hint { (l.t("acting-hint")) }
                }
            }
            section aria-labelledby="timeline-h" {
                h2 #timeline-h { (l.t_with("home-timeline-of", &[("name", &first_name)])) }
                @if timeline.is_empty() {
                    p { (l.t("timeline-empty")) }
                }
                @for st in &timeline { (status_with(l, st, Some(&Actions { csrf: &s.csrf, back: "/" }))) }
            }
        },
    ))
}

fn landing(state: &AppState, l: Lang) -> HttpResponse {
    let i = &state.config.instance;
    page(
        state,
        l,
        &l.t("welcome"),
        html! { a href="/auth/sign_in" { (l.t("sign-in")) } },
        html! {
            h1 { (i.name) }
            @if !i.description.is_empty() { p { (i.description) } }
            p { (l.t("landing-faces")) }
            p { (l.t_with("landing-apps", &[("domain", &i.domain)])) }
            p {
                a.button href="/auth/sign_in" { (l.t("sign-in")) }
                @if state.live().policy.registrations_open {
                    " " a.button href="/auth/sign_up" { (l.t("sign-up")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct FrontQuery {
    #[serde(default)]
    posted: Option<String>,
}

pub(crate) async fn front(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<FrontQuery>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let Some(s) = session::current(&req, &state).await else {
        return Ok(landing(&state, l));
    };
    let notice = match q.posted.as_deref().and_then(|p| p.parse::<i64>().ok()) {
        Some(id) => {
            let mut conn = state.db.conn().await?;
            match types::status_by_id(&state, &mut conn, None, id).await {
                Ok(st) => Some(html! {
                    section.notice aria-labelledby="posted-h" {
                        h2 #posted-h { (l.t_with("posted-as", &[("name", if st.account.display_name.is_empty() { &st.account.username } else { &st.account.display_name })])) }
                        (status(l, &st))
                    }
                }),
                Err(_) => None,
            }
        }
        None => None,
    };
    home(&state, l, &s, &Compose::default(), notice, None).await
}

pub(crate) async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let Some(s) = session::current(&req, &state).await else {
        return Ok(see_other("/auth/sign_in"));
    };
    let l = lang(&req);
    // A form with or without an image (multipart or urlencoded).
    let mut payload = payload.into_inner();
    let limit = crate::mastodon_api::media::limit(&state);
    let (map, files) = crate::extract::collect_upload(&req, &mut payload, limit).await?;
    let c: Compose = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::unprocessable(format!("Validation failed: {e}")))?;
    if let Err(e) = s.check(&c.csrf) {
        return Ok(session::refusal(&state, l, &e));
    }
    let image = files
        .into_iter()
        .find(|f| f.name == "media" && !f.bytes.is_empty())
        .map(|f| f.bytes);
    let result = publish(&state, &s, &c, image).await;
    match result {
        Ok(id) => Ok(see_other(&format!("/?posted={id}"))),
        Err(e) => {
            let mut resp = home(&state, l, &s, &c, None, Some(&e.message)).await?;
            *resp.status_mut() = e.status;
            Ok(resp)
        }
    }
}

async fn publish(
    state: &AppState,
    s: &WebSession,
    c: &Compose,
    image: Option<Vec<u8>>,
) -> ApiResult<i64> {
    // An image first (re-encoded without metadata), owned by the session
    // until the post takes it.
    let media = match image {
        Some(bytes) => {
            let u = crate::mastodon_api::media::upload_image(
                state,
                &s.auth,
                bytes,
                c.media_description.trim().to_owned(),
                None,
            )
            .await?;
            crate::mastodon_api::statuses::claims(&s.auth, &[u.id.to_string()])?
        }
        None => Vec::new(),
    };
    let mut conn = state.db.conn().await?;
    let (tier, identity) = match c.face.as_str() {
        "anonymous" => (Some("anonymous".to_owned()), None),
        "" => (None, None),
        id => (None, Some(id.to_owned())),
    };
    let who: Poster = poster(&s.auth, &mut conn, &tier, &identity).await?;
    let visibility = match c.visibility.as_str() {
        "" => None,
        v => Some(v.parse().map_err(|_| {
            ApiError::unprocessable(
                "Validation failed: visibility is not one of public, unlisted, private, direct",
            )
        })?),
    };
    let new = NewStatus {
        id: None,
        text: c.status.clone(),
        spoiler_text: c.spoiler_text.clone(),
        sensitive: false,
        visibility,
        language: None,
        in_reply_to_id: match c.in_reply_to_id.as_str() {
            "" => None,
            id => Some(crate::mastodon_api::parse_id(id)?),
        },
        idempotency_key: None,
        media,
        poll: {
            let options = c.poll_options();
            if options.is_empty() {
                None
            } else {
                Some(guise_core::polls::PollInput {
                    options,
                    expires_in: c.poll_expires_in.trim().parse().unwrap_or(86_400),
                    multiple: c.poll_multiple == "true",
                    hide_totals: false,
                })
            }
        },
    };
    Ok(publish_as(state, &s.auth, &mut conn, who, new).await?.id)
}

#[derive(Deserialize)]
pub(crate) struct ActingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    face: String,
}

/// Chooses the persistent face this browser acts as (a cookie; checked to
/// be the login's on every request).
pub(crate) async fn acting(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ActingForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match super::pages::signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&form.face)?;
    let mut conn = state.db.conn().await?;
    let faces = guise_core::accounts::faces_of(&mut conn, s.auth.account_id()?).await?;
    if !faces.iter().any(|f| f.id == id) {
        return Ok(session::refusal(&state, l, &ApiError::not_found()));
    }
    let mut resp = see_other("/");
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&session::set_cookie(
        &state,
        session::ACTING,
        &id.to_string(),
        30 * 24 * 3600,
    )) {
        resp.headers_mut()
            .append(actix_web::http::header::SET_COOKIE, v);
    }
    Ok(resp)
}
