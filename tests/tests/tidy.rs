//! Architecture and schema rules that are cheapest to check by reading files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn deps(crate_dir: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(crate_dir).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    let mut out = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(toml::Value::Table(t)) = manifest.get(section) {
            out.extend(t.keys().cloned());
        }
    }
    out
}

/// Architecture Invariant: core knows nothing of HTTP or ActivityPub; policy
/// depends on no workspace crate.
#[test]
fn crate_dependencies_point_one_way() {
    let core = deps("crates/core");
    for banned in [
        "actix-web",
        "activitypub_federation",
        "guise-federation",
        "guise-server",
        "reqwest",
    ] {
        assert!(
            !core.contains(&banned.to_string()),
            "core depends on {banned}"
        );
    }
    let policy = deps("crates/policy");
    for d in &policy {
        assert!(
            !d.starts_with("guise-"),
            "policy depends on workspace crate {d}"
        );
    }
    for banned in ["diesel", "diesel-async", "tokio", "actix-web"] {
        assert!(
            !policy.contains(&banned.to_string()),
            "policy depends on {banned}"
        );
    }
    let federation = deps("crates/federation");
    assert!(
        !federation.contains(&"guise-server".to_string()),
        "federation depends on server"
    );
}

/// What in this SQL would make a sequence (comments ignored).
fn sequence_uses(sql: &str) -> Vec<&'static str> {
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    ["serial", "nextval", "create sequence", "as identity"]
        .into_iter()
        .filter(|b| code.contains(b))
        .collect()
}

/// Unlinkability rule 2: no sequences anywhere in the schema.
#[test]
fn migrations_use_no_sequences() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("migrations")).unwrap() {
        let dir = entry.unwrap().path();
        for file in ["up.sql", "down.sql"] {
            let p = dir.join(file);
            let Ok(sql) = std::fs::read_to_string(&p) else {
                continue;
            };
            assert_eq!(
                sequence_uses(&sql),
                Vec::<&str>::new(),
                "{} makes a sequence",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "no migrations found");
}

#[test]
fn the_sequence_check_catches_planted_sequences() {
    assert_eq!(
        sequence_uses("CREATE TABLE t (id BIGSERIAL PRIMARY KEY)"),
        vec!["serial"]
    );
    assert_eq!(
        sequence_uses("id bigint DEFAULT nextval('s')"),
        vec!["nextval"]
    );
    assert_eq!(
        sequence_uses("id bigint GENERATED ALWAYS AS IDENTITY"),
        vec!["as identity"]
    );
    assert!(
        sequence_uses("-- a comment about serial numbers\nCREATE TABLE t (id bigint)").is_empty()
    );
}

/// Every Rust source keeps `unsafe` out (also forbidden by the workspace lints).
#[test]
fn no_unsafe_code() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("crates"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("unsafe {"),
            "{} has an unsafe block",
            f.display()
        );
    }
}

/// Every clock read goes through `Clock`: a test that passes today and
/// fails tomorrow is a broken test, and logic on the system clock is one a
/// test cannot move. Monotonic timers (`Instant`) measure durations and are
/// not dates, so they are not looked for.
#[test]
fn the_system_clock_is_read_only_by_the_clock() {
    // Each file here reads the real clock on purpose; say why.
    let allowed: &[(&str, &str)] = &[
        // `SystemClock` itself: the one production reading.
        ("crates/core/src/clock.rs", "the Clock"),
        // Redis expires keys by its own clock, so this test runs its app
        // clock in the present to read the TTLs Redis reports.
        ("crates/server/tests/limits.rs", "Redis keeps real time"),
        // Reads TTLs from the real Redis of a real `guise` process.
        ("tests/tests/linker.rs", "Redis keeps real time"),
        // Signs activities for a real `guise` process, whose clock is the system's.
        ("tests/src/bin/guise-bench.rs", "a real process's clock"),
    ];
    let needles = [
        ["Utc", "::now()"].concat(),
        ["SystemTime", "::now()"].concat(),
        ["Local", "::now()"].concat(),
        ["OffsetDateTime", "::now_utc()"].concat(),
    ];
    let mut files = Vec::new();
    for dir in ["crates", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut offenders = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle.as_str())) {
                offenders.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the system clock is read outside Clock:\n{}",
        offenders.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n != "target" && n != "node_modules")
            {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}
