//! The pool: invocations from many threads, backpressure, shutdown, hot
//! reload under load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use common::{EXTENSIONS, Gated, OpenOnDrop, module, version_of};
use extwasm_engine::{Config, Engine, ErrorKind, JsonState, Package};
use extwasm_pool::{Pool, PoolConfig, PoolError};

fn engine(max_instances: u32) -> Engine {
    Engine::new(Config::default().max_instances(max_instances)).unwrap()
}

fn package(engine: &Engine, version: i32) -> Package {
    engine.load_package("p", module(version).as_bytes(), EXTENSIONS).unwrap()
}

fn json_state() -> Arc<JsonState> {
    Arc::new(JsonState::from_json_str("{}").unwrap())
}

#[test]
fn callers_on_many_threads_each_get_their_own_complete_result() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 7)], PoolConfig::default().threads(2)).unwrap();
    let state = json_state();
    let ran = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..250 {
                    let done = pool.invoke("p", "version", state.clone()).unwrap();
                    assert_eq!(done.intents.len(), 1);
                    let intent = JsonState::intent_json(&done.intents[0].as_intent());
                    assert_eq!(intent["op"], "insert");
                    assert_eq!(intent["storage"], "sys.View");
                    assert_eq!(intent["value"]["v"], 7);
                    ran.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(ran.load(Ordering::Relaxed), 1000);
}

#[test]
fn invocations_run_on_the_pool_threads_and_use_all_of_them() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 1)], PoolConfig::default().threads(3)).unwrap();
    let state = json_state();
    let pending: Vec<_> = (0..30)
        .map(|_| {
            pool.submit_with("p", "version", state.clone(), |_| std::thread::current().name().map(str::to_owned))
                .unwrap()
        })
        .collect();
    let mut names: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["extwasm-pool-0", "extwasm-pool-1", "extwasm-pool-2"]);
}

#[test]
fn failures_come_back_typed_and_the_thread_goes_on() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 3)], PoolConfig::default().threads(1)).unwrap();
    let state = json_state();
    let error = pool.invoke("p", "boom", state.clone()).unwrap_err();
    assert_eq!(error.kind(), "trap");
    assert!(matches!(&error, PoolError::Invocation(e) if e.kind() == ErrorKind::Trap), "{error:?}");
    let error = pool.invoke("p", "nope", state.clone()).unwrap_err();
    assert_eq!(error.engine_error().map(|e| e.kind()), Some(ErrorKind::UnknownExtension));
    assert!(error.to_string().contains("nope"), "{error}");
    let error = pool.invoke("q", "version", state.clone()).unwrap_err();
    assert_eq!(error.kind(), "unknown_package");
    // A panic in the collecting closure is the caller's, reported typed.
    let error = pool.invoke_with("p", "version", state.clone(), |_| -> () { panic!("collector bug") }).unwrap_err();
    assert!(matches!(&error, PoolError::Panicked { message } if message == "collector bug"), "{error:?}");
    assert_eq!(pool.invoke_with("p", "version", state, |s| version_of(s.invocation())).unwrap(), 3);
}

#[test]
fn a_full_queue_fails_fast_with_queue_full_and_invoke_waits_for_room() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 1)], PoolConfig::default().threads(1).queue_capacity(2)).unwrap();
    let gated = Arc::new(Gated::default());
    let _open = OpenOnDrop(gated.clone());
    // One invocation held inside the thread, two queued behind it.
    let held = pool.submit_with("p", "gate", gated.clone(), |_| ()).unwrap();
    gated.wait_inside(1);
    let queued: Vec<_> = (0..2).map(|_| pool.submit_with("p", "gate", gated.clone(), |_| ()).unwrap()).collect();

    let error = pool.try_invoke("p", "gate", gated.clone()).unwrap_err();
    assert!(matches!(error, PoolError::QueueFull { threads: 1, capacity: 2 }), "{error:?}");
    assert_eq!(error.kind(), "queue_full");
    assert!(error.to_string().contains("saturated"), "{error}");
    assert!(matches!(pool.submit_with("p", "gate", gated.clone(), |_| ()), Err(PoolError::QueueFull { .. })));

    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let result = pool.invoke("p", "gate", gated.clone());
            finished.store(true, Ordering::SeqCst);
            result
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!finished.load(Ordering::SeqCst), "invoke waits while the queue is full");
        gated.open();
        assert!(waiter.join().unwrap().is_ok());
    });
    held.wait().unwrap();
    for pending in queued {
        pending.wait().unwrap();
    }
}

#[test]
fn shutdown_runs_what_was_queued_and_refuses_what_comes_after() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 5)], PoolConfig::default().threads(1).queue_capacity(8)).unwrap();
    let gated = Arc::new(Gated::default());
    let _open = OpenOnDrop(gated.clone());
    let held = pool.submit_with("p", "gate", gated.clone(), |_| ()).unwrap();
    gated.wait_inside(1);
    // `version` asks the state nothing.
    let queued: Vec<_> = (0..6)
        .map(|_| pool.submit_with("p", "version", gated.clone(), |s| version_of(s.invocation())).unwrap())
        .collect();
    std::thread::scope(|scope| {
        let stopping = scope.spawn(|| pool.shutdown());
        std::thread::sleep(Duration::from_millis(50));
        assert!(!stopping.is_finished(), "shutdown waits for the queued invocations");
        gated.open();
        stopping.join().unwrap();
    });
    held.wait().unwrap();
    for pending in queued {
        assert_eq!(pending.wait().unwrap(), 5, "every queued invocation ran");
    }
    assert!(matches!(pool.invoke("p", "version", gated.clone()), Err(PoolError::ShutDown)));
    assert!(matches!(pool.try_invoke("p", "version", gated), Err(PoolError::ShutDown)));
    assert!(matches!(pool.reload(package(&engine, 6)), Err(PoolError::ShutDown)));
    pool.shutdown(); // idempotent
}

#[test]
fn a_pool_that_cannot_instantiate_its_packages_says_so() {
    // Two threads need two instances.
    let engine = engine(1);
    let error =
        Pool::<JsonState>::new(&engine, &[package(&engine, 1)], PoolConfig::default().threads(2)).err().unwrap();
    assert!(matches!(&error, PoolError::Package { threads_failed: 1, .. }), "{error:?}");
    assert_eq!(error.kind(), "load");
    let error = Pool::<JsonState>::new(&engine, &[], PoolConfig::default().threads(0)).err().unwrap();
    assert_eq!(error.kind(), "pool_config");
}

/// N callers × M invocations while the package is replaced twice: every
/// invocation accounted for, once; each caller's versions never go back;
/// an invocation that starts after a reload returned runs the new version.
#[test]
fn reload_under_load_loses_nothing_and_never_goes_back() {
    const CALLERS: usize = 4;
    const EACH: usize = 400;
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 1)], PoolConfig::default().threads(2).queue_capacity(4)).unwrap();
    let (v2, v3) = (package(&engine, 2), package(&engine, 3));
    let state = json_state();
    let completed = AtomicUsize::new(0);
    let published = AtomicI32::new(1);
    let seen: Vec<Vec<i32>> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut versions = Vec::with_capacity(EACH);
                    for _ in 0..EACH {
                        let at_least = published.load(Ordering::SeqCst);
                        let version =
                            pool.invoke_with("p", "version", state.clone(), |s| version_of(s.invocation())).unwrap();
                        assert!(version >= at_least, "started after version {at_least} was published, ran {version}");
                        versions.push(version);
                        completed.fetch_add(1, Ordering::SeqCst);
                    }
                    versions
                })
            })
            .collect();
        for (version, package, after) in [(2, &v2, CALLERS * EACH / 4), (3, &v3, CALLERS * EACH / 2)] {
            while completed.load(Ordering::SeqCst) < after {
                std::thread::yield_now();
            }
            pool.reload(package.clone()).unwrap();
            published.store(version, Ordering::SeqCst);
        }
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let total: usize = seen.iter().map(Vec::len).sum();
    assert_eq!(total, CALLERS * EACH);
    for versions in &seen {
        assert!(versions.windows(2).all(|w| w[0] <= w[1]), "a caller went back to an old version: {versions:?}");
    }
    for version in 1..=3 {
        assert!(seen.iter().flatten().any(|&v| v == version), "version {version} served");
    }
    assert_eq!(*seen[0].last().unwrap(), 3);
}

#[test]
fn reload_frees_the_old_instances() {
    // Two threads hold two instances; a reload needs one more per thread
    // while it swaps. Without the old ones freed, the second reload would
    // find no slot.
    let engine = engine(4);
    let pool = Pool::new(&engine, &[package(&engine, 0)], PoolConfig::default().threads(2)).unwrap();
    let state = json_state();
    for version in 1..=10 {
        pool.reload(package(&engine, version)).unwrap();
        for _ in 0..4 {
            assert_eq!(
                pool.invoke_with("p", "version", state.clone(), |s| version_of(s.invocation())).unwrap(),
                version
            );
        }
    }
}

#[test]
fn reload_adds_a_package_of_a_new_name() {
    let engine = engine(16);
    let pool = Pool::new(&engine, &[package(&engine, 1)], PoolConfig::default().threads(2)).unwrap();
    let other = engine.load_package("q", module(9).as_bytes(), EXTENSIONS).unwrap();
    pool.reload(other).unwrap();
    assert_eq!(pool.invoke_with("q", "version", json_state(), |s| version_of(s.invocation())).unwrap(), 9);
    assert_eq!(pool.invoke_with("p", "version", json_state(), |s| version_of(s.invocation())).unwrap(), 1);
}
