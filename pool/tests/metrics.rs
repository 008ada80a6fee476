//! Metrics through the `metrics` facade (feature `metrics`), counted by an
//! independent recorder (metrics-util's debugging recorder). One test: the
//! recorder is process-wide.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{EXTENSIONS, Gated, OpenOnDrop, module};
use extwasm_engine::{Config, Engine};
use extwasm_pool::metrics_names::*;
use extwasm_pool::{Pool, PoolConfig, PoolError};
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// (name, sorted labels) → value.
type Seen = HashMap<(String, Vec<(String, String)>), DebugValue>;

fn key(name: &str, labels: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let mut labels: Vec<_> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    labels.sort();
    (name.to_owned(), labels)
}

fn counter(seen: &Seen, name: &str, labels: &[(&str, &str)]) -> u64 {
    match seen.get(&key(name, labels)) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    }
}

#[test]
fn every_invocation_failure_restore_and_host_call_is_counted_by_package_and_extension() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package("p", module(1).as_bytes(), EXTENSIONS).unwrap();
    let pool = Pool::new(&engine, &[package], PoolConfig::default().threads(2).queue_capacity(1)).unwrap();
    // `version` and `boom` ask the state nothing; `gate` waits in it.
    let gated = Arc::new(Gated::default());
    let _open = OpenOnDrop(gated.clone());
    let state = gated.clone();
    for _ in 0..10 {
        pool.invoke("p", "version", state.clone()).unwrap();
    }
    for _ in 0..3 {
        assert_eq!(pool.invoke("p", "boom", state.clone()).unwrap_err().kind(), "trap");
    }
    assert_eq!(pool.invoke("p", "nope", state.clone()).unwrap_err().kind(), "unknown_extension");
    // Two held, one queued on each thread: the next is refused.
    let mut held: Vec<_> = (0..2).map(|_| pool.submit_with("p", "gate", gated.clone(), |_| ()).unwrap()).collect();
    gated.wait_inside(2);
    held.extend((0..2).map(|_| pool.submit_with("p", "gate", gated.clone(), |_| ()).unwrap()));
    assert!(matches!(pool.submit_with("p", "gate", gated.clone(), |_| ()), Err(PoolError::QueueFull { .. })));
    gated.open();
    held.into_iter().for_each(|h| h.wait().unwrap());
    pool.shutdown();

    let seen: Seen = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(composite, _, _, value)| {
            let k = composite.key();
            let mut labels: Vec<_> = k.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect();
            labels.sort();
            assert!(composite.kind() != MetricKind::Histogram || k.name() == INVOCATION_SECONDS);
            ((k.name().to_owned(), labels), value)
        })
        .collect();
    let version = [("package", "p"), ("extension", "version")];
    let boom = [("package", "p"), ("extension", "boom")];
    let gate = [("package", "p"), ("extension", "gate")];
    assert_eq!(counter(&seen, INVOCATIONS_TOTAL, &version), 10);
    assert_eq!(counter(&seen, INVOCATIONS_TOTAL, &boom), 3);
    assert_eq!(counter(&seen, INVOCATIONS_TOTAL, &gate), 4);
    assert_eq!(counter(&seen, INVOCATIONS_TOTAL, &[("package", "p"), ("extension", "nope")]), 1);
    // hostGetKey, hostNewValue, hostRowWriterPutInt32.
    assert_eq!(counter(&seen, HOST_CALLS_TOTAL, &version), 30);
    assert_eq!(counter(&seen, HOST_CALLS_TOTAL, &gate), 8);
    assert_eq!(counter(&seen, ERRORS_TOTAL, &[("package", "p"), ("extension", "boom"), ("kind", "trap")]), 3);
    let nope = [("package", "p"), ("extension", "nope"), ("kind", "unknown_extension")];
    assert_eq!(counter(&seen, ERRORS_TOTAL, &nope), 1);
    assert_eq!(counter(&seen, ERRORS_TOTAL, &[("package", "p"), ("extension", "gate"), ("kind", "queue_full")]), 1);
    // Each trap restored the instance; successful invocations did not.
    assert_eq!(counter(&seen, RESTORES_TOTAL, &boom), 3);
    assert_eq!(seen.get(&key(RESTORES_TOTAL, &version)).map(|v| matches!(v, DebugValue::Counter(0))), Some(true));
    assert!(!seen.contains_key(&key(ERRORS_TOTAL, &[("package", "p"), ("extension", "version"), ("kind", "trap")])));
    match seen.get(&key(INVOCATION_SECONDS, &version)) {
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), 10);
            assert!(samples.iter().all(|s| s.0 > 0.0 && s.0 < 10.0), "{samples:?}");
        }
        other => panic!("{other:?}"),
    }
    let peaks: Vec<f64> = seen
        .iter()
        .filter(|((name, _), _)| name == PEAK_MEMORY_BYTES)
        .map(|(_, value)| match value {
            DebugValue::Gauge(bytes) => bytes.0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(!peaks.is_empty());
    assert!(peaks.iter().all(|&bytes| bytes == 65536.0), "one page each: {peaks:?}");
}
