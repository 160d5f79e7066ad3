//! The `guise` command line, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use guise_e2e::{bin, fresh_database};
use std::io::Write;
use std::process::{Command, Stdio};

fn guise(db: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env("GUISE_DATABASE_URL", db)
        .env("GUISE_LOG__LEVEL", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn create_account_prints_a_recovery_code_once_and_reset_asks_first() {
    let db = fresh_database();
    let (ok, out, _) = guise(
        &db,
        &[
            "admin",
            "create-account",
            "carol",
            "--email",
            "carol@mail.test",
        ],
        "a good password\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("anonymity recovery code: "), "{out}");
    let (ok, out, _) = guise(
        &db,
        &[
            "admin",
            "create-account",
            "carol",
            "--email",
            "other@mail.test",
        ],
        "a good password\n",
    );
    assert!(!ok, "a taken username is refused: {out}");
    let (ok, _, err) = guise(
        &db,
        &["admin", "reset-password", "carol"],
        "new password here\n",
    );
    assert!(!ok);
    assert!(
        err.contains("loses the key") && err.contains("--yes-lose-anonymous-posts"),
        "{err}"
    );
    let (ok, out, err) = guise(
        &db,
        &[
            "admin",
            "reset-password",
            "carol",
            "--yes-lose-anonymous-posts",
        ],
        "new password here\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("new anonymity recovery code: "), "{out}");
    assert!(!out.contains("new password here"));
    let (ok, _, err) = guise(&db, &["frobnicate"], "");
    assert!(!ok);
    assert!(err.contains("unknown command"), "{err}");
}

/// `guise serve` (and `guise worker`) refuse a PostgreSQL that logs
/// statements with their values, unless told; the message says why and how.
#[test]
fn serve_refuses_a_database_that_logs_statements() {
    let db = fresh_database();
    let name = db.rsplit('/').next().unwrap().to_owned();
    for (setting, value) in [
        ("log_statement", "'all'"),
        ("log_min_duration_statement", "0"),
        ("log_parameter_max_length_on_error", "-1"),
    ] {
        guise_e2e::psql_rows(
            &db,
            &format!("ALTER DATABASE {name} SET {setting} = {value}"),
        );
        for cmd in ["serve", "worker"] {
            let (code, err) = run_briefly(&db, cmd, &[]);
            assert_eq!(
                code,
                Some(false),
                "{cmd} started with {setting} = {value}: {err}"
            );
            assert!(err.contains(setting), "{err}");
            assert!(err.contains("allow_statement_logging"), "{err}");
        }
        guise_e2e::psql_rows(&db, &format!("ALTER DATABASE {name} RESET {setting}"));
    }
    // Told to, it starts (and is still running when stopped).
    guise_e2e::psql_rows(
        &db,
        &format!("ALTER DATABASE {name} SET log_statement = 'mod'"),
    );
    let (code, err) = run_briefly(
        &db,
        "serve",
        &[("GUISE_DATABASE__ALLOW_STATEMENT_LOGGING", "true")],
    );
    assert_eq!(code, None, "{err}");
}

/// Runs `guise <cmd>` for a few seconds: `Some(success)` if it exited by
/// then, `None` if it was still running; with its standard error.
fn run_briefly(db: &str, cmd: &str, env: &[(&str, &str)]) -> (Option<bool>, String) {
    let mut c = Command::new(bin());
    c.arg(cmd)
        .env("GUISE_DATABASE_URL", db)
        .env("GUISE_LISTEN", "127.0.0.1:0")
        .env(
            "GUISE_DATA_DIR",
            std::env::temp_dir().join("guise-cli-test"),
        )
        .env("GUISE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status.success());
        }
        if start.elapsed() > std::time::Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    (code, err)
}
