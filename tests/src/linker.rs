//! The linker: tries to tie a person's faces together, as the three
//! adversaries of the unlinkability contract would, from what each can see.
//! Pure functions over collected data, so each can be shown to catch a
//! planted leak.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Keys whose values the person wrote or chose to point at (their content is
/// theirs to reveal), left out of fingerprints.
const CONTENT_KEYS: &[&str] = &[
    "content",
    "text",
    "spoiler_text",
    "mentions",
    "tags",
    "in_reply_to_id",
    "in_reply_to_account_id",
    "reblog",
    "note",
    "display_name",
    "language",
    "poll",
    "card",
    "emojis",
    "media_attachments",
    "edited_at",
];

/// Whether a value could identify anything: not a boolean, small number or short word.
pub fn identifying(v: &str) -> bool {
    if v.len() < 6 {
        return false;
    }
    if let Ok(n) = v.parse::<i64>() {
        return n.abs() >= 100_000;
    }
    true
}

/// Every leaf value of `v` as a string, skipping `skip` keys at any depth.
pub fn flatten(v: &Value, skip: &[&str], out: &mut BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if !skip.contains(&k.as_str()) {
                    flatten(x, skip, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| flatten(x, skip, out)),
        Value::String(s) if identifying(s) => {
            out.insert(s.clone());
        }
        Value::Number(n) if identifying(&n.to_string()) => {
            out.insert(n.to_string());
        }
        _ => {}
    }
}

/// What one adversary sees of one face: its person (the ground truth, for
/// scoring only) and the values that describe it.
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    pub person: String,
    pub values: BTreeSet<String>,
}

/// Adds a Status entity's own fields (not the content the person wrote) to
/// its author's fingerprint, and the Account entity to the account's.
pub fn add_status(fps: &mut BTreeMap<String, Fingerprint>, status: &Value) {
    let Some(author) = status["account"]["id"].as_str() else {
        return;
    };
    if let Some(fp) = fps.get_mut(author) {
        let mut own = status.clone();
        if let Some(o) = own.as_object_mut() {
            o.remove("account");
        }
        flatten(&own, CONTENT_KEYS, &mut fp.values);
        flatten(&status["account"], CONTENT_KEYS, &mut fp.values);
    }
}

pub fn add_account(fps: &mut BTreeMap<String, Fingerprint>, account: &Value) {
    let Some(id) = account["id"].as_str() else {
        return;
    };
    if let Some(fp) = fps.get_mut(id) {
        flatten(account, CONTENT_KEYS, &mut fp.values);
    }
}

/// Person-written or person-chosen parts of ActivityPub documents. When a
/// post is published is the person's own to manage, as the contract says
/// (posting in two tiers within one second shows in `published`); delaying
/// or coarsening anonymous publish times is planned policy.
const AP_CONTENT_KEYS: &[&str] = &[
    "published",
    "updated",
    "content",
    "source",
    "summary",
    "tag",
    "inReplyTo",
    "cc",
    "to",
    "name",
    "@context",
];

/// Adds an ActivityPub document (actor, note) or a WebFinger answer about
/// `face` to its fingerprint.
pub fn add_document(fps: &mut BTreeMap<String, Fingerprint>, face: &str, doc: &Value) {
    if let Some(fp) = fps.get_mut(face) {
        flatten(doc, AP_CONTENT_KEYS, &mut fp.values);
    }
}

/// Pairs of one person's faces that share a value no other person's faces
/// show: (face, face, value).
pub fn fingerprint_links(fps: &BTreeMap<String, Fingerprint>) -> Vec<(String, String, String)> {
    let mut people_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for fp in fps.values() {
        for v in &fp.values {
            people_of.entry(v).or_default().insert(&fp.person);
        }
    }
    let mut out = Vec::new();
    let faces: Vec<(&String, &Fingerprint)> = fps.iter().collect();
    for (i, (fa, a)) in faces.iter().enumerate() {
        for (fb, b) in faces.iter().skip(i + 1) {
            if a.person != b.person {
                continue;
            }
            for v in a.values.intersection(&b.values) {
                if people_of.get(v.as_str()).is_some_and(|p| p.len() == 1) {
                    out.push(((*fa).clone(), (*fb).clone(), v.clone()));
                }
            }
        }
    }
    out
}

/// One row read off the database files, schema unknown: its transaction id
/// and every value in it.
#[derive(Debug, Clone)]
pub struct Row {
    pub table: String,
    pub xmin: u64,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AtRest {
    pub rows: Vec<Row>,
    /// (key, value, absolute expiry in Unix seconds or -1)
    pub redis: Vec<(String, String, i64)>,
    pub logs: Vec<String>,
}

/// Ground truth, for scoring: each account and its anonymous faces with
/// their statuses.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    pub accounts: Vec<String>,
    /// persistent face id -> its login's account id (rows naming one are
    /// as good as rows naming the login).
    pub persistent: BTreeMap<String, String>,
    /// anonymous face id -> (owner account id, the face's status ids)
    pub anonymous: BTreeMap<String, (String, Vec<String>)>,
    pub limit_epoch_secs: i64,
}

fn instants(values: &[String]) -> Vec<i64> {
    values
        .iter()
        .filter_map(|v| {
            chrono::DateTime::parse_from_rfc3339(&v.replace(' ', "T"))
                .ok()
                .or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
                        .ok()
                        .map(|n| n.and_utc().fixed_offset())
                })
        })
        .map(|t| t.timestamp_millis())
        .collect()
}

/// Everything the at-rest adversary can tie between an anonymous face and
/// its true owner. Empty means no link found.
pub fn at_rest_links(d: &AtRest, t: &Truth) -> Vec<String> {
    let mut out = Vec::new();
    let contains = |row: &Row, id: &str| row.values.iter().any(|v| v == id);
    let account_rows: BTreeMap<&str, Vec<&Row>> = t
        .accounts
        .iter()
        .map(|a| {
            (
                a.as_str(),
                d.rows.iter().filter(|r| contains(r, a)).collect(),
            )
        })
        .collect();
    // Which accounts' rows each value appears in.
    let mut accounts_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, rows) in &account_rows {
        for r in rows {
            for v in &r.values {
                accounts_of.entry(v).or_default().insert(a);
            }
        }
    }
    let mut owner_closest = 0usize;
    let mut scored = 0usize;
    for (face, (owner, statuses)) in &t.anonymous {
        let anon_rows: Vec<&Row> = d
            .rows
            .iter()
            .filter(|r| contains(r, face) || statuses.iter().any(|s| contains(r, s)))
            .collect();
        let Some(owner_rows) = account_rows.get(owner.as_str()) else {
            continue;
        };
        // 1. A row that names both.
        for r in &anon_rows {
            if contains(r, owner) {
                out.push(format!(
                    "{} row names anonymous face {face} and its account {owner}",
                    r.table
                ));
            }
        }
        // 2. A rare value shared by the face's rows and only its owner's rows.
        let anon_values: BTreeSet<&String> = anon_rows
            .iter()
            .flat_map(|r| r.values.iter())
            .filter(|v| identifying(v))
            .collect();
        for r in owner_rows {
            for v in &r.values {
                if anon_values.contains(v)
                    && accounts_of.get(v.as_str()).is_some_and(|s| s.len() == 1)
                {
                    out.push(format!(
                        "value {v:?} is shared by face {face} and only its account's {} row",
                        r.table
                    ));
                }
            }
        }
        // 3. Instants on account rows close to the face's instants.
        let anon_times: Vec<i64> = anon_rows.iter().flat_map(|r| instants(&r.values)).collect();
        for r in owner_rows {
            for ti in instants(&r.values) {
                if anon_times.iter().any(|a| (a - ti).abs() < 5_000) {
                    out.push(format!(
                        "{} row of account {owner} holds an instant within 5 s of face {face}'s",
                        r.table
                    ));
                }
            }
        }
        // 4. Transaction ids: is the owner's nearest row nearer than the others'?
        let dist = |rows: &[&Row]| -> Option<u64> {
            anon_rows
                .iter()
                .flat_map(|a| rows.iter().map(move |r| a.xmin.abs_diff(r.xmin)))
                .min()
        };
        if let Some(own) = dist(owner_rows) {
            let others: Vec<u64> = account_rows
                .iter()
                .filter(|(a, _)| *a != owner)
                .filter_map(|(_, rows)| dist(rows))
                .collect();
            scored += 1;
            if others.iter().all(|o| own < *o) {
                owner_closest += 1;
            }
        }
    }
    // By chance the owner is nearest for about one face in (number of accounts).
    if scored >= 4 && owner_closest * 3 > scored * 2 {
        out.push(format!("transaction ids: the owner's rows are the nearest for {owner_closest} of {scored} anonymous faces"));
    }
    // 5. Redis: no key or value names an account or a face; expiries sit on the grid.
    let named: Vec<&String> = t.accounts.iter().chain(t.anonymous.keys()).collect();
    for (k, v, exp) in &d.redis {
        for id in &named {
            if k.contains(id.as_str()) || v.contains(id.as_str()) {
                out.push(format!("redis key {k:?} names {id}"));
            }
        }
        if *exp > 0 && t.limit_epoch_secs > 0 && exp % t.limit_epoch_secs != 0 {
            out.push(format!("redis key {k:?} expires off the grid at {exp}"));
        }
    }
    // 6. Logs name no account.
    for line in &d.logs {
        for a in &t.accounts {
            if line.contains(a.as_str()) {
                out.push(format!("log line names account {a}: {line}"));
            }
        }
    }
    out
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let mut term = (1.0 - p).powi(n as i32); // P(X = 0)
    let mut below = 0.0;
    for i in 0..k.min(n + 1) {
        below += term;
        // P(X = i + 1) from P(X = i).
        term *= (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
    }
    (1.0 - below).max(0.0)
}

/// The fewest right guesses out of `n`, each right by chance with
/// probability `p`, that chance alone reaches with probability at most
/// `alpha`: as many or more means the guesses saw something real.
pub fn chance_bound(n: usize, p: f64, alpha: f64) -> usize {
    (0..=n + 1)
        .find(|k| binomial_tail(n, *k, p) <= alpha)
        .unwrap_or(n + 1)
}

/// The login a row names, if any: its account id or a persistent face's.
fn login_named<'a>(r: &Row, t: &'a Truth) -> Option<&'a str> {
    r.values.iter().find_map(|v| {
        t.accounts
            .iter()
            .find(|a| *a == v)
            .map(String::as_str)
            .or_else(|| t.persistent.get(v).map(String::as_str))
    })
}

/// The order adversary: for each anonymous face, the nearest row written at
/// or before the face's first row (by `xmin`, the transaction that wrote
/// it) that names a login or one of its persistent faces; that login is its
/// guess. Returns (right guesses, guesses, logins it chose among).
pub fn nearest_before(d: &AtRest, t: &Truth) -> (usize, usize, usize) {
    nearest_guesses(d, t, Anchor::FirstRowBefore)
}

/// Which of an anonymous face's rows the order adversary measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// Its first row, looking back (what was written just before it).
    FirstRowBefore,
    /// Its last row (say, its tombstone), looking both ways.
    LastRowEitherSide,
}

/// `nearest_before`, from either anchor.
pub fn nearest_guesses(d: &AtRest, t: &Truth, anchor: Anchor) -> (usize, usize, usize) {
    let contains = |row: &Row, id: &str| row.values.iter().any(|v| v == id);
    let mut tied: Vec<(u64, &str)> = d
        .rows
        .iter()
        .filter_map(|r| login_named(r, t).map(|a| (r.xmin, a)))
        .collect();
    tied.sort();
    let logins: BTreeSet<&str> = tied.iter().map(|(_, a)| *a).collect();
    let (mut right, mut guesses) = (0, 0);
    for (face, (owner, statuses)) in &t.anonymous {
        let xmins = d
            .rows
            .iter()
            .filter(|r| contains(r, face) || statuses.iter().any(|s| contains(r, s)))
            .map(|r| r.xmin);
        let guess = match anchor {
            Anchor::FirstRowBefore => {
                let Some(first) = xmins.min() else {
                    continue;
                };
                tied.iter()
                    .rev()
                    .find(|(x, _)| *x <= first)
                    .map(|(_, a)| *a)
            }
            Anchor::LastRowEitherSide => {
                let Some(last) = xmins.max() else {
                    continue;
                };
                tied.iter()
                    .min_by_key(|(x, _)| x.abs_diff(last))
                    .map(|(_, a)| *a)
            }
        };
        let Some(guess) = guess else {
            continue;
        };
        guesses += 1;
        if guess == owner {
            right += 1;
        }
    }
    (right, guesses, logins.len())
}

/// `nearest_before`, judged: a link when it guesses right more often than
/// chance allows at significance `alpha`.
pub fn order_link(d: &AtRest, t: &Truth, alpha: f64) -> Option<String> {
    order_link_from(d, t, Anchor::FirstRowBefore, alpha)
}

/// `order_link` from either anchor.
pub fn order_link_from(d: &AtRest, t: &Truth, anchor: Anchor, alpha: f64) -> Option<String> {
    let (right, guesses, logins) = nearest_guesses(d, t, anchor);
    if guesses == 0 || logins == 0 {
        return None;
    }
    let bound = chance_bound(guesses, 1.0 / logins as f64, alpha);
    (right >= bound).then(|| {
        format!(
            "transaction order: the nearest login-naming row before an anonymous face names its owner for {right} of {guesses} faces (chance among {logins} logins stays under {bound} with p = {alpha})"
        )
    })
}

/// The burst adversary: a transaction (one `xmin`) that wrote rows about
/// one person's anonymous faces and rows about their login or persistent
/// faces ties them together outright.
pub fn shared_transactions(d: &AtRest, t: &Truth) -> Vec<String> {
    let mut anon_of: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut login_of: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for r in &d.rows {
        for (face, (owner, statuses)) in &t.anonymous {
            if r.values.iter().any(|v| v == face || statuses.contains(v)) {
                anon_of.entry(r.xmin).or_default().insert(owner);
            }
        }
        if let Some(a) = login_named(r, t) {
            login_of.entry(r.xmin).or_default().insert(a);
        }
    }
    let mut out = Vec::new();
    for (x, owners) in &anon_of {
        if let Some(logins) = login_of.get(x) {
            for o in owners.intersection(logins) {
                out.push(format!(
                    "transaction {x} wrote rows about login {o} and about its anonymous faces"
                ));
            }
        }
    }
    out
}

/// The id-order adversary: each person's faces in the order they were made.
/// Ids that carry time sort the same way; random ids agree with the order
/// for about half of all pairs. A link when more pairs agree than chance
/// allows at significance `alpha`.
pub fn id_order_link(orders: &[Vec<String>], alpha: f64) -> Option<String> {
    let (mut same, mut pairs) = (0usize, 0usize);
    for made in orders {
        let ids: Vec<i64> = made.iter().filter_map(|i| i.parse().ok()).collect();
        for (i, a) in ids.iter().enumerate() {
            for b in ids.iter().skip(i + 1) {
                pairs += 1;
                if a < b {
                    same += 1;
                }
            }
        }
    }
    let bound = chance_bound(pairs, 0.5, alpha);
    (pairs > 0 && same >= bound).then(|| {
        format!("face ids sort in creation order for {same} of {pairs} pairs (chance stays under {bound})")
    })
}

/// Attribute names whose values say nothing about a face: the viewer's own
/// form state and the page's description of what the person wrote.
const SKIPPED_INPUTS: &[&str] = &["csrf", "back", "token", "secret"];

/// A tag's attributes (lower-case names), values unquoted.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                Some(end) => (after[1..1 + end].to_owned(), &after[end + 2..]),
                None => (after[1..].to_owned(), ""),
            },
            _ => {
                let end = after
                    .find(|c: char| c.is_whitespace())
                    .unwrap_or(after.len());
                (after[..end].to_owned(), &after[end..])
            }
        };
        out.push((name, value.replace("&amp;", "&")));
        rest = next;
    }
    out
}

/// Cuts `open…close` spans out of `html` (the parts a person wrote).
fn without(html: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        match rest[i..].find(close) {
            Some(j) => rest = &rest[i + j + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The identifying attribute values of a web page, leaving out what the
/// person wrote (post content, about text, profile fields, content
/// warnings, descriptions of them), when they posted (theirs to manage, as
/// for documents), and the viewer's own form state.
pub fn html_values(html: &str, out: &mut BTreeSet<String>) {
    let mut page = html.to_owned();
    for (open, close) in [
        ("<div class=\"content", "</div>"),
        ("<div class=\"p-note", "</div>"),
        ("<dl class=\"fields", "</dl>"),
        ("<summary", "</summary>"),
        ("<textarea", "</textarea>"),
        ("<title", "</title>"),
    ] {
        page = without(&page, open, close);
    }
    let mut rest = page.as_str();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        rest = &rest[end.min(rest.len())..];
        let attrs = attributes(tag);
        let named = |n: &str| attrs.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        if tag.starts_with("input") && named("name").is_some_and(|n| SKIPPED_INPUTS.contains(&n)) {
            continue;
        }
        if tag.starts_with("meta")
            && named("property").or(named("name")).is_some_and(|p| {
                p.contains("description") || p.contains("title") || p.contains("published")
            })
        {
            continue;
        }
        for (k, v) in &attrs {
            if k == "datetime" || k == "name" || k == "class" || k == "type" {
                continue;
            }
            if identifying(v) {
                out.insert(v.clone());
            }
        }
    }
}

/// Adds a whole page about `face` (its public page, a post's page).
pub fn add_page(fps: &mut BTreeMap<String, Fingerprint>, face: &str, html: &str) {
    if let Some(fp) = fps.get_mut(face) {
        html_values(html, &mut fp.values);
    }
}

/// Adds each post on a signed-in web page (a timeline, a thread) to its
/// author's fingerprint: the author is the face its name links to.
pub fn add_web_posts(fps: &mut BTreeMap<String, Fingerprint>, html: &str) {
    for chunk in html.split("<article class=\"status\"").skip(1) {
        let article = chunk.split("</article>").next().unwrap_or_default();
        let Some(author) = article
            .split("href=\"/web/accounts/")
            .nth(1)
            .and_then(|r| r.split('"').next())
        else {
            continue;
        };
        if let Some(fp) = fps.get_mut(author) {
            html_values(article, &mut fp.values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tails_and_bounds() {
        assert!((binomial_tail(10, 0, 0.3) - 1.0).abs() < 1e-12);
        // P(X ≥ 1) = 1 - 0.7^10
        assert!((binomial_tail(10, 1, 0.3) - (1.0 - 0.7f64.powi(10))).abs() < 1e-9);
        assert!(binomial_tail(10, 11, 0.3) < 1e-12);
        // 32 guesses among 32 logins: a handful right is chance, not 8.
        let b = chance_bound(32, 1.0 / 32.0, 1e-4);
        assert!((5..=8).contains(&b), "{b}");
        assert!(binomial_tail(32, b, 1.0 / 32.0) <= 1e-4);
        assert!(binomial_tail(32, b - 1, 1.0 / 32.0) > 1e-4);
    }
}
