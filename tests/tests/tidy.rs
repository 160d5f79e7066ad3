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
