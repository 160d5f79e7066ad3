//! Mastodon's `POST /api/v1/admin/measures` (admins, "View Dashboard").
//! Kept per day: sign-ups and reports. Measures of activity per login
//! (`active_users`, `interactions`) answer `null`: Guise never records who
//! is active — the unlinkability contract forbids it (docs/admin.md).

use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::ok;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::measures::{per_day, Measure};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct MeasureParams {
    #[serde(default, deserialize_with = "de::string_list")]
    keys: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    start_at: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    end_at: Option<String>,
}

/// A day from `2026-11-01` or `2026-11-01T00:00:00Z`.
fn day(v: Option<&str>, field: &str) -> ApiResult<chrono::NaiveDate> {
    let v = v.filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::unprocessable(format!("Validation failed: {field} can't be blank"))
    })?;
    let head = v.get(..10).unwrap_or(v);
    chrono::NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .map_err(|_| ApiError::unprocessable(format!("Validation failed: {field} is not a date")))
}

async fn measures(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<MeasureParams>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read").await?;
    let from = day(p.start_at.as_deref(), "start_at")?;
    let to = day(p.end_at.as_deref(), "end_at")?;
    let days = (to - from).num_days() + 1;
    if !(1..=366).contains(&days) {
        return Err(ApiError::unprocessable(
            "Validation failed: end_at must follow start_at, at most a year later",
        ));
    }
    let before_to = from - chrono::Duration::days(1);
    let before_from = from - chrono::Duration::days(days);
    let mut conn = state.db.conn().await?;
    let mut out = Vec::new();
    for key in &p.keys {
        let Some(m) = Measure::parse(key) else {
            // Not kept here: said so, rather than a made-up zero.
            out.push(json!({ "key": key, "unit": null, "total": null, "previous_total": null, "data": null }));
            continue;
        };
        let data = per_day(&mut conn, m, from, to).await?;
        let previous: i64 = per_day(&mut conn, m, before_from, before_to)
            .await?
            .iter()
            .map(|(_, n)| n)
            .sum();
        let total: i64 = data.iter().map(|(_, n)| n).sum();
        out.push(json!({
            "key": key,
            "unit": null,
            "total": total.to_string(),
            "previous_total": previous.to_string(),
            "data": data
                .iter()
                .map(|(d, n)| json!({ "date": crate::mastodon_api::types::iso_date(*d), "value": n.to_string() }))
                .collect::<Vec<Value>>(),
        }));
    }
    Ok(ok(&out))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/measures", web::post().to(measures));
}
