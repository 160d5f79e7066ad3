//! Real third-party Mastodon clients against the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use guise_e2e::Server;
use std::path::Path;
use std::process::Command;

fn run_client(mut cmd: Command, name: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("passed, 0 failed"),
        "{name} did not report its checks:\n{stdout}"
    );
    println!("{stdout}");
}

#[test]
fn mastodon_py_drives_guise() {
    // Pushes go to a push service the script runs on 127.0.0.1.
    let server = Server::start_on(
        "127.0.0.1",
        &[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")],
    );
    server.create_account("pyuser", "a long test password");
    // The friend is staff too: it makes the announcement the user reacts to.
    server.create_account_with("pyfriend", "a long test password", &["--admin"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/mastodon_py_flow.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .env(
            "PYTHONPATH",
            std::env::var("GUISE_TEST_PYTHONPATH").expect("GUISE_TEST_PYTHONPATH: run ./dev test"),
        )
        .env("GUISE_URL", &server.url)
        .env("GUISE_USER", "pyuser")
        .env("GUISE_FRIEND", "pyfriend")
        .env("GUISE_PASSWORD", "a long test password");
    run_client(cmd, "Mastodon.py");
}

#[test]
fn masto_js_drives_guise() {
    // Its push subscription names a (closed) port on 127.0.0.1.
    let server = Server::start_on(
        "127.0.0.1",
        &[("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true")],
    );
    server.create_account("jsuser", "another long password");
    server.create_account_with("jsfriend", "another long password", &["--admin"]);
    let modules =
        std::env::var("GUISE_TEST_NODE_MODULES").expect("GUISE_TEST_NODE_MODULES: run ./dev test");
    // ES modules resolve packages from the script's own folder upwards: run a copy
    // placed beside the installed node_modules.
    let dir = Path::new(&modules).parent().unwrap();
    let script = dir.join("masto_flow.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/masto_flow.mjs"),
        &script,
    )
    .unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .env("GUISE_URL", &server.url)
        .env("GUISE_USER", "jsuser")
        .env("GUISE_FRIEND", "jsfriend")
        .env("GUISE_PASSWORD", "another long password");
    run_client(cmd, "masto.js");
}

#[test]
fn toot_drives_guise() {
    let server = Server::start();
    server.create_account("termuser", "a terminal test password");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/toot_flow.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .env(
            "PYTHONPATH",
            std::env::var("GUISE_TEST_PYTHONPATH").expect("GUISE_TEST_PYTHONPATH: run ./dev test"),
        )
        .env("GUISE_URL", &server.url)
        .env("GUISE_EMAIL", "termuser@mail.test")
        .env("GUISE_PASSWORD", "a terminal test password");
    run_client(cmd, "toot");
}
