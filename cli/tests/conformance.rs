//! Cross-language conformance: the table of `examples/conformance/scenarios.json`
//! (states, extensions, expected intents or errors) run against every build
//! of the same extension — the TinyGo reference modules (both GC builds), the
//! Rust examples on the engine and on the Rust SDK's mock host, the Go
//! examples on the engine — with identical results required. The Go SDK's
//! mock host is the table's `go-native` column, run by `go test` in
//! `examples/go` (`cargo xtask test` runs both).
//!
//! The table is in the format `extwasm test` reads (`docs/SCENARIOS.md`), and
//! it is run by the same code: the parser, the step driver, the comparison
//! and the engine runner of `extwasm_cli::scenario`. Here a column is a kind
//! of build; a scenario runs on every column whose module exports its
//! extensions. `SHOW_OUTCOMES=1` prints the matrix.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use extwasm_cli::module::ModuleInfo;
use extwasm_cli::scenario::{
    EngineRunner, Expect, Outcome, PanicLocation, Scenario, ScenarioFile, StepsRun, mismatch, run_steps,
};
use extwasm_engine::JsonState;
use extwasm_rust_examples::sdk::testing::MockHost;
use serde_json::{Map, Value as Json};

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::root;

/// The table, parsed once.
static TABLE: LazyLock<ScenarioFile> = LazyLock::new(|| {
    let path = root().join("examples/conformance/scenarios.json");
    ScenarioFile::load(&path).unwrap_or_else(|e| panic!("{e}"))
});

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
        TABLE
            .columns
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

    /// A step's expectation as this build sees it.
    fn translate_expect(&self, expect: &Expect) -> Expect {
        match expect {
            Expect::Intents { intents, host_calls } => Expect::Intents {
                intents: intents.iter().map(|i| self.translate(i)).collect(),
                host_calls: *host_calls,
            },
            Expect::Error { kind, message } => {
                Expect::Error { kind: kind.clone(), message: message.as_deref().map(|m| self.translate_text(m)) }
            }
        }
    }

    fn panic_location(&self) -> PanicLocation {
        if self.panic_location { PanicLocation::Required } else { PanicLocation::Exact }
    }
}

/// One build of one module: what runs a scenario's steps.
enum Build {
    /// A module of the runner (named `<column>-<module>`).
    Wasm {
        name: String,
        extensions: Vec<String>,
    },
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

/// The build of `module` in `column`, added to `runner` when it is wasm, or
/// `None` (said loudly when it should have been there).
fn build(runner: &mut EngineRunner, column: &Column, module: &str) -> Option<Build> {
    let wasm = match column.kind.as_str() {
        "tinygo" => {
            let file = column.files.get(module)?.as_str()?;
            // Skipped loudly when missing (the engine's tests' rule, shared).
            let path = tinygo_testdata::tinygo_module(file)?;
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        }
        "rust" => extwasm_rust_examples::ALL.iter().find(|m| m.name == module)?.wasm.to_vec(),
        "rust-mock" => {
            return extwasm_rust_examples::ALL.iter().find(|m| m.name == module).map(|m| Build::RustMock(*m));
        }
        "go" => {
            let m = extwasm_go_examples::ALL.iter().find(|m| m.name == module)?;
            if extwasm_go_examples::skipped(&format!("column {} of the conformance table", column.name)) {
                return None;
            }
            m.wasm.to_vec()
        }
        "go-native" => return None,
        other => panic!("column {}: unknown kind {other:?} (tinygo, rust, rust-mock, go, go-native)", column.name),
    };
    let name = format!("{}-{module}", column.name);
    let extensions = runner
        .add_module(&name, wasm)
        .unwrap_or_else(|e| panic!("column {}, module {module}: {e}", column.name))
        .to_vec();
    Some(Build::Wasm { name, extensions })
}

/// Runs the steps of `scenario` on `build` in `column`.
fn run(runner: &mut EngineRunner, column: &Column, build: &Build, scenario: &Scenario) -> StepsRun {
    let state = column.translate(&scenario.state);
    match build {
        Build::Wasm { name, .. } => runner
            .run(name, scenario, &state)
            .unwrap_or_else(|e| panic!("column {}, scenario {}: {e}", column.name, scenario.name)),
        Build::RustMock(module) => {
            let state = JsonState::from_json(&state).unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
            run_steps(scenario, state, |extension, state| {
                let function = module.extension(extension).expect("the column has the extension");
                match MockHost::new(state.clone()).run_extension(&function) {
                    Ok(intents) => Outcome::Done { intents, widths: None, host_calls: None },
                    Err(error) => Outcome::failed(&error, &format!("mock/{extension}")),
                }
            })
        }
    }
}

/// Runs every scenario of `module` on every column that has its extensions;
/// fails listing every mismatch. Returns (scenario, columns it ran on).
fn conform(module: &str) -> Vec<(String, Vec<String>)> {
    let columns = Column::all();
    assert!(
        columns.iter().any(|c| c.kind == "go-native"),
        "the table has no go-native column; `go test` in examples/go runs it"
    );
    let mut runner = EngineRunner::new();
    let builds: Vec<(&Column, Option<Build>)> = columns.iter().map(|c| (c, build(&mut runner, c, module))).collect();
    let mut failures = Vec::new();
    let mut coverage = Vec::new();
    for scenario in TABLE.scenarios.iter().filter(|s| s.module.as_deref() == Some(module)) {
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
            let run = run(&mut runner, column, build, scenario);
            for (i, (step, outcome)) in scenario.steps.iter().zip(&run.outcomes).enumerate() {
                if std::env::var_os("SHOW_OUTCOMES").is_some() {
                    eprintln!("{} | {} | step {i} {}: {outcome:?}", scenario.name, column.name, step.extension);
                }
                let expect = column.translate_expect(&step.expect);
                if let Some(why) = mismatch(&expect, outcome, column.panic_location()) {
                    failures.push(format!(
                        "{} [{}] step {i} ({}): {}",
                        scenario.name,
                        column.name,
                        step.extension,
                        why.join("\n      ")
                    ));
                }
            }
            if let Some((step, why)) = &run.apply_error {
                failures.push(format!("{} [{}] step {step}: applying its intents: {why}", scenario.name, column.name));
            } else if run.outcomes.len() < scenario.steps.len() {
                failures.push(format!(
                    "{} [{}]: stopped after step {}",
                    scenario.name,
                    column.name,
                    run.outcomes.len() - 1
                ));
            }
            ran.push(column.name.clone());
        }
        coverage.push((scenario.name.clone(), ran));
    }
    assert!(failures.is_empty(), "{} mismatches:\n  {}", failures.len(), failures.join("\n  "));
    assert!(!coverage.is_empty(), "the table has no scenario for module {module}");
    let everything_built = extwasm_go_examples::available()
        && builds.iter().all(|(c, build)| c.kind != "tinygo" || !c.files.contains_key(module) || build.is_some());
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
    let mut names = BTreeMap::new();
    for s in &TABLE.scenarios {
        let module = s.module.as_deref().unwrap_or_else(|| panic!("{}: names no module", s.name));
        assert!(modules.contains(&module), "{}: unknown module {module}", s.name);
        assert!(names.insert(s.name.clone(), ()).is_none(), "two scenarios are called {}", s.name);
        // The parser takes a step that expects intents or an error, not both
        // nor neither; a step also invokes an extension.
        for step in &s.steps {
            assert!(!step.extension.is_empty(), "{}: a step names its extension", s.name);
        }
    }
    for column in Column::all() {
        let runs_one = TABLE.scenarios.iter().any(|s| {
            let module = s.module.as_deref().unwrap_or_default();
            modules.contains(&module)
                && (column.kind != "tinygo" || column.files.contains_key(module))
                && (!column.native || s.native)
        });
        assert!(runs_one, "column {} runs no scenario", column.name);
    }
}

#[test]
fn every_example_module_loads_with_the_extensions_its_exports_name() {
    // The runner finds extensions from exports; the examples list theirs.
    for m in extwasm_rust_examples::ALL {
        let found = ModuleInfo::parse(m.wasm).unwrap().extensions();
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        let mut listed = m.extension_names();
        found.sort();
        listed.sort();
        assert_eq!(found, listed, "rust {}", m.name);
    }
    if extwasm_go_examples::skipped("the Go examples' extensions") {
        return;
    }
    for m in extwasm_go_examples::ALL {
        let found = ModuleInfo::parse(m.wasm).unwrap().extensions();
        let mut found: Vec<&str> = found.iter().map(String::as_str).collect();
        let mut listed = m.extensions.to_vec();
        found.sort();
        listed.sort();
        assert_eq!(found, listed, "go {}", m.name);
    }
}
