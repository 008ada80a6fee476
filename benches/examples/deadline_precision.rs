//! How long an invocation that never ends really takes, for a deadline, when
//! the guest spins in wasm and when it spends its time inside host calls.
//!
//! ```sh
//! cargo run --release -p extwasm-benches --example deadline_precision -- 100 20   # 100 ms, 20 runs per guest
//! cargo run --release -p extwasm-benches --example deadline_precision -- 10000 3  # the 10 s default
//! ```
//!
//! Prints, per guest, the shortest, median and longest wall time from
//! `invoke` to its `timeout` error (restore included), over the runs.

use std::time::{Duration, Instant};

use extwasm_engine::{Config, Engine, ErrorKind, JsonState, Worker};

const GUEST: &str = r#"(module
  (import "env" "hostGetKey" (func $hostGetKey (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostRowWriterPutString" (func $putString (param i64 i32 i32 i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (memory (export "memory") 1024)
  (data (i32.const 0x100) "sys.Obj")
  (func (export "WasmAbiVersion_0_0_1"))
  ;; Pure wasm: only epoch interruption can stop it.
  (func (export "spin") (loop $l (br $l)))
  ;; Short host calls, endlessly: one byte of output each (nothing the host
  ;; keeps, so no budget stops it first).
  (func (export "hostCalls")
    (i32.store (i32.const 0x2000) (i32.const 0x100))
    (i32.store (i32.const 0x2004) (i32.const 1))
    (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0x2000) (i32.const 1) (i32.const 0x20))) (br $l)))
  ;; 1024 iovecs each covering all 64 MiB of memory, per fd_write call.
  (func (export "outputFlood") (local $i i32)
    (loop $iov
      (i32.store (i32.add (i32.const 0x1000) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0))
      (i32.store (i32.add (i32.const 0x1004) (i32.shl (local.get $i) (i32.const 3))) (i32.const 0x4000000))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iov (i32.lt_u (local.get $i) (i32.const 1024))))
    (loop $l (drop (call $fd_write (i32.const 1) (i32.const 0x1000) (i32.const 1024) (i32.const 0x20))) (br $l)))
  ;; 64 MiB of randomness per call.
  (func (export "randomFlood")
    (loop $l (drop (call $random_get (i32.const 0) (i32.const 0x4000000))) (br $l)))
  ;; A 60 MiB string of two-byte characters put again and again on one
  ;; field: validated and copied per call, held once.
  (func (export "hugeValues") (local $i i32) (local $key i64)
    (loop $fill
      (i32.store16 (i32.add (i32.const 0x10000) (local.get $i)) (i32.const 0xA9C3))
      (local.set $i (i32.add (local.get $i) (i32.const 2)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 0x3C00000))))
    (local.set $key (call $hostGetKey (i32.const 0x100) (i32.const 7) (i32.const 0) (i32.const 0)))
    (loop $l
      (call $putString (local.get $key) (i32.const 0) (i32.const 0x100) (i32.const 3) (i32.const 0x10000) (i32.const 0x3C00000))
      (br $l)))
)"#;

const GUESTS: &[&str] = &["spin", "hostCalls", "outputFlood", "randomFlood", "hugeValues"];

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let deadline = Duration::from_millis(args.first().copied().unwrap_or(100));
    let runs = args.get(1).copied().unwrap_or(20) as usize;
    // The host budget is raised so that the guests run into the deadline,
    // not the budget.
    let config = Config::default()
        .memory_limit_pages(1024)
        .timeout(Some(deadline))
        .host_budget_bytes(1 << 31)
        .max_handles(u32::MAX);
    let engine = Engine::new(config).expect("valid config");
    let package = engine.load_package("deadline", GUEST.as_bytes(), GUESTS).expect("loads");
    let mut worker: Worker<JsonState> = Worker::new(&engine);
    worker.add_package(&package).expect("instantiates");
    let state = JsonState::from_json_str("{}").expect("empty state");
    println!("deadline {deadline:?}, {runs} runs per guest");
    println!("| guest | shortest | median | longest | longest / deadline |");
    println!("|---|---|---|---|---|");
    for guest in GUESTS {
        let mut took: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let error = worker.invoke("deadline", guest, &state).err().expect("never ends");
                assert_eq!(error.kind(), ErrorKind::Timeout, "{guest}: {error}");
                started.elapsed()
            })
            .collect();
        took.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {guest} | {} | {} | {} | {:.3} |",
            ms(took[0]),
            ms(took[runs / 2]),
            ms(took[runs - 1]),
            took[runs - 1].as_secs_f64() / deadline.as_secs_f64()
        );
    }
}
