//! The web face in a real browser: headless Chromium driven by
//! playwright-core against the real binary (tests/clients/web_flow.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use guise_e2e::Server;
use std::path::Path;
use std::process::Command;

#[test]
fn chromium_signs_up_signs_in_by_keyboard_and_posts_as_each_face() {
    // The script signs webuser up itself, and runs the SMTP sink the
    // confirmation link is mailed to, on a port free a moment ago.
    let smtp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let server = Server::start_on(
        "127.0.0.1",
        &[
            ("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true"),
            ("GUISE_MAIL__SMTP_HOST", "127.0.0.1"),
            ("GUISE_MAIL__SMTP_PORT", &smtp_port),
        ],
    );
    server.create_account("webfriend", "a long browser password");
    let modules =
        std::env::var("GUISE_TEST_NODE_MODULES").expect("GUISE_TEST_NODE_MODULES: run ./dev test");
    let chromium =
        std::env::var("GUISE_TEST_CHROMIUM").expect("GUISE_TEST_CHROMIUM: run ./dev test");
    // ES modules resolve packages from the script's own folder upwards.
    let script = Path::new(&modules).parent().unwrap().join("web_flow.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/web_flow.mjs"),
        &script,
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&script)
        .env("GUISE_URL", &server.url)
        .env("GUISE_USER", "webuser")
        .env("GUISE_FRIEND", "webfriend")
        .env("GUISE_PASSWORD", "a long browser password")
        .env("GUISE_CHROMIUM", chromium)
        .env("GUISE_SMTP_PORT", &smtp_port)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("passed, 0 failed"),
        "the browser flow failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");
}

/// `./dev screenshots`: every page, for review (ignored by the test run).
#[test]
#[ignore = "run by ./dev screenshots"]
fn screenshots() {
    let out = std::env::var("GUISE_SCREENSHOTS_DIR")
        .expect("GUISE_SCREENSHOTS_DIR: run ./dev screenshots");
    let server = Server::start_on(
        "127.0.0.1",
        &[("GUISE_INSTANCE__REGISTRATIONS_OPEN", "true")],
    );
    server.create_account("shotuser", "a long screenshot password");
    server.create_account("shotfriend", "a long screenshot password");
    let modules =
        std::env::var("GUISE_TEST_NODE_MODULES").expect("GUISE_TEST_NODE_MODULES: run ./dev test");
    let chromium =
        std::env::var("GUISE_TEST_CHROMIUM").expect("GUISE_TEST_CHROMIUM: run ./dev test");
    let script = Path::new(&modules)
        .parent()
        .unwrap()
        .join("screenshots.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/screenshots.mjs"),
        &script,
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&script)
        .env("GUISE_URL", &server.url)
        .env("GUISE_USER", "shotuser")
        .env("GUISE_PASSWORD", "a long screenshot password")
        .env("GUISE_CHROMIUM", chromium)
        .env("GUISE_SCREENSHOTS_DIR", &out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "screenshots failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
}
