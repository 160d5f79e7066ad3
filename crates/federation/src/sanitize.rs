//! Remote HTML, kept as its author wrote it — within the allow-list
//! Mastodon documents for statuses. Everything else (scripts, styles, event
//! handlers, images, `javascript:` and `data:` links, unknown classes) is
//! dropped; links keep their `href` and get `rel="nofollow noopener
//! noreferrer"` and `target="_blank"`.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Tags kept.
const TAGS: &[&str] = &[
    "p",
    "br",
    "span",
    "a",
    "del",
    "pre",
    "code",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "ul",
    "ol",
    "li",
    "blockquote",
];

/// Microformat and Mastodon classes kept on `a` and `span`.
const CLASSES: &[&str] = &[
    "h-card",
    "p-name",
    "p-nickname",
    "u-url",
    "u-uid",
    "u-photo",
    "mention",
    "hashtag",
    "ellipsis",
    "invisible",
    "status-link",
    "quote-inline",
];

/// Deeper nesting than this is not markup anyone writes: such a note is
/// kept as its text.
const MAX_DEPTH: usize = 100;

fn builder() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        b.tags(TAGS.iter().copied().collect())
            .clean_content_tags(["script", "style"].into_iter().collect())
            .tag_attributes(HashMap::from([("a", HashSet::from(["href"]))]))
            .allowed_classes(HashMap::from([
                ("a", CLASSES.iter().copied().collect()),
                ("span", CLASSES.iter().copied().collect()),
            ]))
            .url_schemes(["http", "https"].into_iter().collect())
            .link_rel(Some("nofollow noopener noreferrer"))
            .set_tag_attribute_value("a", "target", "_blank")
            .strip_comments(true);
        b
    })
}

/// How deeply tags nest at most (an over-estimate: void and unclosed tags
/// count as opened).
fn depth(html: &str) -> usize {
    let (mut d, mut max) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'<' {
            match bytes.get(i + 1) {
                Some(b'/') => d = d.saturating_sub(1),
                Some(c) if c.is_ascii_alphabetic() => {
                    d += 1;
                    max = max.max(d);
                }
                _ => {}
            }
        }
        i += 1;
    }
    max
}

/// A remote status's HTML, safe to hand to apps. `None` when it cannot be
/// kept as markup (absurdly deep nesting): the caller falls back to text.
pub fn status_html(html: &str) -> Option<String> {
    if depth(html) > MAX_DEPTH {
        return None;
    }
    Some(builder().clean(html).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_markup_is_defused() {
        let cases = [
            ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
            ("<style>p{}</style><p>x</p>", "<p>x</p>"),
            ("<p onclick=\"x()\">x</p>", "<p>x</p>"),
            (
                "<a href=\"javascript:alert(1)\">x</a>",
                "<a target=\"_blank\" rel=\"nofollow noopener noreferrer\">x</a>",
            ),
            (
                "<a href=\"data:text/html,x\">x</a>",
                "<a target=\"_blank\" rel=\"nofollow noopener noreferrer\">x</a>",
            ),
            ("<img src=x onerror=alert(1)>", ""),
            ("<iframe src=\"https://e.example\"></iframe>ok", "ok"),
            (
                "<span class=\"evil h-card\">x</span>",
                "<span class=\"h-card\">x</span>",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(status_html(input).as_deref(), Some(want), "{input}");
        }
        let deep = "<span>".repeat(10_000) + "x";
        assert_eq!(status_html(&deep), None);
    }

    #[test]
    fn links_keep_their_target_and_classes() {
        let html = "<p><span class=\"h-card\"><a href=\"https://m.example/@ada\" class=\"u-url mention\">@<span>ada</span></a></span> see <a href=\"https://m.example/tags/v8\" class=\"mention hashtag\" rel=\"tag\">#<span>v8</span></a></p>";
        let out = status_html(html).unwrap();
        assert!(out.contains("href=\"https://m.example/@ada\""), "{out}");
        assert!(out.contains("class=\"u-url mention\""), "{out}");
        assert!(out.contains("class=\"mention hashtag\""), "{out}");
        assert!(
            out.contains("rel=\"nofollow noopener noreferrer\""),
            "{out}"
        );
        assert!(out.contains("target=\"_blank\""), "{out}");
    }
}
