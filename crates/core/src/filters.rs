//! Filters (Mastodon's v2): per face, a title, the contexts it applies in,
//! an action (warn, hide, blur), an expiry, keywords and statuses.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::{filter_keywords, filter_statuses, filters};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

pub const CONTEXTS: [&str; 5] = ["home", "notifications", "public", "thread", "account"];
pub const ACTIONS: [&str; 3] = ["warn", "hide", "blur"];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = filters)]
pub struct FilterRow {
    pub id: i64,
    pub identity_id: i64,
    pub title: String,
    pub context: Vec<String>,
    pub filter_action: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = filter_keywords)]
pub struct Keyword {
    pub id: i64,
    pub filter_id: i64,
    pub keyword: String,
    pub whole_word: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = filter_statuses)]
pub struct FilteredStatus {
    pub id: i64,
    pub filter_id: i64,
    pub status_id: i64,
}

/// A filter with its keywords and statuses.
#[derive(Debug, Clone)]
pub struct Filter {
    pub row: FilterRow,
    pub keywords: Vec<Keyword>,
    pub statuses: Vec<FilteredStatus>,
}

/// What a filter is made or changed with; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct FilterInput {
    pub title: Option<String>,
    pub context: Option<Vec<String>>,
    pub filter_action: Option<String>,
    /// Seconds from now; `Some(None)` (an empty value) removes the expiry.
    pub expires_in: Option<Option<i64>>,
    /// New keywords (keyword, whole word).
    pub add_keywords: Vec<(String, bool)>,
    /// Keywords changed (id, keyword, whole word) or removed (`destroy`).
    pub change_keywords: Vec<(i64, Option<String>, Option<bool>, bool)>,
}

fn check(title: &str, context: &[String], action: &str) -> CoreResult<()> {
    if title.trim().is_empty() || title.chars().count() > 200 {
        return Err(CoreError::invalid("title", "must be 1 to 200 characters"));
    }
    if context.is_empty() || context.iter().any(|c| !CONTEXTS.contains(&c.as_str())) {
        return Err(CoreError::invalid(
            "context",
            "is one or more of home, notifications, public, thread and account",
        ));
    }
    if !ACTIONS.contains(&action) {
        return Err(CoreError::invalid("filter_action", "is warn, hide or blur"));
    }
    Ok(())
}

fn check_keyword(k: &str) -> CoreResult<()> {
    if k.trim().is_empty() || k.chars().count() > 200 {
        return Err(CoreError::invalid("keyword", "must be 1 to 200 characters"));
    }
    Ok(())
}

async fn load(conn: &mut DbConn, rows: Vec<FilterRow>) -> CoreResult<Vec<Filter>> {
    if rows.is_empty() {
        // Most faces have no filters: no keyword or status lookups then
        // (two round trips saved on every timeline page).
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let keywords: Vec<Keyword> = filter_keywords::table
        .filter(filter_keywords::filter_id.eq_any(&ids))
        .order(filter_keywords::id.asc())
        .select(Keyword::as_select())
        .load(conn)
        .await?;
    let statuses: Vec<FilteredStatus> = filter_statuses::table
        .filter(filter_statuses::filter_id.eq_any(&ids))
        .order(filter_statuses::id.asc())
        .select(FilteredStatus::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Filter {
            keywords: keywords
                .iter()
                .filter(|k| k.filter_id == row.id)
                .cloned()
                .collect(),
            statuses: statuses
                .iter()
                .filter(|s| s.filter_id == row.id)
                .cloned()
                .collect(),
            row,
        })
        .collect())
}

/// Every filter of the face (expired ones too: apps show and renew them).
pub async fn of(conn: &mut DbConn, face: i64) -> CoreResult<Vec<Filter>> {
    let rows: Vec<FilterRow> = filters::table
        .filter(filters::identity_id.eq(face))
        .order(filters::id.asc())
        .select(FilterRow::as_select())
        .load(conn)
        .await?;
    load(conn, rows).await
}

/// The face's filters in force now for `context`.
pub async fn active(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    context: &str,
) -> CoreResult<Vec<Filter>> {
    let now = clock.now();
    let rows: Vec<FilterRow> = filters::table
        .filter(filters::identity_id.eq(face))
        .filter(
            filters::expires_at
                .is_null()
                .or(filters::expires_at.gt(now)),
        )
        .select(FilterRow::as_select())
        .load(conn)
        .await?;
    let rows = rows
        .into_iter()
        .filter(|r| r.context.iter().any(|c| c == context))
        .collect();
    load(conn, rows).await
}

pub async fn get(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<Filter> {
    let row: FilterRow = filters::table
        .find(id)
        .filter(filters::identity_id.eq(face))
        .select(FilterRow::as_select())
        .first(conn)
        .await
        .found()?;
    load(conn, vec![row])
        .await?
        .pop()
        .ok_or(CoreError::NotFound)
}

fn expiry(clock: &dyn Clock, secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.filter(|s| *s > 0)
        .map(|s| clock.now() + chrono::Duration::seconds(s.min(10 * 365 * 86_400)))
}

pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    input: FilterInput,
) -> CoreResult<Filter> {
    let title = input.title.clone().unwrap_or_default();
    let context = input.context.clone().unwrap_or_default();
    let action = input.filter_action.clone().unwrap_or_else(|| "warn".into());
    check(&title, &context, &action)?;
    for (k, _) in &input.add_keywords {
        check_keyword(k)?;
    }
    let id = Id::generate(clock.now()).get();
    let expires_at = expiry(clock, input.expires_in.flatten());
    let now = clock.now();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::insert_into(filters::table)
            .values((
                filters::id.eq(id),
                filters::identity_id.eq(face),
                filters::title.eq(title.trim()),
                filters::context.eq(&context),
                filters::filter_action.eq(&action),
                filters::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        for (k, whole) in &input.add_keywords {
            add_keyword_row(conn, now, id, k, *whole).await?;
        }
        Ok(())
    })
    .await?;
    get(conn, face, id).await
}

async fn add_keyword_row(
    conn: &mut DbConn,
    now: DateTime<Utc>,
    filter: i64,
    keyword: &str,
    whole_word: bool,
) -> CoreResult<Keyword> {
    Ok(diesel::insert_into(filter_keywords::table)
        .values((
            filter_keywords::id.eq(Id::generate(now).get()),
            filter_keywords::filter_id.eq(filter),
            filter_keywords::keyword.eq(keyword.trim()),
            filter_keywords::whole_word.eq(whole_word),
        ))
        .returning(Keyword::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn update(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    id: i64,
    input: FilterInput,
) -> CoreResult<Filter> {
    let old = get(conn, face, id).await?;
    let title = input.title.clone().unwrap_or(old.row.title.clone());
    let context = input.context.clone().unwrap_or(old.row.context.clone());
    let action = input
        .filter_action
        .clone()
        .unwrap_or(old.row.filter_action.clone());
    check(&title, &context, &action)?;
    for (k, _) in &input.add_keywords {
        check_keyword(k)?;
    }
    let expires_at = match input.expires_in {
        None => old.row.expires_at,
        Some(secs) => expiry(clock, secs),
    };
    let now = clock.now();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::update(filters::table.find(id))
            .set((
                filters::title.eq(title.trim()),
                filters::context.eq(&context),
                filters::filter_action.eq(&action),
                filters::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        for (k, whole) in &input.add_keywords {
            add_keyword_row(conn, now, id, k, *whole).await?;
        }
        for (kid, keyword, whole, destroy) in &input.change_keywords {
            let q = filter_keywords::table
                .filter(filter_keywords::id.eq(kid))
                .filter(filter_keywords::filter_id.eq(id));
            if *destroy {
                diesel::delete(q).execute(conn).await?;
                continue;
            }
            if let Some(k) = keyword {
                check_keyword(k)?;
                diesel::update(q)
                    .set(filter_keywords::keyword.eq(k.trim()))
                    .execute(conn)
                    .await?;
            }
            if let Some(w) = whole {
                diesel::update(
                    filter_keywords::table
                        .filter(filter_keywords::id.eq(kid))
                        .filter(filter_keywords::filter_id.eq(id)),
                )
                .set(filter_keywords::whole_word.eq(w))
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    })
    .await?;
    get(conn, face, id).await
}

pub async fn delete(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<()> {
    get(conn, face, id).await?;
    diesel::delete(filters::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// A keyword of one of the face's filters, with its filter.
pub async fn keyword(
    conn: &mut DbConn,
    face: i64,
    keyword_id: i64,
) -> CoreResult<(Filter, Keyword)> {
    let k: Keyword = filter_keywords::table
        .find(keyword_id)
        .select(Keyword::as_select())
        .first(conn)
        .await
        .found()?;
    let f = get(conn, face, k.filter_id).await?;
    Ok((f, k))
}

pub async fn add_keyword(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    filter: i64,
    keyword: &str,
    whole_word: bool,
) -> CoreResult<Keyword> {
    get(conn, face, filter).await?;
    check_keyword(keyword)?;
    add_keyword_row(conn, clock.now(), filter, keyword, whole_word).await
}

pub async fn change_keyword(
    conn: &mut DbConn,
    face: i64,
    keyword_id: i64,
    keyword: Option<&str>,
    whole_word: Option<bool>,
) -> CoreResult<Keyword> {
    let (_, old) = self::keyword(conn, face, keyword_id).await?;
    let k = keyword.unwrap_or(&old.keyword);
    check_keyword(k)?;
    Ok(diesel::update(filter_keywords::table.find(keyword_id))
        .set((
            filter_keywords::keyword.eq(k.trim()),
            filter_keywords::whole_word.eq(whole_word.unwrap_or(old.whole_word)),
        ))
        .returning(Keyword::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete_keyword(conn: &mut DbConn, face: i64, keyword_id: i64) -> CoreResult<()> {
    self::keyword(conn, face, keyword_id).await?;
    diesel::delete(filter_keywords::table.find(keyword_id))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn filtered_status(
    conn: &mut DbConn,
    face: i64,
    id: i64,
) -> CoreResult<(Filter, FilteredStatus)> {
    let s: FilteredStatus = filter_statuses::table
        .find(id)
        .select(FilteredStatus::as_select())
        .first(conn)
        .await
        .found()?;
    let f = get(conn, face, s.filter_id).await?;
    Ok((f, s))
}

pub async fn add_status(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    filter: i64,
    status_id: i64,
) -> CoreResult<FilteredStatus> {
    get(conn, face, filter).await?;
    crate::statuses::visible_status(conn, Some(face), status_id).await?;
    let row: Option<FilteredStatus> = diesel::insert_into(filter_statuses::table)
        .values((
            filter_statuses::id.eq(Id::generate(clock.now()).get()),
            filter_statuses::filter_id.eq(filter),
            filter_statuses::status_id.eq(status_id),
        ))
        .on_conflict_do_nothing()
        .returning(FilteredStatus::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match row {
        Some(r) => Ok(r),
        None => Err(CoreError::Conflict("that status is already in this filter")),
    }
}

pub async fn delete_status(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<()> {
    filtered_status(conn, face, id).await?;
    diesel::delete(filter_statuses::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// How a filter matched a status.
#[derive(Debug, Clone)]
pub struct Match {
    pub filter: Filter,
    pub keywords: Vec<String>,
    pub statuses: Vec<i64>,
}

/// Whether `keyword` occurs in `text` (case folded), as a whole word if asked.
pub fn keyword_matches(text: &str, keyword: &str, whole_word: bool) -> bool {
    let hay: Vec<char> = text.to_lowercase().chars().collect();
    let needle: Vec<char> = keyword.trim().to_lowercase().chars().collect();
    if needle.is_empty() || needle.len() > hay.len() {
        return false;
    }
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    (0..=hay.len() - needle.len()).any(|i| {
        hay.get(i..i + needle.len()) == Some(&needle[..])
            && (!whole_word
                || ((i == 0 || !word(hay.get(i - 1))) && !word(hay.get(i + needle.len()))))
    })
}

/// The filters among `active` that match a status (its text, content
/// warning and id).
pub fn matches(active: &[Filter], status_id: i64, text: &str, spoiler: &str) -> Vec<Match> {
    let whole = format!("{text}\n{spoiler}");
    active
        .iter()
        .filter_map(|f| {
            let keywords: Vec<String> = f
                .keywords
                .iter()
                .filter(|k| keyword_matches(&whole, &k.keyword, k.whole_word))
                .map(|k| k.keyword.clone())
                .collect();
            let statuses: Vec<i64> = f
                .statuses
                .iter()
                .filter(|s| s.status_id == status_id)
                .map(|s| s.status_id)
                .collect();
            (!keywords.is_empty() || !statuses.is_empty()).then(|| Match {
                filter: f.clone(),
                keywords,
                statuses,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_as_words_or_anywhere() {
        let cases = [
            ("I love Rust!", "rust", true, true),
            ("trusty", "rust", true, false),
            ("trusty", "rust", false, true),
            ("rust_lang", "rust", true, false),
            ("Ça gèle", "ÇA", true, true),
            ("", "x", true, false),
            ("spoiler inside", "  spoiler ", true, true),
        ];
        for (text, kw, whole, want) in cases {
            assert_eq!(keyword_matches(text, kw, whole), want, "{text:?} / {kw:?}");
        }
    }
}
