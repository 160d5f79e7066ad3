//! Connection pool and embedded migrations.

use crate::error::{CoreError, CoreResult};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// What use cases take: a plain connection (a pooled one derefs to it).
pub type DbConn = AsyncPgConnection;
pub type PooledConn = Object<AsyncPgConnection>;

/// See [`Db::schema_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub pending: Vec<String>,
    pub unknown: Vec<String>,
}

/// See [`Db::bind_domain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainBinding {
    Recorded,
    Same,
    /// Nothing had federated yet: the domain changed from `from`.
    Moved {
        from: String,
    },
    /// The database serves `recorded`, and has federated under it.
    Refused {
        recorded: String,
    },
}

/// A cheap-to-clone handle to the PostgreSQL pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<AsyncPgConnection>,
    url: std::sync::Arc<str>,
}

impl Db {
    pub fn connect(url: &str, max_size: usize) -> CoreResult<Db> {
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // A connection taken from the pool is not pinged first (the default
        // sends `SELECT 1` on every checkout, a round trip per request or
        // more); one whose socket closed is still never handed out, and one
        // that fails in use is dropped.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(|url| {
            let url = url.to_owned();
            Box::pin(async move {
                use diesel_async::{AsyncConnection, SimpleAsyncConnection};
                let mut conn = AsyncPgConnection::establish(&url).await?;
                // JIT compilation pays off for long analytic queries, never
                // for ours: the planner overestimates the cost of the
                // timeline merges (nested loops with LIMIT) and, at a million
                // statuses, spent 8 s compiling a 60 ms query (`./dev bench`).
                conn.batch_execute("SET jit = off")
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            })
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .build()
            .map_err(|e| CoreError::Pool(e.to_string()))?;
        Ok(Db {
            pool,
            url: url.into(),
        })
    }

    /// The same database through a pool of its own, of `max_size`
    /// connections. An HTTP worker takes one, so the connections it queries
    /// through are driven on its own thread: a query is then no hand-off to
    /// the runtime that happened to open the connection and back (two
    /// wake-ups of another thread per round trip).
    pub fn own_pool(&self, max_size: usize) -> CoreResult<Db> {
        Db::connect(&self.url, max_size)
    }

    pub async fn conn(&self) -> CoreResult<PooledConn> {
        self.pool
            .get()
            .await
            .map_err(|e| CoreError::Pool(e.to_string()))
    }

    /// Applies every pending migration; returns the versions applied.
    pub async fn migrate(&self) -> CoreResult<Vec<String>> {
        let conn = AsyncPgConnection::establish_from_pool(self).await?;
        let result = tokio::task::spawn_blocking(move || {
            let mut harness = AsyncMigrationHarness::new(conn);
            harness
                .run_pending_migrations(MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                .map_err(|e| CoreError::Internal(format!("migration failed: {e}")))
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        result
    }

    /// Where the schema stands against the migrations this build carries:
    /// those not yet applied, and applied ones this build does not know (the
    /// database was migrated by a newer Guise).
    pub async fn schema_status(&self) -> CoreResult<SchemaStatus> {
        let conn = AsyncPgConnection::establish_from_pool(self).await?;
        tokio::task::spawn_blocking(move || {
            use diesel::migration::MigrationSource;
            let mut harness = AsyncMigrationHarness::new(conn);
            fn fail<T>(r: diesel::migration::Result<T>) -> CoreResult<T> {
                r.map_err(|e| CoreError::Internal(format!("reading migrations: {e}")))
            }
            let pending = fail(harness.pending_migrations(MIGRATIONS))?
                .iter()
                .map(|m| m.name().to_string())
                .collect();
            let known: Vec<String> =
                fail(MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS))?
                    .iter()
                    .map(|m| m.name().version().to_string())
                    .collect();
            let unknown = fail(harness.applied_migrations())?
                .into_iter()
                .map(|v| v.to_string())
                .filter(|v| !known.contains(v))
                .collect();
            Ok(SchemaStatus { pending, unknown })
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))?
    }

    /// Records the public domain on first start and refuses another one
    /// later: every URI other servers hold names it. A database that has
    /// never federated (no remote actor, host or activity seen) takes the
    /// new domain instead, so a trial under `localhost` can go live.
    pub async fn bind_domain(&self, domain: &str) -> CoreResult<DomainBinding> {
        use crate::schema::instance_settings::dsl as s;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.conn().await?;
        let recorded: Option<String> = s::instance_settings
            .filter(s::name.eq("domain"))
            .select(s::value)
            .first(&mut conn)
            .await
            .optional()?;
        match recorded {
            Some(d) if d == domain => Ok(DomainBinding::Same),
            Some(d) => {
                let federated: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "EXISTS (SELECT 1 FROM identities WHERE domain IS NOT NULL) \
                     OR EXISTS (SELECT 1 FROM hosts) OR EXISTS (SELECT 1 FROM inbox_seen)",
                ))
                .get_result(&mut conn)
                .await?;
                if federated {
                    return Ok(DomainBinding::Refused { recorded: d });
                }
                diesel::update(s::instance_settings.filter(s::name.eq("domain")))
                    .set(s::value.eq(domain))
                    .execute(&mut conn)
                    .await?;
                Ok(DomainBinding::Moved { from: d })
            }
            None => {
                diesel::insert_into(s::instance_settings)
                    .values((s::name.eq("domain"), s::value.eq(domain)))
                    .on_conflict_do_nothing()
                    .execute(&mut conn)
                    .await?;
                Ok(DomainBinding::Recorded)
            }
        }
    }

    /// A server setting, e.g. `track_commit_timestamp`.
    pub async fn setting(&self, name: &str) -> CoreResult<Option<String>> {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct S {
            #[diesel(sql_type = diesel::sql_types::Text)]
            setting: String,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<S> = diesel::sql_query("SELECT setting FROM pg_settings WHERE name = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .load(&mut conn)
            .await?;
        Ok(rows.into_iter().next().map(|s| s.setting))
    }

    pub fn status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

trait EstablishFromPool: Sized {
    async fn establish_from_pool(db: &Db) -> CoreResult<Self>;
}

impl EstablishFromPool for AsyncPgConnection {
    async fn establish_from_pool(db: &Db) -> CoreResult<Self> {
        use diesel_async::AsyncConnection;
        AsyncPgConnection::establish(db.url())
            .await
            .map_err(|e| CoreError::Pool(e.to_string()))
    }
}

/// Creates database `name` as a copy of `template` on the server at
/// `admin_url` and returns its URL. Tests use it to get a migrated database
/// each, cheaply.
pub async fn clone_database(admin_url: &str, template: &str, name: &str) -> CoreResult<String> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok(template) || !ok(name) {
        return Err(CoreError::Internal(
            "database names must be plain identifiers".into(),
        ));
    }
    let mut conn = AsyncPgConnection::establish(admin_url)
        .await
        .map_err(|e| CoreError::Pool(e.to_string()))?;
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
        .execute(&mut conn)
        .await?;
    let base = match admin_url.rfind('/') {
        Some(i) => admin_url.get(..i).unwrap_or(admin_url),
        None => admin_url,
    };
    Ok(format!("{base}/{name}"))
}

/// `SELECT 1`: whether the database answers (writes nothing).
pub async fn ping(conn: &mut DbConn) -> CoreResult<()> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query("SELECT 1").execute(conn).await?;
    Ok(())
}

/// Tables whose rows are written to be deleted soon: counter deltas, the
/// outbox, live-stream events and deliveries. Their dead row versions pile
/// up faster than autovacuum (once a minute at best) clears them; every
/// read of such a table steps over the pile (a page's authors statement
/// took 0.41 ms instead of 0.08 with 8 000 dead counter deltas), and the
/// pile keeps old versions of rows that named faces on disk for longer.
pub const CHURNED: [&str; 4] = [
    "identity_stat_deltas",
    "outbox_events",
    "stream_events",
    "deliveries",
];

/// Vacuums each of [`CHURNED`] with more than `min_dead` dead rows by
/// PostgreSQL's own count; the tables it vacuumed.
pub async fn vacuum_churned(conn: &mut DbConn, min_dead: i64) -> CoreResult<Vec<String>> {
    use diesel::sql_types::{Array, BigInt, Text};
    use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
    #[derive(diesel::QueryableByName)]
    struct Due {
        #[diesel(sql_type = Text)]
        relname: String,
    }
    let due: Vec<Due> = diesel::sql_query(
        "SELECT relname::text AS relname FROM pg_stat_user_tables
          WHERE schemaname = current_schema() AND relname = ANY($1) AND n_dead_tup > $2",
    )
    .bind::<Array<Text>, _>(&CHURNED[..])
    .bind::<BigInt, _>(min_dead)
    .load(conn)
    .await?;
    let mut done = Vec::new();
    for table in CHURNED {
        if due.iter().any(|d| d.relname == table) {
            // A name from the fixed list, never from input.
            conn.batch_execute(&format!("VACUUM {table}")).await?;
            done.push(table.to_owned());
        }
    }
    Ok(done)
}
