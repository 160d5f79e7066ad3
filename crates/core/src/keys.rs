//! Signing keys: every face has its own pair (unlinkability rule 1), taken
//! from a pool filled ahead of time. Core stores and hands out pairs; making
//! them is federation's job (it owns the RSA code).

use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::{identities, key_pool};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

#[derive(Clone)]
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPair(<private key redacted>)")
    }
}

pub async fn pool_size(conn: &mut DbConn) -> CoreResult<i64> {
    Ok(key_pool::table.count().get_result(conn).await?)
}

pub async fn add_to_pool(conn: &mut DbConn, pair: &KeyPair) -> CoreResult<()> {
    diesel::insert_into(key_pool::table)
        .values((
            key_pool::public_key_pem.eq(&pair.public_pem),
            key_pool::private_key_pem.eq(&pair.private_pem),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// The face's key pair: its own if it has one, else one taken from the
/// pool (or `make`, when the pool is empty) and stored on the face.
pub async fn key_of<F>(conn: &mut DbConn, identity_id: i64, make: F) -> CoreResult<KeyPair>
where
    F: FnOnce() -> CoreResult<KeyPair> + Send,
{
    let existing: (Option<String>, Option<String>) = identities::table
        .find(identity_id)
        .select((identities::public_key_pem, identities::private_key_pem))
        .first(conn)
        .await?;
    if let (Some(public_pem), Some(private_pem)) = existing {
        return Ok(KeyPair {
            public_pem,
            private_pem,
        });
    }
    let taken: Option<(String, String)> = conn
        .transaction::<_, CoreError, _>(async |conn| {
            let row: Option<(String, String)> = key_pool::table
                .select((key_pool::public_key_pem, key_pool::private_key_pem))
                .for_update()
                .skip_locked()
                .first(conn)
                .await
                .optional()?;
            if let Some((public, _)) = &row {
                diesel::delete(key_pool::table.find(public))
                    .execute(conn)
                    .await?;
            }
            Ok(row)
        })
        .await?;
    let pair = match taken {
        Some((public_pem, private_pem)) => KeyPair {
            public_pem,
            private_pem,
        },
        None => make()?,
    };
    // Another request may have given the face a key meanwhile: keep the first.
    let updated = diesel::update(
        identities::table
            .find(identity_id)
            .filter(identities::public_key_pem.is_null()),
    )
    .set((
        identities::public_key_pem.eq(&pair.public_pem),
        identities::private_key_pem.eq(&pair.private_pem),
    ))
    .execute(conn)
    .await?;
    if updated == 0 {
        let (public_pem, private_pem): (Option<String>, Option<String>) = identities::table
            .find(identity_id)
            .select((identities::public_key_pem, identities::private_key_pem))
            .first(conn)
            .await?;
        if let (Some(public_pem), Some(private_pem)) = (public_pem, private_pem) {
            return Ok(KeyPair {
                public_pem,
                private_pem,
            });
        }
    }
    Ok(pair)
}

/// The key of an instance actor (`name` e.g. "instance"), made once.
pub async fn instance_key<F>(conn: &mut DbConn, name: &str, make: F) -> CoreResult<KeyPair>
where
    F: FnOnce() -> CoreResult<KeyPair> + Send,
{
    use crate::schema::instance_keys as t;
    let row: Option<(String, String)> = t::table
        .find(name)
        .select((t::public_key_pem, t::private_key_pem))
        .first(conn)
        .await
        .optional()?;
    if let Some((public_pem, private_pem)) = row {
        return Ok(KeyPair {
            public_pem,
            private_pem,
        });
    }
    let pair = make()?;
    diesel::insert_into(t::table)
        .values((
            t::name.eq(name),
            t::public_key_pem.eq(&pair.public_pem),
            t::private_key_pem.eq(&pair.private_pem),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let (public_pem, private_pem): (String, String) = t::table
        .find(name)
        .select((t::public_key_pem, t::private_key_pem))
        .first(conn)
        .await?;
    Ok(KeyPair {
        public_pem,
        private_pem,
    })
}

/// Drops the keys of local tombstoned faces once nothing is left for them
/// to sign: no undelivered delivery and no unexpanded event names them.
/// Until then a gone face keeps its key, so its `Delete`s still verify.
pub async fn purge_departed(conn: &mut DbConn) -> CoreResult<usize> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct Gone {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let gone: Vec<Gone> = diesel::sql_query(
        "SELECT i.id FROM identities i \
         WHERE i.tombstoned AND i.domain IS NULL AND i.private_key_pem IS NOT NULL \
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.signer_identity_id = i.id) \
           AND NOT EXISTS (SELECT 1 FROM outbox_events e \
                           WHERE e.payload->>'identity_id' = i.id::text)",
    )
    .load(conn)
    .await?;
    // Each face in its own transaction: one statement over all of them
    // would write a login's anonymous and persistent faces together.
    for g in &gone {
        diesel::update(identities::table.find(g.id))
            .set((
                identities::private_key_pem.eq(None::<String>),
                identities::public_key_pem.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
    }
    Ok(gone.len())
}
