//! The web face's words, from Fluent catalogues (`locales/*.ftl`):
//! English and Simplified Chinese. The language is the `guise_lang`
//! cookie's (set by the language links), else the first the browser's
//! `Accept-Language` asks for that we have, else English.

use actix_web::http::header;
use actix_web::HttpRequest;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::OnceLock;

/// The languages the web face speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    ZhCn,
}

/// Every language, with its tag and its own name (for the picker).
pub const ALL: &[(Lang, &str, &str)] = &[
    (Lang::En, "en", "English"),
    (Lang::ZhCn, "zh-CN", "简体中文"),
];

const EN: &str = include_str!("locales/en.ftl");
const ZH_CN: &str = include_str!("locales/zh-CN.ftl");

/// The cookie the language links set.
pub const COOKIE: &str = "guise_lang";

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    /// A language tag as browsers and the cookie write it.
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "zh" || t.starts_with("zh-cn") || t.starts_with("zh-hans") || t == "zh-sg" {
            Some(Lang::ZhCn)
        } else if t == "en" || t.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The request's language.
    pub fn of(req: &HttpRequest) -> Lang {
        let from_cookie = req
            .headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        if let Some(l) = from_cookie {
            return l;
        }
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut asked: Vec<(f32, &str)> = accept
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        asked.sort_by(|a, b| b.0.total_cmp(&a.0));
        asked
            .iter()
            .find_map(|(_, t)| Lang::parse(t))
            .unwrap_or(Lang::En)
    }

    /// The message `key`, English where this language lacks it.
    pub fn t(self, key: &str) -> String {
        self.t_with(key, &[])
    }

    /// The message `key` with its variables.
    pub fn t_with(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, *v);
        }
        let fa = (!args.is_empty()).then_some(&fa);
        format_in(bundle(self), key, fa)
            .or_else(|| format_in(bundle(Lang::En), key, fa))
            .unwrap_or_else(|| key.to_owned())
    }
}

fn format_in(
    b: &FluentBundle<FluentResource>,
    key: &str,
    args: Option<&FluentArgs>,
) -> Option<String> {
    let pattern = b.get_message(key)?.value()?;
    let mut errors = Vec::new();
    Some(b.format_pattern(pattern, args, &mut errors).into_owned())
}

fn make(lang: Lang, src: &str) -> FluentBundle<FluentResource> {
    let id: unic_langid::LanguageIdentifier = lang.tag().parse().unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Plain text in HTML: no Unicode isolation marks around variables.
    b.set_use_isolating(false);
    // A malformed catalogue keeps what parses (the tests refuse any error).
    let res = FluentResource::try_new(src.to_owned()).unwrap_or_else(|(r, _)| r);
    let _ = b.add_resource(res);
    b
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static EN_B: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static ZH_B: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    match lang {
        Lang::En => EN_B.get_or_init(|| make(Lang::En, EN)),
        Lang::ZhCn => ZH_B.get_or_init(|| make(Lang::ZhCn, ZH_CN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(src: &str) -> Vec<String> {
        let res = FluentResource::try_new(src.to_owned()).expect("the catalogue parses");
        let mut k: Vec<String> = res
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect();
        k.sort();
        k
    }

    #[test]
    fn every_language_has_every_message() {
        assert_eq!(keys(EN), keys(ZH_CN));
        assert!(keys(EN).len() > 20);
    }

    #[test]
    fn messages_take_their_variables() {
        assert_eq!(
            Lang::En.t_with("posted-as", &[("name", "alice")]),
            "Posted as alice"
        );
        assert_eq!(
            Lang::ZhCn.t_with("posted-as", &[("name", "alice")]),
            "已用「alice」发布"
        );
        assert_eq!(Lang::ZhCn.t("no-such-message"), "no-such-message");
    }

    #[test]
    fn the_language_follows_the_browser() {
        for (accept, lang) in [
            ("zh-CN,zh;q=0.9,en;q=0.8", Lang::ZhCn),
            ("en-GB,en;q=0.9", Lang::En),
            ("fr-FR, zh;q=0.5", Lang::ZhCn),
            ("en;q=0.3, zh-Hans;q=0.8", Lang::ZhCn),
            ("de", Lang::En),
            ("", Lang::En),
        ] {
            let req = actix_web::test::TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, accept))
                .to_http_request();
            assert_eq!(Lang::of(&req), lang, "{accept}");
        }
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::ACCEPT_LANGUAGE, "zh-CN"))
            .insert_header((header::COOKIE, "guise_lang=en"))
            .to_http_request();
        assert_eq!(Lang::of(&req), Lang::En);
    }
}
