//! Project automation, run as `cargo xtask <command>`:
//!
//! - `setup`: installs what the build needs and is missing (the wasm32 target).
//! - `demo`: setup, then the main job: `extwasm run` on a bundled state.
//! - `test`: setup, then everything CI checks: fmt, clippy, generated files, all tests.
//! - `gen`: rewrites the files generated from the `abi` crate.

mod generated;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("demo") => setup().and_then(|()| demo()),
        Some("test") => setup().and_then(|()| test()),
        Some("gen") => generate(),
        _ => Err("usage: cargo xtask setup | demo | test | gen".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
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

/// Crates that compile to wasm guests.
const GUEST_CRATES: &[&str] = &[
    "extwasm-guest-sdk",
    "extwasm-example-benchmarks",
    "extwasm-example-basicusage",
    "extwasm-example-readvalues",
    "extwasm-example-allocs",
];

fn setup() -> Result {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

fn tinygo_testdata() -> PathBuf {
    std::env::var_os("EXTWASM_TINYGO_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference/tinygo-testdata"))
}

/// The main job: a projector against the bundled order state.
fn demo() -> Result {
    let module = tinygo_testdata().join("basicusage-pkg.wasm");
    if !module.is_file() {
        return Err(format!("{} is missing: the demo runs the reference TinyGo module", module.display()));
    }
    let state = root().join("examples/states/order.json");
    run(cargo()
        .args(["run", "--quiet", "-p", "extwasm-cli", "--", "run"])
        .arg(&module)
        .arg("CalcOrderedItems")
        .arg("--state")
        .arg(&state))
}

fn test() -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The guest side as the guests build it.
    let mut wasm_clippy = cargo();
    wasm_clippy.args(["clippy", "--target", WASM_TARGET]);
    for guest in GUEST_CRATES {
        wasm_clippy.args(["-p", guest]);
    }
    run(wasm_clippy.args(["--", "-D", "warnings"]))?;
    run(cargo().args(["test", "--workspace"]))
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
