//! Native testing: runs extensions against a mock host, the engine's own host
//! core ([`extwasm_host::Session`]) over the reference JSON state
//! ([`JsonState`]), with plain `cargo test` — no wasm, no engine, no wasm
//! runtime to compile. Only on non-wasm targets.
//!
//! The mock answers every host call as the engine does against the same
//! state: same lookups, same type rules, and the same errors — a failed
//! invocation returns the [`MockError`] (the engine's error type) the engine
//! would, panics included (`GuestPanic`, with the text the wasm panic handler
//! sends: `<message> (at <file>:<line>:<column>)`).
//!
//! ```
//! use extwasm_guest_sdk::testing::{ErrorKind, MockHost};
//! use extwasm_guest_sdk::{Ext, STORAGE_EVENT, NULL_ENTITY};
//!
//! fn needs_event(ext: Ext<'_>) {
//!     let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
//!     if event.as_int32("amount") <= 0 {
//!         panic!("negative amount");
//!     }
//! }
//!
//! let err = MockHost::from_json("{}").unwrap().run(needs_event).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::NotFound);
//!
//! let host = MockHost::from_json(r#"{"sys.Event": [{"value": {"amount": -5}}]}"#).unwrap();
//! let err = host.run(needs_event).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::GuestPanic);
//! assert!(err.to_string().contains("negative amount (at "));
//! ```

use std::string::String;
use std::sync::{Arc, Mutex};
use std::vec::Vec;

pub use extwasm_host::{Error as MockError, ErrorKind};
pub use extwasm_state::JsonState;
use serde_json::Value as Json;

use crate::Extension;
use crate::api::Ext;

pub(crate) mod host;

/// A mock host: a [`JsonState`] that extensions run against, natively.
#[derive(Debug, Default)]
pub struct MockHost {
    state: Arc<JsonState>,
    /// What the last run logged (see [`MockHost::output`]).
    output: Mutex<String>,
}

impl Clone for MockHost {
    fn clone(&self) -> Self {
        MockHost { state: self.state.clone(), output: Mutex::new(self.output()) }
    }
}

impl MockHost {
    /// A mock host over `state`.
    pub fn new(state: JsonState) -> Self {
        MockHost { state: Arc::new(state), output: Mutex::default() }
    }

    /// What the last run wrote with [`crate::log!`], a line each (ending
    /// with a newline), whether it succeeded or failed. On the engine the
    /// same lines are in the invocation's output, which keeps only its first
    /// `Config::output_limit_bytes` (1 KiB by default).
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|poison| poison.into_inner()).clone()
    }

    /// Records what a run logged and returns its result.
    fn finish(&self, (result, output): (Result<Vec<Json>, MockError>, String)) -> Result<Vec<Json>, MockError> {
        *self.output.lock().unwrap_or_else(|poison| poison.into_inner()) = output;
        result
    }

    /// A mock host over a state in the JSON state format (see [`JsonState`]).
    pub fn from_json(json: &str) -> Result<Self, MockError> {
        Ok(Self::new(JsonState::from_json_str(json)?))
    }

    /// The state.
    pub fn state(&self) -> &JsonState {
        &self.state
    }

    /// The state, to change between runs.
    pub fn state_mut(&mut self) -> &mut JsonState {
        Arc::make_mut(&mut self.state)
    }

    /// Runs one invocation of `extension` and returns its intents, in order,
    /// as [`JsonState::intent_json`] renders them (`{"op": "insert" |
    /// "update", "storage", "entity", "key", "value"}`), or the error that
    /// failed it. The state is not changed. Errors name the extension
    /// `mock/<function name>`.
    pub fn run(&self, extension: impl for<'i> FnOnce(Ext<'i>)) -> Result<Vec<Json>, MockError> {
        self.finish(host::run(self.state.clone(), label_of(&extension), || crate::api::invoke(extension)))
    }

    /// [`MockHost::run`] for an extension of an [`crate::extension!`] list;
    /// errors name it `mock/<export name>`.
    pub fn run_extension(&self, extension: &Extension) -> Result<Vec<Json>, MockError> {
        let label = std::format!("mock/{}", extension.name);
        self.finish(host::run(self.state.clone(), label, || crate::api::invoke(extension.function)))
    }

    /// [`MockHost::run`], then applies the intents to the state (as the
    /// platform would before the next invocation).
    pub fn run_and_apply(&mut self, extension: impl for<'i> FnOnce(Ext<'i>)) -> Result<Vec<Json>, MockError> {
        let intents = self.run(extension)?;
        self.apply(&intents)?;
        Ok(intents)
    }

    /// Applies intents in the form [`MockHost::run`] returns them.
    pub fn apply(&mut self, intents: &[Json]) -> Result<(), MockError> {
        let state = self.state_mut();
        Ok(intents.iter().try_for_each(|intent| state.apply_intent(intent))?)
    }
}

/// `mock/<function name>`: how errors name the extension (the engine says
/// `<package>/<extension>`). The enclosing function for a closure,
/// `extension` for a function pointer.
fn label_of<F>(_: &F) -> String {
    let name = core::any::type_name::<F>();
    let name = if name.contains("fn(") {
        "extension"
    } else {
        name.rsplit("::").find(|segment| !segment.starts_with('{')).unwrap_or(name)
    };
    std::format!("mock/{name}")
}
