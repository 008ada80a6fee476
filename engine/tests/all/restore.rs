//! Exact restore, isolation, limits and atomic invocations, on inline WAT
//! guests whose state (a non-exported global, a byte of memory, the memory
//! size) every invocation reports back as an intent.

use crate::common;

use common::restore_guest::{SNAPSHOT, empty, observe, worker};

use std::time::{Duration, Instant};

use extwasm_engine::{Config, Engine, ErrorKind, Isolation, JsonState, Worker};
use serde_json::json;

#[test]
fn reuse_keeps_state_until_a_failure_then_restores_globals_memory_and_size_exactly() {
    let mut w = worker(Config::default());
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
    assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)));
    assert_eq!(observe(&mut w, "dirty"), Ok((7, 5, 14)));
    assert_eq!(observe(&mut w, "dirtyThenTrap"), Err(ErrorKind::Trap));
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
    assert_eq!(w.memory_bytes("guest"), Some(1 << 16));
    let stats = w.stats("guest").unwrap();
    assert_eq!((stats.invocations, stats.failures, stats.restores), (5, 1, 1), "{stats:?}");
    assert_eq!(stats.failures_by_kind.get(&ErrorKind::Trap), Some(&1));
}

#[test]
fn every_kind_of_failure_restores() {
    let config = Config::default().memory_limit_pages(8).timeout(Some(Duration::from_millis(50)));
    let mut w = worker(config);
    for (extension, kind) in [
        ("fill", ErrorKind::MemoryLimit),
        ("spin", ErrorKind::Timeout),
        ("recurse", ErrorKind::StackOverflow),
        ("dirtyThenTrap", ErrorKind::Trap),
    ] {
        assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)), "before {extension}");
        assert_eq!(observe(&mut w, extension), Err(kind));
        assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT), "after {extension}");
    }
}

#[test]
fn fresh_isolation_starts_every_invocation_from_the_snapshot() {
    let mut w = worker(Config::default().isolation(Isolation::Fresh));
    for _ in 0..5 {
        assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)));
    }
    assert_eq!(w.stats("guest").unwrap().restores, 4);
}

#[test]
fn memory_past_the_threshold_is_restored_between_invocations() {
    let mut w = worker(Config::default().restore_threshold_pages(4));
    assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)));
    assert_eq!(observe(&mut w, "dirty"), Ok((7, 5, 14)));
    assert_eq!(w.stats("guest").unwrap().restores, 0);
    // 5 pages > 4: the next invocation starts from the snapshot.
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
    assert_eq!(w.stats("guest").unwrap().restores, 1);
}

/// Fills memory `cycles` times; each fill fails and restores.
fn fill_cycles(w: &mut Worker<JsonState>, cycles: usize) {
    for cycle in 0..cycles {
        assert_eq!(observe(w, "fill"), Err(ErrorKind::MemoryLimit), "cycle {cycle}");
        assert_eq!(w.memory_bytes("guest"), Some(1 << 16), "cycle {cycle}: the snapshot's size");
        assert_eq!(observe(w, "report"), Ok(SNAPSHOT), "cycle {cycle}");
        assert_eq!(observe(w, "dirty"), Ok((6, 3, 7)), "cycle {cycle}");
        assert_eq!(observe(w, "dirtyThenTrap"), Err(ErrorKind::Trap), "cycle {cycle}");
    }
}

#[test]
fn large_restores_swap_in_a_spare_that_is_exactly_the_snapshot() {
    let config = Config::default().memory_limit_pages(32).retry_out_of_memory(false);
    let mut w = worker(config.background_restore_above(Some(256 << 10)));
    // The first large restore happens on the worker and orders a spare; the
    // reclaimer may still be making one when the next fill ends.
    let started = Instant::now();
    while w.stats("guest").unwrap().background_restores < 5 {
        assert!(started.elapsed() < Duration::from_secs(30), "no spare arrived: {:?}", w.stats("guest"));
        fill_cycles(&mut w, 1);
    }
    let stats = w.stats("guest").unwrap();
    assert!(stats.last_reclaim > Duration::ZERO && stats.total_reclaim >= stats.last_reclaim, "{stats:?}");
    // `dirtyThenTrap` grows memory by two pages only: below the threshold,
    // so it restores on the worker.
    assert_eq!(stats.restores, 2 * stats.invocations / 4, "{stats:?}");
    // Dropping the worker with a spare in flight leaves the reclaimer to
    // drop it.
    drop(w);
}

#[test]
fn memory_grown_over_invocations_has_a_spare_ready_for_its_first_restore() {
    // Each `dirty` grows memory by 128 KiB; past 200 KiB the worker orders a
    // spare, so the restore after the trap needs no inline reset. The spare
    // comes from a thread at idle priority: on a loaded machine, try again.
    let config = Config::default().background_restore_above(Some(200 << 10));
    for attempt in 0.. {
        assert!(attempt < 50, "the spare never arrived in time");
        let mut w = worker(config.clone());
        assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)));
        assert_eq!(observe(&mut w, "dirty"), Ok((7, 5, 14)));
        std::thread::sleep(Duration::from_millis(20 * (attempt + 1)));
        assert_eq!(observe(&mut w, "dirtyThenTrap"), Err(ErrorKind::Trap));
        assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
        let stats = w.stats("guest").unwrap();
        assert_eq!(stats.restores, 1, "{stats:?}");
        if stats.background_restores == 1 {
            break;
        }
    }
}

#[test]
fn a_pool_without_room_for_a_spare_restores_on_the_worker() {
    // One slot: a spare can never be made, or only in the slot an inline
    // restore just freed. Either way every invocation must work.
    let config = Config::default().memory_limit_pages(32).retry_out_of_memory(false).max_instances(1);
    let mut w = worker(config.background_restore_above(Some(64 << 10)));
    fill_cycles(&mut w, 20);
    let stats = w.stats("guest").unwrap();
    assert_eq!(stats.restores, 40, "{stats:?}");
}

#[test]
fn without_a_background_threshold_every_restore_happens_on_the_worker() {
    let config = Config::default().memory_limit_pages(32).retry_out_of_memory(false);
    let mut w = worker(config.background_restore_above(None));
    fill_cycles(&mut w, 10);
    let stats = w.stats("guest").unwrap();
    assert_eq!((stats.restores, stats.background_restores, stats.total_reclaim), (20, 0, Duration::ZERO));
}

#[test]
fn out_of_memory_is_retried_once_and_intents_are_never_duplicated() {
    // Each `dirty` grows memory by two pages and is never reset by the guest:
    // with a limit of 6 pages and no threshold restore, the third call runs
    // out, is retried on a restored instance, and succeeds there.
    let config = Config::default().memory_limit_pages(6).restore_threshold_pages(6);
    let mut w = worker(config);
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(observe(&mut w, "dirty").expect("the retry succeeds"));
    }
    assert_eq!(seen, vec![(6, 3, 7), (7, 5, 14), (6, 3, 7), (7, 5, 14), (6, 3, 7), (7, 5, 14)]);
    let stats = w.stats("guest").unwrap();
    assert_eq!((stats.invocations, stats.failures, stats.retries), (6, 0, 2), "{stats:?}");

    let mut w = worker(Config::default().memory_limit_pages(6).restore_threshold_pages(6).retry_out_of_memory(false));
    assert!(observe(&mut w, "dirty").is_ok());
    assert!(observe(&mut w, "dirty").is_ok());
    assert_eq!(observe(&mut w, "dirty"), Err(ErrorKind::MemoryLimit));
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
}

#[test]
fn a_failed_invocation_hands_over_no_intent() {
    let mut w = worker(Config::default());
    let state = empty();
    // dirtyThenTrap made an intent before it trapped.
    assert!(w.invoke("guest", "dirtyThenTrap", &state).is_err());
    let done = w.invoke("guest", "report", &state).unwrap();
    assert_eq!(done.intents().len(), 1);
}

#[test]
fn fuel_bounds_a_runaway_loop_deterministically() {
    let mut w = worker(Config::default().fuel(Some(1_000_000)).timeout(None));
    assert_eq!(observe(&mut w, "spin"), Err(ErrorKind::FuelExhausted));
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
    assert_eq!(observe(&mut w, "spin"), Err(ErrorKind::FuelExhausted));
}

#[test]
fn the_deadline_stops_a_runaway_loop_in_time() {
    let mut w = worker(Config::default().timeout(Some(Duration::from_millis(100))));
    let started = Instant::now();
    assert_eq!(observe(&mut w, "spin"), Err(ErrorKind::Timeout));
    let took = started.elapsed();
    // One 5 ms tick of precision; the upper bound leaves room for a loaded CI machine.
    assert!(took >= Duration::from_millis(95) && took < Duration::from_millis(300), "{took:?}");
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
}

#[test]
fn tinygo_long_func_times_out_after_its_deadline() {
    let Some(path) = common::tinygo_module("allocs-pkg.wasm") else { return };
    // Room for 100 ms of map inserts: the deadline, not the memory limit,
    // must end it.
    let config = Config::default().timeout(Some(Duration::from_millis(100))).memory_limit_pages(8192);
    let mut worker = common::worker_for(&path, "allocs", &["longFunc", "simple"], config);
    let state = common::state("benchmarks.json");
    let started = Instant::now();
    let error = common::intents(&mut worker, "allocs", "longFunc", &state).unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert!(error.to_string().contains("allocs/longFunc") && error.to_string().contains("100 ms"), "{error}");
    assert!(took >= Duration::from_millis(95) && took < Duration::from_millis(300), "{took:?}");
    assert!(common::intents(&mut worker, "allocs", "simple", &state).is_ok());
}

#[test]
fn the_largest_memory_limit_works_and_restores() {
    let mut w = worker(Config::default().memory_limit_pages(65_535).max_instances(4));
    assert_eq!(observe(&mut w, "dirty"), Ok((6, 3, 7)));
    assert_eq!(observe(&mut w, "dirtyThenTrap"), Err(ErrorKind::Trap));
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
}

#[test]
fn invalid_limits_are_config_errors() {
    for config in [Config::default().max_instances(0), Config::default().timeout(Some(Duration::ZERO))] {
        assert_eq!(Engine::new(config).err().map(|e| e.kind()), Some(ErrorKind::Config));
    }
    let _ = json!(null);
}
