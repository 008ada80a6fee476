//! `extwasm run` and the compiled-package cache: `--cache-dir`, the per-user
//! default, `--no-cache`, `stats.load_micros`, and the load's warnings on
//! stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::root;

/// A module of 4 pages whose `run` does nothing.
const MODULE: &str = r#"(module (memory (export "memory") 4)
  (func (export "WasmAbiVersion_0_0_1")) (func (export "run")))"#;

/// An empty directory for `test`, with the module in it.
fn fresh(test: &str) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-cache-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let module = dir.join("nothing.wat");
    std::fs::write(&module, MODULE).unwrap();
    (dir, module)
}

/// `extwasm run MODULE run --state order.json ARGS…` with `$HOME` and
/// `$XDG_CACHE_HOME` under `home`, so the per-user default is there.
fn run(home: &Path, module: &Path, args: &[&str]) -> Output {
    let state = root().join("examples/states/order.json");
    Command::new(env!("CARGO_BIN_EXE_extwasm"))
        .args(["run", module.to_str().unwrap(), "run", "--state", state.to_str().unwrap()])
        .args(args)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .output()
        .expect("extwasm runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Where the package came from (`stats.cache`) in the report of a run that
/// succeeded, which also says how long the load took.
fn cache(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let load_micros = report["stats"]["load_micros"].as_f64().expect("stats.load_micros");
    assert!(load_micros > 0.0, "{report}");
    report["stats"]["cache"].as_str().expect("stats.cache").to_owned()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|e| e.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    entries.retain(|path| path.extension().is_some_and(|e| e == "extwasm"));
    entries
}

#[test]
fn a_second_run_loads_from_the_cache_dir() {
    let (home, module) = fresh("dir");
    let cache_dir = home.join("cache");
    let args = ["--cache-dir", cache_dir.to_str().unwrap()];
    assert_eq!(cache(&run(&home, &module, &args)), "miss");
    assert_eq!(entries(&cache_dir).len(), 1);
    let out = run(&home, &module, &args);
    assert_eq!(cache(&out), "hit");
    assert_eq!(stderr(&out), "", "no warning");
    assert_eq!(entries(&home.join("xdg-cache/extwasm")), Vec::<PathBuf>::new(), "the default is not used");
}

#[test]
fn the_default_cache_is_per_user_and_no_cache_turns_it_off() {
    let (home, module) = fresh("default");
    assert_eq!(cache(&run(&home, &module, &["--no-cache"])), "off");
    assert!(!home.join("xdg-cache").exists(), "--no-cache writes nothing");
    assert_eq!(cache(&run(&home, &module, &[])), "miss");
    assert_eq!(entries(&home.join("xdg-cache/extwasm")).len(), 1, "$XDG_CACHE_HOME/extwasm");
    assert_eq!(cache(&run(&home, &module, &[])), "hit");
    assert_eq!(cache(&run(&home, &module, &["--no-cache"])), "off", "--no-cache reads nothing");
    let out = run(&home, &module, &["--no-cache", "--cache-dir", "elsewhere"]);
    assert_eq!(out.status.code(), Some(2), "the two flags conflict");
}

#[test]
fn what_the_load_warns_of_goes_to_stderr() {
    let (home, module) = fresh("warnings");
    let cache_dir = home.join("cache");
    let args = ["--cache-dir", cache_dir.to_str().unwrap()];
    assert_eq!(cache(&run(&home, &module, &args)), "miss");
    let entry = &entries(&cache_dir)[0];
    let mut bytes = std::fs::read(entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(entry, bytes).unwrap();
    let out = run(&home, &module, &args);
    assert_eq!(cache(&out), "miss", "rebuilt");
    let text = stderr(&out);
    assert!(text.starts_with("extwasm: warning: cache entry "), "{text}");
    assert!(text.contains("corrupt"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    // A threshold below the 4-page snapshot restores after every invocation.
    let out = run(&home, &module, &["--no-cache", "--restore-threshold-pages", "2"]);
    cache(&out);
    let text = stderr(&out);
    assert!(text.contains("warning: the snapshot's memory (4 pages) is at or above the restore threshold (2 pages)"));
}
