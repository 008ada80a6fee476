//! `extwasm`: run an extension against a JSON state file.
//!
//! ```text
//! extwasm run MODULE EXTENSION --state FILE [--package NAME] [--apply] [--memory-limit-pages N]
//!     [--repeat N] [--timeout-ms MS] [--fuel N] [--isolation reuse|fresh] [--restore-threshold-pages N]
//!     [--host-budget-bytes N] [--max-handles N] [--load-timeout-ms MS] [--cache-dir DIR | --no-cache]
//! extwasm bench MODULE EXTENSION --state FILE [--threads N] [--seconds S] [--json] [--metrics]
//! extwasm new PATH --lang rust|go [--name NAME]
//! extwasm build [PATH] [-o OUT.wasm]
//! extwasm inspect MODULE [--json]
//! extwasm test SCENARIOS.json --module M.wasm [--module ...]
//! ```
//!
//! `run` prints one JSON object on stdout: the last invocation's result and the
//! worker's stats. Exit codes: 0 every invocation succeeded, 1 one failed
//! (the JSON says how the last one ended), 2 usage, load or state-file error
//! (one line on stderr).
//!
//! `--apply` writes the state back with the intents applied, only when every
//! invocation succeeded (otherwise the file is not touched), under an
//! advisory lock held from the read to the write (concurrent `--apply` runs
//! on one file take turns), and atomically (a temporary file renamed over
//! the state: a write that cannot complete leaves the old state whole). See
//! `docs/STATE-FORMAT.md`.
//!
//! The hostile-guest limits: `--host-budget-bytes` (bytes the host may hold
//! for one invocation: keys, rows, intents; default the memory limit),
//! `--max-handles` (handles one invocation may be given; default one per
//! 256 bytes of the memory limit) and `--load-timeout-ms` (deadline of the
//! module's initialisation at load; default 10 000, 0: none).
//!
//! The compiled, pre-initialised package is cached in `--cache-dir`
//! (default `$XDG_CACHE_HOME/extwasm`, else `~/.cache/extwasm`; `--no-cache`:
//! none), so a second run neither compiles nor initialises the module;
//! `stats.load_micros` says how long the load took, `stats.cache` whether
//! the package came from the cache (`hit`), was compiled and stored (`miss`)
//! or compiled without one (`off`). What the load warns of
//! (a cache entry it could not use, a restore threshold at or below the
//! snapshot) goes to stderr, one line each.

mod bench;
mod state_file;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use extwasm_engine::{CacheStatus, Config, Engine, Error, Isolation, JsonState, RestoreWhen, Worker};
use serde_json::{Value as Json, json};
use state_file::StateFile;

#[derive(Parser)]
#[command(name = "extwasm", version, about = "Run sandboxed WebAssembly extensions (ABI 0.0.1)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Invoke EXTENSION of MODULE against the state in --state and print the result as JSON.
    Run(RunArgs),
    /// Create an extension project (one projector, its unit tests, scenarios, a README).
    New(extwasm_cli::new::Args),
    /// Build an extension project (Rust, Go or TinyGo) into a module the engine loads.
    Build(extwasm_cli::build::Args),
    /// Show a module's ABI version, extensions, imports, exports, memory and load time.
    Inspect(extwasm_cli::inspect::Args),
    /// Run a file of scenarios on modules; PASS or FAIL per scenario.
    Test(extwasm_cli::test::Args),
    /// Invoke EXTENSION on a pool of threads for a while; print throughput and latency.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The extension module (.wasm, or .wat text).
    module: PathBuf,
    /// The extension to invoke (an export of the module).
    extension: String,
    /// JSON state file the extension reads.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Package name (default: the module's file stem).
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
    /// When every invocation succeeded, write the state back with the intents applied (locked, atomically).
    #[arg(long)]
    apply: bool,
    /// Memory limit of the instance, in 64 KiB pages.
    #[arg(long, value_name = "N", default_value_t = Config::default().get_memory_limit_pages())]
    memory_limit_pages: u32,
    /// Invoke N times on one worker (with --apply, intents are applied after each).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
    /// Deadline of each invocation in milliseconds (0: none).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// Fuel (deterministic instruction budget) of each invocation.
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// reuse: one instance, restored after failures; fresh: every invocation starts from the snapshot.
    #[arg(long, value_name = "MODE", default_value = "reuse")]
    isolation: Isolation,
    /// Restore the instance between invocations once its memory exceeds N pages (default: half the limit).
    #[arg(long, value_name = "N")]
    restore_threshold_pages: Option<u32>,
    /// Instead, restore it before an invocation when the guest's heap in use (WasmGetHeapInuse) exceeds N bytes.
    #[arg(long, value_name = "N", conflicts_with = "restore_threshold_pages")]
    restore_heap_inuse_bytes: Option<u64>,
    /// Bytes the host may hold for one invocation: key builders, rows, intents (default: the memory limit).
    #[arg(long, value_name = "N")]
    host_budget_bytes: Option<usize>,
    /// Handles one invocation may be given (default: one per 256 bytes of the memory limit).
    #[arg(long, value_name = "N")]
    max_handles: Option<u32>,
    /// Deadline of the module's initialisation at load, in milliseconds (0: none).
    #[arg(long, value_name = "MS", default_value_t = Config::default().get_load_timeout().map_or(0, |t| t.as_millis() as u64))]
    load_timeout_ms: u64,
    /// Cache compiled packages in DIR (default: $XDG_CACHE_HOME/extwasm, else ~/.cache/extwasm).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Compile the module without reading or writing the cache.
    #[arg(long)]
    no_cache: bool,
}

/// A failure before the extension ran: bad arguments, unreadable files, a
/// module that does not load.
struct SetupError(String);

impl From<Error> for SetupError {
    fn from(error: Error) -> Self {
        SetupError(error.to_string())
    }
}

impl From<extwasm_engine::JsonStateError> for SetupError {
    fn from(error: extwasm_engine::JsonStateError) -> Self {
        Error::from(error).into()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ignore_file_size_signal();
    match cli.command {
        Command::Run(args) => match run(&args) {
            Ok((report, succeeded)) => {
                println!("{report}");
                if succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(SetupError(message)) => {
                eprintln!("extwasm: {}", message.replace('\n', " "));
                ExitCode::from(2)
            }
        },
        Command::New(args) => extwasm_cli::new::main(&args),
        Command::Build(args) => extwasm_cli::build::main(&args),
        Command::Inspect(args) => extwasm_cli::inspect::main(&args),
        Command::Test(args) => extwasm_cli::test::main(&args),
        Command::Bench(args) => match bench::bench(&args) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(bench::BenchError(message)) => {
                eprintln!("extwasm: {}", message.replace('\n', " "));
                ExitCode::from(2)
            }
        },
    }
}

fn package_name(module: &Path) -> String {
    module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "extension".into())
}

/// A write past the file-size limit (`ulimit -f`) then fails with `EFBIG`,
/// which `--apply` reports and cleans up after, instead of killing the
/// process mid-write.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: SIG_IGN installs no handler, so no code of ours runs in signal
    // context; `signal` with it is async-signal-safe and affects nothing but
    // the disposition of SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn config(args: &RunArgs) -> Config {
    let mut config = Config::default()
        .memory_limit_pages(args.memory_limit_pages)
        .timeout((args.timeout_ms > 0).then(|| Duration::from_millis(args.timeout_ms)))
        .fuel(args.fuel)
        .isolation(args.isolation)
        .load_timeout((args.load_timeout_ms > 0).then(|| Duration::from_millis(args.load_timeout_ms)))
        .cache_dir(if args.no_cache { None } else { args.cache_dir.clone().or_else(Config::user_cache_dir) });
    if let Some(pages) = args.restore_threshold_pages {
        config = config.restore_threshold_pages(pages);
    }
    if let Some(bytes) = args.restore_heap_inuse_bytes {
        config = config.restore_when(RestoreWhen::HeapInuseBytes(bytes));
    }
    if let Some(bytes) = args.host_budget_bytes {
        config = config.host_budget_bytes(bytes);
    }
    if let Some(handles) = args.max_handles {
        config = config.max_handles(handles);
    }
    config
}

/// The value at `quantile` (0..=1) of sorted `values`.
fn quantile(sorted: &[f64], quantile: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    (sorted[index] * 10.0).round() / 10.0
}

/// Runs the extension `--repeat` times; `Ok((report, all succeeded))` once it ran.
fn run(args: &RunArgs) -> Result<(Json, bool), SetupError> {
    let engine = Engine::new(config(args))?;
    let name = args.package.clone().unwrap_or_else(|| package_name(&args.module));
    let loading = Instant::now();
    let package = engine.load_package_file(&name, &args.module, &[&args.extension])?;
    let load_micros = loading.elapsed().as_secs_f64() * 1e6;
    for warning in package.warnings() {
        eprintln!("extwasm: warning: {}", warning.to_string().replace('\n', " "));
    }
    let mut worker = Worker::new(&engine);
    worker.add_package(&package)?;
    // With --apply the file stays locked from this read to the write, so that
    // a concurrent --apply neither reads the state before our intents are in
    // it nor overwrites them. Plain runs take no lock: they never wait.
    let locked = if args.apply { Some(StateFile::lock(&args.state).map_err(SetupError)?) } else { None };
    let mut state = match &locked {
        Some(file) => file.read()?,
        None => JsonState::from_path(&args.state)?,
    };

    let mut micros = Vec::with_capacity(args.repeat.min(1 << 20) as usize);
    let mut report = Json::Null;
    let mut failed = 0_u64;
    for _ in 0..args.repeat {
        let started = Instant::now();
        let outcome = worker.invoke(&name, &args.extension, &state);
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        let intents = match outcome {
            Ok(done) => {
                let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
                report = json!({
                    "ok": true,
                    "extension": args.extension,
                    "intents": intents,
                    "stdout": done.output(),
                    "stats": { "host_calls": done.host_calls() },
                });
                intents
            }
            Err(error) => {
                failed += 1;
                report = json!({
                    "ok": false,
                    "extension": args.extension,
                    "error": { "kind": error.kind().as_str(), "message": error.to_string(), "backtrace": error.backtrace() },
                    "intents": [],
                    "stats": {},
                });
                continue;
            }
        };
        if args.apply {
            for intent in &intents {
                state.apply_intent(intent)?;
            }
        }
    }
    // All or nothing: the intents of the invocations that succeeded are not
    // written when one failed (the file keeps its bytes and time).
    if let (Some(file), 0) = (&locked, failed) {
        let text = serde_json::to_string_pretty(&state.to_json()).expect("JSON values serialise");
        file.replace(&(text + "\n")).map_err(SetupError)?;
    }
    drop(locked);

    // What the guest says of its heap, where it exports the ABI's functions.
    // A guest whose memory-info function fails reports no heap: the run's
    // own result stands.
    let memory_info = worker.memory_info(&name).ok();
    let stats = worker.stats(&name).expect("the package is in the worker");
    let last_micros = *micros.last().expect("at least one invocation");
    micros.sort_by(f64::total_cmp);
    let mut summary = json!({
        "load_micros": (load_micros * 10.0).round() / 10.0,
        "cache": match package.cache_status() {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            _ => "off",
        },
        "micros": (last_micros * 10.0).round() / 10.0,
        "invocations": stats.invocations,
        "failures": stats.failures,
        "restores": stats.restores,
        "retries": stats.retries,
        "background_restores": stats.background_restores,
        "p50_micros": quantile(&micros, 0.5),
        "p99_micros": quantile(&micros, 0.99),
        "memory_pages": worker.memory_bytes(&name).unwrap_or(0) / 65_536,
        "peak_memory_pages": stats.peak_memory_bytes / 65_536,
    });
    if let (Some(info), Json::Object(fields)) = (memory_info, &mut summary) {
        let heap = [
            ("heap_inuse", info.heap_inuse),
            ("heap_sys", info.heap_sys),
            ("mallocs", info.mallocs),
            ("frees", info.frees),
        ];
        fields.extend(heap.into_iter().filter_map(|(key, value)| Some((key.to_owned(), json!(value?)))));
    }
    let all_ok = failed == 0;
    if let (Some(Json::Object(fields)), Json::Object(summary)) = (report.get_mut("stats"), summary) {
        fields.extend(summary);
    }
    Ok((report, all_ok))
}
