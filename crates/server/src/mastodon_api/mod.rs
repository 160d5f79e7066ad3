//! The Mastodon client API. Each resource has its handlers here and its
//! entities in `types.rs`.

pub mod access;
pub mod accounts;
pub mod announcements;
pub mod apps;
pub mod conversations;
pub mod faces;
pub mod filters;
pub mod instance;
pub mod keepings;
pub mod lists;
pub mod media;
pub mod notifications;
pub mod polls;
pub mod push;
pub mod scheduled;
pub mod sealed;
pub mod search;
pub mod statuses;
pub mod timelines;
pub mod types;

use crate::error::{ApiError, ApiResult};
use crate::extract::de;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::statuses::Page;
use serde::Deserialize;

/// Cursor parameters shared by every paginated list.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    #[serde(default, deserialize_with = "de::opt_id")]
    pub max_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub since_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub min_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    pub limit: Option<i64>,
}

fn cursor(v: &Option<String>, name: &str) -> ApiResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
            ApiError::unprocessable(format!("Validation failed: {name} is not an id"))
        }),
    }
}

impl PageParams {
    pub fn page(&self, default: i64, max: i64) -> ApiResult<Page> {
        Ok(Page {
            max_id: cursor(&self.max_id, "max_id")?,
            since_id: cursor(&self.since_id, "since_id")?,
            min_id: cursor(&self.min_id, "min_id")?,
            limit: Page::clamp(self.limit, default, max),
        })
    }
}

pub fn parse_id(s: &str) -> ApiResult<i64> {
    s.parse::<i64>().map_err(|_| ApiError::not_found())
}

/// JSON with a `Link` header for the next and previous pages, keeping the
/// request's other query parameters. `cursors` are the page's cursor ids,
/// newest first.
pub fn paginated<T: serde::Serialize>(
    req: &HttpRequest,
    state: &AppState,
    items: &T,
    cursors: &[i64],
) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    if let (Some(&newest), Some(&oldest)) = (cursors.first(), cursors.last()) {
        let kept: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .filter(|(k, _)| !matches!(k.as_ref(), "max_id" | "min_id" | "since_id"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let link = |key: &str, value: i64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            q.append_pair(key, &value.to_string());
            format!("{}{}?{}", state.base_url, req.path(), q.finish())
        };
        resp.insert_header((
            "Link",
            format!(
                "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
                link("max_id", oldest),
                link("min_id", newest)
            ),
        ));
    }
    resp.json(items)
}

pub fn ok<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The timelines, read most, before the patterns they would otherwise
    // be tried after (only `/api/v1/timelines/list/{id}` shares their
    // prefix, and none of theirs matches it).
    timelines::routes(cfg);
    apps::routes(cfg);
    faces::routes(cfg);
    search::routes(cfg);
    accounts::routes(cfg);
    statuses::routes(cfg);
    notifications::routes(cfg);
    keepings::routes(cfg);
    filters::routes(cfg);
    conversations::routes(cfg);
    scheduled::routes(cfg);
    announcements::routes(cfg);
    lists::routes(cfg);
    media::routes(cfg);
    polls::routes(cfg);
    push::routes(cfg);
    instance::routes(cfg);
}
