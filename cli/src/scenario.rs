//! Scenarios: a state, an extension and what it must do (intents, or an
//! error of a kind with a text), optionally in steps. The format is
//! `docs/SCENARIOS.md`; `extwasm test` runs a file of them against modules,
//! and the conformance suite (`cli/tests/conformance.rs`) runs the
//! cross-language table `examples/conformance/scenarios.json` with the same
//! parser, step driver and comparison, on every build.
//!
//! - [`ScenarioFile::load`] parses and checks a file (typed
//!   [`ScenarioError`]s naming the file and the scenario);
//! - [`run_steps`] drives a scenario's steps over any host (the engine, a
//!   mock) given as a closure returning [`Outcome`]s;
//! - [`mismatch`] says how an outcome differs from a step's [`Expect`], as
//!   readable lines (a diff of the intents field by field);
//! - [`EngineRunner`] runs scenarios on the engine, one worker per module
//!   and configuration.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, Scalar, Worker};
use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::module::ModuleInfo;

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read {path}: {detail}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },
    /// The file is not JSON of the scenario format.
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A scenario is not valid.
    #[error("{path}: scenario {scenario:?}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The scenario's name.
        scenario: String,
        /// What is wrong.
        detail: String,
    },
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileJson {
    /// Free text for readers (a string or an array of lines).
    #[serde(default)]
    #[expect(dead_code, reason = "text for readers of the file, parsed so that it is allowed")]
    about: Json,
    /// The folder relative paths are resolved from, relative to the file's.
    #[serde(default)]
    base: Option<PathBuf>,
    /// The conformance table's builds; `extwasm test` ignores them.
    #[serde(default)]
    columns: Option<Map<String, Json>>,
    scenarios: Vec<ScenarioJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioJson {
    name: String,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    state: Option<Json>,
    #[serde(default)]
    strings: BTreeMap<String, (String, usize)>,
    #[serde(default)]
    config: ScenarioConfig,
    #[serde(default)]
    native: Option<bool>,
    #[serde(default)]
    extension: Option<String>,
    #[serde(default)]
    expect: Option<ExpectJson>,
    #[serde(default)]
    steps: Option<Vec<StepJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepJson {
    extension: String,
    expect: ExpectJson,
    #[serde(default)]
    apply: bool,
    #[serde(default)]
    repeat_until_error: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectJson {
    #[serde(default)]
    intents: Option<Vec<Json>>,
    #[serde(default)]
    host_calls: Option<u64>,
    #[serde(default)]
    error: Option<ErrorJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorJson {
    kind: String,
    #[serde(default)]
    message: Option<String>,
}

/// The engine settings a scenario runs under (all optional; the engine's
/// defaults otherwise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// Memory limit of the instance, in 64 KiB pages.
    pub memory_limit_pages: Option<u32>,
    /// Restore the instance between invocations past this many pages.
    pub restore_threshold_pages: Option<u32>,
    /// Retry an invocation that ran out of memory once, on a restored instance.
    pub retry_out_of_memory: Option<bool>,
    /// Deadline of each invocation, in milliseconds (0: none).
    pub timeout_ms: Option<u64>,
    /// Fuel of each invocation.
    pub fuel: Option<u64>,
    /// Bytes the host may hold for one invocation.
    pub host_budget_bytes: Option<usize>,
    /// Handles one invocation may be given.
    pub max_handles: Option<u32>,
}

impl ScenarioConfig {
    /// The engine configuration: the defaults with these settings over them.
    pub fn engine_config(&self) -> Config {
        let mut config = Config::default();
        if let Some(pages) = self.memory_limit_pages {
            config = config.memory_limit_pages(pages);
        }
        if let Some(pages) = self.restore_threshold_pages {
            config = config.restore_threshold_pages(pages);
        }
        if let Some(retry) = self.retry_out_of_memory {
            config = config.retry_out_of_memory(retry);
        }
        if let Some(ms) = self.timeout_ms {
            config = config.timeout((ms > 0).then(|| Duration::from_millis(ms)));
        }
        if let Some(fuel) = self.fuel {
            config = config.fuel(Some(fuel));
        }
        if let Some(bytes) = self.host_budget_bytes {
            config = config.host_budget_bytes(bytes);
        }
        if let Some(handles) = self.max_handles {
            config = config.max_handles(handles);
        }
        config
    }
}

/// A file of scenarios.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    /// The file.
    pub path: PathBuf,
    /// The folder its relative paths (states, modules) are resolved from:
    /// the file's own, or its `base` from there.
    pub base: PathBuf,
    /// The conformance table's columns (builds), when it has them.
    pub columns: Map<String, Json>,
    /// The scenarios, in the file's order.
    pub scenarios: Vec<Scenario>,
}

/// One scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name (unique in its file).
    pub name: String,
    /// The module it runs on: the stem of a `--module`, or a path from the
    /// file's base; `None`: the only module given.
    pub module: Option<String>,
    /// The state, in the JSON state format (`strings` already replaced).
    pub state: Json,
    /// Engine settings.
    pub config: ScenarioConfig,
    /// Whether native mock hosts run it too (false: it needs wasm, e.g. a
    /// memory limit).
    pub native: bool,
    /// The steps (one for a scenario with `extension` and `expect`).
    pub steps: Vec<Step>,
}

/// One invocation of a scenario and what it must do.
#[derive(Clone, Debug)]
pub struct Step {
    /// The extension invoked.
    pub extension: String,
    /// What it must do.
    pub expect: Expect,
    /// Apply its intents to the state before the next step.
    pub apply: bool,
    /// Invoke up to this many times, until one fails (at least 1).
    pub repeat_until_error: u32,
}

/// What a step must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Succeed with exactly these intents (and, on wasm, this many host calls).
    Intents {
        /// The intents, in order, as `extwasm run` prints them; an integer
        /// field may say its width: `{"$int32": 5}`, `{"$int64": 5}`.
        intents: Vec<Json>,
        /// Host calls the invocation makes (checked on wasm only).
        host_calls: Option<u64>,
    },
    /// Fail with an error of this kind (and text).
    Error {
        /// The error kind (`not_found`, `guest_panic`, …).
        kind: String,
        /// The error's text, with `<ext>` for `<package>/<extension>` and
        /// `<handle>` for a handle in hex; `None`: any text.
        message: Option<String>,
    },
}

impl ScenarioFile {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<ScenarioFile, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Unreadable { path: path.to_owned(), detail: e.to_string() })?;
        Self::parse(path, &text)
    }

    /// Parses `text`, the content of `path` (relative paths in it are
    /// resolved from `path`'s folder).
    pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
        let syntax = |detail: String| ScenarioError::Syntax { path: path.to_owned(), detail };
        let file: FileJson = serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = match &file.base {
            Some(base) => folder.join(base),
            None => folder,
        };
        if file.scenarios.is_empty() {
            return Err(syntax("no scenarios (\"scenarios\" is an empty array)".into()));
        }
        let mut scenarios: Vec<Scenario> = Vec::with_capacity(file.scenarios.len());
        for scenario in file.scenarios {
            let name = scenario.name.clone();
            let invalid =
                |detail: String| ScenarioError::Invalid { path: path.to_owned(), scenario: name.clone(), detail };
            if scenarios.iter().any(|s| s.name == name) {
                return Err(invalid("two scenarios have this name".into()));
            }
            scenarios.push(Scenario::from_json(scenario, &base).map_err(invalid)?);
        }
        Ok(ScenarioFile { path: path.to_owned(), base, columns: file.columns.unwrap_or_default(), scenarios })
    }
}

impl Scenario {
    fn from_json(json: ScenarioJson, base: &Path) -> Result<Scenario, String> {
        let steps = match (json.steps, json.extension, json.expect) {
            (Some(steps), None, None) if !steps.is_empty() => steps
                .into_iter()
                .enumerate()
                .map(|(i, step)| {
                    Ok(Step {
                        extension: step.extension,
                        expect: Expect::from_json(step.expect).map_err(|e| format!("step {}: {e}", i + 1))?,
                        apply: step.apply,
                        repeat_until_error: step.repeat_until_error.unwrap_or(1).max(1),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            (None, Some(extension), Some(expect)) => {
                vec![Step { extension, expect: Expect::from_json(expect)?, apply: false, repeat_until_error: 1 }]
            }
            (Some(_), ..) => return Err("has \"steps\" and also \"extension\" or \"expect\" (or no step)".into()),
            _ => return Err("needs \"extension\" and \"expect\", or \"steps\"".into()),
        };
        let mut state = match json.state {
            None => Json::Object(Map::new()),
            Some(Json::String(file)) => {
                let path = base.join(&file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("state: cannot read {}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("state: {}: {e}", path.display()))?
            }
            Some(inline) => inline,
        };
        for (placeholder, (text, times)) in &json.strings {
            // A typo of a few zeros would otherwise take all memory.
            let bytes = text.len().saturating_mul(*times);
            if bytes > MAX_REPEATED_STRING_BYTES {
                return Err(format!(
                    "strings: {placeholder:?} would be {bytes} bytes; at most {MAX_REPEATED_STRING_BYTES}"
                ));
            }
            replace_strings(&mut state, placeholder, &text.repeat(*times));
        }
        // Checked now, so that a bad state is reported before anything runs.
        JsonState::from_json(&state).map_err(|e| format!("state: {e}"))?;
        Ok(Scenario {
            name: json.name,
            module: json.module,
            state,
            config: json.config,
            native: json.native.unwrap_or(true),
            steps,
        })
    }

    /// The extensions its steps invoke, sorted, once each.
    pub fn extensions(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.steps.iter().map(|s| s.extension.as_str()).collect();
        names.sort();
        names.dedup();
        names
    }
}

impl Expect {
    fn from_json(json: ExpectJson) -> Result<Expect, String> {
        match (json.intents, json.error) {
            (Some(intents), None) => Ok(Expect::Intents { intents, host_calls: json.host_calls }),
            (None, Some(error)) if json.host_calls.is_none() => {
                if !ErrorKind::ALL.iter().any(|k| k.as_str() == error.kind) {
                    let kinds: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
                    return Err(format!("unknown error kind {:?} (the kinds: {})", error.kind, kinds.join(", ")));
                }
                Ok(Expect::Error { kind: error.kind, message: error.message })
            }
            (None, Some(_)) => Err("\"host_calls\" goes with \"intents\", not with \"error\"".into()),
            _ => Err("\"expect\" needs \"intents\" or \"error\" (one of them)".into()),
        }
    }
}

/// The longest text a scenario's `strings` may make (64 MiB: past any
/// memory limit a module can have by default).
pub const MAX_REPEATED_STRING_BYTES: usize = 64 << 20;

fn replace_strings(json: &mut Json, placeholder: &str, text: &str) {
    match json {
        Json::String(s) if s == placeholder => *s = text.to_owned(),
        Json::Array(items) => items.iter_mut().for_each(|i| replace_strings(i, placeholder, text)),
        Json::Object(map) => map.values_mut().for_each(|v| replace_strings(v, placeholder, text)),
        _ => {}
    }
}

/// How one invocation ended, comparably.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It succeeded.
    Done {
        /// Its intents, as `extwasm run` prints them.
        intents: Vec<Json>,
        /// For each intent, the width of every integer field the guest put
        /// (`key.Year` → `int32`), when the host knows (the engine does).
        widths: Option<Vec<BTreeMap<String, &'static str>>>,
        /// Its host calls, when the host counts them.
        host_calls: Option<u64>,
    },
    /// It failed.
    Failed {
        /// The error kind.
        kind: String,
        /// The error's text, the extension's label replaced by `<ext>`.
        text: String,
    },
}

impl Outcome {
    /// A failure from the engine's (or a mock host's) error; `label`
    /// (`<package>/<extension>`) becomes `<ext>`.
    pub fn failed(error: &Error, label: &str) -> Outcome {
        Outcome::Failed { kind: error.kind().as_str().to_owned(), text: error.to_string().replace(label, "<ext>") }
    }

    /// Whether it failed.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// The integer widths of an engine intent's put fields.
fn widths(intent: &extwasm_engine::Intent<'_, extwasm_engine::JsonValue>) -> BTreeMap<String, &'static str> {
    let mut widths = BTreeMap::new();
    for (part, row) in [("key", intent.key.fields()), ("value", intent.value)] {
        for (name, scalar) in row.iter() {
            if matches!(scalar, Scalar::Int32(_) | Scalar::Int64(_)) {
                widths.insert(format!("{part}.{name}"), scalar.type_name());
            }
        }
    }
    widths
}

/// What the steps of a scenario did.
#[derive(Clone, Debug, Default)]
pub struct StepsRun {
    /// The outcome of every step run (a step that failed unexpectedly ends
    /// the run).
    pub outcomes: Vec<Outcome>,
    /// A step whose intents could not be applied to the state: (its index,
    /// why). The run ends there.
    pub apply_error: Option<(usize, String)>,
}

/// Runs the steps of `scenario` on `state`, each through `invoke(extension,
/// state)`: a step with `repeat_until_error` is invoked until it fails (at
/// most that many times), a step with `apply` has its intents applied before
/// the next, and a step that fails when it should not ends the run.
pub fn run_steps(
    scenario: &Scenario,
    mut state: JsonState,
    mut invoke: impl FnMut(&str, &JsonState) -> Outcome,
) -> StepsRun {
    let mut run = StepsRun::default();
    for (index, step) in scenario.steps.iter().enumerate() {
        let mut outcome = invoke(&step.extension, &state);
        for _ in 1..step.repeat_until_error {
            if outcome.is_failure() {
                break;
            }
            outcome = invoke(&step.extension, &state);
        }
        if let (true, Outcome::Done { intents, .. }) = (step.apply, &outcome)
            && let Err(error) = intents.iter().try_for_each(|intent| state.apply_intent(intent))
        {
            run.outcomes.push(outcome);
            run.apply_error = Some((index, error.to_string()));
            return run;
        }
        let stop = outcome.is_failure() && !matches!(step.expect, Expect::Error { .. });
        run.outcomes.push(outcome);
        if stop {
            break;
        }
    }
    run
}

/// How error texts of guest panics are compared: Rust's SDK adds the
/// panic's location (` (at src/lib.rs:12:9)`), which moves with every edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicLocation {
    /// Compare the text as it is.
    Exact,
    /// Compare without a trailing location, unless the expected text has one.
    Ignore,
    /// A location must be there (the build adds one); compare without it.
    Required,
}

/// Why `outcome` is not what `expect` says, as lines for a reader (a diff of
/// the intents field by field), or `None` when it is.
pub fn mismatch(expect: &Expect, outcome: &Outcome, panic_location: PanicLocation) -> Option<Vec<String>> {
    match (outcome, expect) {
        (Outcome::Done { intents, widths, host_calls }, Expect::Intents { intents: want, host_calls: want_calls }) => {
            let mut lines = diff_intents(want, intents, widths.as_deref());
            if let (Some(want), Some(got)) = (want_calls, host_calls)
                && want != got
            {
                lines.push(format!("host calls: expected {want}, got {got}"));
            }
            (!lines.is_empty()).then_some(lines)
        }
        (Outcome::Failed { kind, text }, Expect::Error { kind: want_kind, message }) => {
            if kind != want_kind {
                return Some(vec![format!("expected a {want_kind} error, got a {kind} error: {text}")]);
            }
            let want = message.as_deref()?;
            let text = if kind == "guest_panic" && !want.contains(" (at ") {
                match (panic_location, strip_panic_location(text)) {
                    (PanicLocation::Exact, _) | (PanicLocation::Ignore, None) => text.as_str(),
                    (_, Some(message)) => message,
                    (PanicLocation::Required, None) => {
                        return Some(vec![format!("the panic has no location ` (at <file>:<line>:<col>)`: {text}")]);
                    }
                }
            } else {
                text.as_str()
            };
            (!texts_match(text, want))
                .then(|| vec![format!("error text: expected {want:?}"), format!("     got {text:?}")])
        }
        (Outcome::Done { intents, .. }, Expect::Error { kind, .. }) => Some(vec![format!(
            "expected a {kind} error, but it succeeded with {} intent{}",
            intents.len(),
            if intents.len() == 1 { "" } else { "s" }
        )]),
        (Outcome::Failed { kind, text }, Expect::Intents { .. }) => {
            Some(vec![format!("expected success, got a {kind} error: {text}")])
        }
    }
}

/// `text` without a trailing ` (at <file>:<line>:<column>)`.
fn strip_panic_location(text: &str) -> Option<&str> {
    let (message, location) = text.rsplit_once(" (at ")?;
    location.ends_with(')').then_some(message)
}

/// Whether an error's `text` is `want`, where each `<handle>` in `want`
/// stands for a handle in hex (`0x…`): a handle carries its invocation's
/// generation, which each host counts its own way. Everything else is
/// compared exactly.
pub fn texts_match(text: &str, want: &str) -> bool {
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

/// The differences between expected and actual intents, one line each:
/// `intents[0].value.total: expected 500, got 400`.
pub fn diff_intents(want: &[Json], got: &[Json], widths: Option<&[BTreeMap<String, &'static str>]>) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, (want, got)) in want.iter().zip(got).enumerate() {
        let widths = widths.and_then(|w| w.get(i));
        diff_json(&format!("intents[{i}]"), "", want, got, widths, &mut lines);
    }
    for (i, extra) in got.iter().enumerate().skip(want.len()) {
        lines.push(format!("intents[{i}]: not expected: {}", compact(extra)));
    }
    for (i, missing) in want.iter().enumerate().skip(got.len()) {
        lines.push(format!("intents[{i}]: missing: {}", compact(missing)));
    }
    lines
}

/// An integer expectation with a width: `{"$int32": 5}`.
fn typed_integer(json: &Json) -> Option<(&'static str, &Json)> {
    let map = json.as_object().filter(|m| m.len() == 1)?;
    let (tag, value) = map.iter().next()?;
    let width = match tag.as_str() {
        "$int32" => "int32",
        "$int64" => "int64",
        _ => return None,
    };
    Some((width, value))
}

/// Adds a line to `lines` for every difference under `path`; `field` is the
/// path inside the intent (`value.total`), where `widths` say how wide the
/// integers the guest put were.
fn diff_json(
    path: &str,
    field: &str,
    want: &Json,
    got: &Json,
    widths: Option<&BTreeMap<String, &'static str>>,
    lines: &mut Vec<String>,
) {
    if let Some((width, value)) = typed_integer(want) {
        let actual_width = widths.and_then(|w| w.get(field).copied());
        if value != got {
            lines.push(format!("{path}: expected {width} {value}, got {}", describe(got, actual_width)));
        } else if let Some(actual) = actual_width.filter(|actual| *actual != width) {
            lines.push(format!("{path}: expected {width} {value}, got {actual} {got}"));
        }
        return;
    }
    match (want, got) {
        (Json::Object(want), Json::Object(got)) => {
            for (name, w) in want {
                let (inner, inner_field) = (format!("{path}.{name}"), join(field, name));
                match got.get(name) {
                    Some(g) => diff_json(&inner, &inner_field, w, g, widths, lines),
                    None => lines.push(format!("{inner}: expected {}, missing", compact(w))),
                }
            }
            for (name, g) in got {
                if !want.contains_key(name) {
                    lines.push(format!("{path}.{name}: not expected, got {}", compact(g)));
                }
            }
        }
        (Json::Array(want), Json::Array(got)) if want.len() == got.len() => {
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                diff_json(&format!("{path}[{i}]"), &format!("{field}[{i}]"), w, g, widths, lines);
            }
        }
        _ if want == got => {}
        _ => lines.push(format!("{path}: expected {}, got {}", compact(want), compact(got))),
    }
}

fn join(field: &str, name: &str) -> String {
    if field.is_empty() { name.to_owned() } else { format!("{field}.{name}") }
}

fn describe(json: &Json, width: Option<&str>) -> String {
    match width {
        Some(width) => format!("{width} {}", compact(json)),
        None => compact(json),
    }
}

/// One-line JSON.
pub fn compact(json: &Json) -> String {
    serde_json::to_string(json).unwrap_or_else(|_| json.to_string())
}

/// Why a module cannot run scenarios.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The module is not WebAssembly.
    #[error("{module}: {error}")]
    Invalid {
        /// The module's name.
        module: String,
        /// What is wrong.
        error: crate::module::InvalidModule,
    },
    /// The engine refuses the module (typed: [`Error::Load`],
    /// [`Error::LoadTimeout`], [`Error::Config`]).
    #[error("{module}: {error}")]
    Load {
        /// The module's name.
        module: String,
        /// The engine's error.
        error: Box<Error>,
    },
    /// No module of that name was added.
    #[error("no module {module:?}")]
    Unknown {
        /// The name asked for.
        module: String,
    },
}

struct LoadedModule {
    wasm: Vec<u8>,
    extensions: Vec<String>,
}

/// Runs scenarios on the engine: modules added by name, a worker per module
/// and configuration (a package is compiled once per configuration), every
/// scenario from the package's snapshot.
#[derive(Default)]
pub struct EngineRunner {
    modules: HashMap<String, LoadedModule>,
    workers: HashMap<(String, ScenarioConfig), Worker<JsonState>>,
}

impl EngineRunner {
    /// An empty runner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds module `name` (its extensions are its `() -> ()` exports); the
    /// package it becomes is called `name` too, so errors say
    /// `<name>/<extension>`.
    pub fn add_module(&mut self, name: &str, wasm: Vec<u8>) -> Result<&[String], ModuleError> {
        let info = ModuleInfo::parse(&wasm).map_err(|error| ModuleError::Invalid { module: name.to_owned(), error })?;
        let module = LoadedModule { wasm, extensions: info.extensions() };
        let module = self.modules.entry(name.to_owned()).insert_entry(module).into_mut();
        Ok(&module.extensions)
    }

    /// The extensions of module `name`.
    pub fn extensions(&self, name: &str) -> Option<&[String]> {
        self.modules.get(name).map(|m| &m.extensions[..])
    }

    /// The worker of module `name` under `config`, loading the package the
    /// first time: this is where the engine's load checks run.
    pub fn worker(&mut self, name: &str, config: &ScenarioConfig) -> Result<&mut Worker<JsonState>, ModuleError> {
        let key = (name.to_owned(), config.clone());
        if !self.workers.contains_key(&key) {
            let module = self.modules.get(name).ok_or_else(|| ModuleError::Unknown { module: name.to_owned() })?;
            let load = |error: Error| ModuleError::Load { module: name.to_owned(), error: Box::new(error) };
            let engine = Engine::new(config.engine_config()).map_err(load)?;
            let names: Vec<&str> = module.extensions.iter().map(String::as_str).collect();
            let package = engine.load_package(name, &module.wasm, &names).map_err(load)?;
            let mut worker = Worker::new(&engine);
            worker.add_package(&package).map_err(load)?;
            self.workers.insert(key.clone(), worker);
        }
        Ok(self.workers.get_mut(&key).expect("inserted above"))
    }

    /// Runs `scenario` on module `name`, from the package's snapshot, with
    /// `state` (the scenario's, possibly translated) as its state.
    pub fn run(&mut self, name: &str, scenario: &Scenario, state: &Json) -> Result<StepsRun, ModuleError> {
        let state = JsonState::from_json(state)
            .map_err(|e| ModuleError::Load { module: name.to_owned(), error: Box::new(Error::from(e)) })?;
        let worker = self.worker(name, &scenario.config)?;
        // Nothing of the last scenario (guest globals, heap) is left.
        worker.restore(name).map_err(|error| ModuleError::Load { module: name.to_owned(), error: Box::new(error) })?;
        Ok(run_steps(scenario, state, |extension, state| match worker.invoke(name, extension, state) {
            Ok(done) => {
                let intents = done.intents();
                let (mut rendered, mut typed) = (Vec::with_capacity(intents.len()), Vec::with_capacity(intents.len()));
                for intent in intents {
                    rendered.push(JsonState::intent_json(&intent));
                    typed.push(widths(&intent));
                }
                Outcome::Done { intents: rendered, widths: Some(typed), host_calls: Some(done.host_calls()) }
            }
            Err(error) => Outcome::failed(&error, &format!("{name}/{extension}")),
        }))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Intents { intents, .. } => {
                write!(f, "{} intent{}", intents.len(), if intents.len() == 1 { "" } else { "s" })
            }
            Expect::Error { kind, .. } => write!(f, "a {kind} error"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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

    #[test]
    fn intents_differ_field_by_field_and_numbers_are_typed() {
        let want = [json!({"op": "insert", "key": {"id": 1}, "value": {"total": 500, "avg": 2.0, "name": "a"}})];
        let got = [json!({"op": "update", "key": {"id": 1}, "value": {"total": 400, "avg": 2, "extra": true}})];
        let lines = diff_intents(&want, &got, None);
        assert_eq!(
            lines,
            [
                "intents[0].op: expected \"insert\", got \"update\"",
                "intents[0].value.total: expected 500, got 400",
                "intents[0].value.avg: expected 2.0, got 2",
                "intents[0].value.name: expected \"a\", missing",
                "intents[0].value.extra: not expected, got true",
            ]
        );
        assert_eq!(diff_intents(&want, &[], None), [format!("intents[0]: missing: {}", compact(&want[0]))]);
        assert!(diff_intents(&want, &want, None).is_empty());
    }

    #[test]
    fn widths_are_checked_where_the_expectation_gives_one() {
        let got = [json!({"key": {"Year": 2023}, "value": {"n": 1}})];
        let widths = [BTreeMap::from([("key.Year".to_owned(), "int32"), ("value.n".to_owned(), "int64")])];
        let plain = [json!({"key": {"Year": 2023}, "value": {"n": 1}})];
        assert!(diff_intents(&plain, &got, Some(&widths)).is_empty(), "a plain integer is either width");
        let typed = [json!({"key": {"Year": {"$int32": 2023}}, "value": {"n": {"$int32": 1}}})];
        assert_eq!(diff_intents(&typed, &got, Some(&widths)), ["intents[0].value.n: expected int32 1, got int64 1"]);
        let wrong = [json!({"key": {"Year": {"$int64": 2024}}, "value": {"n": 1}})];
        assert_eq!(
            diff_intents(&wrong, &got, Some(&widths)),
            ["intents[0].key.Year: expected int64 2024, got int32 2023"]
        );
        // A host that does not know widths (a mock) compares values only.
        assert!(diff_intents(&typed, &got, None).is_empty());
    }

    #[test]
    fn panic_locations_are_compared_as_asked() {
        let expect = Expect::Error { kind: "guest_panic".into(), message: Some("extension <ext> panicked: no".into()) };
        let with = Outcome::Failed {
            kind: "guest_panic".into(),
            text: "extension <ext> panicked: no (at src/lib.rs:3:5)".into(),
        };
        let without = Outcome::Failed { kind: "guest_panic".into(), text: "extension <ext> panicked: no".into() };
        assert_eq!(mismatch(&expect, &with, PanicLocation::Ignore), None);
        assert_eq!(mismatch(&expect, &without, PanicLocation::Ignore), None);
        assert_eq!(mismatch(&expect, &without, PanicLocation::Exact), None);
        assert!(mismatch(&expect, &with, PanicLocation::Exact).is_some());
        assert_eq!(mismatch(&expect, &with, PanicLocation::Required), None);
        assert!(mismatch(&expect, &without, PanicLocation::Required).is_some());
    }

    #[test]
    fn files_are_checked_with_names_and_places() {
        let parse = |text: &str| ScenarioFile::parse(Path::new("dir/s.json"), text).map(|f| f.scenarios);
        let ok = parse(r#"{"scenarios": [{"name": "a", "extension": "x", "expect": {"intents": []}}]}"#).unwrap();
        assert_eq!(ok[0].steps[0].extension, "x");
        assert_eq!(ok[0].state, json!({}));
        for (text, needle) in [
            (r#"{"scenarios": [{"name": "a", "extension": "x", "expected": {}}]}"#, "unknown field `expected`"),
            (r#"{"scenarios": [{"name": "a", "extension": "x"}]}"#, "needs \"extension\" and \"expect\""),
            (
                r#"{"scenarios": [{"name": "a", "extension": "x", "expect": {"error": {"kind": "nope"}}}]}"#,
                "unknown error kind \"nope\"",
            ),
            (r#"{"scenarios": [{"name": "a", "extension": "x", "expect": {}}]}"#, "needs \"intents\" or \"error\""),
            (
                r#"{"scenarios": [{"name": "a", "state": "no-such.json", "extension": "x", "expect": {"intents": []}}]}"#,
                "cannot read dir/no-such.json",
            ),
            (
                r#"{"scenarios": [{"name": "a", "state": {"s": [{"value": {"x": {"$float": "nan"}}}]}, "extension": "x", "expect": {"intents": []}}]}"#,
                "$float \"nan\"",
            ),
            (r#"{"scenarios": []}"#, "no scenarios"),
            (
                r#"{"scenarios": [{"name": "a", "strings": {"@s": ["ab", 100000000]}, "extension": "x", "expect": {"intents": []}}]}"#,
                "\"@s\" would be 200000000 bytes; at most 67108864",
            ),
            ("{", "EOF while parsing"),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.starts_with("dir/s.json: "), "{error}");
            assert!(error.contains(needle), "{text}: {error}");
        }
        let twice = r#"{"scenarios": [{"name": "a", "extension": "x", "expect": {"intents": []}},
                                      {"name": "a", "extension": "y", "expect": {"intents": []}}]}"#;
        assert!(parse(twice).unwrap_err().to_string().contains("scenario \"a\": two scenarios have this name"));
    }
}
