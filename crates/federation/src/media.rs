//! The worker's half of the remote media cache: fetch what arrived, check
//! it is media by its bytes, keep it in the instance's store, and keep the
//! store within its budget. Nothing here runs because someone reads.

use crate::fetch::{FetchError, Fetcher};
use futures::StreamExt;
use guise_core::media::{self, Due, MediaStore};
use guise_core::{Clock, CoreResult, Db};
use std::sync::Arc;
use url::Url;

/// What the worker needs to keep the cache.
#[derive(Clone)]
pub struct MediaWork {
    pub store: Arc<dyn MediaStore>,
    /// Largest remote file fetched.
    pub max_bytes: usize,
    /// The cache's size budget, in bytes.
    pub budget: i64,
    /// How long a fetched file is kept.
    pub max_age: chrono::Duration,
}

/// Tries after a failure: a minute, then ten; the third failure gives up.
fn retry_after(attempts: i32) -> Option<chrono::Duration> {
    match attempts {
        0 => Some(chrono::Duration::minutes(1)),
        1 => Some(chrono::Duration::minutes(10)),
        _ => None,
    }
}

async fn fetch_one(
    db: &Db,
    clock: &dyn Clock,
    fetcher: &Fetcher,
    work: &MediaWork,
    d: Due,
) -> CoreResult<()> {
    let got = match Url::parse(&d.url) {
        Ok(u) => fetcher.get_media(&u, work.max_bytes).await,
        Err(_) => Err(FetchError::Refused("not a URL".into())),
    };
    let mut conn = db.conn().await?;
    let retry = |final_: bool| {
        (!final_)
            .then(|| retry_after(d.attempts))
            .flatten()
            .map(|w| clock.now() + w)
    };
    match got {
        Ok((_, bytes)) => match media::sniff(&bytes) {
            // Known by its bytes, whatever its name or the claimed type.
            Some(kind) => {
                let key = media::new_key();
                let size = bytes.len() as i64;
                match work.store.put(&key, bytes).await {
                    Ok(()) => media::stored(&mut conn, clock, &d.url_hash, &key, kind, size).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "storing remote media");
                        media::fetch_failed(&mut conn, &d, retry(false)).await
                    }
                }
            }
            None => {
                tracing::info!("remote media refused: not an image, video or audio file");
                media::fetch_failed(&mut conn, &d, None).await
            }
        },
        Err(FetchError::TooLarge(_)) | Err(FetchError::Refused(_)) => {
            media::fetch_failed(&mut conn, &d, None).await
        }
        Err(e) => {
            tracing::info!(error = %e, "remote media fetch failed");
            media::fetch_failed(&mut conn, &d, retry(false)).await
        }
    }
}

/// Fetches up to `limit` due items; returns how many were tried.
pub async fn fetch_once(
    db: &Db,
    clock: &dyn Clock,
    fetcher: &Fetcher,
    work: &MediaWork,
    limit: i64,
) -> CoreResult<usize> {
    let due = {
        let mut conn = db.conn().await?;
        media::claim_due(&mut conn, clock, limit, chrono::Duration::minutes(10)).await?
    };
    let n = due.len();
    let results: Vec<CoreResult<()>> = futures::stream::iter(due)
        .map(|d| fetch_one(db, clock, fetcher, work, d))
        .buffer_unordered(4)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(n)
}

/// Keeps the store within its budget and age.
pub async fn sweep(db: &Db, clock: &dyn Clock, work: &MediaWork) -> CoreResult<usize> {
    let mut conn = db.conn().await?;
    media::sweep(
        &mut conn,
        clock,
        work.store.as_ref(),
        work.budget,
        work.max_age,
    )
    .await
}
