//! extwasm engine: runs sandboxed WebAssembly extensions (ABI 0.0.1) on
//! wasmtime.
//!
//! Compile a package once on a shared [`Engine`], instantiate it in a
//! [`Worker`] per thread, and invoke its extensions against your [`State`];
//! a successful invocation hands over its intents.
//!
//! ```
//! use extwasm_engine::{Config, Engine, JsonState, Worker};
//!
//! // An extension that inserts {"vv": 42} into storage sys.View.
//! let wasm = r#"(module
//!   (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
//!   (import "env" "hostNewValue" (func $new (param i64) (result i64)))
//!   (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 16) "sys.Viewvv")
//!   (func (export "WasmAbiVersion_0_0_1"))
//!   (func (export "hello")
//!     (call $put (call $new (call $key (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 0)))
//!                (i32.const 1) (i32.const 24) (i32.const 2) (i32.const 42))))"#;
//!
//! let engine = Engine::new(Config::default())?;
//! let package = engine.load_package("demo", wasm.as_bytes(), &["hello"])?;
//! let mut worker = Worker::new(&engine);
//! worker.add_package(&package)?;
//!
//! let state = JsonState::from_json_str("{}")?;
//! let done = worker.invoke("demo", "hello", &state)?;
//! let intents: Vec<_> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
//! assert_eq!(intents[0]["op"], "insert");
//! assert_eq!(intents[0]["storage"], "sys.View");
//! assert_eq!(intents[0]["value"]["vv"], 42);
//! # Ok::<(), extwasm_engine::Error>(())
//! ```
#![deny(missing_docs)]

mod backtrace;
mod cache;
mod config;
mod engine;
mod host;
mod instance;
mod limits;
mod memory_info;
mod output;
mod package;
mod sys;
mod validate;
mod worker;

pub use config::{Config, Isolation, ParseIsolationError};
pub use engine::Engine;
pub use extwasm_host::{ConfigError, Error, ErrorKind, HandleReason, HostResource, LoadError, LoadPhase, Result, Site};
pub use extwasm_state::{
    Field, Intent, IntentKind, JsonState, JsonStateError, JsonValue, KeyBuilder, QName, Row, Scalar, State, StateError,
    Value,
};
pub use limits::PackageLimits;
pub use memory_info::{MemoryInfo, RestoreWhen};
pub use package::{CacheRejection, CacheStatus, Extension, NotPreinitialized, Package, Warning};
pub use worker::{Invocation, Stats, Worker};

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn shared_parts_are_send_and_sync_and_workers_can_move_between_threads() {
        send_sync::<Engine>();
        send_sync::<Package>();
        send_sync::<JsonState>();
        send::<Worker<JsonState>>();
    }
}
