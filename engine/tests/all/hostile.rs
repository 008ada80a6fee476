//! Guests written to hurt the host, each of which must fail only itself:
//! the host keeps its memory, its time and its state, the embedder gets a
//! typed error, and the next invocation works.
//!
//! One test per attack of issue #9 (hostile guests); each failed on the
//! engine before it (unbounded host memory, host calls and loading past
//! their deadlines, the wrong cause after a denied grow, writes to a
//! failing storage, a trapping `free`, a panicking state).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use extwasm_engine::{
    Config, Engine, Error, ErrorKind, HostResource, JsonState, JsonValue, KeyBuilder, LoadPhase, State, StateError,
    Worker,
};
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------
// What the host allocates, per thread: an invocation runs on the caller's
// thread, so the growth of this thread's live bytes during it is what the
// host allocated because of the guest.
// ---------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the bookkeeping only
// touches const-initialised thread-local `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `body`; the most this thread's live heap grew during it, in bytes.
fn peak_growth(body: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    body();
    (PEAK.with(Cell::get) - base).max(0) as usize
}

// ---------------------------------------------------------------------------
// Guests
// ---------------------------------------------------------------------------

/// The imports, memory, data and helpers every guest here uses, then
/// `items`. `$ok` inserts `{"ok": 1}` into `sys.Ok`; `$kb` is a key builder
/// of `sys.Obj`.
fn guest(pages: u32, items: &str) -> String {
    format!(
        r#"(module
  (import "env" "hostGetKey" (func $hostGetKey (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostGetValue" (func $hostGetValue (param i64) (result i64)))
  (import "env" "hostQueryValue" (func $hostQueryValue (param i64) (result i64)))
  (import "env" "hostNewValue" (func $hostNewValue (param i64) (result i64)))
  (import "env" "hostUpdateValue" (func $hostUpdateValue (param i64 i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $putInt32 (param i64 i32 i32 i32 i32)))
  (import "env" "hostRowWriterPutBytes" (func $putBytes (param i64 i32 i32 i32 i32 i32)))
  (import "env" "hostValueAsString" (func $asString (param i64 i32 i32) (result i64)))
  (import "env" "hostPanic" (func $hostPanic (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") {pages})
  (global $heap (mut i32) (i32.const 0x10000))
  (global $frees (mut i32) (i32.const 0))
  (data (i32.const 0x100) "sys.Ok")
  (data (i32.const 0x110) "ok")
  (data (i32.const 0x120) "sys.Obj")
  (data (i32.const 0x130) "sys.Fail")
  (data (i32.const 0x140) "big")
  (data (i32.const 0x150) "out of memory")
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "malloc") (param $size i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $size)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16)) (i32.const 1)))
                        (i32.const -1)) (then (return (i32.const 0))))))
    (local.get $p))
  (func $kb (result i64) (call $hostGetKey (i32.const 0x120) (i32.const 7) (i32.const 0) (i32.const 0)))
  (func $ok
    (call $putInt32 (call $hostNewValue (call $hostGetKey (i32.const 0x100) (i32.const 6) (i32.const 0) (i32.const 0)))
      (i32.const 1) (i32.const 0x110) (i32.const 2) (i32.const 1)))
  (func (export "ok") (call $ok))
  {items}
)"#
    )
}

const PKG: &str = "hostile";

fn worker(wat: &str, extensions: &[&str], config: Config) -> Worker<JsonState> {
    let engine = Engine::new(config).expect("valid config");
    let mut all = vec!["ok"];
    all.extend_from_slice(extensions);
    let package = engine.load_package(PKG, wat.as_bytes(), &all).unwrap_or_else(|e| panic!("{e}\n{wat}"));
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).expect("instantiates");
    worker
}

fn state() -> JsonState {
    JsonState::from_json(&json!({
        "sys.Obj": [{"value": {"s": "hello", "big": "x".repeat(5000)}}],
        "sys.Fail": {"$error": "test i/o error"},
    }))
    .expect("valid state")
}

fn run(worker: &mut Worker<JsonState>, extension: &str) -> Result<Vec<Json>, Error> {
    let state = state();
    let done = worker.invoke(PKG, extension, &state)?;
    Ok(done.intents().map(|i| JsonState::intent_json(&i)).collect())
}

#[track_caller]
fn fails(worker: &mut Worker<JsonState>, extension: &str) -> Error {
    match run(worker, extension) {
        Ok(intents) => panic!("{extension} succeeded with {intents:?}"),
        Err(error) => error,
    }
}

/// The worker still works: `ok` hands over exactly its one intent.
#[track_caller]
fn assert_recovers(worker: &mut Worker<JsonState>) {
    let intents = run(worker, "ok").expect("the next invocation works");
    assert_eq!(
        intents,
        vec![json!({"op": "insert", "storage": "sys.Ok", "entity": "", "key": {}, "value": {"ok": 1}})]
    );
}

// ---------------------------------------------------------------------------
// 1. Host memory is bounded by the host budget.
// ---------------------------------------------------------------------------

#[test]
fn endless_key_builders_intents_and_values_hit_the_handle_budget() {
    let wat = guest(
        2,
        r#"
  (func (export "keys") (loop $l (drop (call $kb)) (br $l)))
  (func (export "intents") (local $k i64)
    (local.set $k (call $kb))
    (loop $l (drop (call $hostNewValue (local.get $k))) (br $l)))
  (func (export "values") (local $k i64)
    (local.set $k (call $kb))
    (loop $l (drop (call $hostGetValue (local.get $k))) (br $l)))"#,
    );
    let mut w = worker(&wat, &["keys", "intents", "values"], Config::default().max_handles(10_000));
    let baseline = w.host_bytes(PKG).unwrap();
    for extension in ["keys", "intents", "values"] {
        let started = Instant::now();
        let error = fails(&mut w, extension);
        assert_eq!(error.kind(), ErrorKind::HostBudget, "{extension}: {error}");
        assert!(matches!(error, Error::HostBudget { resource: HostResource::Handles, limit: 10_000, .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("handles") && message.contains("10000"), "{message}");
        assert!(message.contains(&format!("{PKG}/{extension}")), "{message}");
        assert!(started.elapsed() < Duration::from_secs(5), "{extension} ran until its deadline");
        assert_eq!(w.host_bytes(PKG), Some(baseline), "{extension}: host memory is back to its baseline");
        assert_recovers(&mut w);
    }
}

#[test]
fn a_guest_cannot_make_the_host_hold_more_than_its_budget() {
    // 64 key builders with a 1 MiB field each: 64 MiB asked of a 4 MiB budget.
    let wat = guest(
        40,
        r#"
  (func (export "bigKeys") (local $i i32)
    (loop $l
      (call $putBytes (call $kb) (i32.const 0) (i32.const 0x140) (i32.const 3) (i32.const 0x10000) (i32.const 0x100000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 64)))))"#,
    );
    let budget = 4 << 20;
    let mut w = worker(&wat, &["bigKeys"], Config::default().memory_limit_pages(64).host_budget_bytes(budget));
    let mut error = None;
    let grew = peak_growth(|| error = Some(fails(&mut w, "bigKeys")));
    let error = error.unwrap();
    assert!(
        matches!(&error, Error::HostBudget { resource: HostResource::Bytes, limit, site } if *limit == budget as u64
            && site.host_call == "hostRowWriterPutBytes" && site.argument == "valuePtr"),
        "{error:?}"
    );
    assert!(error.to_string().contains(&budget.to_string()), "{error}");
    assert!(grew <= budget + (1 << 20), "the host allocated {grew} bytes for a budget of {budget}");
    assert_recovers(&mut w);
}

#[test]
fn putting_a_field_again_reuses_its_space() {
    // The same field of one intent, put 64 times with 1 MiB: the host
    // holds one copy (before: 64 MiB, append-only).
    let wat = guest(
        40,
        r#"
  (func (export "reput") (local $intent i64) (local $i i32)
    (local.set $intent (call $hostNewValue (call $kb)))
    (loop $l
      (call $putBytes (local.get $intent) (i32.const 1) (i32.const 0x140) (i32.const 3) (i32.const 0x10000) (i32.const 0x100000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 64)))))"#,
    );
    let mut w = worker(&wat, &["reput"], Config::default().memory_limit_pages(64));
    let state = state();
    let mut intents = 0;
    let grew = peak_growth(|| intents = w.invoke(PKG, "reput", &state).expect("fits the budget").intents().len());
    assert_eq!(intents, 1);
    assert!(grew < 3 << 20, "64 puts of 1 MiB to one field made the host allocate {grew} bytes");
}

#[test]
fn handles_to_one_big_record_share_it() {
    // 1000 handles to a 1 MiB scalar record of the reference state: each a
    // reference count, not a copy (before: 1 GiB).
    let wat = guest(
        2,
        r#"
  (data (i32.const 0x160) "sys.Big")
  (func (export "many") (local $i i32) (local $k i64)
    (local.set $k (call $hostGetKey (i32.const 0x160) (i32.const 7) (i32.const 0) (i32.const 0)))
    (loop $l
      (drop (call $hostGetValue (local.get $k)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))"#,
    );
    let mut w = worker(&wat, &["many"], Config::default());
    let state = JsonState::from_json(&json!({"sys.Big": [{"value": "x".repeat(1 << 20)}]})).unwrap();
    let grew = peak_growth(|| {
        w.invoke(PKG, "many", &state).expect("1000 handles fit the budget");
    });
    assert!(grew < 256 << 10, "1000 handles to a 1 MiB record made the host allocate {grew} bytes");
}

#[test]
fn a_budget_the_host_cannot_count_is_refused() {
    let error = Engine::new(Config::default().host_budget_bytes(5 << 30)).err().expect("over u32");
    assert_eq!(error.kind(), ErrorKind::Config, "{error}");
}

// ---------------------------------------------------------------------------
// 2. Deadlines hold through host calls.
// ---------------------------------------------------------------------------

#[test]
fn output_floods_end_at_the_deadline() {
    // Each fd_write has 1024 iovecs, each covering all 16 MiB of memory:
    // 16 GiB of output per call, in a loop.
    let wat = guest(
        256,
        r#"
  (func (export "flood") (local $i i32)
    (loop $iov
      (i32.store (i32.add (i32.const 0x1000) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0))
      (i32.store (i32.add (i32.const 0x1004) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0x1000000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iov (i32.lt_u (local.get $i) (i32.const 1024))))
    (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 1024) (i32.const 0x20))) (br $l)))
  (func (export "tooManyIovecs")
    (if (i32.ne (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 0x7fffffff) (i32.const 0x20)) (i32.const 28))
      (then unreachable))
    (call $ok))
  (func (export "hugePanic") (call $hostPanic (i32.const 0) (i32.const 0x1000000)))"#,
    );
    let timeout = Duration::from_millis(100);
    let mut w = worker(&wat, &["flood", "tooManyIovecs", "hugePanic"], Config::default().timeout(Some(timeout)));
    let started = Instant::now();
    let error = fails(&mut w, "flood");
    let took = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    // Generous for a shared machine; before, a single call took seconds.
    assert!(took < Duration::from_millis(600), "a 100 ms deadline ended after {took:?}");
    assert_eq!(run(&mut w, "tooManyIovecs").expect("EINVAL, not work").len(), 1);
    let error = fails(&mut w, "hugePanic");
    assert_eq!(error.kind(), ErrorKind::GuestPanic);
    assert!(error.to_string().len() < 8 << 10, "a 16 MiB panic message is kept whole");
    assert_recovers(&mut w);
}

#[test]
fn errors_keep_what_a_guest_made_big_short() {
    // A function named with 100 000 characters recursing until the stack
    // overflows: thousands of frames (wasmtime keeps 20), each with that name.
    let name = "f".repeat(100_000);
    let wat = guest(2, &format!(r#"(func ${name} (call ${name})) (func (export "deep") (call ${name}))"#));
    let mut w = worker(&wat, &["deep"], Config::default());
    let error = fails(&mut w, "deep");
    assert_eq!(error.kind(), ErrorKind::StackOverflow);
    let backtrace = error.backtrace();
    assert!(backtrace.len() <= 65, "{} frames", backtrace.len());
    assert!(backtrace.iter().all(|frame| frame.len() < 1024), "a frame of {} bytes", backtrace[0].len());
    assert_recovers(&mut w);
}

// ---------------------------------------------------------------------------
// 3. Loading runs under a deadline and the memory limit.
// ---------------------------------------------------------------------------

#[test]
fn initialisation_that_never_ends_is_a_load_timeout_naming_the_phase() {
    let base = |items: &str| {
        format!(
            r#"(module (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  {items})"#
        )
    };
    let bump = r#"(func (export "malloc") (param i32) (result i32) (i32.const 1024))"#;
    let cases = [
        (base(r#"(start $spin) (func (export "WasmAbiVersion_0_0_1"))"#), LoadPhase::StartFunction),
        (
            base(r#"(func (export "_initialize") (call $spin)) (func (export "WasmAbiVersion_0_0_1"))"#),
            LoadPhase::Initialize,
        ),
        (base(r#"(func (export "_start") (call $spin)) (func (export "WasmAbiVersion_0_0_1"))"#), LoadPhase::Start),
        (base(r#"(func (export "WasmAbiVersion_0_0_1") (call $spin))"#), LoadPhase::AbiVersion),
        (
            base(
                r#"(func (export "WasmAbiVersion_0_0_1")) (func (export "malloc") (param i32) (result i32) (call $spin) (i32.const 0))"#,
            ),
            LoadPhase::ExchangeBuffer,
        ),
    ];
    let load_timeout = Duration::from_millis(100);
    let engine = Engine::new(Config::default().load_timeout(Some(load_timeout))).unwrap();
    for (wat, phase) in cases {
        let started = Instant::now();
        let error = engine.load_package("spinner", wat.as_bytes(), &[]).err().expect("does not load");
        let took = started.elapsed();
        assert!(
            matches!(error, Error::LoadTimeout { phase: p, timeout, .. } if p == phase && timeout == load_timeout),
            "{phase:?}: {error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::LoadTimeout);
        assert!(error.to_string().contains(&phase.to_string()), "{error}");
        assert!(took < Duration::from_secs(3), "{phase:?}: loading took {took:?}");
    }
    // The engine still loads a module that initialises normally.
    let fine = base(&format!(r#"(func (export "WasmAbiVersion_0_0_1")) {bump}"#));
    engine.load_package("fine", fine.as_bytes(), &[]).expect("loads");
}

#[test]
fn initialisation_runs_under_the_memory_limit() {
    let wat = r#"(module (memory (export "memory") 1)
  (func $grow (if (i32.eq (memory.grow (i32.const 1000)) (i32.const -1)) (then unreachable)))
  (start $grow)
  (func (export "WasmAbiVersion_0_0_1")))"#;
    let engine = Engine::new(Config::default().memory_limit_pages(64)).unwrap();
    let error = engine.load_package("grower", wat.as_bytes(), &[]).err().expect("does not load");
    assert_eq!(error.kind(), ErrorKind::Load, "{error}");
    assert!(error.to_string().contains("1001 pages"), "{error}");
}

// ---------------------------------------------------------------------------
// 4. A denied grow decides the cause only when the failure follows from it.
// ---------------------------------------------------------------------------

#[test]
fn the_trap_that_ended_the_invocation_decides_its_kind() {
    let denied = "(drop (memory.grow (i32.const 30000)))";
    let wat = guest(
        2,
        &format!(
            r#"
  (func $recurse (call $recurse))
  (func (export "deniedThenSpin") {denied} (loop $l (br $l)))
  (func (export "deniedThenBadHandle") {denied} (drop (call $hostGetValue (i64.const 42))))
  (func (export "deniedThenRecurse") {denied} (call $recurse))
  (func (export "deniedThenDivide") {denied} (drop (i32.div_u (i32.const 1) (i32.const 0))))
  (func (export "deniedThenHostCallsThenTrap") {denied} (drop (call $kb)) unreachable)
  (func (export "deniedThenUnreachable") {denied} unreachable)
  (func (export "deniedThenHostPanic") {denied} (call $hostPanic (i32.const 0x150) (i32.const 13)))"#
        ),
    );
    let timeout = Duration::from_millis(200);
    let config = Config::default().memory_limit_pages(16).timeout(Some(timeout));
    let cases = [
        ("deniedThenSpin", ErrorKind::Timeout),
        ("deniedThenBadHandle", ErrorKind::InvalidHandle),
        ("deniedThenRecurse", ErrorKind::StackOverflow),
        ("deniedThenDivide", ErrorKind::Trap),
        ("deniedThenHostCallsThenTrap", ErrorKind::Trap),
        ("deniedThenUnreachable", ErrorKind::MemoryLimit),
        ("deniedThenHostPanic", ErrorKind::MemoryLimit),
    ];
    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    let mut w = worker(&wat, &names, config);
    for (extension, kind) in cases {
        let retries = w.stats(PKG).unwrap().retries;
        let started = Instant::now();
        let error = fails(&mut w, extension);
        assert_eq!(error.kind(), kind, "{extension}: {error}");
        let retried = w.stats(PKG).unwrap().retries - retries;
        assert_eq!(retried, u64::from(kind == ErrorKind::MemoryLimit), "{extension}: retries");
        if kind == ErrorKind::Timeout {
            // Not retried: one deadline, not two.
            assert!(started.elapsed() < timeout * 2, "{extension} took {:?}", started.elapsed());
        }
        assert_recovers(&mut w);
    }
    let error = fails(&mut w, "deniedThenHostPanic");
    assert!(matches!(&error, Error::MemoryLimit { message, .. } if message == "out of memory"), "{error:?}");
}

// ---------------------------------------------------------------------------
// 5. A failing storage fails writes.
// ---------------------------------------------------------------------------

#[test]
fn writes_to_a_failing_storage_fail_with_its_error_and_no_intent() {
    let wat = guest(
        2,
        r#"
  (func $fail (result i64) (call $hostGetKey (i32.const 0x130) (i32.const 8) (i32.const 0) (i32.const 0)))
  (func (export "newValueError") (call $ok) (drop (call $hostNewValue (call $fail))))
  (func (export "updateValueError") (call $ok)
    (drop (call $hostUpdateValue (call $fail) (call $hostGetValue (call $kb)))))"#,
    );
    let mut w = worker(&wat, &["newValueError", "updateValueError"], Config::default());
    for (extension, call) in [("newValueError", "hostNewValue"), ("updateValueError", "hostUpdateValue")] {
        let error = fails(&mut w, extension);
        assert_eq!(error.kind(), ErrorKind::State, "{error}");
        assert_eq!(
            error.to_string(),
            format!("extension {PKG}/{extension}: {call}(keyBuilder): state error: test i/o error")
        );
        assert_recovers(&mut w);
    }
}

// ---------------------------------------------------------------------------
// 6. A trap in the guest's free after the invocation restores and counts.
// ---------------------------------------------------------------------------

#[test]
fn a_trapping_free_fails_the_invocation_and_restores_the_instance() {
    // Reading a 5000-byte string with a 1000-byte exchange buffer makes the
    // host malloc an extra buffer, freed after the extension returns.
    let wat = guest(
        2,
        r#"
  (global $dirty (mut i32) (i32.const 0))
  (func (export "free") (param i32) (global.set $frees (i32.add (global.get $frees) (i32.const 1))) unreachable)
  (func (export "readBig")
    (if (global.get $dirty) (then unreachable))
    (global.set $dirty (i32.const 1))
    (drop (call $asString (call $hostGetValue (call $kb)) (i32.const 0x140) (i32.const 3)))
    (call $ok))"#,
    );
    let mut w = worker(&wat, &["readBig"], Config::default().memory_limit_pages(8).exchange_buffer_bytes(1000));
    let error = fails(&mut w, "readBig");
    assert_eq!(error.kind(), ErrorKind::Trap, "{error}");
    assert!(error.to_string().contains("free("), "{error}");
    let stats = w.stats(PKG).unwrap();
    assert_eq!((stats.failures, stats.restores), (1, 1), "{stats:?}");
    // Restored: `$dirty` is back to 0, so this does not trap at its start.
    assert_eq!(fails(&mut w, "readBig").kind(), ErrorKind::Trap);
    assert_recovers(&mut w);
}

// ---------------------------------------------------------------------------
// 9. A panicking state is a typed error, not a host crash.
// ---------------------------------------------------------------------------

/// A state whose every lookup panics.
struct Panicking;

impl State for Panicking {
    type Value = JsonValue;
    type Key = JsonValue;

    fn query(&self, key: &KeyBuilder) -> Result<Option<JsonValue>, StateError> {
        panic!("the embedder's bug at {}", key.storage())
    }

    fn read(
        &self,
        _: &KeyBuilder,
        _: &mut dyn FnMut(JsonValue, JsonValue) -> ControlFlow<()>,
    ) -> Result<(), StateError> {
        panic!("the embedder's other bug")
    }
}

#[test]
fn a_panic_in_the_state_fails_the_invocation_and_the_worker_goes_on() {
    let wat = guest(2, r#"(func (export "get") (drop (call $hostGetValue (call $kb))))"#);
    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package(PKG, wat.as_bytes(), &["ok", "get"]).unwrap();
    let mut worker: Worker<Panicking> = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        worker.invoke(PKG, "get", &Panicking).err().map(|e| (e.kind(), e.to_string()))
    }));
    let (kind, message) = outcome.expect("no panic reaches the embedder").expect("the invocation fails");
    assert_eq!(kind, ErrorKind::StatePanic);
    assert!(message.contains("hostGetValue") && message.contains("the embedder's bug at sys.Obj"), "{message}");
    let done = worker.invoke(PKG, "ok", &Panicking).expect("the next invocation works");
    assert_eq!(done.intents().len(), 1);
}

// ---------------------------------------------------------------------------
// 10. Deadlines hold under load.
// ---------------------------------------------------------------------------

#[test]
fn deadlines_hold_on_a_loaded_machine() {
    // Twice as many spinning threads as CPUs: the epoch ticker competes for
    // a CPU like everyone else.
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..2 * cpus)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let wat = guest(2, r#"(func (export "spin") (loop $l (br $l)))"#);
    let timeout = Duration::from_millis(500);
    let mut w = worker(&wat, &["spin"], Config::default().timeout(Some(timeout)));
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(fails(&mut w, "spin").kind(), ErrorKind::Timeout);
        worst = worst.max(started.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spinners.into_iter().for_each(|s| s.join().unwrap());
    assert!(worst >= timeout, "ended early: {worst:?}");
    assert!(worst < timeout + Duration::from_millis(100), "a 500 ms deadline ended after {worst:?} under load");
}
