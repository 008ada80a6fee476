//! `extwasm`: run an extension against a JSON state file.
//!
//! ```text
//! extwasm run MODULE EXTENSION --state FILE [--package NAME] [--apply] [--memory-limit-pages N]
//! ```
//!
//! Prints one JSON object on stdout. Exit codes: 0 the extension succeeded,
//! 1 the extension failed (the JSON says how), 2 usage or load error (one
//! line on stderr).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use extwasm_engine::{Config, Engine, Error, JsonState, Worker};
use serde_json::{Value as Json, json};

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
    /// On success, write the state back with the intents applied.
    #[arg(long)]
    apply: bool,
    /// Memory limit of the instance, in 64 KiB pages.
    #[arg(long, value_name = "N", default_value_t = Config::default().memory_limit())]
    memory_limit_pages: u32,
}

/// A failure before the extension ran: bad arguments, unreadable files, a
/// module that does not load.
struct SetupError(String);

impl From<Error> for SetupError {
    fn from(error: Error) -> Self {
        SetupError(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    }
}

fn package_name(module: &Path) -> String {
    module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "extension".into())
}

/// Runs the extension; `Ok((report, succeeded))` once it ran.
fn run(args: &RunArgs) -> Result<(Json, bool), SetupError> {
    let engine = Engine::new(Config::default().memory_limit_pages(args.memory_limit_pages))?;
    let name = args.package.clone().unwrap_or_else(|| package_name(&args.module));
    let package = engine.load_package_file(&name, &args.module, &[&args.extension])?;
    let mut state = JsonState::from_path(&args.state)?;
    let mut worker = Worker::new(&engine);
    worker.add_package(&package)?;

    let started = Instant::now();
    let outcome = worker.invoke(&name, &args.extension, &state);
    let micros = started.elapsed().as_secs_f64() * 1e6;
    let done = match outcome {
        Ok(done) => done,
        Err(error) => {
            let report = json!({
                "ok": false,
                "extension": args.extension,
                "error": { "kind": error.kind().as_str(), "message": error.to_string(), "backtrace": error.backtrace() },
                "intents": [],
            });
            return Ok((report, false));
        }
    };
    let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
    let report = json!({
        "ok": true,
        "extension": args.extension,
        "intents": intents,
        "stdout": done.output(),
        "stats": { "host_calls": done.host_calls(), "micros": (micros * 10.0).round() / 10.0 },
    });
    if args.apply {
        for intent in &intents {
            state.apply_intent(intent)?;
        }
        let text = serde_json::to_string_pretty(&state.to_json()).expect("JSON values serialise");
        std::fs::write(&args.state, text + "\n")
            .map_err(|e| SetupError(format!("cannot write {}: {e}", args.state.display())))?;
    }
    Ok((report, true))
}
