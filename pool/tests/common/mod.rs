//! Modules and states the pool tests share.
#![allow(dead_code)]

use std::ops::ControlFlow;
use std::sync::{Condvar, Mutex};

use extwasm_engine::{Invocation, JsonValue, KeyBuilder, Scalar, State, StateError};

/// A package of one version: `version` inserts `{"v": VERSION}` into
/// sys.View; `gate` asks the state for a value (a [`Gated`] state holds it
/// there); `boom` traps.
pub fn module(version: i32) -> String {
    format!(
        r#"(module
  (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $new (param i64) (result i64)))
  (import "env" "hostQueryValue" (func $query (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "sys.Viewv")
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "version")
    (call $put (call $new (call $key (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 0)))
               (i32.const 1) (i32.const 24) (i32.const 1) (i32.const {version})))
  (func (export "gate")
    (drop (call $query (call $key (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 0)))))
  (func (export "boom") unreachable))"#
    )
}

pub const EXTENSIONS: &[&str] = &["version", "gate", "boom"];

/// The version an invocation of `version` reports (its intent's `v`).
pub fn version_of<S: State>(invocation: &Invocation<'_, S>) -> i32 {
    let intents: Vec<_> = invocation.intents().collect();
    assert_eq!(intents.len(), 1, "one intent per invocation");
    match intents[0].value.get("v") {
        Some(Scalar::Int32(v)) => v,
        other => panic!("no version in the intent: {other:?}"),
    }
}

/// A state whose lookups wait at a gate until it opens: holds a pool
/// thread inside an invocation for as long as a test needs.
#[derive(Default)]
pub struct Gated {
    inside: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl Gated {
    /// Waits until `n` lookups are waiting (or have passed).
    pub fn wait_inside(&self, n: usize) {
        let mut inside = self.inside.lock().unwrap();
        while inside.0 < n {
            inside = self.changed.wait(inside).unwrap();
        }
    }

    /// Lets every lookup through, now and later.
    pub fn open(&self) {
        self.inside.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

/// Opens the gate when dropped: a failing test then ends instead of
/// leaving pool threads waiting at it (declare it after the pool, so it
/// goes first).
pub struct OpenOnDrop(pub std::sync::Arc<Gated>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

impl State for Gated {
    type Value = JsonValue;
    type Key = JsonValue;

    fn query(&self, _: &KeyBuilder) -> Result<Option<JsonValue>, StateError> {
        let mut inside = self.inside.lock().unwrap();
        inside.0 += 1;
        self.changed.notify_all();
        while !inside.1 {
            inside = self.changed.wait(inside).unwrap();
        }
        Ok(None)
    }

    fn read(
        &self,
        _: &KeyBuilder,
        _: &mut dyn FnMut(JsonValue, JsonValue) -> ControlFlow<()>,
    ) -> Result<(), StateError> {
        Ok(())
    }
}
