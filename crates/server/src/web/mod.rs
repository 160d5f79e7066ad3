//! The web face, served by `guise serve` itself: server-rendered HTML built
//! with maud (escaped by default), one small stylesheet, no scripts, and a
//! strict Content-Security-Policy. A signed-in browser holds a session:
//! an "All my faces" token of the built-in "Guise web" app in an
//! `HttpOnly`, `SameSite=Lax` cookie (`Secure` over https) — the same
//! sealed key an app's token holds, and nothing more at rest. Every form
//! carries a CSRF token: a MAC under the session (or, before sign-in, a
//! random cookie it must match).
//!
//! Also here: the default avatar and header images.

mod account;
mod actions;
mod home;
pub mod i18n;
mod pages;
mod profile;
pub(crate) mod public;
mod session;
mod signup;
mod staff;

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use i18n::Lang;
use maud::{html, Markup, DOCTYPE};

/// A 1×1 grey PNG: the default avatar and header for every face, so that no
/// face is told apart by its default image.
const MISSING_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x68, 0x00, 0x00, 0x00,
    0x82, 0x00, 0x81, 0x77, 0xcd, 0x72, 0xb6, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// The one stylesheet (served from `/static/guise.css`: the policy allows
/// no inline style).
const CSS: &str = include_str!("guise.css");

/// No script, no inline style, no frames, forms only to ourselves.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn missing_png() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(MISSING_PNG)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(CSS)
}

/// A page in `lang`: the document around `main`, with the headers every
/// page gets and the language links.
pub(crate) fn page(
    state: &AppState,
    lang: Lang,
    title: &str,
    nav: Markup,
    main: Markup,
) -> HttpResponse {
    page_with_head(state, lang, title, html! {}, nav, main)
}

/// [`page`] with more in its `head` (OpenGraph tags, `rel=me` links).
pub(crate) fn page_with_head(
    state: &AppState,
    lang: Lang,
    title: &str,
    head: Markup,
    nav: Markup,
    main: Markup,
) -> HttpResponse {
    let name = &state.config.instance.name;
    let doc = html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (name) }
                link rel="stylesheet" href="/static/guise.css";
                (head)
            }
            body {
                a.skip href="#main" { (lang.t("skip-to-content")) }
                header {
                    p.site { a href="/" { (name) } }
                    nav aria-label=(lang.t("nav-account")) { (nav) }
                }
                main #main { (main) }
                footer {
                    p { a href="/about" { (lang.t("about")) } }
                    nav aria-label=(lang.t("nav-language")) {
                        ul.langs {
                            @for (l, tag, own) in i18n::ALL {
                                li {
                                    @if *l == lang {
                                        span aria-current="true" lang=(tag) { (own) }
                                    } @else {
                                        a href={ "/web/lang?to=" (tag) } lang=(tag) hreflang=(tag) { (own) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    html_response(doc)
}

#[derive(serde::Deserialize)]
struct LangQuery {
    #[serde(default)]
    to: String,
}

/// Keeps the language picked in a cookie, and goes back home.
async fn pick_lang(state: web::Data<AppState>, q: web::Query<LangQuery>) -> HttpResponse {
    let mut resp = see_other("/");
    if let Some(l) = Lang::parse(&q.to) {
        let secure = if state.config.scheme() == "https" {
            "; Secure"
        } else {
            ""
        };
        let c = format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}",
            i18n::COOKIE,
            l.tag()
        );
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The language of a request (for handlers).
pub(crate) fn lang(req: &HttpRequest) -> Lang {
    Lang::of(req)
}

pub(crate) fn html_response(doc: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(doc.into_string())
}

/// A redirect after a form (303: the browser GETs the target).
pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A `data:` link that downloads `text` as a plain-text file (nothing of
/// it is sent to or kept by the server).
pub(crate) fn text_download(text: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8,{}",
        url::form_urlencoded::byte_serialize(text.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    )
}

/// `s` as one path segment (percent-encoded).
pub(crate) fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A post's HTML with its links to mentioned faces and hashtags pointed at
/// this site's own pages (`/web/accounts/{id}`, `/web/tags/{name}`); every
/// other link, and the API's `content`, stay as their author wrote them.
/// `content` is already safe markup (our rendering, or remote HTML
/// sanitized on arrival); only `href`s named here are replaced.
pub(crate) fn local_links(
    content: &str,
    mentions: &[crate::mastodon_api::types::Mention],
    tags: &[crate::mastodon_api::types::Tag],
) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(i) = rest.find("<a ") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let Some(end) = from.find('>') else {
            out.push_str(from);
            return out;
        };
        let (tag, after) = from.split_at(end + 1);
        let inner_end = after.find("</a>").unwrap_or(after.len());
        let text = strip_tags(after.get(..inner_end).unwrap_or_default());
        let attrs = crate::rel_me::attributes(tag.get(3..tag.len() - 1).unwrap_or_default());
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.replace("&amp;", "&"))
        };
        let href = get("href").unwrap_or_default();
        let class = get("class").unwrap_or_default();
        let local = if let Some(m) = mentions.iter().find(|m| m.url == href) {
            Some(format!("/web/accounts/{}", m.id))
        } else if class.split_ascii_whitespace().any(|c| c == "hashtag") || text.starts_with('#') {
            let name = text.trim_start_matches('#').to_lowercase();
            tags.iter()
                .find(|t| t.name.to_lowercase() == name)
                .map(|t| format!("/web/tags/{}", path_segment(&t.name)))
        } else {
            None
        };
        match local {
            Some(href) => {
                let escaped = maud::html! { (class) }.into_string();
                out.push_str(&format!("<a href=\"{href}\" class=\"{escaped}\">"));
            }
            None => out.push_str(tag),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The text of some markup (tags dropped, entities left as they are).
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::front))
        .route("/web/statuses", web::post().to(home::post))
        .route("/web/acting", web::post().to(home::acting))
        .route("/web/statuses/{id}", web::get().to(pages::thread))
        .route("/web/statuses/{id}/delete", web::post().to(pages::delete))
        .route("/web/statuses/{id}/edit", web::get().to(pages::edit_page))
        .route("/web/statuses/{id}/edit", web::post().to(pages::edit))
        .route(
            "/web/statuses/{id}/report",
            web::get().to(actions::report_page),
        )
        .route("/web/statuses/{id}/report", web::post().to(actions::report))
        .route("/web/statuses/{id}/vote", web::post().to(actions::vote))
        .route("/web/statuses/{id}/{action}", web::post().to(actions::act))
        .route("/web/timelines/{which}", web::get().to(actions::public))
        .route("/web/tags/{name}", web::get().to(actions::tag))
        .route("/web/search", web::get().to(actions::search))
        .route("/about", web::get().to(public::about))
        .route("/web/accounts/{id}", web::get().to(profile::show))
        .route("/web/accounts/{id}/{action}", web::post().to(profile::act))
        .route("/web/notifications", web::get().to(pages::notifications))
        .route("/web/anonymous", web::get().to(pages::anonymous_posts))
        .route("/web/faces", web::get().to(pages::faces))
        .route("/web/faces/new", web::post().to(pages::new_face))
        .route("/web/faces/{id}/delete", web::post().to(pages::delete_face))
        .route("/web/staff", web::get().to(staff::show))
        .route(
            "/web/staff/domain_blocks",
            web::post().to(staff::block_domain),
        )
        .route(
            "/web/staff/{kind}/{id}/{action}",
            web::post().to(staff::act),
        )
        .route("/web/account", web::get().to(account::show))
        .route(
            "/web/account/two_factor",
            web::get().to(account::two_factor_page),
        )
        .route(
            "/web/account/two_factor",
            web::post().to(account::two_factor_on),
        )
        .route(
            "/web/account/two_factor/off",
            web::post().to(account::two_factor_off),
        )
        .route(
            "/web/account/two_factor/codes",
            web::post().to(account::two_factor_codes),
        )
        .route(
            "/web/account/password",
            web::post().to(account::change_password),
        )
        .route(
            "/web/account/apps/{id}/revoke",
            web::post().to(account::revoke),
        )
        .route("/web/faces/{id}/reach", web::post().to(pages::set_reach))
        .route(
            "/web/faces/{id}/profile",
            web::post().to(pages::set_profile),
        )
        .route("/web/account/delete", web::post().to(account::delete_login))
        .route("/web/account/export", web::get().to(account::export))
        .route("/auth/sign_in", web::get().to(session::sign_in_page))
        .route("/auth/sign_in", web::post().to(session::sign_in))
        .route("/auth/sign_out", web::post().to(session::sign_out))
        .route("/auth/sign_up", web::get().to(signup::sign_up_page))
        .route("/auth/sign_up", web::post().to(signup::sign_up))
        .route("/auth/confirmation", web::get().to(signup::confirm))
        .route("/auth/recover", web::get().to(signup::recover_page))
        .route("/auth/recover", web::post().to(signup::recover))
        .route("/auth/password/reset", web::get().to(signup::reset_page))
        .route(
            "/auth/password/reset",
            web::post().to(signup::reset_request),
        )
        .route(
            "/auth/password/edit",
            web::get().to(signup::reset_edit_page),
        )
        .route("/auth/password/edit", web::post().to(signup::reset_edit))
        .route("/auth/confirmation/new", web::get().to(signup::resend_page))
        .route("/auth/confirmation/new", web::post().to(signup::resend))
        .route("/web/lang", web::get().to(pick_lang))
        .route("/static/guise.css", web::get().to(css))
        .route("/favicon.ico", web::get().to(missing_png))
        .route("/avatars/original/missing.png", web::get().to(missing_png))
        .route("/headers/original/missing.png", web::get().to(missing_png));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mastodon_api::types::{Mention, Tag};

    #[test]
    fn mentions_and_hashtags_lead_to_this_sites_pages() {
        let mentions = [Mention {
            id: "42".into(),
            username: "bob".into(),
            url: "https://b.example/@bob".into(),
            acct: "bob@b.example".into(),
        }];
        let tags = [Tag {
            name: "Engines".into(),
            url: "https://here.example/tags/engines".into(),
        }];
        // As Mastodon writes them (remote markup, sanitized on arrival).
        let content = r#"<p><span class="h-card"><a href="https://b.example/@bob" class="u-url mention" rel="nofollow noopener noreferrer" target="_blank">@<span>bob</span></a></span> about <a href="https://a.example/tags/engines" class="mention hashtag" rel="nofollow noopener noreferrer" target="_blank">#<span>engines</span></a>, <a href="https://a.example/tags/other" class="mention hashtag">#other</a> and <a href="https://elsewhere.example/x?a=1&amp;b=2" rel="nofollow noopener noreferrer" target="_blank">a link</a></p>"#;
        let out = local_links(content, &mentions, &tags);
        assert!(
            out.contains(
                r#"<a href="/web/accounts/42" class="u-url mention">@<span>bob</span></a>"#
            ),
            "{out}"
        );
        assert!(
            out.contains(
                r#"<a href="/web/tags/Engines" class="mention hashtag">#<span>engines</span></a>"#
            ),
            "{out}"
        );
        // A hashtag the post does not carry, and other links, stay as written.
        assert!(
            out.contains(
                r#"<a href="https://a.example/tags/other" class="mention hashtag">#other</a>"#
            ),
            "{out}"
        );
        assert!(out.contains(r#"<a href="https://elsewhere.example/x?a=1&amp;b=2" rel="nofollow noopener noreferrer" target="_blank">a link</a>"#), "{out}");
        // Nothing else changes, and nothing breaks on odd input.
        assert_eq!(
            local_links("<p>plain</p>", &mentions, &tags),
            "<p>plain</p>"
        );
        assert_eq!(
            local_links("<a href=\"x\"", &mentions, &tags),
            "<a href=\"x\""
        );
        let quote = [Mention {
            url: "https://q.example/@\"x".into(),
            ..mentions[0].clone()
        }];
        let out = local_links(
            "<a href='https://q.example/@\"x' class='a\"b'>q</a>",
            &quote,
            &tags,
        );
        assert_eq!(out, "<a href=\"/web/accounts/42\" class=\"a&quot;b\">q</a>");
    }
}
