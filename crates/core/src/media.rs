//! The instance's one media store, and the cache of remote media in it.
//!
//! Remote media (attachments, custom emoji, avatars, headers) are fetched
//! when the activity or actor that names them arrives, by the worker, and
//! served from here. A reader never makes the instance contact the origin
//! (unlinkability rule 11): a remote server that sent each of two faces a
//! uniquely named image must not see both fetched in the same instant when
//! one person's "All my faces" token reads its notifications. What is not
//! (or no longer) cached is shown as a placeholder until the worker fetches
//! it on its own schedule.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::CoreResult;
use crate::schema::remote_media;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// Where media bytes live, under random names: a directory today, an object
/// store later (the same interface).
pub trait MediaStore: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> StoreFuture<'a, ()>;
    /// `None` when there is no such object.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Deleting what is not there is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}

/// A directory of files named by their keys (random hex: no path tricks).
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "media keys are hex",
            ));
        }
        // Two levels of fan-out keep directories small.
        let (a, rest) = key.split_at(2.min(key.len()));
        Ok(self.root.join(a).join(rest))
    }
}

impl MediaStore for DirStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            // Written aside and renamed, so a reader never sees half a file.
            let tmp = path.with_extension("part");
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, &path).await
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(key)?).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }
}

/// A fresh random object name.
pub fn new_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// What a file's first bytes say it is, whatever its name or the server's
/// Content-Type claimed. `None`: not media Guise serves.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let at = |i: usize, s: &[u8]| bytes.get(i..i + s.len()) == Some(s);
    if at(0, b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("image/gif")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("image/webp")
    } else if at(4, b"ftypavif") || at(4, b"ftypavis") {
        Some("image/avif")
    } else if at(4, b"ftyp") {
        Some("video/mp4")
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        Some("video/webm")
    } else if at(0, b"OggS") {
        Some("audio/ogg")
    } else if at(0, b"fLaC") {
        Some("audio/flac")
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Some("audio/wav")
    } else if at(0, b"ID3") || at(0, b"\xFF\xFB") || at(0, b"\xFF\xF3") || at(0, b"\xFF\xF2") {
        Some("audio/mpeg")
    } else {
        None
    }
}

pub fn url_hash(url: &str) -> Vec<u8> {
    Sha256::digest(url.as_bytes()).to_vec()
}

/// How a cached item stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// In the store under `key`, of this type.
    Ready { key: String, content_type: String },
    /// Not (yet, or any more) in the store.
    Missing,
}

/// Asks the worker to fetch these remote media, in the transaction that
/// stores what names them. Evicted ones are asked for again; others are
/// left as they are.
pub async fn want(conn: &mut DbConn, clock: &dyn Clock, urls: &[String]) -> CoreResult<()> {
    let now = clock.now();
    for url in urls {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
            continue;
        }
        crate::prepared::cached(diesel::sql_query(
            "INSERT INTO remote_media (url_hash, url, state, next_at) VALUES ($1, $2, 'pending', $3)
             ON CONFLICT (url_hash) DO UPDATE SET state = 'pending', attempts = 0, next_at = $3
             WHERE remote_media.state = 'evicted'",
        )
        .bind::<diesel::sql_types::Bytea, _>(url_hash(url))
        .bind::<diesel::sql_types::Text, _>(url)
        .bind::<diesel::sql_types::Timestamptz, _>(now))
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Every remote media URL a stored note names (attachments, emoji).
pub fn urls_of(attachments: &serde_json::Value, emojis: &serde_json::Value) -> Vec<String> {
    attachments
        .as_array()
        .into_iter()
        .chain(emojis.as_array())
        .flatten()
        .filter_map(|a| a.get("url").and_then(|u| u.as_str()).map(str::to_owned))
        .collect()
}

/// Looks an item up for serving. Reading writes nothing.
pub async fn lookup(conn: &mut DbConn, url: &str) -> CoreResult<Cached> {
    let row: Option<(String, Option<String>, Option<String>)> = remote_media::table
        .find(url_hash(url))
        .select((
            remote_media::state,
            remote_media::store_key,
            remote_media::content_type,
        ))
        .first(conn)
        .await
        .optional()?;
    Ok(match row {
        Some((state, Some(key), Some(content_type))) if state == "cached" => {
            Cached::Ready { key, content_type }
        }
        _ => Cached::Missing,
    })
}

/// An item the worker is to fetch now.
#[derive(Debug, Clone)]
pub struct Due {
    pub url_hash: Vec<u8>,
    pub url: String,
    pub attempts: i32,
}

/// Leases due items for `lease` (a worker that dies leaves them to others).
pub async fn claim_due(
    conn: &mut DbConn,
    clock: &dyn Clock,
    limit: i64,
    lease: chrono::Duration,
) -> CoreResult<Vec<Due>> {
    let now = clock.now();
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        url_hash: Vec<u8>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        url: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "UPDATE remote_media SET next_at = $1 WHERE url_hash = ANY(ARRAY(
             SELECT url_hash FROM remote_media WHERE state = 'pending' AND next_at <= $2
             ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED))
         RETURNING url_hash, url, attempts",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now + lease)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Due {
            url_hash: r.url_hash,
            url: r.url,
            attempts: r.attempts,
        })
        .collect())
}

/// Records a fetched item as stored.
pub async fn stored(
    conn: &mut DbConn,
    clock: &dyn Clock,
    hash: &[u8],
    key: &str,
    content_type: &str,
    size: i64,
) -> CoreResult<()> {
    diesel::update(remote_media::table.find(hash))
        .set((
            remote_media::state.eq("cached"),
            remote_media::store_key.eq(Some(key)),
            remote_media::content_type.eq(Some(content_type)),
            remote_media::size.eq(size),
            remote_media::cached_at.eq(Some(clock.now())),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A failed fetch: tried again at `retry_at`, or given up (`None`).
pub async fn fetch_failed(
    conn: &mut DbConn,
    d: &Due,
    retry_at: Option<DateTime<Utc>>,
) -> CoreResult<()> {
    let q = diesel::update(remote_media::table.find(&d.url_hash));
    match retry_at {
        Some(at) => {
            q.set((
                remote_media::attempts.eq(d.attempts + 1),
                remote_media::next_at.eq(at),
            ))
            .execute(conn)
            .await?
        }
        None => {
            q.set((
                remote_media::state.eq("failed"),
                remote_media::attempts.eq(d.attempts + 1),
            ))
            .execute(conn)
            .await?
        }
    };
    Ok(())
}

/// Keeps the cache within `budget` bytes and `max_age`: what is older, or
/// the oldest past the budget, leaves the store and becomes a placeholder
/// (until something that arrives names it again). Oldest by when it was
/// fetched, never by when it was read: reading writes nothing.
pub async fn sweep(
    conn: &mut DbConn,
    clock: &dyn Clock,
    store: &dyn MediaStore,
    budget: i64,
    max_age: chrono::Duration,
) -> CoreResult<usize> {
    let cutoff = clock.now() - max_age;
    type Row = (Vec<u8>, Option<String>, i64, Option<DateTime<Utc>>);
    let rows: Vec<Row> = remote_media::table
        .filter(remote_media::state.eq("cached"))
        .order(remote_media::cached_at.desc())
        .select((
            remote_media::url_hash,
            remote_media::store_key,
            remote_media::size,
            remote_media::cached_at,
        ))
        .load(conn)
        .await?;
    let mut total = 0i64;
    let mut evict = Vec::new();
    for (hash, key, size, at) in rows {
        total += size;
        if total > budget || at.is_none_or(|a| a < cutoff) {
            evict.push((hash, key));
        }
    }
    for (hash, key) in &evict {
        if let Some(k) = key {
            if let Err(e) = store.delete(k).await {
                tracing::warn!(error = %e, "deleting cached media");
            }
        }
        diesel::update(remote_media::table.find(hash))
            .set((
                remote_media::state.eq("evicted"),
                remote_media::store_key.eq(None::<String>),
                remote_media::size.eq(0),
            ))
            .execute(conn)
            .await?;
    }
    Ok(evict.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_are_known_by_their_bytes_not_their_names() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Some("video/mp4"));
        assert_eq!(sniff(b"<html><body>png</body></html>"), None);
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b""), None);
    }

    #[tokio::test]
    async fn a_dir_store_keeps_what_it_is_given_under_hex_names_only() {
        let dir = std::env::temp_dir().join(format!("guise-store-{}", new_key()));
        let s = DirStore::new(&dir);
        let k = new_key();
        s.put(&k, b"bytes".to_vec()).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap(), Some(b"bytes".to_vec()));
        s.delete(&k).await.unwrap();
        assert_eq!(s.get(&k).await.unwrap(), None);
        s.delete(&k).await.unwrap();
        assert!(s.put("../../etc/passwd", vec![]).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
