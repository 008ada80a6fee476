//! Cross-language conformance: the table of `examples/conformance/scenarios.json`
//! (states, extensions, expected intents or errors) run against every build
//! of the same extension — the TinyGo reference modules (both GC builds), the
//! Rust examples on the engine and on the Rust SDK's mock host, the Go
//! examples on the engine — with identical results required. The Go SDK's
//! mock host is the table's `go-native` column, run by `go test` in
//! `examples/go` (`cargo xtask test` runs both).
//!
//! A column is a kind of build; a scenario runs on every column whose module
//! exports its extensions. `SHOW_OUTCOMES=1` prints the matrix.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::LazyLock;

use extwasm_engine::{Config, Engine, Error, JsonState, Worker};
use extwasm_rust_examples::sdk::testing::MockHost;
use serde_json::{Map, Value as Json};

const PACKAGE: &str = "conformance";

/// The project root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The table, parsed once.
static TABLE: LazyLock<Json> = LazyLock::new(|| {
    let path = root().join("examples/conformance/scenarios.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
});

/// How a step ended, comparably.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Done { intents: Vec<Json>, host_calls: Option<u64> },
    Failed { kind: String, text: String },
}

/// A column of the table.
struct Column {
    name: String,
    kind: String,
    /// module -> TinyGo file.
    files: Map<String, Json>,
    /// Entity names the build uses instead of the table's.
    entities: Vec<(String, String)>,
    /// Guest panics carry ` (at <file>:<line>:<column>)` after the message.
    panic_location: bool,
    native: bool,
}

impl Column {
    fn all() -> Vec<Column> {
        let columns = TABLE["columns"].as_object().expect("columns is an object");
        columns
            .iter()
            .map(|(name, c)| {
                let mut entities: Vec<(String, String)> = c["entities"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect())
                    .unwrap_or_default();
                // Longest first, so that no name is replaced inside a longer one.
                entities.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
                Column {
                    name: name.clone(),
                    kind: c["kind"].as_str().expect("a column has a kind").to_owned(),
                    files: c["modules"].as_object().cloned().unwrap_or_default(),
                    entities,
                    panic_location: c["panic_location"].as_bool().unwrap_or(false),
                    native: c["native"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    /// The table's JSON (a state, expected intents) as this build sees it.
    fn translate(&self, json: &Json) -> Json {
        match json {
            Json::String(s) => Json::String(self.translate_text(s)),
            Json::Array(items) => Json::Array(items.iter().map(|i| self.translate(i)).collect()),
            Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), self.translate(v))).collect()),
            other => other.clone(),
        }
    }

    fn translate_text(&self, text: &str) -> String {
        self.entities.iter().fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
    }
}

/// One build of one module: what runs a scenario's steps.
enum Build {
    Wasm { wasm: Vec<u8>, extensions: Vec<String> },
    RustMock(extwasm_rust_examples::Module),
}

impl Build {
    fn extensions(&self) -> Vec<String> {
        match self {
            Build::Wasm { extensions, .. } => extensions.clone(),
            Build::RustMock(module) => module.extension_names().iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The exported functions of a module that are not the ABI's.
fn extension_exports(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::ExportSection(exports)) = payload {
            for export in exports.into_iter().flatten() {
                if export.kind == wasmparser::ExternalKind::Func
                    && !extwasm_abi::is_reserved_extension_name(export.name)
                {
                    names.push(export.name.to_owned());
                }
            }
        }
    }
    names
}

/// The build of `module` in `column`, or `None` (said loudly when it should
/// have been there).
fn build(column: &Column, module: &str) -> Option<Build> {
    match column.kind.as_str() {
        "tinygo" => {
            let file = column.files.get(module)?.as_str()?;
            // Skipped loudly when missing; under CI, a failure.
            let wasm = crate::common::tinygo_testdata::tinygo_bytes(file)?;
            Some(Build::Wasm { extensions: extension_exports(&wasm), wasm })
        }
        "rust" => {
            let m = extwasm_rust_examples::ALL.iter().find(|m| m.name == module)?;
            let extensions = m.extension_names().iter().map(|s| s.to_string()).collect();
            Some(Build::Wasm { wasm: m.wasm.to_vec(), extensions })
        }
        "rust-mock" => extwasm_rust_examples::ALL.iter().find(|m| m.name == module).map(|m| Build::RustMock(*m)),
        "go" => {
            let m = extwasm_go_examples::ALL.iter().find(|m| m.name == module)?;
            if extwasm_go_examples::skipped(&format!("column {} of the conformance table", column.name)) {
                return None;
            }
            Some(Build::Wasm {
                wasm: m.wasm.to_vec(),
                extensions: m.extensions.iter().map(|s| s.to_string()).collect(),
            })
        }
        "go-native" => None,
        other => panic!("column {}: unknown kind {other:?} (tinygo, rust, rust-mock, go, go-native)", column.name),
    }
}

/// One step of a scenario.
struct Step {
    extension: String,
    expect: Json,
    apply: bool,
    repeat_until_error: u32,
}

struct Scenario {
    name: String,
    module: String,
    state: Json,
    config: Json,
    native: bool,
    steps: Vec<Step>,
}

impl Scenario {
    fn all() -> Vec<Scenario> {
        TABLE["scenarios"].as_array().expect("scenarios is an array").iter().map(Scenario::parse).collect()
    }

    fn parse(s: &Json) -> Scenario {
        let name = s["name"].as_str().expect("a scenario has a name").to_owned();
        let step = |s: &Json| Step {
            extension: s["extension"].as_str().unwrap_or_else(|| panic!("{name}: a step names its extension")).into(),
            expect: s["expect"].clone(),
            apply: s["apply"].as_bool().unwrap_or(false),
            repeat_until_error: s["repeat_until_error"].as_u64().unwrap_or(1) as u32,
        };
        let steps = match s["steps"].as_array() {
            Some(steps) => steps.iter().map(step).collect(),
            None => vec![step(s)],
        };
        let mut state = match &s["state"] {
            Json::String(path) => {
                let path = root().join(path);
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {}: {e}", path.display()));
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {}: {e}", path.display()))
            }
            inline => inline.clone(),
        };
        if let Some(strings) = s["strings"].as_object() {
            for (placeholder, spec) in strings {
                let text = spec[0].as_str().unwrap().repeat(spec[1].as_u64().unwrap() as usize);
                replace_strings(&mut state, placeholder, &text);
            }
        }
        Scenario {
            module: s["module"].as_str().expect("a scenario names its module").to_owned(),
            state,
            config: s["config"].clone(),
            native: s["native"].as_bool().unwrap_or(true),
            steps,
            name,
        }
    }

    fn engine_config(&self) -> Config {
        let mut config = Config::default();
        if let Some(pages) = self.config["memory_limit_pages"].as_u64() {
            config = config.memory_limit_pages(pages as u32);
        }
        if let Some(pages) = self.config["restore_threshold_pages"].as_u64() {
            config = config.restore_threshold_pages(pages as u32);
        }
        if let Some(retry) = self.config["retry_out_of_memory"].as_bool() {
            config = config.retry_out_of_memory(retry);
        }
        config
    }

    fn extensions(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.extension.as_str()).collect();
        names.sort();
        names.dedup();
        names
    }
}

fn replace_strings(json: &mut Json, placeholder: &str, text: &str) {
    match json {
        Json::String(s) if s == placeholder => *s = text.to_owned(),
        Json::Array(items) => items.iter_mut().for_each(|i| replace_strings(i, placeholder, text)),
        Json::Object(map) => map.values_mut().for_each(|v| replace_strings(v, placeholder, text)),
        _ => {}
    }
}

/// Workers by (column, module, config), so that each build is compiled once
/// per configuration.
#[derive(Default)]
struct Workers {
    loaded: HashMap<(String, String, String), Worker<JsonState>>,
}

impl Workers {
    fn worker(&mut self, column: &Column, scenario: &Scenario, wasm: &[u8]) -> &mut Worker<JsonState> {
        let key = (column.name.clone(), scenario.module.clone(), scenario.config.to_string());
        let worker = self.loaded.entry(key).or_insert_with(|| {
            let engine = Engine::new(scenario.engine_config()).expect("a valid config");
            let extensions = extension_exports(wasm);
            let names: Vec<&str> = extensions.iter().map(String::as_str).collect();
            let package = engine
                .load_package(PACKAGE, wasm, &names)
                .unwrap_or_else(|e| panic!("column {}, module {}: {e}", column.name, scenario.module));
            let mut worker = Worker::new(&engine);
            worker.add_package(&package).unwrap();
            worker
        });
        // Every scenario starts from the snapshot: nothing of the last one
        // (guest globals, heap) is left.
        worker.restore(PACKAGE).unwrap();
        worker
    }
}

fn failed(error: Error, label: &str) -> Outcome {
    Outcome::Failed { kind: error.kind().as_str().to_owned(), text: error.to_string().replace(label, "<ext>") }
}

/// Runs the steps of `scenario` on `build`; the outcome of every step run.
fn run(workers: &mut Workers, column: &Column, build: &Build, scenario: &Scenario) -> Vec<Outcome> {
    let state = column.translate(&scenario.state);
    let mut state = JsonState::from_json(&state).unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
    let mut worker = match build {
        Build::Wasm { wasm, .. } => Some(workers.worker(column, scenario, wasm)),
        Build::RustMock(_) => None,
    };
    let mut outcomes = Vec::new();
    for step in &scenario.steps {
        let mut invoke = || match (&mut worker, build) {
            (Some(worker), _) => match worker.invoke(PACKAGE, &step.extension, &state) {
                Ok(done) => Outcome::Done {
                    intents: done.intents().map(|i| JsonState::intent_json(&i)).collect(),
                    host_calls: Some(done.host_calls()),
                },
                Err(error) => failed(error, &format!("{PACKAGE}/{}", step.extension)),
            },
            (None, Build::RustMock(module)) => {
                let function = module.extension(&step.extension).expect("the column has the extension");
                match MockHost::new(state.clone()).run_extension(&function) {
                    Ok(intents) => Outcome::Done { intents, host_calls: None },
                    Err(error) => failed(error, &format!("mock/{}", step.extension)),
                }
            }
            (None, Build::Wasm { .. }) => unreachable!("a wasm build has a worker"),
        };
        let mut outcome = invoke();
        for _ in 1..step.repeat_until_error {
            if matches!(outcome, Outcome::Failed { .. }) {
                break;
            }
            outcome = invoke();
        }
        if let (true, Outcome::Done { intents, .. }) = (step.apply, &outcome) {
            for intent in intents {
                state.apply_intent(intent).unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
            }
        }
        let stop = matches!(outcome, Outcome::Failed { .. }) && !step_expects_error(step);
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    outcomes
}

fn step_expects_error(step: &Step) -> bool {
    step.expect.get("error").is_some()
}

/// Why `outcome` is not what `step` expects in `column`, if it is not.
fn mismatch(column: &Column, step: &Step, outcome: &Outcome) -> Option<String> {
    let expect = &step.expect;
    match (outcome, expect.get("error")) {
        (Outcome::Done { intents, host_calls }, None) => {
            let want = column.translate(&expect["intents"]);
            if Json::Array(intents.clone()) != want {
                return Some(format!("intents {}\n      expected {want}", serde_json::to_string(intents).unwrap()));
            }
            match (expect["host_calls"].as_u64(), host_calls) {
                (Some(want), Some(got)) if want != *got => Some(format!("{got} host calls, expected {want}")),
                _ => None,
            }
        }
        (Outcome::Failed { kind, text }, Some(want)) => {
            let want_kind = want["kind"].as_str().unwrap_or_default();
            if kind != want_kind {
                return Some(format!("{kind} error ({text}), expected {want_kind}"));
            }
            let want_text = want["message"].as_str()?;
            let want_text = column.translate_text(want_text);
            let text = match (column.panic_location, kind.as_str()) {
                (true, "guest_panic") => match text.rsplit_once(" (at ") {
                    Some((message, location)) if location.ends_with(')') => message.to_owned(),
                    _ => return Some(format!("panic without its location: {text}")),
                },
                _ => text.clone(),
            };
            (!texts_match(&text, &want_text)).then(|| format!("error {text:?}\n      expected {want_text:?}"))
        }
        (Outcome::Done { intents, .. }, Some(want)) => {
            Some(format!("succeeded with {} intents, expected a {} error", intents.len(), want["kind"]))
        }
        (Outcome::Failed { kind, text }, None) => Some(format!("{kind} error: {text}")),
    }
}

/// Whether an error's `text` is the table's `want`, where each `<handle>`
/// stands for a handle in hex (`0x…`): a handle carries its invocation's
/// generation, which each host counts its own way. Everything else is
/// compared exactly.
fn texts_match(text: &str, want: &str) -> bool {
    let mut parts = want.split("<handle>");
    let Some(mut rest) = parts.next().and_then(|first| text.strip_prefix(first)) else {
        return false;
    };
    for part in parts {
        let Some(hex) = rest.strip_prefix("0x") else {
            return false;
        };
        let digits = hex.len() - hex.trim_start_matches(|c: char| matches!(c, '0'..='9' | 'a'..='f')).len();
        match hex[digits..].strip_prefix(part) {
            Some(after) if digits > 0 => rest = after,
            _ => return false,
        }
    }
    rest.is_empty()
}

#[test]
fn a_handle_placeholder_stands_for_a_hex_handle_only() {
    let want = "h(value): invalid handle <handle>: stale";
    assert!(texts_match("h(value): invalid handle 0x200000700000000: stale", want));
    assert!(!texts_match("h(value): invalid handle 0x: stale", want));
    assert!(!texts_match("h(value): invalid handle 12: stale", want));
    assert!(!texts_match("h(value): invalid handle 0x2: stale!", want));
    assert!(texts_match("no handle here", "no handle here"));
    assert!(!texts_match("no handle here", "no handle"));
}

/// Runs every scenario of `module` on every column that has its extensions;
/// fails listing every mismatch. Returns (scenario, columns it ran on).
fn conform(module: &str) -> Vec<(String, Vec<String>)> {
    let columns = Column::all();
    assert!(
        columns.iter().any(|c| c.kind == "go-native"),
        "the table has no go-native column; `go test` in examples/go runs it"
    );
    let builds: Vec<(&Column, Option<Build>)> = columns.iter().map(|c| (c, build(c, module))).collect();
    let mut workers = Workers::default();
    let mut failures = Vec::new();
    let mut coverage = Vec::new();
    for scenario in Scenario::all().into_iter().filter(|s| s.module == module) {
        let mut ran = Vec::new();
        for (column, build) in &builds {
            let Some(build) = build else { continue };
            if column.native && !scenario.native {
                continue;
            }
            let exported = build.extensions();
            if !scenario.extensions().iter().all(|e| exported.iter().any(|x| x == e)) {
                continue;
            }
            let outcomes = run(&mut workers, column, build, &scenario);
            for (i, (step, outcome)) in scenario.steps.iter().zip(&outcomes).enumerate() {
                if std::env::var_os("SHOW_OUTCOMES").is_some() {
                    eprintln!("{} | {} | step {i} {}: {outcome:?}", scenario.name, column.name, step.extension);
                }
                if let Some(why) = mismatch(column, step, outcome) {
                    failures.push(format!("{} [{}] step {i} ({}): {why}", scenario.name, column.name, step.extension));
                }
            }
            if outcomes.len() < scenario.steps.len() {
                failures.push(format!(
                    "{} [{}]: stopped after step {}",
                    scenario.name,
                    column.name,
                    outcomes.len() - 1
                ));
            }
            ran.push(column.name.clone());
        }
        coverage.push((scenario.name, ran));
    }
    assert!(failures.is_empty(), "{} mismatches:\n  {}", failures.len(), failures.join("\n  "));
    assert!(!coverage.is_empty(), "the table has no scenario for module {module}");
    let everything_built = extwasm_go_examples::available()
        && columns.iter().all(|c| c.kind != "tinygo" || build(c, "benchmarks").is_some());
    for (scenario, ran) in &coverage {
        eprintln!("{scenario}: {}", ran.join(", "));
        if everything_built {
            // Besides go-native: a scenario that one language alone runs compares nothing.
            assert!(ran.len() >= 2, "{scenario} ran on {ran:?} only: give it a second language or drop it");
        }
    }
    coverage
}

#[test]
fn benchmarks_conform() {
    conform("benchmarks");
}

#[test]
fn basicusage_conforms() {
    conform("basicusage");
}

#[test]
fn readvalues_conforms() {
    conform("readvalues");
}

#[test]
fn allocs_conform() {
    conform("allocs");
}

#[test]
fn every_scenario_names_a_known_module_and_every_column_runs_one() {
    let modules = ["benchmarks", "basicusage", "readvalues", "allocs"];
    let scenarios = Scenario::all();
    let mut names = BTreeMap::new();
    for s in &scenarios {
        assert!(modules.contains(&s.module.as_str()), "{}: unknown module {}", s.name, s.module);
        assert!(names.insert(s.name.clone(), ()).is_none(), "two scenarios are called {}", s.name);
        for step in &s.steps {
            let expect = &step.expect;
            assert!(
                expect.get("intents").is_some() != expect.get("error").is_some(),
                "{}: a step expects intents or an error",
                s.name
            );
        }
    }
    for column in Column::all() {
        let runs_one = scenarios.iter().any(|s| {
            modules.iter().any(|m| *m == s.module)
                && (column.kind != "tinygo" || column.files.contains_key(&s.module))
                && (!column.native || s.native)
        });
        assert!(runs_one, "column {} runs no scenario", column.name);
    }
}
