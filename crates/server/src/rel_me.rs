//! Profile links confirmed the way Mastodon confirms them: a field whose
//! value is one link is verified when the linked page links back to the
//! face's profile with `rel="me"`. Remote faces' fields are checked when
//! the actor is stored (beside the request that brought it, never because
//! someone reads), once per field value; the page is fetched through the
//! guarded fetcher (no private addresses, no blocked domains, 1 MiB).

use crate::state::AppState;
use guise_core::CoreResult;
use url::Url;

/// The `href` of every `<a>` and `<link>` tag whose `rel` has the token
/// `me` (at most 100).
pub fn rel_me_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = rest.get(open + 1..).unwrap_or_default();
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = rest.get(..close).unwrap_or_default();
        rest = rest.get(close + 1..).unwrap_or_default();
        let name_end = tag
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(tag.len());
        let name = tag.get(..name_end).unwrap_or_default();
        if !(name.eq_ignore_ascii_case("a") || name.eq_ignore_ascii_case("link")) {
            continue;
        }
        let attrs = attributes(tag.get(name_end..).unwrap_or_default());
        let is_me = attrs.iter().any(|(k, v)| {
            k == "rel"
                && v.split_ascii_whitespace()
                    .any(|t| t.eq_ignore_ascii_case("me"))
        });
        if let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href").filter(|_| is_me) {
            out.push(href.replace("&amp;", "&"));
            if out.len() == 100 {
                break;
            }
        }
    }
    out
}

/// A tag's attributes: lower-case names, values unquoted.
pub(crate) fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.trim_end_matches('/').chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace() && *c != '=') {
            name.push(c.to_ascii_lowercase());
        }
        if name.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
            match chars.next_if(|c| *c == '"' || *c == '\'') {
                Some(q) => {
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                None => {
                    while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
                        value.push(c);
                    }
                }
            }
        }
        out.push((name, value));
    }
    out
}

/// The one link a field's (sanitized) value holds, if it holds exactly one.
fn only_link(value_html: &str) -> Option<Url> {
    let links: Vec<String> = {
        let mut v = Vec::new();
        let mut rest = value_html;
        while let Some(i) = rest.find("<a ") {
            rest = rest.get(i + 3..).unwrap_or_default();
            let tag = rest
                .get(..rest.find('>').unwrap_or(rest.len()))
                .unwrap_or_default();
            if let Some((_, href)) = attributes(tag).into_iter().find(|(k, _)| k == "href") {
                v.push(href.replace("&amp;", "&"));
            }
        }
        v
    };
    match links.as_slice() {
        [one] => Url::parse(one)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https")),
        _ => None,
    }
}

/// Checks a face's unchecked fields beside the request (spawned), if it
/// has any.
pub fn check_later(state: &AppState, face: &guise_core::models::Identity) {
    if guise_core::remote::fields_unchecked(face) {
        let (state, id) = (state.clone(), face.id);
        tokio::spawn(async move {
            if let Err(e) = verify_fields(&state, id).await {
                tracing::debug!(error = %e, "checking profile links");
            }
        });
    }
}

/// Checks a face's unchecked fields and records what was found.
pub async fn verify_fields(state: &AppState, face_id: i64) -> CoreResult<()> {
    let face = {
        let mut conn = state.db.conn().await?;
        guise_core::accounts::get_identity(&mut conn, face_id).await?
    };
    // What a page must link back to: the face's profile page or its id.
    let mine: Vec<Url> = if face.is_local() {
        let urls = guise_federation::Urls::new(state.base_url.to_string());
        [urls.profile(&face), urls.actor(&face)]
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .collect()
    } else {
        face.profile()
            .url
            .iter()
            .chain(face.actor_url.iter())
            .filter_map(|u| Url::parse(u).ok())
            .collect()
    };
    let Some(fields) = face.fields.as_array() else {
        return Ok(());
    };
    let today = state.clock.today();
    let mut checked = Vec::with_capacity(fields.len());
    for f in fields {
        let mut f = f.clone();
        if f.get("checked_on").is_none() {
            // A local face's value is its own text: a link if it is one URL.
            let value = f.get("value").and_then(|v| v.as_str()).unwrap_or_default();
            let link = if face.is_local() {
                Url::parse(value.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
            } else {
                only_link(value)
            };
            let mut verified = false;
            if let Some(link) = link {
                if let Ok((_, page)) = state.fetcher.get_page(&link).await {
                    verified = rel_me_links(&page)
                        .iter()
                        .filter_map(|h| Url::parse(h).ok())
                        .any(|h| mine.contains(&h));
                }
            }
            if let Some(o) = f.as_object_mut() {
                o.insert("checked_on".into(), today.to_string().into());
                if verified {
                    // A day, like every time Guise keeps: when it was seen.
                    o.insert(
                        "verified_at".into(),
                        format!("{today}T00:00:00.000+00:00").into(),
                    );
                }
            }
        }
        checked.push(f);
    }
    let mut conn = state.db.conn().await?;
    guise_core::remote::set_field_checks(
        &mut conn,
        face.id,
        &face.fields,
        &serde_json::Value::Array(checked),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_me_links_are_found_however_written() {
        let html = r#"<html><head><link rel="me" href="https://a.example/@ada">
            <LINK REL='authn me' HREF='https://b.example/users/ada'/></head>
            <body><a href="https://c.example/@x" rel="nofollow">no</a>
            <a rel=me href=https://d.example/@ada?x=1&amp;y=2>unquoted</a>
            <a href="https://e.example" rel="mean">not me</a>
            <img rel="me" src="x"></body></html>"#;
        assert_eq!(
            rel_me_links(html),
            vec![
                "https://a.example/@ada",
                "https://b.example/users/ada",
                "https://d.example/@ada?x=1&y=2"
            ]
        );
        assert!(rel_me_links("<a rel=\"me\"").is_empty());
    }

    #[test]
    fn only_a_single_link_is_verifiable() {
        assert_eq!(
            only_link(r#"<a href="https://ada.example" rel="me">ada.example</a>"#)
                .map(String::from),
            Some("https://ada.example/".to_owned())
        );
        assert!(only_link("she/her").is_none());
        assert!(only_link(
            r#"<a href="https://a.example">a</a> and <a href="https://b.example">b</a>"#
        )
        .is_none());
        assert!(only_link(r#"<a href="mailto:ada@example.com">mail</a>"#).is_none());
    }
}
