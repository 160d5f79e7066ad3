//! The public pages a browser gets where an ActivityPub client gets JSON
//! (content negotiation on the same URLs): a face's page, a post's page,
//! and the instance's about page. Each carries OpenGraph tags; a face's
//! page carries `rel="me"` on its own profile links (so the sites they name
//! can verify it) and links to no other face of the same login — nothing
//! here is drawn from the login, only from the face.

use super::home::tier_word;
use super::{lang, page_with_head, Lang};
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse};
use guise_core::models::{Identity, Status};
use guise_policy::Tier;
use maud::{html, Markup, PreEscaped};

/// Text of some HTML, cut to `max` characters, for a description tag.
fn excerpt(html_text: &str, max: usize) -> String {
    let text = guise_core::text::html_to_text(html_text);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn shown_name(face: &Identity) -> String {
    if face.tier() == Tier::Anonymous {
        "Anonymous".to_owned()
    } else if face.display_name.trim().is_empty() {
        face.handle.clone()
    } else {
        face.display_name.clone()
    }
}

/// OpenGraph tags (and a canonical link; `noindex` for anonymous faces).
fn open_graph(
    state: &AppState,
    kind: &str,
    title: &str,
    description: &str,
    url: &str,
    noindex: bool,
) -> Markup {
    html! {
        link rel="canonical" href=(url);
        meta name="description" content=(description);
        meta property="og:site_name" content=(state.config.instance.name);
        meta property="og:type" content=(kind);
        meta property="og:title" content=(title);
        meta property="og:description" content=(description);
        meta property="og:url" content=(url);
        @if noindex { meta name="robots" content="noindex, noarchive"; }
    }
}

/// The http(s) links among a local face's profile fields (their values are
/// its own text).
fn own_links(face: &Identity) -> Vec<(String, String)> {
    face.fields
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let name = f.get("name")?.as_str()?.to_owned();
            let value = f.get("value")?.as_str()?.trim().to_owned();
            url::Url::parse(&value)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| (name, value))
        })
        .collect()
}

fn nav(l: Lang) -> Markup {
    html! { ul.nav { li { a href="/auth/sign_in" { (l.t("sign-in")) } } li { a href="/about" { (l.t("about")) } } } }
}

/// A local face's page: name, handle, tier, about, fields, recent posts.
pub(crate) async fn face_page(
    req: &HttpRequest,
    state: &AppState,
    face: &Identity,
) -> ApiResult<HttpResponse> {
    let l = lang(req);
    let mut conn = state.db.conn().await?;
    let page_ = guise_core::statuses::Page {
        limit: 20,
        ..Default::default()
    };
    let ids =
        guise_core::statuses::author_timeline(&mut conn, None, face.id, Default::default(), &page_)
            .await?;
    let views = guise_core::statuses::load_views(&mut conn, None, &ids).await?;
    let anonymous = face.tier() == Tier::Anonymous;
    let name = shown_name(face);
    let urls = guise_federation::Urls::new(state.base_url.to_string());
    let url = urls.profile(face);
    let acct = format!("@{}@{}", face.handle, state.domain());
    let about = if anonymous {
        String::new()
    } else {
        face.note.clone()
    };
    let description = if about.trim().is_empty() {
        l.t_with(
            "public-face-description",
            &[("name", &name), ("acct", &acct)],
        )
    } else {
        excerpt(&about, 200)
    };
    let links = if anonymous {
        Vec::new()
    } else {
        own_links(face)
    };
    let head = html! {
        (open_graph(state, "profile", &format!("{name} ({acct})"), &description, &url, anonymous))
        @for (_, href) in &links { link rel="me" href=(href); }
        link rel="alternate" type="application/activity+json" href=(urls.actor(face));
    };
    let tier = tier_word(l, face.tier().as_str());
    let body = html! {
        article.h-card {
            h1.p-name { (name) }
            p { span.acct { (acct) } " · " span.tier { (tier) } }
            @if !about.trim().is_empty() {
                div.p-note { (PreEscaped(guise_core::text::render(&guise_core::text::parse(&about), "", |_, _| None))) }
            }
            @if !links.is_empty() {
                dl.fields {
                    @for (n, href) in &links {
                        dt { (n) }
                        dd { a href=(href) rel="me nofollow noopener noreferrer" { (href) } }
                    }
                }
            }
        }
        section aria-labelledby="posts-h" {
            h2 #posts-h { (l.t("public-posts")) }
            @if views.is_empty() { p { (l.t("timeline-empty")) } }
            @for v in views.iter().filter(|v| v.status.reblog_of_id.is_none()) {
                (post(state, face, &v.status))
            }
        }
    };
    let mut resp = page_with_head(state, l, &format!("{name} ({acct})"), head, nav(l), body);
    resp.headers_mut().insert(
        actix_web::http::header::VARY,
        actix_web::http::header::HeaderValue::from_static("Accept"),
    );
    Ok(resp)
}

fn post(state: &AppState, face: &Identity, s: &Status) -> Markup {
    let urls = guise_federation::Urls::new(state.base_url.to_string());
    let link = format!("{}/{}", urls.profile(face), s.id);
    let when = s.created_at.format("%Y-%m-%d %H:%M UTC").to_string();
    html! {
        article.status.h-entry {
            @if s.spoiler_text.is_empty() {
                div.content.e-content { (PreEscaped(&s.content)) }
            } @else {
                details { summary { (s.spoiler_text) } div.content.e-content { (PreEscaped(&s.content)) } }
            }
            p.hint { a.u-url href=(link) { time.dt-published datetime=(s.created_at.to_rfc3339()) { (when) } } }
        }
    }
}

/// A public or unlisted post's page.
pub(crate) fn post_page(
    req: &HttpRequest,
    state: &AppState,
    face: &Identity,
    s: &Status,
) -> HttpResponse {
    let l = lang(req);
    let name = shown_name(face);
    let urls = guise_federation::Urls::new(state.base_url.to_string());
    let url = format!("{}/{}", urls.profile(face), s.id);
    let acct = format!("@{}@{}", face.handle, state.domain());
    let description = if s.spoiler_text.is_empty() {
        excerpt(&s.content, 200)
    } else {
        s.spoiler_text.clone()
    };
    let anonymous = face.tier() == Tier::Anonymous;
    let head = html! {
        (open_graph(state, "article", &format!("{name} ({acct})"), &description, &url, anonymous))
        meta property="article:published_time" content=(s.created_at.to_rfc3339());
        link rel="alternate" type="application/activity+json" href=(urls.status(face, s.id));
    };
    let body = html! {
        p {
            a href=(urls.profile(face)) { strong { (name) } }
            " " span.acct { (acct) } " · " span.tier { (tier_word(l, face.tier().as_str())) }
        }
        (post(state, face, s))
    };
    page_with_head(state, l, &format!("{name} ({acct})"), head, nav(l), body)
}

/// The about page: who runs the instance, what it offers and promises, and
/// how it is moderated — from the instance's settings.
pub(crate) async fn about(req: HttpRequest, state: actix_web::web::Data<AppState>) -> HttpResponse {
    let l = lang(&req);
    let i = &state.config.instance;
    let live = state.live();
    let p = &live.policy;
    let rules = match state.db.conn().await {
        Ok(mut conn) => guise_core::rules::all(&mut conn).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let tiers: Vec<String> = state
        .rules()
        .tiers_enabled
        .iter()
        .map(|t| tier_word(l, t.as_str()))
        .collect();
    let anonymous = state.rules().tiers_enabled.contains(&Tier::Anonymous);
    let url = format!("{}/about", state.base_url);
    let head = open_graph(&state, "website", &i.name, &i.description, &url, false);
    let body = html! {
        h1 { (l.t_with("about-title", &[("name", &i.name)])) }
        p { (i.description) }
        @if !i.contact_email.is_empty() {
            p { (l.t("about-contact")) " " a href={ "mailto:" (i.contact_email) } { (i.contact_email) } }
        }
        section aria-labelledby="faces-h" {
            h2 #faces-h { (l.t("about-faces")) }
            p { (l.t_with("about-tiers", &[("tiers", &tiers.join(&l.t("list-separator")))])) }
            @if p.real_name_requires_verification && state.rules().tiers_enabled.contains(&Tier::RealName) {
                p { (l.t("about-real-names-verified")) }
            }
            @if !p.trusted_verifiers.is_empty() && state.rules().tiers_enabled.contains(&Tier::RealName) {
                p { (l.t_with("about-trusted-verifiers", &[("domains", &p.trusted_verifiers.join(&l.t("list-separator")))])) }
            }
            p { (l.t_with("about-max-characters", &[("n", &p.max_characters.to_string())])) }
            @for (tier, n) in [("real_name", p.real_name_posts_per_epoch), ("pseudonymous", p.pseudonymous_posts_per_epoch)] {
                @if n > 0 && state.rules().tiers_enabled.iter().any(|t| t.as_str() == tier) {
                    p { (l.t_with(&format!("about-limit-{tier}"), &[("n", &n.to_string()), ("minutes", &(i.anonymous_limit_epoch_secs / 60).to_string())])) }
                }
            }
            p { (l.t(match (p.registrations_open, p.registrations_require_approval) {
                (false, _) => "about-registrations-closed",
                (true, false) => "about-registrations-open",
                (true, true) => "about-registrations-approval",
            })) }
        }
        @if anonymous {
            section aria-labelledby="anon-h" {
                h2 #anon-h { (l.t("about-anonymity")) }
                p { (l.t("anonymous-promise")) }
                p { (l.t(if p.anonymous_face_per == crate::config::FacePer::Post { "about-anon-per-post" } else { "about-anon-per-thread" })) }
                @if !p.anonymous_top_level { p { (l.t("about-anon-replies-only")) } }
                @if state.config.federation.anonymous_announcer {
                    p { (l.t(if p.announcer_needs_approval { "about-announcer-approval" } else { "about-announcer" })) }
                }
                @if p.anonymous_posts_per_epoch > 0 {
                    p { (l.t_with("about-anon-limit", &[("n", &p.anonymous_posts_per_epoch.to_string()), ("minutes", &(i.anonymous_limit_epoch_secs / 60).to_string())])) }
                }
                p { (l.t("about-anon-reach")) }
            }
        }
        section aria-labelledby="rules-h" {
            h2 #rules-h { (l.t("about-moderation")) }
            p { (l.t("about-moderation-faces")) }
            @if i.staff_two_factor { p { (l.t("about-staff-two-factor")) } }
            @if rules.is_empty() {
                p { (l.t("about-rules-none")) }
            } @else {
                h3 { (l.t("about-rules")) }
                ol {
                    @for r in &rules {
                        li {
                            (r.text)
                            @if !r.hint.is_empty() { br; small { (r.hint) } }
                        }
                    }
                }
            }
        }
    };
    page_with_head(&state, l, &l.t("about"), head, nav(l), body)
}
