//! End-to-end harness: starts the real `guise` binary on a free loopback port
//! against its own PostgreSQL database cloned from the migrated template, and
//! creates accounts through the real CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod api;
pub mod linker;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub url: String,
    pub db_url: String,
    addr: String,
    env: Vec<(String, String)>,
    /// A command `guise` runs under (e.g. `unshare …`), if any.
    wrap: Vec<String>,
}

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with ./dev test"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env("GUISE_BIN"))
}

/// A fresh database cloned from the template, through psql.
pub fn fresh_database() -> String {
    let admin = env("GUISE_TEST_DATABASE_URL");
    let template = std::env::var("GUISE_TEST_TEMPLATE").unwrap_or_else(|_| "guise_template".into());
    let name = format!("e_{:016x}", rand::random::<u64>());
    let psql = std::env::var("GUISE_TEST_PSQL").unwrap_or_else(|_| "psql".into());
    let ok = Command::new(psql)
        .args([
            &admin,
            "-q",
            "-c",
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        ])
        .status()
        .expect("running psql")
        .success();
    assert!(ok, "creating database {name}");
    let base = &admin[..admin.rfind('/').unwrap()];
    format!("{base}/{name}")
}

fn data_dir_for(addr: &str) -> PathBuf {
    std::env::temp_dir().join(format!("guise-e2e-{}", addr.replace([':', '.'], "-")))
}

pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `guise worker` process, killed when dropped.
pub struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Server {
    pub fn start() -> Server {
        Self::start_on("127.0.0.1", &[])
    }

    pub fn start_on(ip: &str, extra_env: &[(&str, &str)]) -> Server {
        Self::start_logging(ip, extra_env, None)
    }

    /// Like `start_on`, with the server's log (stderr) written to `log`.
    pub fn start_logging(
        ip: &str,
        extra_env: &[(&str, &str)],
        log: Option<&std::path::Path>,
    ) -> Server {
        let db_url = fresh_database();
        let addr = format!("{ip}:{}", free_port(ip));
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = Self::spawn(&addr, &db_url, &env, log, &[]);
        Server {
            child,
            url: format!("http://{addr}"),
            db_url,
            addr,
            env,
            wrap: Vec::new(),
        }
    }

    /// Another `guise serve` process on the same database (a second
    /// process of one instance, as behind a load balancer): same domain,
    /// its own port.
    pub fn start_sharing(other: &Server, extra_env: &[(&str, &str)]) -> Server {
        let ip = other
            .addr
            .rsplit_once(':')
            .map(|(ip, _)| ip)
            .unwrap_or("127.0.0.1");
        let addr = format!("{ip}:{}", free_port(ip));
        let mut env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("GUISE_DOMAIN".into(), other.addr.clone()));
        let child = Self::spawn(&addr, &other.db_url, &env, None, &[]);
        Server {
            child,
            url: format!("http://{addr}"),
            db_url: other.db_url.clone(),
            addr,
            env,
            wrap: Vec::new(),
        }
    }

    fn spawn(
        addr: &str,
        db_url: &str,
        extra_env: &[(String, String)],
        log: Option<&std::path::Path>,
        wrap: &[String],
    ) -> Child {
        let mut cmd = match wrap.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.arg("serve")
            .env("GUISE_DATABASE_URL", db_url)
            .env("GUISE_LISTEN", addr)
            .env("GUISE_DOMAIN", addr)
            .env("GUISE_INSTANCE__SCHEME", "http")
            .env("GUISE_SERVER__WORKERS", "2")
            .env("GUISE_DATABASE__POOL_SIZE", "4")
            .env("GUISE_DATA_DIR", data_dir_for(addr))
            // Tests sign in far more often than people do, all from 127.0.0.1.
            .env("GUISE_SERVER__SIGN_IN_ATTEMPTS", "100000")
            // Staff in these tests use the admin API without a phone.
            .env("GUISE_INSTANCE__STAFF_TWO_FACTOR", "false")
            .env(
                "GUISE_LOG__LEVEL",
                std::env::var("GUISE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(match log {
                Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
                None => Stdio::inherit(),
            });
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        started_when(cmd, "guise listening on")
    }

    /// A `guise worker` process for this server's instance (same
    /// database, same public domain): outbox expansion and delivery only.
    /// Stopped when dropped.
    pub fn worker(&self, extra_env: &[(&str, &str)]) -> Worker {
        let mut cmd = Command::new(bin());
        cmd.arg("worker")
            .env("GUISE_DATABASE_URL", &self.db_url)
            .env("GUISE_DOMAIN", &self.addr)
            .env("GUISE_INSTANCE__SCHEME", "http")
            .env("GUISE_DATA_DIR", data_dir_for(&self.addr))
            .env(
                "GUISE_LOG__LEVEL",
                std::env::var("GUISE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Worker(started_when(cmd, "guise worker running"))
    }

    /// A server on `addr` (and so under that public domain) serving
    /// `db_url`, e.g. a restored database.
    pub fn start_at(addr: &str, db_url: &str, extra_env: &[(&str, &str)]) -> Server {
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = Self::spawn(addr, db_url, &env, None, &[]);
        Server {
            child,
            url: format!("http://{addr}"),
            db_url: db_url.to_owned(),
            addr: addr.to_owned(),
            env,
            wrap: Vec::new(),
        }
    }

    /// A server on a fresh database listening on `ip`, whose `guise` runs
    /// under `wrap` (a program and its arguments, `guise serve` appended).
    pub fn start_wrapped(ip: &str, extra_env: &[(&str, &str)], wrap: &[&str]) -> Server {
        let db_url = fresh_database();
        let addr = format!("{ip}:{}", free_port(ip));
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let wrap: Vec<String> = wrap.iter().map(|w| w.to_string()).collect();
        let child = Self::spawn(&addr, &db_url, &env, None, &wrap);
        Server {
            child,
            url: format!("http://{addr}"),
            db_url,
            addr,
            env,
            wrap,
        }
    }

    /// Its `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its data directory (media live in `media/` under it), unless the
    /// test's environment moved it.
    pub fn data_dir(&self) -> PathBuf {
        data_dir_for(&self.addr)
    }

    /// kill -9: no shutdown, no flush, whatever was in flight is cut off.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same address and database.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.addr, &self.db_url, &self.env, None, &self.wrap);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Creates a login through `guise admin create-account`, password on stdin.
    pub fn create_account(&self, username: &str, password: &str) {
        self.create_account_with(username, password, &[]);
    }

    /// Like `create_account`, with extra flags (`--admin`).
    pub fn create_account_with(&self, username: &str, password: &str, extra: &[&str]) {
        let mut child = Command::new(bin())
            .args([
                "admin",
                "create-account",
                username,
                "--email",
                &format!("{username}@mail.test"),
            ])
            .args(extra)
            .env("GUISE_DATABASE_URL", &self.db_url)
            .env("GUISE_LOG__LEVEL", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "create-account failed");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(&format!("@{username}")), "{text}");
        assert!(
            !text.contains(password),
            "a password from stdin is never echoed"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (its stdout piped) and waits until it prints a line
/// containing `ready`; kills it and panics if that takes over a minute.
fn started_when(mut cmd: Command, ready: &'static str) -> Child {
    let mut child = cmd.spawn().expect("starting guise");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keeps reading (and so draining the pipe) for the process's life.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(ready) {
                let _ = tx.send(());
            }
        }
    });
    let started = Instant::now();
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("no {ready:?} within {:?}", started.elapsed());
    }
    child
}

/// Runs SQL through psql against `db_url`; returns the output rows, tab-separated.
pub fn psql_rows(db_url: &str, sql: &str) -> Vec<String> {
    let psql = std::env::var("GUISE_TEST_PSQL").unwrap_or_else(|_| "psql".into());
    let out = Command::new(psql)
        .args([
            db_url,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-F",
            "\t",
            "-c",
            sql,
        ])
        .output()
        .expect("running psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Every row of every table with its `xmin`, as whoever holds the database
/// files reads them: a table name, a transaction id, and every value.
pub fn at_rest_rows(db_url: &str) -> Vec<linker::Row> {
    let mut rows = Vec::new();
    for table in psql_rows(
        db_url,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    ) {
        for line in psql_rows(
            db_url,
            &format!("SELECT xmin::text, row_to_json(t)::text FROM \"{table}\" t"),
        ) {
            let Some((xmin, json)) = line.split_once('\t') else {
                continue;
            };
            let mut values = Vec::new();
            if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(json) {
                for (_, x) in o {
                    match x {
                        serde_json::Value::String(s) => values.push(s),
                        serde_json::Value::Number(n) => values.push(n.to_string()),
                        _ => {}
                    }
                }
            }
            rows.push(linker::Row {
                table: table.clone(),
                xmin: xmin.parse().unwrap_or_default(),
                values,
            });
        }
    }
    rows
}
