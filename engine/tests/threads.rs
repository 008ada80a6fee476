//! The engine's threads (the epoch ticker and the reclaimer) end with the
//! engine, even with a spare instance still in flight: an embedder that
//! makes and drops engines (on reconfiguration, say) leaks none. Its own test
//! binary, so the process's threads are this test's alone.

use std::time::{Duration, Instant};

use extwasm_engine::{Config, Engine, ErrorKind, JsonState, Worker};

const GUEST: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "WasmAbiVersion_0_0_1"))
  ;; Grows to the limit, then traps.
  (func (export "fill")
    (block $full (loop $grow
      (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (br $grow)))
    unreachable)
)"#;

/// Threads of this process with `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|comm| comm.trim() == name)
                .count()
        })
        .unwrap_or(0)
}

fn wait_for(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn engine_threads_end_with_the_engine() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("SKIPPED: no /proc/self/task to count threads in");
        return;
    }
    let config = Config::default().memory_limit_pages(32).retry_out_of_memory(false).max_instances(4);
    let engine = Engine::new(config.background_restore_above(Some(64 << 10))).unwrap();
    // A thread names itself as it starts.
    wait_for("one epoch ticker and one reclaimer", || {
        (threads_named("extwasm-epoch"), threads_named("extwasm-reclaim")) == (1, 1)
    });
    let package = engine.load_package("guest", GUEST.as_bytes(), &["fill"]).unwrap();
    let mut worker: Worker<JsonState> = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    let state = JsonState::from_json_str("{}").unwrap();
    // The first large restore is inline and orders a spare; the second swaps
    // it in and orders the next, which may still be in flight below.
    let started = Instant::now();
    while worker.stats("guest").unwrap().background_restores == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no spare arrived");
        let error = worker.invoke("guest", "fill", &state).err().expect("fill traps");
        assert_eq!(error.kind(), ErrorKind::MemoryLimit);
    }
    drop((worker, package, engine));
    wait_for("the reclaimer thread outlived its engine", || threads_named("extwasm-reclaim") == 0);
    wait_for("the epoch ticker outlived its engine", || threads_named("extwasm-epoch") == 0);
}
