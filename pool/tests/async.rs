//! The async front end (feature `tokio`).

mod common;

use std::sync::Arc;

use common::{EXTENSIONS, Gated, OpenOnDrop, module, version_of};
use extwasm_engine::{Config, Engine, JsonState};
use extwasm_pool::{Pool, PoolConfig, PoolError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_run_on_pool_threads_and_resolve_their_futures() {
    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package("p", module(4).as_bytes(), EXTENSIONS).unwrap();
    let pool = Pool::new(&engine, &[package], PoolConfig::default().threads(2)).unwrap();
    let state = Arc::new(JsonState::from_json_str("{}").unwrap());
    let futures: Vec<_> = (0..64)
        .map(|_| {
            pool.invoke_async_with("p", "version", state.clone(), |i| {
                (version_of(i.invocation()), std::thread::current().name().map(str::to_owned))
            })
        })
        .collect();
    let runtime_thread = std::thread::current().id();
    for future in futures {
        let (version, thread) = future.await.unwrap();
        assert_eq!(version, 4);
        let thread = thread.unwrap_or_default();
        assert!(thread.starts_with("extwasm-pool-"), "ran on {thread}, not a pool thread");
    }
    assert_eq!(std::thread::current().id(), runtime_thread);
    let done = pool.invoke_async("p", "version", state.clone()).await.unwrap();
    assert_eq!(JsonState::intent_json(&done.intents[0].as_intent())["value"]["v"], 4);
    let error = pool.invoke_async("p", "boom", state).await.unwrap_err();
    assert_eq!(error.kind(), "trap");
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_pool_fails_the_future_at_once_and_shutdown_resolves_it() {
    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package("p", module(1).as_bytes(), EXTENSIONS).unwrap();
    let pool = Arc::new(Pool::new(&engine, &[package], PoolConfig::default().threads(1).queue_capacity(1)).unwrap());
    let gated = Arc::new(Gated::default());
    let _open = OpenOnDrop(gated.clone());
    let held = pool.invoke_async_with("p", "gate", gated.clone(), |_| ());
    // The future is queued when made, before it is polled.
    let held_gate = gated.clone();
    tokio::task::spawn_blocking(move || held_gate.wait_inside(1)).await.unwrap();
    let queued = pool.invoke_async_with("p", "gate", gated.clone(), |_| ());
    let refused = pool.invoke_async_with("p", "gate", gated.clone(), |_| ()).await;
    assert!(matches!(refused, Err(PoolError::QueueFull { threads: 1, capacity: 1 })), "{refused:?}");
    gated.open();
    held.await.unwrap();
    queued.await.unwrap();
    let stopping = pool.clone();
    tokio::task::spawn_blocking(move || stopping.shutdown()).await.unwrap();
    let after = pool.invoke_async("p", "version", gated).await;
    assert!(matches!(after, Err(PoolError::ShutDown)));
}
