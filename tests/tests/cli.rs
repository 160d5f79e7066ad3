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
