//! Plain text in, safe HTML out. Nothing from the input survives as markup:
//! every character is escaped, and the only tags in the output are the ones
//! made here for paragraphs, line breaks, links, mentions and hashtags.

/// One piece of a status's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    LineBreak,
    ParagraphBreak,
    Link(String),
    Mention {
        user: String,
        domain: Option<String>,
    },
    Hashtag(String),
}

/// A mention the caller resolved to a face: where its profile lives and how to show it.
#[derive(Debug, Clone)]
pub struct ResolvedMention {
    pub profile_url: String,
    pub handle: String,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn is_boundary(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(c) => !(c.is_alphanumeric() || c == '_' || c == '/' || c == '@' || c == '#'),
    }
}

fn is_handle_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':'
}

/// The characters in `a..b` as a string; empty if the range is out of bounds.
fn span(chars: &[char], a: usize, b: usize) -> String {
    chars
        .get(a..b)
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

/// Splits text into segments. Pure and total: any input gives some output.
pub fn parse(text: &str) -> Vec<Segment> {
    let text = text.replace("\r\n", "\n");
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut i = 0;
    let flush = |buf: &mut String, out: &mut Vec<Segment>| {
        if !buf.is_empty() {
            out.push(Segment::Text(std::mem::take(buf)));
        }
    };
    while let Some(&c) = chars.get(i) {
        let prev = if i == 0 {
            None
        } else {
            chars.get(i - 1).copied()
        };
        if c == '\n' {
            flush(&mut buf, &mut out);
            let mut j = i;
            while chars.get(j) == Some(&'\n') {
                j += 1;
            }
            out.push(if j - i >= 2 {
                Segment::ParagraphBreak
            } else {
                Segment::LineBreak
            });
            i = j;
            continue;
        }
        if (c == 'h' || c == 'H') && is_boundary(prev) {
            let rest: String = span(&chars, i, (i + 8).min(chars.len())).to_ascii_lowercase();
            if rest.starts_with("https://") || rest.starts_with("http://") {
                let mut j = i;
                while chars.get(j).is_some_and(|c| !c.is_whitespace()) {
                    j += 1;
                }
                while j > i && chars.get(j - 1).is_some_and(|c| ".,;:!?)'\"".contains(*c)) {
                    j -= 1;
                }
                let candidate: String = span(&chars, i, j);
                if url::Url::parse(&candidate).is_ok_and(|u| u.host().is_some()) {
                    flush(&mut buf, &mut out);
                    out.push(Segment::Link(candidate));
                    i = j;
                    continue;
                }
            }
        }
        if c == '@' && is_boundary(prev) {
            let mut j = i + 1;
            while chars.get(j).is_some_and(|c| is_handle_char(*c)) {
                j += 1;
            }
            if j > i + 1 {
                let user: String = span(&chars, i + 1, j);
                let mut domain = None;
                if chars.get(j) == Some(&'@') {
                    let mut k = j + 1;
                    while chars.get(k).is_some_and(|c| is_domain_char(*c)) {
                        k += 1;
                    }
                    while k > j + 1 && chars.get(k - 1).is_some_and(|c| *c == '.' || *c == ':') {
                        k -= 1;
                    }
                    let d: String = span(&chars, j + 1, k);
                    if d.contains('.') || d.starts_with("localhost") {
                        domain = Some(d.to_ascii_lowercase());
                        j = k;
                    }
                }
                flush(&mut buf, &mut out);
                out.push(Segment::Mention { user, domain });
                i = j;
                continue;
            }
        }
        if c == '#' && is_boundary(prev) {
            let mut j = i + 1;
            while chars
                .get(j)
                .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                j += 1;
            }
            let tag: String = span(&chars, i + 1, j);
            if !tag.is_empty() && !tag.chars().all(|c| c.is_ascii_digit()) {
                flush(&mut buf, &mut out);
                out.push(Segment::Hashtag(tag));
                i = j;
                continue;
            }
        }
        buf.push(c);
        i += 1;
    }
    flush(&mut buf, &mut out);
    out
}

/// Plain text with its links made (no paragraphs, no mentions or
/// hashtags): a profile field's value as Mastodon shows it.
pub fn link_urls(text: &str) -> String {
    let mut html = String::new();
    for s in parse(text) {
        match s {
            Segment::Link(u) => {
                let shown = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .unwrap_or(&u)
                    .to_owned();
                html.push_str(&format!(
                    "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener noreferrer me\" translate=\"no\">{}</a>",
                    escape(&u),
                    escape(&shown)
                ));
            }
            Segment::Text(t) => html.push_str(&escape(&t)),
            Segment::LineBreak | Segment::ParagraphBreak => html.push(' '),
            Segment::Mention { user, domain } => {
                html.push('@');
                html.push_str(&escape(&user));
                if let Some(d) = domain {
                    html.push('@');
                    html.push_str(&escape(&d));
                }
            }
            Segment::Hashtag(t) => {
                html.push('#');
                html.push_str(&escape(&t));
            }
        }
    }
    html
}

/// Renders segments as Mastodon-style HTML. `resolve` maps a mention to a
/// face; unresolved mentions stay plain text.
pub fn render(
    segments: &[Segment],
    base_url: &str,
    resolve: impl Fn(&str, Option<&str>) -> Option<ResolvedMention>,
) -> String {
    let mut html = String::from("<p>");
    for s in segments {
        match s {
            Segment::Text(t) => html.push_str(&escape(t)),
            Segment::LineBreak => html.push_str("<br />"),
            Segment::ParagraphBreak => html.push_str("</p><p>"),
            Segment::Link(u) => {
                let shown = u
                    .strip_prefix("https://")
                    .or_else(|| u.strip_prefix("http://"))
                    .unwrap_or(u);
                html.push_str(&format!(
                    "<a href=\"{}\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\">{}</a>",
                    escape(u),
                    escape(shown)
                ));
            }
            Segment::Mention { user, domain } => match resolve(user, domain.as_deref()) {
                Some(m) => html.push_str(&format!(
                    "<span class=\"h-card\" translate=\"no\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span>",
                    escape(&m.profile_url),
                    escape(&m.handle)
                )),
                None => {
                    html.push('@');
                    html.push_str(&escape(user));
                    if let Some(d) = domain {
                        html.push('@');
                        html.push_str(&escape(d));
                    }
                }
            },
            Segment::Hashtag(t) => html.push_str(&format!(
                "<a href=\"{}/tags/{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                escape(base_url),
                escape(&t.to_lowercase()),
                escape(t)
            )),
        }
    }
    html.push_str("</p>");
    // Trailing or leading breaks make empty paragraphs; drop them.
    html.replace("<p></p>", "")
}

pub fn hashtags(segments: &[Segment]) -> Vec<String> {
    let mut tags: Vec<String> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Hashtag(t) => Some(t.to_lowercase()),
            _ => None,
        })
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

pub fn mentions(segments: &[Segment]) -> Vec<(String, Option<String>)> {
    let mut m: Vec<(String, Option<String>)> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Mention { user, domain } => Some((user.clone(), domain.clone())),
            _ => None,
        })
        .collect();
    m.sort();
    m.dedup();
    m
}

/// Remote HTML to plain text: tags dropped (paragraphs and line breaks kept
/// as newlines), the common entities decoded. The text is then rendered by
/// `render` like local text, so no remote markup reaches a client.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start..).unwrap_or_default();
        let end = after.find('>').map_or(after.len(), |e| e + 1);
        let tag = after.get(..end).unwrap_or_default().to_ascii_lowercase();
        if tag.starts_with("<br") {
            out.push('\n');
        } else if tag.starts_with("</p") {
            out.push_str("\n\n");
        }
        rest = after.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(text: &str) -> String {
        render(&parse(text), "https://g.example", |u, d| {
            (u == "alice" && d.is_none()).then(|| ResolvedMention {
                profile_url: "https://g.example/@alice".into(),
                handle: "alice".into(),
            })
        })
    }

    #[test]
    fn formatting_table() {
        let cases = [
            ("hello", "<p>hello</p>"),
            ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
            ("a\nb", "<p>a<br />b</p>"),
            ("a\n\nb", "<p>a</p><p>b</p>"),
            ("a\r\n\r\n\r\nb", "<p>a</p><p>b</p>"),
            ("\n\nx", "<p>x</p>"),
            ("hi @alice!", "<p>hi <span class=\"h-card\" translate=\"no\"><a href=\"https://g.example/@alice\" class=\"u-url mention\">@<span>alice</span></a></span>!</p>"),
            ("hi @bob", "<p>hi @bob</p>"),
            ("mail a@alice", "<p>mail a@alice</p>"),
            ("#Rust and #42", "<p><a href=\"https://g.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a> and #42</p>"),
            // Trailing punctuation and quotes end the link; quotes inside are escaped.
            ("see https://x.example/a?b=1&c=\"2\".", "<p>see <a href=\"https://x.example/a?b=1&amp;c=&quot;2\" target=\"_blank\" rel=\"nofollow noopener noreferrer\" translate=\"no\">x.example/a?b=1&amp;c=&quot;2</a>&quot;.</p>"),
            ("javascript:alert(1)", "<p>javascript:alert(1)</p>"),
            ("x https:// y", "<p>x https:// y</p>"),
        ];
        for (input, want) in cases {
            assert_eq!(html(input), want, "input {input:?}");
        }
    }

    #[test]
    fn remote_html_becomes_text() {
        assert_eq!(
            html_to_text(
                "<p>Hi <a href=\"x\">@<span>bob</span></a></p><p>two<br>lines &amp; &lt;b&gt;</p>"
            ),
            "Hi @bob\n\ntwo\nlines & <b>"
        );
        assert_eq!(html_to_text("<script>alert(1)</script>ok"), "alert(1)ok");
        assert_eq!(html(&html_to_text("<img src=x onerror=alert(1)>")), "");
    }

    #[test]
    fn extracts_mentions_and_tags() {
        let segs = parse("@a @b@remote.example. #One #one #two @a");
        assert_eq!(
            mentions(&segs),
            vec![
                ("a".to_string(), None),
                ("b".to_string(), Some("remote.example".to_string()))
            ]
        );
        assert_eq!(hashtags(&segs), vec!["one".to_string(), "two".to_string()]);
    }

    #[test]
    fn any_input_renders_without_raw_markup() {
        for s in [
            "<", "&<>\"'", "@", "#", "@@@", "http://", "\u{0}<b>", "@x@<y>.z",
        ] {
            let out = html(s);
            let stripped = out
                .replace("<p>", "")
                .replace("</p>", "")
                .replace("<br />", "");
            assert!(!stripped.contains('<'), "{s:?} -> {out}");
        }
    }
}
