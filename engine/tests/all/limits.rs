//! Per-package limits (`Engine::load_package_with` and `PackageLimits`):
//! packages of one engine, even in one worker, each held to their own memory
//! limit, deadline, fuel budget, isolation and restore threshold, with the
//! engine's as defaults; the restore threshold's default and the warning of
//! a snapshot at or above it; limits the engine cannot enforce refused.

use crate::common;

use common::restore_guest::{EXTENSIONS, GUEST, SNAPSHOT, empty};

use std::time::{Duration, Instant};

use extwasm_engine::{
    Config, ConfigError, Engine, Error, ErrorKind, Isolation, JsonState, LoadError, Package, PackageLimits, Warning,
    Worker,
};
use serde_json::Value as Json;

/// The restore tests' guest, loaded as `name` with `limits`.
fn load(engine: &Engine, name: &str, limits: PackageLimits) -> Package {
    engine
        .load_package_with(name, GUEST.as_bytes(), &EXTENSIONS[..6], &limits)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One worker with every package of `packages`.
fn worker(engine: &Engine, packages: &[&Package]) -> Worker<JsonState> {
    let mut worker = Worker::new(engine);
    for package in packages {
        worker.add_package(package).unwrap();
    }
    worker
}

/// (counter, memory pages, byte at 60000) as the guest of `package` reports them.
fn observe(worker: &mut Worker<JsonState>, package: &str, extension: &str) -> Result<(i64, i64, i64), Error> {
    let state = empty();
    let done = worker.invoke(package, extension, &state)?;
    let intents: Vec<Json> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
    let v = &intents[0]["value"];
    Ok((v["g"].as_i64().unwrap(), v["m"].as_i64().unwrap(), v["b"].as_i64().unwrap()))
}

#[test]
fn packages_of_one_engine_have_their_own_memory_limits() {
    let engine = Engine::new(Config::default().memory_limit_pages(16)).unwrap();
    let small = load(&engine, "small", PackageLimits::new().memory_limit_pages(4));
    let engines = load(&engine, "engines", PackageLimits::new());
    assert_eq!((small.memory_limit_pages(), engines.memory_limit_pages()), (4, 16));
    let mut w = worker(&engine, &[&small, &engines]);
    for (package, limit) in [("small", 4), ("engines", 16)] {
        match observe(&mut w, package, "fill") {
            Err(Error::MemoryLimit { extension, limit_pages, requested_pages, .. }) => {
                assert_eq!(extension, format!("{package}/fill"));
                assert_eq!((limit_pages, requested_pages), (limit, limit as u64 + 1), "{package}");
            }
            other => panic!("{package}: {other:?}"),
        }
        assert_eq!(observe(&mut w, package, "report").unwrap(), SNAPSHOT, "{package} is restored");
    }
}

#[test]
fn initialisation_runs_under_the_packages_memory_limit() {
    let engine = Engine::new(Config::default()).unwrap();
    let big = GUEST.replace(r#"(memory (export "memory") 1)"#, r#"(memory (export "memory") 10)"#);
    let error = engine
        .load_package_with("big", big.as_bytes(), &["report"], &PackageLimits::new().memory_limit_pages(8))
        .err()
        .expect("10 pages do not fit 8");
    assert!(
        matches!(&error, Error::Load { error: LoadError::MemoryTooLarge { pages: 10, limit_pages: 8 }, .. }),
        "{error:?}"
    );
    let growing = GUEST.replace(
        r#"(func (export "_start") (global.set $counter (i32.const 5)))"#,
        r#"(func (export "_start") (global.set $counter (i32.const 5)) (if (i32.eq (memory.grow (i32.const 8)) (i32.const -1)) (then unreachable)))"#,
    );
    let error = engine
        .load_package_with("grows", growing.as_bytes(), &["report"], &PackageLimits::new().memory_limit_pages(8))
        .err()
        .expect("initialisation grows to 9 pages, over 8");
    match &error {
        Error::Load { error: LoadError::Initialization { detail, .. }, .. } => {
            assert!(detail.contains("asked for 9 pages of memory, over the limit of 8 pages"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let loaded = engine.load_package("grows", growing.as_bytes(), &["report"]).unwrap();
    assert_eq!(loaded.snapshot_pages(), 9);
}

#[test]
fn packages_of_one_engine_have_their_own_deadlines() {
    let engine = Engine::new(Config::default()).unwrap();
    let short = load(&engine, "short", PackageLimits::new().timeout(Some(Duration::from_millis(50))));
    let long = load(&engine, "long", PackageLimits::new().timeout(Some(Duration::from_millis(600))));
    assert_eq!(load(&engine, "engines", PackageLimits::new()).timeout(), Some(Duration::from_secs(10)));
    let mut w = worker(&engine, &[&short, &long]);
    for (package, deadline) in [("short", 50), ("long", 600)] {
        let started = Instant::now();
        let error = observe(&mut w, package, "spin").unwrap_err();
        let took = started.elapsed();
        match error {
            Error::Timeout { timeout, .. } => assert_eq!(timeout, Duration::from_millis(deadline)),
            other => panic!("{package}: {other:?}"),
        }
        assert!(took >= Duration::from_millis(deadline), "{package} ended early: {took:?}");
        // Two 5 ms ticks after the deadline, with room for a loaded machine
        // (and well before the other package's deadline).
        assert!(took < Duration::from_millis(deadline + 500), "{package} ended late: {took:?}");
        assert_eq!(observe(&mut w, package, "report").unwrap(), SNAPSHOT);
    }
}

#[test]
fn packages_of_one_engine_have_their_own_fuel() {
    let engine = Engine::new(Config::default().fuel(Some(1_000_000))).unwrap();
    let frugal = load(&engine, "frugal", PackageLimits::new().fuel(Some(10_000)));
    let engines = load(&engine, "engines", PackageLimits::new());
    let unlimited =
        load(&engine, "unlimited", PackageLimits::new().fuel(None).timeout(Some(Duration::from_millis(50))));
    assert_eq!((frugal.fuel(), engines.fuel(), unlimited.fuel()), (Some(10_000), Some(1_000_000), None));
    let mut w = worker(&engine, &[&frugal, &engines, &unlimited]);
    for (package, budget) in [("frugal", 10_000), ("engines", 1_000_000)] {
        match observe(&mut w, package, "spin") {
            Err(Error::FuelExhausted { fuel, .. }) => assert_eq!(fuel, budget, "{package}"),
            other => panic!("{package}: {other:?}"),
        }
        assert_eq!(observe(&mut w, package, "dirty").unwrap(), (6, 3, 7), "{package}: fuel is refilled");
    }
    // No budget: only the deadline ends the loop.
    assert_eq!(observe(&mut w, "unlimited", "spin").unwrap_err().kind(), ErrorKind::Timeout);
}

#[test]
fn packages_of_one_engine_have_their_own_isolation() {
    let engine = Engine::new(Config::default()).unwrap();
    let reused = load(&engine, "reused", PackageLimits::new());
    let fresh = load(&engine, "fresh", PackageLimits::new().isolation(Isolation::Fresh));
    assert_eq!((reused.isolation(), fresh.isolation()), (Isolation::Reuse, Isolation::Fresh));
    let mut w = worker(&engine, &[&reused, &fresh]);
    for expected in [(6, 3, 7), (7, 5, 14), (8, 7, 21)] {
        assert_eq!(observe(&mut w, "reused", "dirty").unwrap(), expected);
        assert_eq!(observe(&mut w, "fresh", "dirty").unwrap(), (6, 3, 7));
    }
    assert_eq!((w.stats("reused").unwrap().restores, w.stats("fresh").unwrap().restores), (0, 2));
}

/// The guest with a snapshot of `pages` pages.
fn guest_of(pages: u32) -> String {
    GUEST.replace(r#"(memory (export "memory") 1)"#, &format!(r#"(memory (export "memory") {pages})"#))
}

#[test]
fn a_snapshot_at_or_above_the_restore_threshold_warns_and_restores_after_every_growth() {
    let engine = Engine::new(Config::default().memory_limit_pages(64)).unwrap();
    let wasm = guest_of(8);
    let load = |name: &str, limits: PackageLimits| {
        engine.load_package_with(name, wasm.as_bytes(), &EXTENSIONS[..6], &limits).unwrap()
    };
    let low = load("low", PackageLimits::new().restore_threshold_pages(4));
    let at = load("at", PackageLimits::new().restore_threshold_pages(8));
    let above = load("above", PackageLimits::new().restore_threshold_pages(9));
    let fresh = load("fresh", PackageLimits::new().restore_threshold_pages(4).isolation(Isolation::Fresh));
    let default = load("default", PackageLimits::new());
    let warning = |threshold_pages| Warning::SnapshotAtRestoreThreshold { snapshot_pages: 8, threshold_pages };
    assert_eq!(low.warnings(), [warning(4)]);
    assert_eq!(at.warnings(), [warning(8)]);
    assert_eq!(above.warnings(), []);
    assert_eq!(fresh.warnings(), [], "fresh isolation restores every time anyway");
    assert_eq!(default.warnings(), []);
    assert!(low.warnings()[0].to_string().contains("(8 pages) is at or above the restore threshold (4 pages)"));

    let mut w = worker(&engine, &[&low, &at, &default]);
    for _ in 0..3 {
        assert_eq!(observe(&mut w, "low", "report").unwrap(), (5, 8, 0));
        assert_eq!(observe(&mut w, "at", "dirty").unwrap(), (6, 10, 7));
        assert_eq!(observe(&mut w, "default", "report").unwrap(), (5, 8, 0));
    }
    let restores = |package| w.stats(package).unwrap().restores;
    assert_eq!((restores("low"), restores("at"), restores("default")), (2, 2, 0));
    // The engine's threshold is a package's default too.
    let engine = Engine::new(Config::default().memory_limit_pages(64).restore_threshold_pages(8)).unwrap();
    let package = engine.load_package("p", wasm.as_bytes(), &["report"]).unwrap();
    assert_eq!((package.restore_threshold_pages(), package.warnings()), (8, &[warning(8)][..]));
}

/// The issue's case: a snapshot of 42 pages (standard Go's) under a 64-page
/// limit, which the default threshold (half the limit) restores after every
/// call; the load says so, and a package threshold above the snapshot stops it.
#[test]
fn a_go_sized_snapshot_under_a_64_page_limit_warns_until_its_threshold_is_raised() {
    let engine = Engine::new(Config::default().memory_limit_pages(64)).unwrap();
    let wasm = guest_of(42);
    let default = engine.load_package("default", wasm.as_bytes(), &EXTENSIONS[..6]).unwrap();
    assert_eq!((default.snapshot_pages(), default.restore_threshold_pages()), (42, 32));
    assert_eq!(default.warnings(), [Warning::SnapshotAtRestoreThreshold { snapshot_pages: 42, threshold_pages: 32 }]);
    let limits = PackageLimits::new().restore_threshold_pages(53);
    let raised = engine.load_package_with("raised", wasm.as_bytes(), &EXTENSIONS[..6], &limits).unwrap();
    assert_eq!((raised.restore_threshold_pages(), raised.warnings()), (53, &[][..]));
    let mut w = worker(&engine, &[&default, &raised]);
    for _ in 0..10 {
        assert_eq!(observe(&mut w, "default", "report").unwrap(), (5, 42, 0));
        assert_eq!(observe(&mut w, "raised", "report").unwrap(), (5, 42, 0));
    }
    let restores = |package| w.stats(package).unwrap().restores;
    assert_eq!((restores("default"), restores("raised")), (9, 0), "what the warning is about");
    // Growth past the raised threshold is still restored before the guest runs out.
    let grown: Vec<_> = (0..6).map(|_| observe(&mut w, "raised", "dirty").unwrap().1).collect();
    assert_eq!(grown, [44, 46, 48, 50, 52, 54]);
    assert_eq!(observe(&mut w, "raised", "report").unwrap(), (5, 42, 0), "54 > 53 pages: restored");
}

#[test]
fn a_standard_go_module_under_a_64_page_limit_warns() {
    use extwasm_go_examples::{BENCHMARKS, skipped};
    if skipped("the Go example under a 64-page limit") {
        return;
    }
    let engine = Engine::new(Config::default().memory_limit_pages(64)).unwrap();
    let package = engine.load_package("go", BENCHMARKS.wasm, BENCHMARKS.extensions).unwrap();
    let snapshot_pages = package.snapshot_pages();
    assert!(snapshot_pages >= 32, "a standard-Go snapshot: {snapshot_pages} pages");
    assert_eq!(package.warnings(), [Warning::SnapshotAtRestoreThreshold { snapshot_pages, threshold_pages: 32 }]);
    let limits = PackageLimits::new().restore_threshold_pages(56);
    let raised = engine.load_package_with("raised", BENCHMARKS.wasm, BENCHMARKS.extensions, &limits).unwrap();
    assert_eq!(raised.warnings(), []);
    let mut w = worker(&engine, &[&package, &raised]);
    let state = common::state("benchmarks.json");
    for _ in 0..20 {
        w.invoke("go", "oneGetOneIntent5calls", &state).unwrap();
        w.invoke("raised", "oneGetOneIntent5calls", &state).unwrap();
    }
    assert_eq!((w.stats("go").unwrap().restores, w.stats("raised").unwrap().restores), (19, 0));
}

#[test]
fn limits_the_engine_cannot_enforce_are_refused() {
    let refused = |config: Config, limits: PackageLimits| -> ConfigError {
        let engine = Engine::new(config).unwrap();
        match engine.load_package_with("p", GUEST.as_bytes(), &["report"], &limits) {
            Err(Error::Config(error)) => error,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("{limits:?} loaded"),
        }
    };
    let error = refused(Config::default().memory_limit_pages(64), PackageLimits::new().memory_limit_pages(65));
    assert_eq!(error.setting, "memory_limit_pages");
    assert!(error.problem.contains("exceeds the engine's 64 pages"), "{error}");
    let error = refused(Config::default(), PackageLimits::new().fuel(Some(5)));
    assert_eq!(error.setting, "fuel");
    let no_deadlines = Config::default().timeout(None).load_timeout(None);
    let error = refused(no_deadlines.clone(), PackageLimits::new().timeout(Some(Duration::from_secs(1))));
    assert_eq!(error.setting, "timeout");
    let error = refused(Config::default(), PackageLimits::new().timeout(Some(Duration::ZERO)));
    assert_eq!(error.setting, "timeout");
    // One page cannot hold the 64 000-byte exchange buffer 1.7 times.
    let error = refused(Config::default(), PackageLimits::new().memory_limit_pages(1));
    assert_eq!(error.setting, "memory_limit_pages");
    // What the engine can enforce loads: no deadline, no budget, a smaller limit.
    let engine = Engine::new(no_deadlines).unwrap();
    load(&engine, "p", PackageLimits::new().timeout(None).fuel(None).memory_limit_pages(8));
}
