//! Mastodon API entities, field by field as docs.joinmastodon.org documents
//! them, built explicitly from core rows. Guise adds one object, `guise`, on
//! Account and Status; clients ignore keys they do not know.

use crate::state::AppState;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use guise_core::models::{App, Identity, Notification as NotificationRow};
use guise_core::social::{IdentityStats, Relationship as RelRow};
use guise_core::statuses::StatusView;
use guise_policy::Tier;
use serde::Serialize;
use std::collections::HashMap;

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn iso_date(d: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

#[derive(Debug, Serialize)]
pub struct GuiseExt {
    pub tier: &'static str,
    pub verified: bool,
    pub verified_by: Option<String>,
}

impl GuiseExt {
    pub fn of(state: &AppState, who: &Identity) -> GuiseExt {
        let tier = who.tier();
        let verified = tier == Tier::RealName && who.verified;
        GuiseExt {
            tier: tier.as_str(),
            verified,
            verified_by: if verified {
                Some(
                    who.verified_by
                        .clone()
                        .unwrap_or_else(|| state.domain().to_owned()),
                )
            } else {
                None
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub verified_at: Option<String>,
}

impl Field {
    /// `(name, value, verified_at)` as stored: a local face's values are
    /// its text, a remote one's the sanitized HTML its server sent.
    fn stored(who: &Identity) -> Vec<(String, String, Option<String>)> {
        who.fields
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((
                    f.get("name")?.as_str()?.to_owned(),
                    f.get("value")?.as_str()?.to_owned(),
                    f.get("verified_at")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                ))
            })
            .collect()
    }

    /// A face's fields as the public sees them: values as HTML (a local
    /// face's with links made), and when a link's page was seen to link
    /// back with `rel="me"`.
    pub fn of(who: &Identity) -> Vec<Field> {
        Self::stored(who)
            .into_iter()
            .map(|(name, value, verified_at)| Field {
                name,
                value: if who.is_local() {
                    guise_core::text::link_urls(&value)
                } else {
                    value
                },
                verified_at,
            })
            .collect()
    }

    /// As its owner edits them: plain text.
    pub fn source_of(who: &Identity) -> Vec<Field> {
        Self::stored(who)
            .into_iter()
            .map(|(name, value, _)| Field {
                name,
                value,
                verified_at: None,
            })
            .collect()
    }
}

#[derive(Debug, Serialize)]
pub struct Source {
    pub privacy: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub note: String,
    pub fields: Vec<Field>,
    pub follow_requests_count: i64,
}

#[derive(Debug, Serialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub color: String,
    pub permissions: String,
    pub highlighted: bool,
}

#[derive(Debug, Serialize)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub acct: String,
    pub display_name: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub group: bool,
    pub noindex: bool,
    pub hide_collections: bool,
    pub created_at: String,
    pub note: String,
    pub url: String,
    pub uri: String,
    pub avatar: String,
    pub avatar_static: String,
    pub header: String,
    pub header_static: String,
    pub followers_count: i64,
    pub following_count: i64,
    pub statuses_count: i64,
    pub last_status_at: Option<String>,
    pub emojis: Vec<serde_json::Value>,
    pub fields: Vec<Field>,
    pub roles: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The account it moved to (remote actors' `movedTo`, when known here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<Box<Account>>,
    /// Present (true) only for a memorial account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memorial: Option<bool>,
    /// Present (true) only when its own server suspended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    pub guise: GuiseExt,
}

pub fn actor_uri(state: &AppState, who: &Identity) -> String {
    match (&who.domain, &who.actor_url) {
        (Some(_), Some(u)) => u.clone(),
        _ if who.tier() == Tier::Anonymous => format!("{}/anon/{}", state.base_url, who.handle),
        _ => format!("{}/users/{}", state.base_url, who.handle),
    }
}

pub fn profile_url(state: &AppState, who: &Identity) -> String {
    match (&who.domain, &who.actor_url) {
        (Some(_), Some(u)) => who.profile().url.unwrap_or_else(|| u.clone()),
        _ if who.tier() == Tier::Anonymous => format!("{}/anon/{}", state.base_url, who.handle),
        _ => format!("{}/@{}", state.base_url, who.handle),
    }
}

fn note_html(note: &str) -> String {
    if note.trim().is_empty() {
        String::new()
    } else {
        guise_core::text::render(&guise_core::text::parse(note), "", |_, _| None)
    }
}

/// A face's avatar: its own picture, a remote one through the media
/// proxy, else the default.
pub fn avatar_url(state: &AppState, who: &Identity) -> String {
    match (&who.avatar_key, &who.avatar_url) {
        (Some(k), _) => format!("{}/media/local/{k}", state.base_url),
        (None, Some(u)) => crate::media_proxy::proxied(state, u),
        (None, None) => format!("{}/avatars/original/missing.png", state.base_url),
    }
}

impl Account {
    pub fn new(state: &AppState, who: &Identity, stats: IdentityStats) -> Account {
        // A local face's own pictures; remote ones only through the media
        // proxy; else the defaults.
        let avatar = avatar_url(state, who);
        let header = match (&who.header_key, &who.header_url) {
            (Some(k), _) => format!("{}/media/local/{k}", state.base_url),
            (None, Some(u)) => crate::media_proxy::proxied(state, u),
            (None, None) => format!("{}/headers/original/missing.png", state.base_url),
        };
        let display_name = if who.tier() == Tier::Anonymous {
            "Anonymous".to_owned()
        } else {
            who.display_name.clone()
        };
        let profile = who.profile();
        Account {
            id: who.id.to_string(),
            username: who.handle.clone(),
            acct: who.acct(),
            display_name,
            locked: who.locked,
            bot: who.bot,
            discoverable: who.discoverable && who.tier() != Tier::Anonymous,
            indexable: profile.indexable && who.tier() != Tier::Anonymous,
            group: false,
            noindex: who.tier() == Tier::Anonymous,
            hide_collections: false,
            created_at: iso_date(who.created_on),
            note: note_html(&who.note),
            url: profile_url(state, who),
            uri: actor_uri(state, who),
            avatar: avatar.clone(),
            avatar_static: avatar,
            header: header.clone(),
            header_static: header,
            followers_count: stats.followers,
            following_count: stats.following,
            statuses_count: stats.statuses,
            last_status_at: stats
                .last_status_on
                .map(|d| d.format("%Y-%m-%d").to_string()),
            emojis: Vec::new(),
            fields: Field::of(who),
            roles: Vec::new(),
            source: None,
            role: None,
            moved: None,
            memorial: profile.memorial.then_some(true),
            suspended: profile.suspended.then_some(true),
            guise: GuiseExt::of(state, who),
        }
    }
}

/// What an "Anonymous" token's `verify_credentials` shows: an account that
/// exists nowhere, with an id derived from the token and shown nowhere else.
pub fn synthetic_anonymous(state: &AppState, id: i64) -> Account {
    let today = state.clock.today();
    let mut acc = Account::new(
        state,
        &Identity {
            id,
            account_id: None,
            tier: Tier::Anonymous.as_str().into(),
            handle: "anonymous".into(),
            domain: None,
            display_name: "Anonymous".into(),
            note: String::new(),
            locked: false,
            bot: false,
            discoverable: false,
            verified: false,
            verified_by: None,
            actor_url: None,
            inbox_url: None,
            shared_inbox_url: None,
            public_key_pem: None,
            private_key_pem: None,
            created_on: today,
            suspended: false,
            silenced: false,
            owner_tag: None,
            owner_nonce: None,
            thread_tag: None,
            tombstoned: false,
            real_name_status: None,
            avatar_url: None,
            header_url: None,
            fields: serde_json::json!([]),
            avatar_key: None,
            header_key: None,
            profile: serde_json::json!({}),
        },
        IdentityStats::default(),
    );
    acc.url = state.base_url.to_string();
    acc.uri = state.base_url.to_string();
    acc.source = Some(Source {
        privacy: "public".into(),
        sensitive: false,
        language: None,
        note: String::new(),
        fields: Vec::new(),
        follow_requests_count: 0,
    });
    acc
}

pub async fn accounts(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    people: &[Identity],
) -> guise_core::CoreResult<Vec<Account>> {
    let ids: Vec<i64> = people.iter().map(|p| p.id).collect();
    let stats = guise_core::social::identity_stats(conn, &ids).await?;
    let mut out: Vec<Account> = people
        .iter()
        .map(|p| Account::new(state, p, stats.get(&p.id).copied().unwrap_or_default()))
        .collect();
    // Where moved faces went, when that actor is known here (one query).
    let moved: Vec<String> = people.iter().filter_map(|p| p.profile().moved_to).collect();
    if !moved.is_empty() {
        let targets = guise_core::remote::by_actor_urls(conn, &moved).await?;
        let target_ids: Vec<i64> = targets.iter().map(|t| t.id).collect();
        let target_stats = guise_core::social::identity_stats(conn, &target_ids).await?;
        for (acc, p) in out.iter_mut().zip(people) {
            let Some(to) = p.profile().moved_to else {
                continue;
            };
            acc.moved = targets
                .iter()
                .find(|t| t.actor_url.as_deref() == Some(to.as_str()))
                .map(|t| {
                    Box::new(Account::new(
                        state,
                        t,
                        target_stats.get(&t.id).copied().unwrap_or_default(),
                    ))
                });
        }
    }
    Ok(out)
}

pub async fn account(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    who: &Identity,
) -> guise_core::CoreResult<Account> {
    let mut v = accounts(state, conn, std::slice::from_ref(who)).await?;
    v.pop().ok_or(guise_core::CoreError::NotFound)
}

#[derive(Debug, Clone, Serialize)]
pub struct Mention {
    pub id: String,
    pub username: String,
    pub url: String,
    pub acct: String,
}

#[derive(Debug, Serialize)]
pub struct Tag {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub id: String,
    pub uri: String,
    pub url: Option<String>,
    pub created_at: String,
    pub account: Account,
    pub content: String,
    pub visibility: String,
    pub sensitive: bool,
    pub spoiler_text: String,
    pub media_attachments: Vec<serde_json::Value>,
    pub application: Option<serde_json::Value>,
    pub mentions: Vec<Mention>,
    pub tags: Vec<Tag>,
    pub emojis: Vec<serde_json::Value>,
    pub reblogs_count: i64,
    pub favourites_count: i64,
    pub replies_count: i64,
    pub in_reply_to_id: Option<String>,
    pub in_reply_to_account_id: Option<String>,
    pub reblog: Option<Box<Status>>,
    pub poll: Option<serde_json::Value>,
    pub card: Option<serde_json::Value>,
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub edited_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favourited: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reblogged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    pub filtered: Vec<serde_json::Value>,
    pub guise: GuiseExt,
}

pub fn status_uri(state: &AppState, v: &StatusView) -> String {
    match &v.status.uri {
        Some(u) => u.clone(),
        None => format!("{}/statuses/{}", actor_uri(state, &v.author), v.status.id),
    }
}

pub fn status_url(state: &AppState, v: &StatusView) -> String {
    match (&v.status.url, &v.status.uri) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => u.clone(),
        (None, None) => format!("{}/{}", profile_url(state, &v.author), v.status.id),
    }
}

fn one_status(
    state: &AppState,
    v: &StatusView,
    stats: &HashMap<i64, IdentityStats>,
    signed_in: bool,
) -> Status {
    let s = &v.status;
    let account = Account::new(
        state,
        &v.author,
        stats.get(&v.author.id).copied().unwrap_or_default(),
    );
    let flag = |b: bool| signed_in.then_some(b);
    Status {
        id: s.id.to_string(),
        uri: status_uri(state, v),
        url: if s.reblog_of_id.is_some() {
            None
        } else {
            Some(status_url(state, v))
        },
        created_at: iso(s.created_at),
        account,
        content: s.content.clone(),
        visibility: s.visibility.clone(),
        sensitive: s.sensitive,
        spoiler_text: s.spoiler_text.clone(),
        media_attachments: media_attachments(state, s),
        application: None,
        mentions: v
            .mentions
            .iter()
            .map(|m| Mention {
                id: m.id.to_string(),
                username: m.handle.clone(),
                url: profile_url(state, m),
                acct: m.acct(),
            })
            .collect(),
        tags: v
            .tags
            .iter()
            .map(|t| Tag {
                name: t.clone(),
                url: format!("{}/tags/{}", state.base_url, t),
            })
            .collect(),
        emojis: custom_emojis(state, s),
        reblogs_count: v.reblogs_count,
        favourites_count: v.favourites_count,
        replies_count: v.replies_count,
        in_reply_to_id: s.in_reply_to_id.map(|i| i.to_string()),
        in_reply_to_account_id: s.in_reply_to_identity_id.map(|i| i.to_string()),
        reblog: v
            .reblog
            .as_ref()
            .map(|r| Box::new(one_status(state, r, stats, signed_in))),
        poll: None,
        card: None,
        language: s.language.clone(),
        text: None,
        edited_at: s.edited_at.map(iso),
        favourited: flag(v.favourited),
        reblogged: flag(v.reblogged),
        muted: flag(v.muted),
        bookmarked: flag(v.bookmarked),
        pinned: flag(v.pinned),
        filtered: Vec::new(),
        guise: GuiseExt::of(state, &v.author),
    }
}

pub async fn statuses(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    views: &[StatusView],
) -> guise_core::CoreResult<Vec<Status>> {
    // The polls came with the statuses.
    let mut polls: HashMap<i64, &guise_core::polls::Poll> = HashMap::new();
    for v in views {
        for one in std::iter::once(v).chain(v.reblog.as_deref()) {
            if let Some(p) = &one.poll {
                polls.insert(one.status.id, p);
            }
        }
    }
    // So did the authors' counters.
    let mut stats: HashMap<i64, guise_core::social::IdentityStats> = HashMap::new();
    for v in views {
        for one in std::iter::once(v).chain(v.reblog.as_deref()) {
            stats.insert(one.author.id, one.author_stats);
        }
    }
    let mut out: Vec<Status> = views
        .iter()
        .map(|v| one_status(state, v, &stats, viewer.is_some()))
        .collect();
    // Polls, with the viewer's own votes.
    if !polls.is_empty() {
        let keys: Vec<i64> = polls.keys().copied().collect();
        let own = match viewer {
            Some(f) => {
                guise_core::polls::own_votes(conn, &keys, &guise_core::polls::face_voter(f)).await?
            }
            None => Default::default(),
        };
        let now = state.clock.now();
        let render = |id: i64| {
            polls
                .get(&id)
                .map(|p| poll_json(p, viewer.map(|_| own.get(&id)), now))
        };
        for (o, v) in out.iter_mut().zip(views) {
            o.poll = render(v.status.id);
            if let (Some(r), Some(rv)) = (o.reblog.as_mut(), &v.reblog) {
                r.poll = render(rv.status.id);
            }
        }
    }
    Ok(out)
}

/// Mastodon's Poll entity. `own`: for a signed-in viewer, their choices
/// (if they voted); `None` without a viewer.
pub fn poll_json(
    p: &guise_core::polls::Poll,
    own: Option<Option<&Vec<i64>>>,
    now: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    let expired = p.expired(now);
    let counts = p.counts();
    let hidden = p.hide_totals && !expired;
    let options: Vec<serde_json::Value> = p
        .titles()
        .into_iter()
        .zip(counts.iter())
        .map(|(t, c)| {
            serde_json::json!({ "title": t, "votes_count": if hidden { None } else { Some(*c) } })
        })
        .collect();
    let mut v = serde_json::json!({
        "id": p.status_id.to_string(),
        "expires_at": p.expires_at.map(iso),
        "expired": expired,
        "multiple": p.multiple,
        "votes_count": counts.iter().sum::<i64>(),
        "voters_count": p.voters_count,
        "options": options,
        "emojis": [],
    });
    if let (Some(own), Some(o)) = (own, v.as_object_mut()) {
        o.insert("voted".into(), serde_json::json!(own.is_some()));
        o.insert(
            "own_votes".into(),
            serde_json::json!(own.cloned().unwrap_or_default()),
        );
    }
    v
}

pub async fn status_by_id(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    id: i64,
) -> guise_core::CoreResult<Status> {
    let view = guise_core::statuses::load_view(conn, viewer, id).await?;
    let mut v = statuses(state, conn, viewer, std::slice::from_ref(&view)).await?;
    v.pop().ok_or(guise_core::CoreError::NotFound)
}

pub async fn statuses_by_ids(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    ids: &[i64],
) -> guise_core::CoreResult<Vec<Status>> {
    let views = guise_core::statuses::load_views(conn, viewer, ids).await?;
    statuses(state, conn, viewer, &views).await
}

/// Statuses read in a filter `context` (home, notifications, public,
/// thread, account): each carries the viewer's matching filters in
/// `filtered`, and those a `hide` filter matches are left out.
pub async fn statuses_in(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    ids: &[i64],
    context: &str,
) -> guise_core::CoreResult<Vec<Status>> {
    let views = guise_core::statuses::load_views(conn, viewer, ids).await?;
    let Some(face) = viewer else {
        return statuses(state, conn, viewer, &views).await;
    };
    let active = guise_core::filters::active(conn, state.clock.as_ref(), face, context).await?;
    if active.is_empty() {
        return statuses(state, conn, viewer, &views).await;
    }
    let mut kept = Vec::new();
    let mut results = Vec::new();
    for v in views {
        // A boost is filtered by what it boosts.
        let inner = v.reblog.as_deref().unwrap_or(&v);
        let found = guise_core::filters::matches(
            &active,
            inner.status.id,
            &guise_core::text::html_to_text(&inner.status.content),
            &inner.status.spoiler_text,
        );
        if found.iter().any(|m| m.filter.row.filter_action == "hide") {
            continue;
        }
        results.push(
            found
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "filter": filter_json(&m.filter),
                        "keyword_matches": m.keywords,
                        "status_matches": m.statuses.iter().map(i64::to_string).collect::<Vec<_>>(),
                    })
                })
                .collect::<Vec<_>>(),
        );
        kept.push(v);
    }
    let mut out = statuses(state, conn, viewer, &kept).await?;
    for (s, f) in out.iter_mut().zip(results) {
        s.filtered = f;
    }
    Ok(out)
}

/// Mastodon's Filter entity.
pub fn filter_json(f: &guise_core::filters::Filter) -> serde_json::Value {
    serde_json::json!({
        "id": f.row.id.to_string(),
        "title": f.row.title,
        "context": f.row.context,
        "expires_at": f.row.expires_at.map(iso),
        "filter_action": f.row.filter_action,
        "keywords": f.keywords.iter().map(|k| serde_json::json!({
            "id": k.id.to_string(), "keyword": k.keyword, "whole_word": k.whole_word,
        })).collect::<Vec<_>>(),
        "statuses": f.statuses.iter().map(|s| serde_json::json!({
            "id": s.id.to_string(), "status_id": s.status_id.to_string(),
        })).collect::<Vec<_>>(),
    })
}

#[derive(Debug, Serialize)]
pub struct Relationship {
    pub id: String,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub languages: Option<Vec<String>>,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    pub muting_expires_at: Option<String>,
    pub requested: bool,
    pub requested_by: bool,
    pub domain_blocking: bool,
    pub endorsed: bool,
    pub note: String,
}

impl Relationship {
    /// What an "Anonymous" token is told of any face: nothing ties it to one.
    pub fn neutral(id: &str) -> Relationship {
        Relationship {
            id: id.to_owned(),
            following: false,
            showing_reblogs: false,
            notifying: false,
            languages: None,
            followed_by: false,
            blocking: false,
            blocked_by: false,
            muting: false,
            muting_notifications: false,
            muting_expires_at: None,
            requested: false,
            requested_by: false,
            domain_blocking: false,
            endorsed: false,
            note: String::new(),
        }
    }
}

impl From<RelRow> for Relationship {
    fn from(r: RelRow) -> Self {
        Relationship {
            id: r.id.to_string(),
            following: r.following,
            showing_reblogs: r.showing_reblogs,
            notifying: r.notifying,
            languages: None,
            followed_by: r.followed_by,
            blocking: r.blocking,
            blocked_by: r.blocked_by,
            muting: r.muting,
            muting_notifications: r.muting_notifications,
            muting_expires_at: r.muting_expires_at.map(iso),
            requested: r.requested,
            requested_by: r.requested_by,
            domain_blocking: r.domain_blocking,
            endorsed: false,
            note: r.note,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub group_key: String,
    pub created_at: String,
    pub account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Notification kinds grouped by Mastodon's grouped notifications.
pub const GROUPED_KINDS: &[&str] = &["favourite", "follow", "reblog"];

/// The group a notification belongs to: favourites and boosts of one status,
/// and follows of one face, within the same twelve hours; others alone.
/// `grouped` restricts the kinds grouped (empty: all of `GROUPED_KINDS`).
pub fn group_key(n: &NotificationRow, grouped: &[String]) -> String {
    let may_group = GROUPED_KINDS.contains(&n.kind.as_str())
        && (grouped.is_empty() || grouped.contains(&n.kind));
    if !may_group {
        return format!("ungrouped-{}", n.id);
    }
    let bucket = n.created_at.timestamp().div_euclid(43_200);
    match n.status_id {
        Some(s) => format!("{}-{s}-{bucket}", n.kind),
        None => format!("{}-{}-{bucket}", n.kind, n.identity_id),
    }
}

pub async fn notifications(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    rows: &[NotificationRow],
) -> guise_core::CoreResult<Vec<Notification>> {
    let mut from: Vec<i64> = rows.iter().map(|n| n.from_identity_id).collect();
    from.sort_unstable();
    from.dedup();
    let people = guise_core::accounts::identities_by_ids(conn, &from).await?;
    let accounts: HashMap<i64, Account> = accounts(state, conn, &people)
        .await?
        .into_iter()
        .filter_map(|a| a.id.parse::<i64>().ok().map(|id| (id, a)))
        .collect();
    let status_ids: Vec<i64> = rows.iter().filter_map(|n| n.status_id).collect();
    let statuses: HashMap<String, Status> =
        statuses_in(state, conn, viewer, &status_ids, "notifications")
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
    // Statuses a `hide` filter matched: their notifications go too.
    let shown: std::collections::HashSet<String> = statuses.keys().cloned().collect();
    let mut accounts = accounts;
    let mut statuses = statuses;
    let mut out = Vec::new();
    for n in rows {
        if n.status_id
            .is_some_and(|id| !shown.contains(&id.to_string()))
        {
            continue;
        }
        // Entities are moved out once per row; repeated senders are rebuilt from the map copy.
        let account = match accounts.remove(&n.from_identity_id) {
            Some(a) => a,
            None => match people.iter().find(|p| p.id == n.from_identity_id) {
                Some(p) => account(state, conn, p).await?,
                None => continue,
            },
        };
        let status = match n.status_id {
            Some(id) => match statuses.remove(&id.to_string()) {
                Some(s) => Some(s),
                None => match status_by_id(state, conn, viewer, id).await {
                    Ok(s) => Some(s),
                    Err(_) => continue,
                },
            },
            None => None,
        };
        out.push(Notification {
            id: n.id.to_string(),
            kind: n.kind.clone(),
            group_key: group_key(n, &[]),
            created_at: iso(n.created_at),
            account,
            status,
        });
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct Application {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub scopes: Vec<String>,
    pub redirect_uri: String,
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub vapid_key: String,
}

impl Application {
    pub fn new(app: &App, with_secret: bool, vapid_key: String) -> Application {
        let uris: Vec<String> = app.redirect_uris.lines().map(str::to_owned).collect();
        Application {
            id: app.id.to_string(),
            name: app.name.clone(),
            website: app.website.clone(),
            scopes: app.scopes.split(' ').map(str::to_owned).collect(),
            redirect_uri: uris.join("\n"),
            redirect_uris: uris,
            client_id: with_secret.then(|| app.client_id.clone()),
            client_secret: with_secret.then(|| app.client_secret.clone()),
            client_secret_expires_at: with_secret.then_some(0),
            vapid_key,
        }
    }
}

/// Remote media as Mastodon's MediaAttachment: `url` and `preview_url` go
/// through the media proxy (crate::media_proxy), `remote_url` names the
/// original for clients that show where media come from.
fn media_attachments(state: &AppState, s: &guise_core::models::Status) -> Vec<serde_json::Value> {
    let Some(items) = s.attachments.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            if a.get("local").and_then(|l| l.as_bool()) == Some(true) {
                return super::media::stored_entity(state, a);
            }
            let url = a.get("url")?.as_str()?;
            let media_type = a.get("media_type").and_then(|m| m.as_str()).unwrap_or("");
            let kind = match media_type.split('/').next() {
                Some("image") if media_type == "image/gif" => "gifv",
                Some("image") => "image",
                Some("video") => "video",
                Some("audio") => "audio",
                _ => "unknown",
            };
            let local = crate::media_proxy::proxied(state, url);
            Some(serde_json::json!({
                "id": format!("{}{i:02}", s.id),
                "type": kind,
                "url": local,
                "preview_url": if kind == "image" { Some(local.clone()) } else { None },
                "remote_url": url,
                "preview_remote_url": null,
                "text_url": null,
                "meta": {},
                "description": a.get("description"),
                "blurhash": a.get("blurhash"),
            }))
        })
        .collect()
}

/// Remote custom emoji as Mastodon's CustomEmoji.
fn custom_emojis(state: &AppState, s: &guise_core::models::Status) -> Vec<serde_json::Value> {
    let Some(items) = s.emojis.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|e| {
            let code = e.get("shortcode")?.as_str()?;
            let url = e.get("url")?.as_str()?;
            let local = crate::media_proxy::proxied(state, url);
            Some(serde_json::json!({
                "shortcode": code,
                "url": local,
                "static_url": local,
                "visible_in_picker": false,
            }))
        })
        .collect()
}
