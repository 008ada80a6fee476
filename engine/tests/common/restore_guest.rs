//! The guest of the restore tests: every invocation reports its state (a
//! non-exported global, a byte of memory, the memory size) as an intent.

use extwasm_engine::{Config, Engine, ErrorKind, JsonState, Worker};
use serde_json::Value as Json;

pub const GUEST: &str = r#"(module
  (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $new (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  ;; Not exported: only a snapshot that covers every global restores it.
  (global $counter (mut i32) (i32.const 0))
  (data (i32.const 16) "sys.Outgmb")
  (func (export "WasmAbiVersion_0_0_1"))
  ;; Initialisation runs once, at load; the snapshot keeps its effect.
  (func (export "_start") (global.set $counter (i32.const 5)))

  (func $report
    (local $intent i64)
    (local.set $intent (call $new (call $key (i32.const 16) (i32.const 7) (i32.const 0) (i32.const 0))))
    (call $put (local.get $intent) (i32.const 1) (i32.const 23) (i32.const 1) (global.get $counter))
    (call $put (local.get $intent) (i32.const 1) (i32.const 24) (i32.const 1) (memory.size))
    (call $put (local.get $intent) (i32.const 1) (i32.const 25) (i32.const 1) (i32.load8_u (i32.const 60000))))
  (func $dirty
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (i32.store8 (i32.const 60000) (i32.add (i32.load8_u (i32.const 60000)) (i32.const 7)))
    (if (i32.eq (memory.grow (i32.const 2)) (i32.const -1)) (then unreachable)))

  (func (export "report") (call $report))
  (func (export "dirty") (call $dirty) (call $report))
  (func (export "dirtyThenTrap") (call $dirty) (call $report) unreachable)
  ;; Grows one page at a time, writing each, until the limit stops it.
  (func (export "fill") (local $page i32)
    (block $full (loop $grow
      (local.set $page (memory.grow (i32.const 1)))
      (br_if $full (i32.eq (local.get $page) (i32.const -1)))
      (memory.fill (i32.mul (local.get $page) (i32.const 65536)) (i32.const 1) (i32.const 65536))
      (br $grow)))
    unreachable)
  (func (export "spin") (loop $forever (br $forever)))
  (func $recurse (export "recurse") (call $recurse))
)"#;

pub const EXTENSIONS: [&str; 7] = ["report", "dirty", "dirtyThenTrap", "fill", "spin", "recurse", "_x"];

pub fn worker(config: Config) -> Worker<JsonState> {
    let engine = Engine::new(config).unwrap();
    let package = engine.load_package("guest", GUEST.as_bytes(), &EXTENSIONS[..6]).unwrap();
    assert_eq!(package.preinitialized(), Ok(()));
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    worker
}

pub fn empty() -> JsonState {
    JsonState::from_json_str("{}").unwrap()
}

/// (counter, memory pages, byte at 60000) as the guest reports them.
pub fn observe(worker: &mut Worker<JsonState>, extension: &str) -> Result<(i64, i64, i64), ErrorKind> {
    let state = empty();
    let done = worker.invoke("guest", extension, &state).map_err(|e| e.kind())?;
    let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
    assert_eq!(intents.len(), 1, "{intents:?}");
    let v = &intents[0]["value"];
    Ok((v["g"].as_i64().unwrap(), v["m"].as_i64().unwrap(), v["b"].as_i64().unwrap()))
}

/// What `report` says right after a restore.
pub const SNAPSHOT: (i64, i64, i64) = (5, 1, 0);
