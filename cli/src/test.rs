//! `extwasm test SCENARIOS.json [--module [NAME=]M.wasm]… [--filter TEXT]`:
//! runs each scenario of the file on the engine and prints PASS or FAIL per
//! scenario, with a field-by-field diff of the intents when they differ.
//! Exit codes: 0 every scenario passed, 1 one failed, 2 usage (the file, a
//! module that cannot be read or does not load, a scenario naming no
//! module).
//!
//! Which module a scenario runs on (`docs/SCENARIOS.md`): the `--module`
//! named as its `module` (`--module orders=build/x.wasm`, or by the file's
//! stem: `--module build/orders.wasm` is `orders`); else the only
//! `--module` given; else the file its `module` names, from the scenario
//! file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::scenario::{
    EngineRunner, Expect, ModuleError, Outcome, PanicLocation, Scenario, ScenarioConfig, ScenarioError, ScenarioFile,
    compact, mismatch,
};

/// Arguments of `extwasm test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scenario file (docs/SCENARIOS.md).
    pub scenarios: PathBuf,
    /// A module to run scenarios on: PATH (named by its file stem) or NAME=PATH. Repeatable.
    #[arg(long = "module", value_name = "[NAME=]PATH")]
    pub modules: Vec<String>,
    /// Run only the scenarios whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

/// Why the scenarios cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// The scenario file cannot be used.
    #[error(transparent)]
    Scenarios(#[from] ScenarioError),
    /// Two `--module`s have one name.
    #[error("two modules are named {name:?} ({first} and {second}): name them apart with --module NAME=PATH")]
    DuplicateModule {
        /// The name.
        name: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A scenario's module cannot be found.
    #[error("scenario {scenario:?}: {why}")]
    NoModule {
        /// The scenario.
        scenario: String,
        /// What was looked for.
        why: String,
    },
    /// A module cannot be read.
    #[error("cannot read module {path}: {detail}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },
    /// A module is not WebAssembly, or the engine refuses it.
    #[error("module {path}: {error}")]
    Module {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: ModuleError,
    },
    /// The filter leaves nothing.
    #[error("no scenario of {path} has {filter:?} in its name")]
    NothingSelected {
        /// The scenario file.
        path: PathBuf,
        /// The filter.
        filter: String,
    },
}

/// A module given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Given {
    name: String,
    path: PathBuf,
}

/// `NAME=PATH` or `PATH` (named by its file stem). A path that exists is a
/// path even with a `=` in it.
fn parse_module(spec: &str) -> Given {
    if let Some((name, path)) = spec.split_once('=')
        && !name.is_empty()
        && !name.contains(['/', '\\'])
        && !Path::new(spec).exists()
    {
        return Given { name: name.to_owned(), path: PathBuf::from(path) };
    }
    Given { name: stem(spec), path: PathBuf::from(spec) }
}

/// `orders` for `build/orders.wasm`.
fn stem(path: &str) -> String {
    Path::new(path).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.to_owned())
}

/// The module (name and file) each scenario runs on.
fn resolve(file: &ScenarioFile, scenarios: &[&Scenario], given: &[Given]) -> Result<Vec<Given>, TestError> {
    for (i, a) in given.iter().enumerate() {
        if let Some(b) = given[..i].iter().find(|b| b.name == a.name) {
            return Err(TestError::DuplicateModule {
                name: a.name.clone(),
                first: b.path.display().to_string(),
                second: a.path.display().to_string(),
            });
        }
    }
    let mut resolved = Vec::with_capacity(scenarios.len());
    for scenario in scenarios {
        let named = scenario.module.as_deref();
        let by_name = named.and_then(|m| given.iter().find(|g| g.name == m || g.name == stem(m)));
        let module = match (by_name, given) {
            (Some(module), _) => module.clone(),
            (None, [only]) => only.clone(),
            (None, _) => {
                let no_module = |why: String| TestError::NoModule { scenario: scenario.name.clone(), why };
                let given_names: Vec<&str> = given.iter().map(|g| g.name.as_str()).collect();
                let Some(named) = named else {
                    return Err(no_module(format!(
                        "it names no module and {} --module were given: give it \"module\", or one --module",
                        given.len()
                    )));
                };
                let path = file.base.join(named);
                if !path.is_file() {
                    return Err(no_module(format!(
                        "its module {named:?} is no --module (given: {}) and no file {}: build it, or pass --module {}=PATH",
                        if given_names.is_empty() { "none".to_owned() } else { given_names.join(", ") },
                        path.display(),
                        stem(named),
                    )));
                }
                Given { name: stem(named), path }
            }
        };
        resolved.push(module);
    }
    Ok(resolved)
}

/// The result of one scenario.
struct Verdict {
    failures: Vec<String>,
    micros: f64,
}

/// `extwasm test`.
pub fn main(args: &Args) -> ExitCode {
    match test(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("extwasm test: {error}");
            ExitCode::from(2)
        }
    }
}

/// Runs the scenarios; `Ok(true)` when every one passed.
pub fn test(args: &Args) -> Result<bool, TestError> {
    let file = ScenarioFile::load(&args.scenarios)?;
    let scenarios: Vec<&Scenario> =
        file.scenarios.iter().filter(|s| args.filter.as_deref().is_none_or(|filter| s.name.contains(filter))).collect();
    if scenarios.is_empty() {
        let filter = args.filter.clone().unwrap_or_default();
        return Err(TestError::NothingSelected { path: file.path.clone(), filter });
    }
    let given: Vec<Given> = args.modules.iter().map(|m| parse_module(m)).collect();
    let modules = resolve(&file, &scenarios, &given)?;

    // Each module once: read, its extensions found, loaded with the default
    // settings (the engine's checks; a module that fails them stops the run).
    let mut runner = EngineRunner::new();
    let mut loaded: BTreeMap<String, PathBuf> = BTreeMap::new();
    for module in &modules {
        match loaded.get(&module.name) {
            Some(path) if *path == module.path => continue,
            Some(path) => {
                return Err(TestError::DuplicateModule {
                    name: module.name.clone(),
                    first: path.display().to_string(),
                    second: module.path.display().to_string(),
                });
            }
            None => {}
        }
        let wasm = std::fs::read(&module.path)
            .map_err(|e| TestError::Unreadable { path: module.path.clone(), detail: e.to_string() })?;
        let error = |error| TestError::Module { path: module.path.clone(), error };
        runner.add_module(&module.name, wasm).map_err(error)?;
        runner.worker(&module.name, &ScenarioConfig::default()).map_err(error)?;
        loaded.insert(module.name.clone(), module.path.clone());
    }
    let described: Vec<String> = loaded.iter().map(|(name, path)| format!("{name} = {}", path.display())).collect();
    println!("{} scenarios of {} on {}", scenarios.len(), file.path.display(), described.join(", "));

    let (mut passed, mut failed) = (0, 0);
    for (scenario, module) in scenarios.iter().zip(&modules) {
        let verdict = run_one(&mut runner, scenario, &module.name);
        if verdict.failures.is_empty() {
            passed += 1;
            println!("PASS  {}  ({:.1} ms)", scenario.name, verdict.micros / 1000.0);
        } else {
            failed += 1;
            println!("FAIL  {}  ({})", scenario.name, module.path.display());
            for line in &verdict.failures {
                println!("        {line}");
            }
        }
    }
    println!("{} scenarios: {passed} passed, {failed} failed", passed + failed);
    Ok(failed == 0)
}

/// Runs one scenario; its failures as lines for a reader.
fn run_one(runner: &mut EngineRunner, scenario: &Scenario, module: &str) -> Verdict {
    let extensions = runner.extensions(module).unwrap_or_default().to_vec();
    let mut failures = Vec::new();
    for wanted in scenario.extensions() {
        if !extensions.iter().any(|e| e == wanted) {
            let closest = closest(wanted, &extensions).map(|c| format!("did you mean {c:?}? ")).unwrap_or_default();
            failures.push(format!(
                "module {module} has no extension {wanted:?}: {closest}its extensions: {}",
                extensions.join(", ")
            ));
        }
    }
    if !failures.is_empty() {
        return Verdict { failures, micros: 0.0 };
    }
    let started = Instant::now();
    let run = match runner.run(module, scenario, &scenario.state) {
        Ok(run) => run,
        Err(error) => return Verdict { failures: vec![format!("cannot run: {error}")], micros: 0.0 },
    };
    let micros = started.elapsed().as_secs_f64() * 1e6;
    let count = scenario.steps.len();
    for (i, (step, outcome)) in scenario.steps.iter().zip(&run.outcomes).enumerate() {
        let Some(lines) = mismatch(&step.expect, outcome, PanicLocation::Ignore) else { continue };
        let which = if count == 1 { String::new() } else { format!("step {} of {count}, ", i + 1) };
        failures.push(format!("{which}{}: expected {}", step.extension, step.expect));
        failures.extend(lines.into_iter().map(|line| format!("  {line}")));
        if let (Outcome::Done { intents, .. }, Expect::Intents { .. }) = (outcome, &step.expect) {
            failures.push("  got:".to_owned());
            failures.extend(intents.iter().map(|intent| format!("    {}", compact(intent))));
        }
    }
    if let Some((step, why)) = &run.apply_error {
        failures.push(format!("step {} of {count}: its intents cannot be applied to the state: {why}", step + 1));
    } else if run.outcomes.len() < count {
        failures.push(format!("stopped after step {} of {count}: it failed", run.outcomes.len()));
    }
    Verdict { failures, micros }
}

/// The name in `names` closest to `wanted`, if one is close (a typo).
fn closest<'a>(wanted: &str, names: &'a [String]) -> Option<&'a str> {
    let distance = |a: &str, b: &str| {
        let (a, b): (Vec<char>, Vec<char>) = (a.to_lowercase().chars().collect(), b.to_lowercase().chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != cb));
                diagonal = above;
            }
        }
        row[b.len()]
    };
    names
        .iter()
        .map(|name| (distance(wanted, name), name))
        .filter(|(d, name)| *d <= (name.len() / 3).max(2))
        .min()
        .map(|(_, name)| name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_named_by_stem_or_explicitly() {
        assert_eq!(
            parse_module("build/orders.wasm"),
            Given { name: "orders".into(), path: "build/orders.wasm".into() }
        );
        assert_eq!(parse_module("shop=build/x.wasm"), Given { name: "shop".into(), path: "build/x.wasm".into() });
        assert_eq!(parse_module("a/b=c.wasm").name, "b=c");
    }

    #[test]
    fn a_typo_finds_the_extension_meant() {
        let names = ["countOrders".to_owned(), "NewOrder".to_owned()];
        assert_eq!(closest("countOrder", &names), Some("countOrders"));
        assert_eq!(closest("neworder", &names), Some("NewOrder"));
        assert_eq!(closest("somethingElse", &names), None);
    }
}
