//! `extwasm build [PATH] [-o OUT.wasm] [--tinygo]`: builds an extension
//! project into a module, checks it as the engine will load it, and only
//! then writes it.
//!
//! - **Rust** (a `Cargo.toml`): `cargo build --release --lib --target
//!   wasm32-unknown-unknown`, with the size profile passed in the
//!   environment (`opt-level = "z"`, LTO, one codegen unit, `panic =
//!   "abort"`, no debug info), so the project needs no profile of its own; a
//!   `CARGO_PROFILE_RELEASE_*` variable already set wins. Symbols are kept:
//!   the name section is what backtraces show.
//! - **Go** (a `go.mod`): `GOOS=wasip1 GOARCH=wasm go build -trimpath
//!   -buildmode=c-shared` with `$EXTWASM_GO` or the `go` on the PATH.
//! - **TinyGo**: `tinygo build -target=wasip1 -buildmode=c-shared
//!   -gc=leaking -scheduler=none -opt=2` (the reference modules'
//!   configuration) with the `tinygo` on the PATH. The rule: a Go project
//!   that asks for TinyGo (`--tinygo`, or a line `// extwasm: tinygo` in
//!   `go.mod`) is built with TinyGo, and fails with
//!   [`BuildError::ToolMissing`] when `tinygo` is not on the PATH; any other
//!   Go project is built with standard Go, and with TinyGo only when there is
//!   no standard Go and `tinygo` is on the PATH (said on stderr).
//!
//! The extensions are the module's `() -> ()` exports that the ABI does not
//! reserve. Exit codes: 0 written; 1 the project does not compile, or the
//! module would not load (nothing is written); 2 usage: not a project, a
//! missing toolchain, an output that cannot be written.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use extwasm_engine::{Config, Engine, Error};

use crate::human_bytes;
use crate::module::ModuleInfo;

// The SDK's size profile, written down once in the SDK and shared with the
// examples' build (included by path: no dependency on the SDK crate).
#[path = "../../guest-sdk/src/build_profile.rs"]
pub mod build_profile;

/// The size profile of Rust modules: what `extwasm build` passes to cargo.
pub use build_profile::RELEASE_ENV as RUST_PROFILE;
/// The target Rust extensions are built for.
pub use build_profile::TARGET as RUST_TARGET;

/// TinyGo's flags: the configuration of the reference modules.
pub const TINYGO_FLAGS: &[&str] =
    &["-target=wasip1", "-buildmode=c-shared", "-gc=leaking", "-scheduler=none", "-opt=2"];

/// The line of `go.mod` that asks for TinyGo.
pub const TINYGO_MARKER: &str = "// extwasm: tinygo";

/// The oldest Go that builds wasip1 reactors with `//go:wasmexport`.
const MIN_GO_MINOR: u32 = 24;

/// Arguments of `extwasm build`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The project folder: a Cargo.toml (Rust) or a go.mod (Go) in it.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Where to write the module (default: PATH/NAME.wasm, NAME the crate or Go module).
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    pub output: Option<PathBuf>,
    /// Build a Go project with TinyGo (also: a line "// extwasm: tinygo" in its go.mod).
    #[arg(long)]
    pub tinygo: bool,
    /// The memory limit the module is checked against, in 64 KiB pages.
    #[arg(long, value_name = "N", default_value_t = Config::default().get_memory_limit_pages())]
    pub memory_limit_pages: u32,
}

/// The kinds of project `extwasm build` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolchain {
    /// Rust, with cargo.
    Rust,
    /// Standard Go.
    Go,
    /// TinyGo.
    TinyGo,
}

impl Toolchain {
    fn program(self) -> &'static str {
        match self {
            Toolchain::Rust => "cargo",
            Toolchain::Go => "go",
            Toolchain::TinyGo => "tinygo",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Toolchain::Rust => "install Rust with rustup (https://rustup.rs), or set CARGO to cargo's path",
            Toolchain::Go => "install Go 1.24 or newer (https://go.dev/dl/), or set EXTWASM_GO to the go binary",
            Toolchain::TinyGo => {
                "install TinyGo 0.34 or newer (https://tinygo.org/getting-started/install/), or build with standard \
                 Go: drop --tinygo and the \"// extwasm: tinygo\" line of go.mod"
            }
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The folder has no project `extwasm build` knows.
    #[error("{path} has no Cargo.toml (Rust) or go.mod (Go): name an extension project's folder")]
    NotAProject {
        /// The folder.
        path: PathBuf,
    },
    /// The folder has both kinds of project.
    #[error("{path} has both a Cargo.toml and a go.mod: keep the Rust and the Go project in folders of their own")]
    Ambiguous {
        /// The folder.
        path: PathBuf,
    },
    /// `--tinygo` on a Rust project.
    #[error("--tinygo builds Go projects; {path} is a Rust project (Cargo.toml)")]
    TinyGoForRust {
        /// The folder.
        path: PathBuf,
    },
    /// The compiler is not installed.
    #[error("{program} is not installed ({why}): {hint}")]
    ToolMissing {
        /// The program looked for.
        program: String,
        /// Where it was looked for.
        why: String,
        /// How to install it.
        hint: &'static str,
    },
    /// Go is older than 1.24.
    #[error("{program} is {version}; building extensions needs Go 1.{MIN_GO_MINOR} or newer (//go:wasmexport)")]
    GoTooOld {
        /// The go binary.
        program: String,
        /// What `go version` says.
        version: String,
    },
    /// Rust has no standard library for wasm32 installed.
    #[error(
        "the {RUST_TARGET} target is not installed for this toolchain: run `rustup target add {RUST_TARGET}` \
         (in {path})"
    )]
    RustTargetMissing {
        /// The project folder (its rust-toolchain file decides the toolchain).
        path: PathBuf,
    },
    /// The compiler failed (its messages went to stderr).
    #[error("{command} failed ({status}) in {path}; its messages are above")]
    CompileFailed {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The project folder.
        path: PathBuf,
    },
    /// cargo built no module.
    #[error(
        "cargo built no .wasm for {path}: the crate needs `crate-type = [\"cdylib\", \"rlib\"]` under [lib] \
         (a workspace: build one crate's folder)"
    )]
    NoRustModule {
        /// The project folder.
        path: PathBuf,
    },
    /// cargo built several modules.
    #[error("cargo built {count} modules for {path} ({files}): build one crate's folder")]
    SeveralRustModules {
        /// The project folder.
        path: PathBuf,
        /// How many.
        count: usize,
        /// Their files.
        files: String,
    },
    /// The module has no extension.
    #[error(
        "{module} exports no extension (a `() -> ()` function whose name the ABI does not reserve); its exports: \
         {exports} — not written"
    )]
    NoExtensions {
        /// The module built.
        module: String,
        /// Its exports.
        exports: String,
    },
    /// The module the compiler wrote is not WebAssembly.
    #[error("{module}: {error} — not written")]
    Invalid {
        /// The module built.
        module: String,
        /// What is wrong.
        error: crate::module::InvalidModule,
    },
    /// The engine would refuse the module (typed: [`Error::Load`],
    /// [`Error::LoadTimeout`]).
    #[error("{module} would not load: {error} — not written")]
    WouldNotLoad {
        /// The module built.
        module: String,
        /// The engine's error.
        error: Box<Error>,
    },
    /// A file cannot be read or written.
    #[error("{action} {path}: {detail}")]
    Io {
        /// What was being done (`cannot write`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },
}

impl BuildError {
    /// The exit code: 1 when the project or its module is at fault, 2 for
    /// usage and setup.
    pub fn exit_code(&self) -> u8 {
        match self {
            BuildError::CompileFailed { .. }
            | BuildError::NoRustModule { .. }
            | BuildError::SeveralRustModules { .. }
            | BuildError::NoExtensions { .. }
            | BuildError::Invalid { .. }
            | BuildError::WouldNotLoad { .. } => 1,
            _ => 2,
        }
    }
}

/// A module `extwasm build` wrote.
#[derive(Debug)]
pub struct Built {
    /// Where.
    pub output: PathBuf,
    /// Its size in bytes.
    pub size: usize,
    /// Its extensions, in export order.
    pub extensions: Vec<String>,
    /// What built it.
    pub toolchain: Toolchain,
    /// Seconds the compiler took.
    pub compile_seconds: f64,
    /// Seconds the engine took to load it.
    pub load_seconds: f64,
}

/// `extwasm build`: prints the module's path, size and extensions.
pub fn main(args: &Args) -> ExitCode {
    match build(args) {
        Ok(built) => {
            println!("{}", built.output.display());
            println!("  size        {} ({} bytes)", human_bytes(built.size as u64), built.size);
            println!("  extensions  {}", built.extensions.join(", "));
            let how = match built.toolchain {
                Toolchain::Rust => format!("cargo, {RUST_TARGET}, release, size profile"),
                Toolchain::Go => "go, GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared".to_owned(),
                Toolchain::TinyGo => format!("tinygo {}", TINYGO_FLAGS.join(" ")),
            };
            println!("  built with  {how} ({:.1} s)", built.compile_seconds);
            println!("  loads       yes ({:.2} s in this extwasm)", built.load_seconds);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("extwasm build: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Which toolchain builds the project in `path`.
pub fn detect(path: &Path, tinygo: bool) -> Result<Toolchain, BuildError> {
    let (cargo, go) = (path.join("Cargo.toml").is_file(), path.join("go.mod"));
    match (cargo, go.is_file()) {
        (true, true) => Err(BuildError::Ambiguous { path: path.to_owned() }),
        (true, false) if tinygo => Err(BuildError::TinyGoForRust { path: path.to_owned() }),
        (true, false) => Ok(Toolchain::Rust),
        (false, true) => {
            let text = std::fs::read_to_string(&go).map_err(|e| BuildError::Io {
                action: "cannot read",
                path: go.clone(),
                detail: e.to_string(),
            })?;
            let marked = text.lines().any(|line| line.trim() == TINYGO_MARKER);
            Ok(if tinygo || marked { Toolchain::TinyGo } else { Toolchain::Go })
        }
        (false, false) => Err(BuildError::NotAProject { path: path.to_owned() }),
    }
}

/// Builds, checks and writes the module of the project `args` names.
pub fn build(args: &Args) -> Result<Built, BuildError> {
    let path = &args.path;
    if !path.is_dir() {
        return Err(BuildError::NotAProject { path: path.clone() });
    }
    let mut toolchain = detect(path, args.tinygo)?;
    if toolchain == Toolchain::Go
        && find_program(&go_program()).is_none()
        && find_program(Path::new("tinygo")).is_some()
    {
        eprintln!("extwasm build: no standard Go (go is not on the PATH, EXTWASM_GO is not set): building with tinygo");
        toolchain = Toolchain::TinyGo;
    }
    let started = Instant::now();
    let (wasm, default_name) = match toolchain {
        Toolchain::Rust => build_rust(path)?,
        Toolchain::Go | Toolchain::TinyGo => build_go(path, toolchain)?,
    };
    let compile_seconds = started.elapsed().as_secs_f64();
    let output = args.output.clone().unwrap_or_else(|| path.join(format!("{default_name}.wasm")));
    let module = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "module".into());

    let info = ModuleInfo::parse(&wasm).map_err(|error| BuildError::Invalid { module: module.clone(), error })?;
    let extensions = info.extensions();
    if extensions.is_empty() {
        let exports: Vec<&str> = info.exports.iter().map(|e| e.name.as_str()).collect();
        return Err(BuildError::NoExtensions { module, exports: exports.join(", ") });
    }
    let started = Instant::now();
    check_loads(&module, &wasm, &extensions, args.memory_limit_pages)?;
    let load_seconds = started.elapsed().as_secs_f64();
    write_atomically(&output, &wasm)?;
    Ok(Built { output, size: wasm.len(), extensions, toolchain, compile_seconds, load_seconds })
}

/// Loads the module as `extwasm run` would (the engine's load checks and
/// its initialisation, under the memory limit).
fn check_loads(module: &str, wasm: &[u8], extensions: &[String], memory_limit_pages: u32) -> Result<(), BuildError> {
    let would_not_load = |error: Error| BuildError::WouldNotLoad { module: module.to_owned(), error: Box::new(error) };
    let engine = Engine::new(Config::default().memory_limit_pages(memory_limit_pages)).map_err(would_not_load)?;
    let names: Vec<&str> = extensions.iter().map(String::as_str).collect();
    let package_name = module.strip_suffix(".wasm").unwrap_or(module);
    engine.load_package(package_name, wasm, &names).map_err(would_not_load)?;
    Ok(())
}

/// Writes `bytes` to a temporary file beside `output` and renames it over
/// `output`: a failed write leaves no half module.
fn write_atomically(output: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let io = |action, path: &Path, e: std::io::Error| BuildError::Io {
        action,
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let file_name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = output.with_file_name(format!(".{file_name}.extwasm-{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|e| io("cannot write", output, e))?;
    std::fs::rename(&temporary, output).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io("cannot write", output, e)
    })
}

/// Runs `command`; a missing program is [`BuildError::ToolMissing`].
fn spawn(command: &mut Command, toolchain: Toolchain, program: &str) -> Result<std::process::Child, BuildError> {
    command.spawn().map_err(|e| BuildError::ToolMissing {
        program: program.to_owned(),
        why: if e.kind() == std::io::ErrorKind::NotFound {
            match std::env::var_os("PATH") {
                Some(path) => format!("not found on PATH={}", path.to_string_lossy()),
                None => "not found: PATH is not set".to_owned(),
            }
        } else {
            format!("cannot run it: {e}")
        },
        hint: toolchain.install_hint(),
    })
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Whether the sysroot of the project's rustc has `core` for wasm32.
fn rust_target_installed(path: &Path) -> Result<bool, BuildError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_name = rustc.to_string_lossy().into_owned();
    let mut command = Command::new(&rustc);
    command.current_dir(path).args(["--print", "target-libdir", "--target", RUST_TARGET]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = spawn(&mut command, Toolchain::Rust, &rustc_name)?.wait_with_output().map_err(|e| BuildError::Io {
        action: "cannot run rustc in",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    Ok(output.status.success()
        && std::fs::read_dir(&libdir)
            .is_ok_and(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("libcore-"))))
}

/// `cargo build` of the crate in `path`; the module's bytes and its name
/// (the crate's).
fn build_rust(path: &Path) -> Result<(Vec<u8>, String), BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let cargo_name = cargo.to_string_lossy().into_owned();
    // Before building: `cargo` missing says so, not "target missing".
    let mut version = Command::new(&cargo);
    version.arg("--version").stdout(Stdio::null()).stderr(Stdio::null());
    let _ = spawn(&mut version, Toolchain::Rust, &cargo_name)?.wait();
    if !rust_target_installed(path)? {
        return Err(BuildError::RustTargetMissing { path: path.to_owned() });
    }
    let mut command = Command::new(&cargo);
    command
        .current_dir(path)
        .args(["build", "--release", "--lib", "--target", RUST_TARGET, "--message-format=json-render-diagnostics"])
        // Relative to the project folder, the command's working directory.
        .args(["--manifest-path", "Cargo.toml"])
        // The target comes from the command line.
        .env_remove("CARGO_BUILD_TARGET")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (variable, value) in RUST_PROFILE {
        if std::env::var_os(variable).is_none() {
            command.env(variable, value);
        }
    }
    let described = describe(&command);
    let mut child = spawn(&mut command, Toolchain::Rust, &cargo_name)?;
    let mut modules: Vec<PathBuf> = Vec::new();
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = message["target"]["crate_types"].as_array().is_some_and(|t| t.iter().any(|t| t == "cdylib"));
        if let (true, Some(files)) = (is_cdylib, message["filenames"].as_array()) {
            modules.extend(files.iter().filter_map(|f| f.as_str()).filter(|f| f.ends_with(".wasm")).map(PathBuf::from));
        }
    }
    let status = child.wait().map_err(|e| BuildError::Io {
        action: "cannot wait for cargo in",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if !status.success() {
        return Err(BuildError::CompileFailed {
            command: described,
            status: status.to_string(),
            path: path.to_owned(),
        });
    }
    let module = match &modules[..] {
        [] => return Err(BuildError::NoRustModule { path: path.to_owned() }),
        [one] => one,
        several => {
            let files: Vec<String> = several.iter().map(|f| f.display().to_string()).collect();
            return Err(BuildError::SeveralRustModules {
                path: path.to_owned(),
                count: several.len(),
                files: files.join(", "),
            });
        }
    };
    let bytes = std::fs::read(module).map_err(|e| BuildError::Io {
        action: "cannot read",
        path: module.clone(),
        detail: e.to_string(),
    })?;
    let name = module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "module".into());
    Ok((bytes, name))
}

/// The minor version of Go 1 that `go version` reports (`go1.27.3` is 27),
/// and the whole line.
fn go_version(go: &Path) -> Result<(u32, String), BuildError> {
    let mut command = Command::new(go);
    command.arg("version").stdout(Stdio::piped()).stderr(Stdio::null());
    let program = go.display().to_string();
    let output = spawn(&mut command, Toolchain::Go, &program)?.wait_with_output().map_err(|e| BuildError::Io {
        action: "cannot run",
        path: go.to_owned(),
        detail: e.to_string(),
    })?;
    let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let minor = line
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.strip_prefix("go1."))
        .and_then(|v| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok());
    match minor {
        Some(minor) => Ok((minor, line)),
        None => Err(BuildError::ToolMissing {
            program,
            why: format!("`go version` said {line:?}"),
            hint: Toolchain::Go.install_hint(),
        }),
    }
}

/// The module path of `go.mod`'s `module` line, its last element.
fn go_module_name(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path.join("go.mod")).ok()?;
    let module = text.lines().find_map(|line| line.trim().strip_prefix("module "))?.trim().trim_matches('"');
    Some(module.rsplit('/').next()?.to_owned()).filter(|name| !name.is_empty())
}

/// Standard Go: `$EXTWASM_GO`, else `go`.
fn go_program() -> PathBuf {
    std::env::var_os("EXTWASM_GO").filter(|v| !v.is_empty()).map_or_else(|| "go".into(), PathBuf::from)
}

/// Where `program` is: itself when it is a path, else the first of the
/// PATH's folders that has it.
fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// `go build` or `tinygo build` of the main package in `path`.
fn build_go(path: &Path, toolchain: Toolchain) -> Result<(Vec<u8>, String), BuildError> {
    let program: PathBuf = match toolchain {
        Toolchain::TinyGo => "tinygo".into(),
        _ => go_program(),
    };
    if toolchain == Toolchain::Go {
        let (minor, line) = go_version(&program)?;
        if minor < MIN_GO_MINOR {
            return Err(BuildError::GoTooOld { program: program.display().to_string(), version: line });
        }
    }
    let name = go_module_name(path).unwrap_or_else(|| "module".to_owned());
    let scratch = std::env::temp_dir().join(format!("extwasm-build-{}-{name}.wasm", std::process::id()));
    let mut command = Command::new(&program);
    command.current_dir(path).stdout(Stdio::inherit()).stderr(Stdio::inherit());
    match toolchain {
        Toolchain::TinyGo => {
            command.arg("build").args(TINYGO_FLAGS).arg("-o").arg(&scratch).arg(".");
        }
        _ => {
            command
                .args(["build", "-trimpath", "-buildmode=c-shared", "-o"])
                .arg(&scratch)
                .arg(".")
                .env("GOOS", "wasip1")
                .env("GOARCH", "wasm");
        }
    }
    let described = describe(&command);
    let status = spawn(&mut command, toolchain, toolchain.program())?.wait().map_err(|e| BuildError::Io {
        action: "cannot wait for the compiler in",
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    if !status.success() {
        let _ = std::fs::remove_file(&scratch);
        return Err(BuildError::CompileFailed {
            command: described,
            status: status.to_string(),
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(&scratch);
    let _ = std::fs::remove_file(&scratch);
    let bytes = bytes.map_err(|e| BuildError::Io { action: "cannot read", path: scratch, detail: e.to_string() })?;
    Ok((bytes, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_in_go_mod_asks_for_tinygo() {
        let dir = std::env::temp_dir().join(format!("extwasm-build-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("go.mod"), "module example.com/app/orders\n\ngo 1.24\n").unwrap();
        assert_eq!(detect(&dir, false).unwrap(), Toolchain::Go);
        assert_eq!(detect(&dir, true).unwrap(), Toolchain::TinyGo);
        assert_eq!(go_module_name(&dir).as_deref(), Some("orders"));
        std::fs::write(dir.join("go.mod"), "module orders\n\n// extwasm: tinygo\ngo 1.24\n").unwrap();
        assert_eq!(detect(&dir, false).unwrap(), Toolchain::TinyGo);
        std::fs::write(dir.join("Cargo.toml"), "").unwrap();
        assert!(matches!(detect(&dir, false), Err(BuildError::Ambiguous { .. })));
        std::fs::remove_file(dir.join("go.mod")).unwrap();
        assert!(matches!(detect(&dir, true), Err(BuildError::TinyGoForRust { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
