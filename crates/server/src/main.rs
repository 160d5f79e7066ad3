//! `guise serve | worker | migrate | admin create-account …`

use anyhow::{bail, Context};
use futures::StreamExt;
use guise_core::accounts::{self, Email, Role, Username};
use guise_core::{Db, SystemClock};
use guise_server::config::{self, Config};
use guise_server::AppState;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

const USAGE: &str = "usage: guise [--config FILE] <command>

commands:
  serve [--no-worker]                    run the server, and its delivery worker and jobs unless
                                         --no-worker (or server.worker = false)
  worker                                 run only the delivery worker and jobs
  migrate                                apply pending database migrations (serve and worker
                                         refuse a schema that is behind, unless
                                         database.migrate_on_start = true)
  config check                           check the configuration; print every value (secrets
                                         redacted) and where it came from
  config get <section.key>               print one effective value
  admin create-account <username> --email <email> [--admin|--moderator]
                                         create a login; reads the password from
                                         standard input when that is not a terminal,
                                         otherwise generates one and prints it once
  admin reset-password <login> --yes-lose-anonymous-posts
                                         set a new password without the recovery code:
                                         the key to the login's anonymous posts is lost
  admin fill-key-pool <n>                make n signing key pairs ahead of time (new faces
                                         take theirs from the pool; none is made on request)
  admin set-role <login> <user|moderator|admin>
                                         change a login's role
  admin suspend <face-id>, admin unsuspend <face-id>, admin delete-status <status-id>
                                         moderate from the command line, as the staff page does
  admin delete-login <login>             delete a login and its persistent faces (its
                                         anonymous posts stay: only its own key finds them)
  admin disable-login <login>, admin enable-login <login>
                                         a disabled login cannot sign in and its tokens die
  admin approve-login <login>, admin reject-login <login>
                                         decide a sign-up waiting for approval (rejecting
                                         deletes it)
  admin domain-blocks                    list the instance's domain blocks
  admin block-domain <domain> [--severity suspend|silence|noop] [--reject-media]
                     [--reject-reports] [--comment TEXT]
                                         block a domain (suspend by default); running
                                         servers and workers apply it within a second
  admin unblock-domain <domain>          lift a block
  admin reports [--resolved]             list open (or resolved) reports
  admin resolve-report <id>, admin reopen-report <id>
  admin audit-log [--limit N]            print the audit log, newest day first
                                         (every admin action above is logged, as the command line)

configuration: --config FILE, else GUISE_CONFIG, else /etc/guise/guise.toml if it exists;
             then the environment: GUISE_<SECTION>__<KEY>, GUISE_DATABASE_URL,
             GUISE_REDIS_URL, GUISE_LISTEN, GUISE_DOMAIN, GUISE_DATA_DIR.
             Every command reads the same, so run them all with the server's.";

/// glibc's malloc, once a big block it mapped is freed, raises its mmap
/// threshold to that block's size: from then on blocks that big come from
/// its arenas and stay there when freed. Each sign-in hashes twice with
/// Argon2id (19 MiB each), so every sign-in left some 40 MiB resident — a
/// server idling at 20 MiB held 120 MiB after three. A fixed threshold
/// (`glibc.malloc.mmap_threshold`, which also turns that raising off)
/// gives such blocks back when they are freed. glibc reads its tunables
/// only at start-up, so the process starts itself once more with the
/// tunable set (the same process: `exec` keeps its id, arguments and open
/// files). An operator's own setting of the threshold is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_the_mmap_threshold() {
    use std::os::unix::process::CommandExt;
    const TUNABLE: &str = "glibc.malloc.mmap_threshold=131072";
    const DONE: &str = "GUISE_MALLOC_TUNED";
    if std::env::var_os(DONE).is_some() {
        return;
    }
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(t) if t.contains("glibc.malloc.mmap_threshold") => return,
        Ok(t) if !t.is_empty() => format!("{t}:{TUNABLE}"),
        _ => TUNABLE.to_owned(),
    };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    let err = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(DONE, "1")
        .exec();
    // Only a failed `exec` returns: carry on as started.
    eprintln!("guise: could not restart with a fixed malloc threshold ({err}); memory freed after sign-ins may stay resident");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_the_mmap_threshold() {}

fn main() -> anyhow::Result<()> {
    fix_the_mmap_threshold();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config_path: Option<PathBuf> = std::env::var_os("GUISE_CONFIG").map(PathBuf::from);
    if let Some(i) = args.iter().position(|a| a == "--config") {
        args.remove(i);
        if i >= args.len() {
            bail!("--config needs a file\n\n{USAGE}");
        }
        config_path = Some(PathBuf::from(args.remove(i)));
    }
    if config_path.is_none() && std::path::Path::new(config::DEFAULT_PATH).is_file() {
        config_path = Some(PathBuf::from(config::DEFAULT_PATH));
    }
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("GUISE_"))
        .collect();
    let loaded = match Config::load(config_path.as_deref(), &env) {
        Ok(l) => l,
        Err(e) => {
            // Nothing starts on a configuration with a wrong value.
            eprintln!("guise: {e}");
            std::process::exit(2);
        }
    };
    if args.first().map(String::as_str) == Some("config") {
        return config_command(
            &loaded,
            config_path.as_deref(),
            args.get(1..).unwrap_or_default(),
        );
    }
    let config = loaded.config;
    init_logging(&config.log);
    for key in &loaded.unknown {
        tracing::warn!(key = %key, "unknown configuration key (ignored)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("serve") => {
            let mut worker = config.server.worker;
            for a in args.get(1..).unwrap_or_default() {
                match a.as_str() {
                    "--no-worker" => worker = false,
                    other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
                }
            }
            runtime.block_on(serve(config, worker))
        }
        Some("worker") => runtime.block_on(async {
            let db = connect(&config)?;
            prepare(&db, &config).await?;
            let state = AppState::new(db, Arc::new(SystemClock), config)?;
            sign_fetches(&state).await?;
            guise_server::domain_rules::reload(&state).await?;
            guise_server::domain_rules::reload_incoming(&state).await?;
            guise_server::domain_rules::reload_ip_blocks(&state).await?;
            guise_server::policy::reload(&state).await?;
            tokio::spawn(guise_server::domain_rules::watch(state.clone()));
            tokio::spawn(guise_federation::keys::fill_pool(
                state.db.clone(),
                state.config.federation.key_pool_size,
            ));
            tokio::spawn(guise_server::jobs::run(state.clone()));
            tokio::spawn(guise_server::jobs::fold(state.clone()));
            guise_server::streaming::start(&state, false);
            println!("guise worker running");
            deliver(&state).await;
            Ok(())
        }),
        Some("migrate") => runtime.block_on(async {
            let db = connect(&config)?;
            let applied = db.migrate().await?;
            println!("migrations applied: {}", applied.len());
            Ok(())
        }),
        Some("admin") => runtime.block_on(admin(config, args.get(1..).unwrap_or_default())),
        Some("help") | Some("--help") | Some("-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// `guise config check` and `guise config get KEY`.
fn config_command(
    loaded: &config::Loaded,
    path: Option<&std::path::Path>,
    args: &[String],
) -> anyhow::Result<()> {
    let toml::Value::Table(table) = toml::Value::try_from(&loaded.config)? else {
        bail!("the configuration does not serialize to a table");
    };
    match args.first().map(String::as_str) {
        Some("check") => {
            use std::fmt::Write as _;
            let mut out = String::new();
            match path {
                Some(p) => writeln!(out, "# configuration file: {}", p.display())?,
                None => writeln!(
                    out,
                    "# no configuration file (--config, GUISE_CONFIG or {}): defaults and environment only",
                    config::DEFAULT_PATH
                )?,
            }
            for (section, values) in &table {
                let toml::Value::Table(values) = values else {
                    continue;
                };
                writeln!(out, "\n[{section}]")?;
                for (key, value) in values {
                    let name = format!("{section}.{key}");
                    let shown = match (name.as_str(), value) {
                        ("database.url" | "redis.url", toml::Value::String(u)) => {
                            toml::Value::String(config::redact_url(u))
                        }
                        _ => value.clone(),
                    };
                    writeln!(out, "{key} = {shown}  # {}", loaded.source(&name))?;
                }
            }
            if !loaded.unknown.is_empty() {
                writeln!(out)?;
                for key in &loaded.unknown {
                    writeln!(out, "# warning: unknown key {key} (ignored)")?;
                }
            }
            writeln!(out, "\n# the configuration is valid")?;
            print_out(&out);
            Ok(())
        }
        Some("get") => {
            let key = args
                .get(1)
                .context("which key? e.g. guise config get database.url")?;
            let value = key
                .split_once('.')
                .and_then(|(section, k)| table.get(section)?.get(k))
                .with_context(|| format!("no such key {key:?}"))?;
            match value {
                toml::Value::String(s) => print_out(&format!("{s}\n")),
                other => print_out(&format!("{other}\n")),
            }
            Ok(())
        }
        _ => bail!("guise config check | guise config get <section.key>\n\n{USAGE}"),
    }
}

/// Writes to standard output, quietly stopping if the reader went away
/// (`guise config check | head`).
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Before `serve` or `worker` runs: the schema is current (migrated here
/// only if `database.migrate_on_start`), PostgreSQL keeps nothing beside the
/// data that would link it, and the domain is the one it federates under.
async fn prepare(db: &Db, config: &Config) -> anyhow::Result<()> {
    ensure_schema(db, config).await?;
    check_database(db, config).await?;
    use guise_core::db::DomainBinding;
    match db.bind_domain(&config.instance.domain).await? {
        DomainBinding::Recorded | DomainBinding::Same => {}
        DomainBinding::Moved { from } => tracing::warn!(
            from = %from,
            to = %config.instance.domain,
            "the instance domain changed; nothing had federated under the old one, so the database now serves the new one"
        ),
        DomainBinding::Refused { recorded } => bail!(
            "this database serves {recorded:?}, and other servers know its faces and posts by URIs under it; \
             it cannot be served as {:?}. Set instance.domain = {recorded:?} again (behind a proxy, the proxy \
             keeps the public name; see docs/admin.md, \"Changing the domain\").",
            config.instance.domain
        ),
    }
    Ok(())
}

/// Migrates when `database.migrate_on_start` says so; then refuses a
/// schema that is not current.
async fn ensure_schema(db: &Db, config: &Config) -> anyhow::Result<()> {
    if config.database.migrate_on_start {
        db.migrate().await.context("migrating the database")?;
    }
    schema_current(db).await
}

/// Refuses a schema that is behind this build (or ahead of it).
async fn schema_current(db: &Db) -> anyhow::Result<()> {
    let status = db.schema_status().await?;
    if !status.unknown.is_empty() {
        bail!(
            "the database was migrated by a newer Guise (migrations {} are unknown to this one); run that version, or restore the backup taken before the upgrade",
            status.unknown.join(", ")
        );
    }
    if !status.pending.is_empty() {
        bail!(
            "the database schema is behind this Guise ({} migration(s) pending: {}). Back up the database, then run `guise migrate` with the same configuration, and start again (docs/admin.md, \"Upgrading\")",
            status.pending.len(),
            status.pending.join(", ")
        );
    }
    Ok(())
}

/// The password from standard input when it is not a terminal; otherwise a
/// generated one (the flag says so, to print it once).
fn read_or_generate_password() -> anyhow::Result<(String, bool)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok((
            guise_core::secret::Secret::generate().expose().to_owned(),
            true,
        ));
    }
    let mut s = String::new();
    stdin.lock().read_to_string(&mut s)?;
    Ok((s.trim_end_matches(['\n', '\r']).to_owned(), false))
}

/// The delivery worker, until the process ends.
async fn deliver(state: &AppState) {
    guise_federation::delivery::run(
        state.db.clone(),
        state.clock.clone(),
        guise_federation::Urls::new(state.base_url.to_string()),
        state.fetcher.clone(),
        worker_settings(&state.config),
        state.media_work(),
    )
    .await
}

fn worker_settings(c: &Config) -> guise_federation::delivery::Settings {
    let f = &c.federation;
    guise_federation::delivery::Settings {
        poll: std::time::Duration::from_millis(f.worker_poll_ms),
        lease: chrono::Duration::seconds(f.delivery_lease_secs),
        retry: guise_policy::delivery::RetryPolicy {
            first_delay_secs: f.retry_first_delay_secs,
            ..Default::default()
        },
        concurrency: f.delivery_concurrency.max(1),
    }
}

fn init_logging(log: &config::LogConfig) {
    // The level was checked with the rest of the configuration.
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    match log.format {
        config::LogFormat::Text => builder.init(),
        config::LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn connect(config: &Config) -> anyhow::Result<Db> {
    if config.database.url.is_empty() {
        bail!("no database configured: set database.url or GUISE_DATABASE_URL (./dev run starts a local PostgreSQL for you)");
    }
    Ok(Db::connect(
        &config.database.url,
        config.database.pool_size,
    )?)
}

/// What PostgreSQL keeps beside the data must not undo what Guise keeps out
/// of it: commit timestamps would date every row (rule 4), and statement or
/// plan logs with their values would write down what each request did, for
/// which face, next to the login that sent it.
async fn check_database(db: &guise_core::Db, config: &Config) -> anyhow::Result<()> {
    if db.setting("track_commit_timestamp").await?.as_deref() == Some("on") {
        bail!("PostgreSQL has track_commit_timestamp = on, which would time-stamp every row Guise writes; turn it off");
    }
    // Refused writes (a taken handle, say) are logged by PostgreSQL with the
    // values of the conflicting key on a DETAIL line, with a time stamp.
    if db
        .setting("log_error_verbosity")
        .await?
        .is_some_and(|v| !v.eq_ignore_ascii_case("terse"))
    {
        tracing::warn!("PostgreSQL logs the values behind refused writes (DETAIL lines); set log_error_verbosity = terse to keep them out of its log (docs/admin.md, \"Logs\")");
    }
    let mut logging = Vec::new();
    let number = |v: Option<String>| v.and_then(|s| s.parse::<i64>().ok());
    if let Some(v) = db.setting("log_statement").await?.filter(|v| v != "none") {
        logging.push(format!("log_statement = {v}"));
    }
    for name in [
        "log_min_duration_statement",
        "log_min_duration_sample",
        "auto_explain.log_min_duration",
    ] {
        if let Some(v) = number(db.setting(name).await?).filter(|v| *v >= 0) {
            logging.push(format!("{name} = {v}"));
        }
    }
    if let Some(v) =
        number(db.setting("log_parameter_max_length_on_error").await?).filter(|v| *v != 0)
    {
        logging.push(format!("log_parameter_max_length_on_error = {v}"));
    }
    if !logging.is_empty() {
        if config.database.allow_statement_logging {
            tracing::warn!(settings = %logging.join(", "), "PostgreSQL logs statements with their values (allowed by database.allow_statement_logging)");
        } else {
            bail!(
                "PostgreSQL would log statements or plans with their values ({}): its log would record what each request did and for which face, beside the data Guise keeps unlinkable. Turn that off (log_statement = none, log_min_duration_statement = -1, ...), or set database.allow_statement_logging = true if you accept it (docs/anonymity.md).",
                logging.join(", ")
            );
        }
    }
    Ok(())
}

/// A listening socket other processes may bind too (SO_REUSEPORT): the
/// kernel spreads new connections among them.
fn shared_listener(listen: &str) -> anyhow::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let addr = listen
        .to_socket_addrs()?
        .next()
        .context("the address resolves to nothing")?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

async fn serve(config: Config, worker: bool) -> anyhow::Result<()> {
    let db = connect(&config)?;
    prepare(&db, &config).await?;
    let listen = config.server.listen.clone();
    let workers = match config.server.workers {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
        n => n,
    };
    // Signing keys are made ahead of time, off the request path.
    tokio::spawn(guise_federation::keys::fill_pool(
        db.clone(),
        config.federation.key_pool_size,
    ));
    let state = AppState::new(db, Arc::new(SystemClock), config)?;
    sign_fetches(&state).await?;
    guise_server::domain_rules::reload(&state).await?;
    guise_server::domain_rules::reload_incoming(&state).await?;
    guise_server::domain_rules::reload_ip_blocks(&state).await?;
    guise_server::policy::reload(&state).await?;
    tokio::spawn(guise_server::domain_rules::watch(state.clone()));
    tokio::spawn(guise_server::kept::listen(
        state.tokens.clone(),
        state.senders.clone(),
        state.config.database.url.clone(),
    ));
    // The delivery worker and jobs run beside the server unless another
    // process (`guise worker`) runs them.
    if worker {
        let worker_state = state.clone();
        tokio::spawn(async move { deliver(&worker_state).await });
        tokio::spawn(guise_server::jobs::run(state.clone()));
        tokio::spawn(guise_server::jobs::fold(state.clone()));
    }
    guise_server::streaming::start(&state, true);
    let base = state.base_url.clone();
    let reuse_port = state.config.server.reuse_port;
    // Each HTTP worker queries through a pool of its own (its share of
    // `database.pool_size`), opened on its own thread; the delivery worker,
    // jobs and streaming keep the shared pool.
    let per_worker = state.config.database.pool_size.div_ceil(workers).max(2);
    let server = actix_web::HttpServer::new(move || {
        let mut state = state.clone();
        match state.db.own_pool(per_worker) {
            Ok(db) => state.db = db,
            Err(e) => tracing::warn!(error = %e, "an HTTP worker shares the pool"),
        }
        guise_server::app(state)
    })
    .workers(workers);
    let server = if reuse_port {
        server.listen(shared_listener(&listen).with_context(|| format!("binding {listen}"))?)
    } else {
        server.bind(&listen)
    }
    .with_context(|| format!("binding {listen}"))?;
    for addr in server.addrs() {
        // Tests read this line to learn the port when listening on port 0.
        println!("guise listening on http://{addr} (public address {base})");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    server.run().await?;
    Ok(())
}

async fn admin(config: Config, args: &[String]) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        Some("create-account") => {
            let mut username = None;
            let mut email = None;
            let mut role = Role::User;
            let mut it = args.iter().skip(1);
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--email" => email = it.next().cloned(),
                    "--admin" | "--moderator" if role != Role::User => {
                        bail!("--admin and --moderator: choose one\n\n{USAGE}")
                    }
                    "--admin" => role = Role::Admin,
                    "--moderator" => role = Role::Moderator,
                    s if !s.starts_with("--") && username.is_none() => {
                        username = Some(s.to_owned())
                    }
                    s => bail!("unexpected argument {s:?}\n\n{USAGE}"),
                }
            }
            let username = Username::parse(&username.context("a username is needed")?)?;
            let email = Email::parse(&email.context("--email is needed")?)?;
            let (password, generated) = read_or_generate_password()?;
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            let (account, face, recovery) = accounts::create_account(
                &mut conn,
                &SystemClock,
                &username,
                &email,
                &password,
                role,
            )
            .await?;
            println!(
                "created account {} ({}) with the face @{} (id {})",
                account.email, account.role, face.handle, face.id
            );
            if generated {
                println!("password: {password}");
            }
            // Without it, a forgotten password loses the key to the account's anonymous posts.
            println!("anonymity recovery code: {}", recovery.expose());
            println!("(shown once; store it now)");
            Ok(())
        }
        Some("reset-password") => {
            let login = args
                .get(1)
                .filter(|a| !a.starts_with("--"))
                .context("a login (email or username) is needed")?;
            if !args.iter().any(|a| a == "--yes-lose-anonymous-posts") {
                bail!(
                    "Resetting a password without the recovery code loses the key to every anonymous post of {login}:\n\
                     they stay online but can no longer be edited, deleted or listed by their author, and anonymous\n\
                     posting pauses for {} days. If the user still has the recovery code, use\n\
                     POST /api/v1/guise/password/recover instead. To go ahead, add --yes-lose-anonymous-posts.",
                    config.instance.anonymous_reset_cooldown_days
                );
            }
            let password = read_or_generate_password()?;
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            let recovery = accounts::reset_password_losing_anonymity(
                &mut conn,
                &SystemClock,
                login,
                &password.0,
                config.instance.anonymous_reset_cooldown_days,
            )
            .await?;
            println!("password reset for {login}; every token was revoked");
            if password.1 {
                println!("password: {}", password.0);
            }
            println!("new anonymity recovery code: {}", recovery.expose());
            println!("(shown once; store it now)");
            Ok(())
        }
        Some("fill-key-pool") => {
            let n: i64 = args
                .get(1)
                .and_then(|a| a.parse().ok())
                .filter(|n| (1..=100_000).contains(n))
                .context("how many key pairs (1 to 100000)?")?;
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            // Made on every core at once; each is stored as soon as it is made.
            let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
            let made = futures::stream::iter(0..n)
                .map(|_| tokio::task::spawn_blocking(guise_federation::keys::generate))
                .buffer_unordered(cores)
                .then(|pair| {
                    let db = db.clone();
                    async move {
                        let pair = pair.map_err(anyhow::Error::from)??;
                        let mut conn = db.conn().await?;
                        guise_core::keys::add_to_pool(&mut conn, &pair).await?;
                        anyhow::Ok(())
                    }
                })
                .collect::<Vec<_>>()
                .await;
            for m in made {
                m?;
            }
            let mut conn = db.conn().await?;
            println!(
                "key pool: {} pairs ready",
                guise_core::keys::pool_size(&mut conn).await?
            );
            Ok(())
        }
        Some("set-role") => {
            let (Some(login), Some(role), None) = (args.get(1), args.get(2), args.get(3)) else {
                bail!("admin set-role <login> <user|moderator|admin>\n\n{USAGE}");
            };
            let role = match role.as_str() {
                "user" => Role::User,
                "moderator" => Role::Moderator,
                "admin" => Role::Admin,
                other => bail!("unknown role {other:?}: user, moderator or admin"),
            };
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            guise_core::audit::logged(&mut conn, &SystemClock, None, async |c| {
                let id = accounts::set_role(c, login, role).await?;
                Ok(((), "set_role", guise_core::audit::Target::Login(id)))
            })
            .await
            .with_context(|| format!("no login {login:?}"))?;
            println!("{login} is now {}", role.as_str());
            Ok(())
        }
        Some(cmd @ ("suspend" | "unsuspend" | "delete-status")) => {
            let id: i64 = args
                .get(1)
                .and_then(|a| a.parse().ok())
                .filter(|_| args.len() == 2)
                .with_context(|| format!("admin {cmd} <id>\n\n{USAGE}"))?;
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            let clock = &SystemClock;
            guise_core::audit::logged(&mut conn, clock, None, async |c| {
                use guise_core::audit::Target;
                Ok(match cmd {
                    "delete-status" => {
                        let s = guise_core::moderation::delete_status(c, clock, id).await?;
                        let author = s.identity_id;
                        ((), "delete_status", Target::Status { id, author })
                    }
                    _ => {
                        let suspend = cmd == "suspend";
                        guise_core::moderation::set_suspended(c, clock, id, suspend).await?;
                        (
                            (),
                            if suspend { "suspend" } else { "unsuspend" },
                            Target::Face(id),
                        )
                    }
                })
            })
            .await
            .with_context(|| format!("admin {cmd} {id}"))?;
            println!("done: {cmd} {id}");
            Ok(())
        }
        Some("delete-login") => {
            let (Some(login), None) = (args.get(1), args.get(2)) else {
                bail!("admin delete-login <login>\n\n{USAGE}");
            };
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            let account = accounts::find_login(&mut conn, login)
                .await?
                .with_context(|| format!("no login {login:?}"))?;
            if account.is_staff() {
                bail!("{login} is staff: make it a user first (admin set-role {login} user)");
            }
            let spread = chrono::Duration::seconds(config.instance.deletion_spread_secs.max(0));
            let clock = &SystemClock;
            guise_core::audit::logged(&mut conn, clock, None, async |c| {
                accounts::delete_account_as_staff(c, clock, account.id, spread).await?;
                Ok((
                    (),
                    "delete_login",
                    guise_core::audit::Target::Login(account.id),
                ))
            })
            .await?;
            println!("deleted {login}: its faces go within the deletion window; its anonymous posts stay (only its own key finds them)");
            Ok(())
        }
        Some(cmd @ ("disable-login" | "enable-login" | "approve-login" | "reject-login")) => {
            let (Some(login), None) = (args.get(1), args.get(2)) else {
                bail!("admin {cmd} <login>\n\n{USAGE}");
            };
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            login_command(&mut conn, &config, cmd, login).await
        }
        Some(cmd @ ("domain-blocks" | "block-domain" | "unblock-domain")) => {
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            domain_command(&mut conn, cmd, args.get(1..).unwrap_or_default()).await
        }
        Some(cmd @ ("reports" | "resolve-report" | "reopen-report")) => {
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            report_command(&mut conn, cmd, args.get(1..).unwrap_or_default()).await
        }
        Some("audit-log") => {
            let limit = match args.get(1).map(String::as_str) {
                None => 100,
                Some("--limit") => args
                    .get(2)
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=10_000).contains(n))
                    .context("--limit needs a number from 1 to 10000")?,
                Some(other) => bail!("unexpected argument {other:?}\n\n{USAGE}"),
            };
            let db = connect(&config)?;
            ensure_schema(&db, &config).await?;
            let mut conn = db.conn().await?;
            for e in guise_core::audit::recent(&mut conn, limit, None).await? {
                let who = e.staff_email.unwrap_or_else(|| match e.staff_account_id {
                    Some(_) => "(a deleted login)".into(),
                    None => "command line".into(),
                });
                let face = e
                    .face_id
                    .map(|f| format!(" (face {f})"))
                    .unwrap_or_default();
                println!(
                    "{}  {who}  {} {} {}{face}",
                    e.logged_on, e.action, e.target_kind, e.target_id
                );
            }
            Ok(())
        }
        _ => bail!("unknown admin command\n\n{USAGE}"),
    }
}

/// `guise admin domain-blocks | block-domain | unblock-domain`.
async fn domain_command(
    conn: &mut guise_core::DbConn,
    cmd: &str,
    args: &[String],
) -> anyhow::Result<()> {
    use guise_core::audit::{logged, Target};
    use guise_core::domains;
    let clock = &SystemClock;
    let domain = |args: &[String]| -> anyhow::Result<String> {
        let d = args
            .first()
            .filter(|d| !d.starts_with("--"))
            .with_context(|| format!("admin {cmd} <domain>\n\n{USAGE}"))?;
        guise_federation::fetch::normalize_domain(d)
            .with_context(|| format!("{d:?} is not a domain name"))
    };
    match cmd {
        "domain-blocks" => {
            if let Some(extra) = args.first() {
                bail!("unexpected argument {extra:?}\n\n{USAGE}");
            }
            for b in domains::blocks(conn).await? {
                let mut flags = Vec::new();
                if b.reject_media {
                    flags.push("reject-media");
                }
                if b.reject_reports {
                    flags.push("reject-reports");
                }
                println!(
                    "{}  {}  {}  {}  {}",
                    b.id,
                    b.domain,
                    b.severity,
                    flags.join(","),
                    b.private_comment
                );
            }
        }
        "block-domain" => {
            let d = domain(args)?;
            let mut terms = domains::BlockTerms {
                severity: "suspend".into(),
                ..Default::default()
            };
            let mut rest = args.iter().skip(1);
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--severity" => {
                        terms.severity = rest.next().context("--severity needs a value")?.clone();
                    }
                    "--reject-media" => terms.reject_media = true,
                    "--reject-reports" => terms.reject_reports = true,
                    "--comment" => {
                        terms.private_comment =
                            rest.next().context("--comment needs a text")?.clone();
                    }
                    other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
                }
            }
            let b = logged(conn, clock, None, async |c| {
                let b = domains::add_block(c, clock, &d, &terms).await?;
                let target = Target::DomainBlock(b.id);
                Ok((b, "create_domain_block", target))
            })
            .await
            .with_context(|| format!("admin block-domain {d}"))?;
            println!("blocked {} ({})", b.domain, b.severity);
        }
        _ => {
            let d = domain(args)?;
            if let Some(extra) = args.get(1) {
                bail!("unexpected argument {extra:?}\n\n{USAGE}");
            }
            let found = domains::blocks(conn)
                .await?
                .into_iter()
                .find(|b| b.domain == d)
                .with_context(|| format!("{d} is not blocked"))?;
            logged(conn, clock, None, async |c| {
                domains::remove_block(c, found.id).await?;
                Ok(((), "destroy_domain_block", Target::DomainBlock(found.id)))
            })
            .await?;
            println!("unblocked {d}");
        }
    }
    Ok(())
}

/// `guise admin disable-login | enable-login | approve-login | reject-login
/// <login>`: the API's actions on a login, logged as the command line.
async fn login_command(
    conn: &mut guise_core::DbConn,
    config: &Config,
    cmd: &str,
    login: &str,
) -> anyhow::Result<()> {
    let account = accounts::find_login(conn, login)
        .await?
        .with_context(|| format!("no login {login:?}"))?;
    let target = guise_core::audit::Target::Login(account.id);
    let clock = &SystemClock;
    if matches!(cmd, "approve-login" | "reject-login") {
        let (approved, _) = accounts::approval_state(conn, account.id).await?;
        if approved {
            bail!("{login} is not waiting for approval");
        }
    }
    match cmd {
        "disable-login" | "enable-login" => {
            if account.is_staff() && cmd == "disable-login" {
                bail!("{login} is staff: make it a user first (admin set-role {login} user)");
            }
            let disable = cmd == "disable-login";
            guise_core::audit::logged(conn, clock, None, async |c| {
                accounts::set_disabled(c, account.id, disable).await?;
                Ok(((), if disable { "disable" } else { "enable" }, target))
            })
            .await?;
            println!(
                "{login} is {}",
                if disable {
                    "disabled: it cannot sign in, and every token it had is dead"
                } else {
                    "enabled: it signs in anew"
                }
            );
        }
        "approve-login" => {
            let email = guise_core::audit::logged(conn, clock, None, async |c| {
                Ok((accounts::approve(c, account.id).await?, "approve", target))
            })
            .await?;
            guise_server::mail::send_approved(config, &email).await;
            println!("approved {login}");
        }
        _ => {
            let spread = chrono::Duration::seconds(config.instance.deletion_spread_secs.max(0));
            guise_core::audit::logged(conn, clock, None, async |c| {
                accounts::delete_account_as_staff(c, clock, account.id, spread).await?;
                Ok(((), "reject", target))
            })
            .await?;
            println!("rejected {login}: the sign-up is deleted");
        }
    }
    Ok(())
}

/// `guise admin reports | resolve-report | reopen-report`.
async fn report_command(
    conn: &mut guise_core::DbConn,
    cmd: &str,
    args: &[String],
) -> anyhow::Result<()> {
    use guise_core::audit::{logged, Target};
    use guise_core::reports;
    let clock = &SystemClock;
    if cmd == "reports" {
        let resolved = match args.first().map(String::as_str) {
            None => false,
            Some("--resolved") if args.len() == 1 => true,
            Some(other) => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        };
        let filter = reports::Filter {
            resolved,
            ..Default::default()
        };
        let page = guise_core::statuses::Page {
            limit: 200,
            ..Default::default()
        };
        for r in reports::list(conn, filter, &page).await? {
            println!(
                "{}  {}  face {}  {} post(s)  {}",
                r.id,
                r.category,
                r.target_identity_id,
                r.status_ids.len(),
                r.comment.replace('\n', " ")
            );
        }
        return Ok(());
    }
    let id: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .filter(|_| args.len() == 1)
        .with_context(|| format!("admin {cmd} <report-id>\n\n{USAGE}"))?;
    logged(conn, clock, None, async |c| {
        Ok(if cmd == "resolve-report" {
            reports::resolve(c, clock, id, None).await?;
            ((), "resolve_report", Target::Report(id))
        } else {
            reports::reopen(c, id).await?;
            ((), "reopen_report", Target::Report(id))
        })
    })
    .await
    .with_context(|| format!("admin {cmd} {id}"))?;
    println!("done: {cmd} {id}");
    Ok(())
}

/// Our fetches of remote objects are signed by the instance actor alone;
/// the shared announcer is switched on or off as configured.
async fn sign_fetches(state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.db.conn().await?;
    guise_core::announcer::ensure(
        &mut conn,
        state.clock.as_ref(),
        state.config.federation.anonymous_announcer,
    )
    .await?;
    let key =
        guise_core::keys::instance_key(&mut conn, "instance", guise_federation::keys::generate)
            .await?;
    // Media proxy URLs stay valid across restarts: their key comes from the instance key.
    let media_key: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::new()
            .chain_update(b"guise media proxy\0")
            .chain_update(key.private_pem.as_bytes())
            .finalize()
            .into()
    };
    let _ = state.media_key.set(media_key);
    let urls = guise_federation::Urls::new(state.base_url.to_string());
    state.fetcher.sign_with(
        format!("{}#main-key", urls.instance_actor()),
        key.private_pem,
    );
    Ok(())
}
