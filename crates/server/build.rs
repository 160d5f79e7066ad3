//! Release builds of `guise` pack their relative relocations (DT_RELR)
//! when the toolchain and the C library here can: the position-independent
//! binary carries some 55 000 of them, 860 KiB of `.rela.dyn` that the
//! dynamic loader reads in full at every start and that then stays
//! resident; packed, they take a few KiB (docs/scaling.md, "The release
//! build"). It needs GNU ld 2.38+ (or lld) and glibc 2.36+ (which refuses,
//! clearly, to start a packed binary on an older glibc), so a tiny C
//! program is linked and run with the flag first: where that fails, the
//! binary is linked as before.

use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GUISE_NO_PACKED_RELOCS");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let gnu_linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|o| o == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    if !release || !gnu_linux || !native || std::env::var_os("GUISE_NO_PACKED_RELOCS").is_some() {
        return;
    }
    if packs_and_runs() {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    } else {
        println!("cargo:warning=linking guise without packed relocations (this toolchain or glibc cannot; the binary works, with some 1 MiB more resident)");
    }
}

/// Links a C program with the flag (through `cc`, the linker rustc uses
/// here) and runs it.
fn packs_and_runs() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let src = out.join("relr.c");
    let exe = out.join("relr");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let linked = Command::new("cc")
        .args(["-pie", "-fPIE", FLAG, "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success());
    linked && Command::new(&exe).status().is_ok_and(|s| s.success())
}
