//! `extwasm inspect MODULE [--json] [--memory-limit-pages N]`: what a module
//! is to the engine — its ABI version and extensions; every import, with
//! whether the engine links it (a host function of the ABI, a WASI function
//! it implements or denies) and every export with its role; memory (initial,
//! after initialisation, the limit); size, function count, whether it has a
//! name section, whether it is pre-initialised, and how long it takes to
//! load.
//!
//! The module is loaded as `extwasm run` loads it. Exit codes: 0 it loads;
//! 1 it does not (the report says why; `--json` has `load_error`); 2 the
//! file cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use extwasm_engine::{Config, Engine, Error, JsonState, Worker};
use serde_json::{Value as Json, json};

use crate::human_bytes;
use crate::module::{ImportStatus, ModuleInfo, export_role, import_status};

/// Arguments of `extwasm inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The module (.wasm, or .wat text).
    pub module: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The memory limit to load it under, in 64 KiB pages.
    #[arg(long, value_name = "N", default_value_t = Config::default().get_memory_limit_pages())]
    pub memory_limit_pages: u32,
}

/// Why a module cannot be inspected at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file cannot be read.
    #[error("cannot read {path}: {detail}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },
    /// The file is not WebAssembly.
    #[error("{path}: {error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: crate::module::InvalidModule,
    },
}

/// What loading the module told.
pub struct Loaded {
    /// Pages of memory once initialised (the snapshot every instance starts from).
    pub pages_after_init: u64,
    /// Why it is not pre-initialised, if it is not.
    pub not_preinitialized: Option<String>,
}

/// The report of `extwasm inspect`.
pub struct Report {
    /// The file.
    pub path: PathBuf,
    /// What it declares.
    pub info: ModuleInfo,
    /// The memory limit it was loaded under, in pages.
    pub limit_pages: u32,
    /// Seconds the load took.
    pub load_seconds: f64,
    /// The load's result.
    pub loaded: Result<Loaded, Error>,
}

/// `extwasm inspect`.
pub fn main(args: &Args) -> ExitCode {
    match inspect(&args.module, args.memory_limit_pages) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report.json()).unwrap_or_default());
            } else {
                print!("{}", report.text());
            }
            if report.loaded.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(error) => {
            eprintln!("extwasm inspect: {error}");
            match error {
                InspectError::Unreadable { .. } => ExitCode::from(2),
                InspectError::Invalid { .. } => ExitCode::from(1),
            }
        }
    }
}

/// Reads `path` and loads it under a memory limit of `limit_pages`.
pub fn inspect(path: &Path, limit_pages: u32) -> Result<Report, InspectError> {
    let wasm =
        std::fs::read(path).map_err(|e| InspectError::Unreadable { path: path.to_owned(), detail: e.to_string() })?;
    let info = ModuleInfo::parse(&wasm).map_err(|error| InspectError::Invalid { path: path.to_owned(), error })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "module".into());
    let started = Instant::now();
    let loaded = load(&name, &wasm, &info.extensions(), limit_pages);
    let load_seconds = started.elapsed().as_secs_f64();
    Ok(Report { path: path.to_owned(), info, limit_pages, load_seconds, loaded })
}

fn load(name: &str, wasm: &[u8], extensions: &[String], limit_pages: u32) -> Result<Loaded, Error> {
    let engine = Engine::new(Config::default().memory_limit_pages(limit_pages))?;
    let names: Vec<&str> = extensions.iter().map(String::as_str).collect();
    let package = engine.load_package(name, wasm, &names)?;
    let mut worker: Worker<JsonState> = Worker::new(&engine);
    worker.add_package(&package)?;
    let bytes = worker.memory_bytes(name).unwrap_or(0) as u64;
    Ok(Loaded {
        pages_after_init: bytes / extwasm_abi::WASM_PAGE_SIZE,
        not_preinitialized: package.preinitialized().err().map(|e| e.reason),
    })
}

impl Report {
    /// The report as one JSON object.
    pub fn json(&self) -> Json {
        let info = &self.info;
        let imports: Vec<Json> = info
            .imports
            .iter()
            .map(|import| {
                let status = import_status(import);
                json!({
                    "module": import.module,
                    "name": import.name,
                    "kind": import.item.kind(),
                    "signature": import.item.signature().map(|s| s.to_string()),
                    "status": status.as_str(),
                    "matches": status.matches(),
                    "expected": status.expected(),
                })
            })
            .collect();
        let exports: Vec<Json> = info
            .exports
            .iter()
            .map(|export| {
                json!({
                    "name": export.name,
                    "kind": export.item.kind(),
                    "signature": export.item.signature().map(|s| s.to_string()),
                    "role": export_role(export).as_str(),
                })
            })
            .collect();
        let (loads, load_error, after, preinitialized, reason) = match &self.loaded {
            Ok(loaded) => (
                true,
                Json::Null,
                json!(loaded.pages_after_init),
                loaded.not_preinitialized.is_none(),
                json!(loaded.not_preinitialized),
            ),
            Err(error) => (
                false,
                json!({"kind": error.kind().as_str(), "message": error.to_string()}),
                Json::Null,
                false,
                Json::Null,
            ),
        };
        json!({
            "file": self.path.display().to_string(),
            "size_bytes": info.size,
            "abi_version": info.abi_version(),
            "extensions": info.extensions(),
            "imports": imports,
            "exports": exports,
            "memory": {
                "initial_pages": info.memory.map(|m| m.0),
                "maximum_pages": info.memory.and_then(|m| m.1),
                "after_init_pages": after,
                "limit_pages": self.limit_pages,
            },
            "functions": info.defined_functions,
            "imported_functions": info.imports.iter().filter(|i| i.item.kind() == "function").count(),
            "name_section": info.has_names(),
            "custom_sections": info.custom_sections,
            "preinitialized": preinitialized,
            "not_preinitialized_reason": reason,
            "load_ms": (self.load_seconds * 10_000.0).round() / 10.0,
            "loads": loads,
            "load_error": load_error,
        })
    }

    /// The report as text for a reader.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let info = &self.info;
        let mut out = String::new();
        let pages = |p: u64| format!("{p} pages ({})", human_bytes(p * extwasm_abi::WASM_PAGE_SIZE));
        let _ = writeln!(out, "{}", self.path.display());
        let _ = writeln!(
            out,
            "  size          {} ({} bytes), {} functions ({} imported), name section: {}",
            human_bytes(info.size as u64),
            info.size,
            info.defined_functions,
            info.imports.iter().filter(|i| i.item.kind() == "function").count(),
            if info.has_names() { "yes" } else { "no (backtraces show function numbers)" },
        );
        let _ = writeln!(
            out,
            "  abi           {}",
            info.abi_version().unwrap_or_else(|| "none (no WasmAbiVersion_x_y_z export)".into())
        );
        let extensions = info.extensions();
        let _ = writeln!(out, "  extensions    {} {}", extensions.len(), extensions.join(", "));
        let _ = writeln!(out, "  memory        initial {}", info.memory.map_or("none".into(), |m| pages(m.0)));
        match &self.loaded {
            Ok(loaded) => {
                let _ = writeln!(out, "                after initialisation {}", pages(loaded.pages_after_init));
            }
            Err(_) => {
                let _ = writeln!(out, "                after initialisation: not loaded");
            }
        }
        let _ = writeln!(out, "                limit {}", pages(self.limit_pages as u64));
        match &self.loaded {
            Ok(loaded) => {
                let pre = match &loaded.not_preinitialized {
                    None => "yes (instances start from a snapshot taken at load)".to_owned(),
                    Some(reason) => format!("no: {reason}"),
                };
                let _ = writeln!(out, "  preinit       {pre}");
                let _ = writeln!(out, "  load          ok, {:.1} ms", self.load_seconds * 1000.0);
            }
            Err(error) => {
                let _ = writeln!(out, "  load          FAILS ({}): {error}", error.kind().as_str());
            }
        }
        let _ = writeln!(out, "  imports ({})", info.imports.len());
        for import in &info.imports {
            let status = import_status(import);
            let signature = import.item.signature().map_or_else(|| import.item.kind().to_owned(), |s| s.to_string());
            let verdict = match &status {
                ImportStatus::Host => "ok: host function of the ABI".to_owned(),
                ImportStatus::WasiSupported => "ok: WASI, implemented".to_owned(),
                ImportStatus::WasiDenied => "ok: WASI, denied (links, answers an error)".to_owned(),
                ImportStatus::Unknown => "NOT PROVIDED: the engine has no such import".to_owned(),
                ImportStatus::NotAFunction => "NOT PROVIDED: only functions are imported".to_owned(),
                other => format!("WRONG SIGNATURE: the engine's is {}", other.expected().unwrap_or_default()),
            };
            let _ = writeln!(out, "    {}.{} {signature}  {verdict}", import.module, import.name);
        }
        let _ = writeln!(out, "  exports ({})", info.exports.len());
        for export in &info.exports {
            let signature = export.item.signature().map_or_else(|| export.item.kind().to_owned(), |s| s.to_string());
            let _ = writeln!(out, "    {} {signature}  {}", export.name, export_role(export).as_str());
        }
        out
    }
}
