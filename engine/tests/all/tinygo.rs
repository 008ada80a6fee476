//! The real TinyGo modules (`../shared/reference/tinygo-testdata`), each run
//! once built with `-gc=leaking` (`*-pkg.wasm`) and once with TinyGo's GC
//! (`*-pkggc.wasm`).

use crate::common;

use common::{intents, state, tinygo_module, worker_for};
use extwasm_engine::{Config, Error, ErrorKind, JsonState};
use serde_json::json;

const BUILDS: [&str; 2] = ["pkg", "pkggc"];
const BENCHMARKS: [&str; 5] =
    ["doNothing", "oneKey1call", "oneGetNoIntents2calls", "oneGetLongStr3calls", "oneGetOneIntent5calls"];
const BASIC: [&str; 4] = ["NewOrder", "CalcOrderedItems", "updateSubscriptionProjector", "incrementProjector"];

/// The entities the basicusage extensions write to. The GC build was compiled
/// from an older source that used other package names (see its strings).
fn entities(build: &str) -> (&'static str, &'static str) {
    match build {
        "pkg" => ("github.com/untillpro/airs-bp3/packages/mypkg.OrderedItems", "mypkg.TestView"),
        _ => ("github.com/untillpro/airs-bp3/packages/air.OrderedItems", "pkg.TestView"),
    }
}

#[test]
fn benchmark_extensions_make_the_documented_calls() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("benchmarks-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "bench", &BENCHMARKS, Config::default());
        let state = state("benchmarks.json");
        for (extension, calls) in BENCHMARKS.iter().zip([0, 1, 2, 3, 5]) {
            let done = worker.invoke("bench", extension, &state).unwrap_or_else(|e| panic!("{build} {extension}: {e}"));
            assert_eq!(done.host_calls(), calls, "{build} {extension}");
            let got: Vec<_> = done.intents().map(|i| JsonState::intent_json(&i)).collect();
            let want = if *extension == "oneGetOneIntent5calls" {
                vec![json!({"op": "insert", "storage": "sys.SendMail", "entity": "", "key": {},
                            "value": {"from": "test@gmail.com"}})]
            } else {
                vec![]
            };
            assert_eq!(got, want, "{build} {extension}");
        }
    }
}

#[test]
fn new_order_accepts_a_positive_order_and_panics_on_a_negative_one() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("basicusage-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "basic", &BASIC, Config::default());
        assert_eq!(
            intents(&mut worker, "basic", "NewOrder", &state("order.json")).unwrap(),
            Vec::<serde_json::Value>::new()
        );
        let err = intents(&mut worker, "basic", "NewOrder", &state("order-negative.json")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::GuestPanic, "{build}: {err}");
        let Error::GuestPanic { message, backtrace, extension } = &err else { unreachable!() };
        assert_eq!(message, "negative order amount", "{build}");
        assert_eq!(extension, "basic/NewOrder");
        assert!(backtrace.iter().any(|f| f.contains("NewOrder")), "{build}: {backtrace:?}");
        // The instance still serves the next invocation.
        assert!(intents(&mut worker, "basic", "NewOrder", &state("order.json")).is_ok(), "{build}");
    }
}

#[test]
fn calc_ordered_items_inserts_then_updates_when_intents_are_applied() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("basicusage-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "basic", &BASIC, Config::default());
        let (ordered_items, _) = entities(build);
        let mut state = state("order.json");
        let first = intents(&mut worker, "basic", "CalcOrderedItems", &state).unwrap();
        let key = json!({"Year": 2023, "Month": 5, "Day": 17});
        assert_eq!(
            first,
            vec![
                json!({"op": "insert", "storage": "sys.View", "entity": ordered_items, "key": key, "value": {"Amount": 200}})
            ],
            "{build}"
        );
        state.apply_intent(&first[0]).unwrap();
        let second = intents(&mut worker, "basic", "CalcOrderedItems", &state).unwrap();
        assert_eq!(
            second,
            vec![
                json!({"op": "update", "storage": "sys.View", "entity": ordered_items, "key": key, "value": {"Amount": 400}})
            ],
            "{build}"
        );
    }
}

#[test]
fn update_subscription_projector_sends_mail() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("basicusage-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "basic", &BASIC, Config::default());
        let got = intents(&mut worker, "basic", "updateSubscriptionProjector", &state("subscription.json")).unwrap();
        assert_eq!(
            got,
            vec![json!({"op": "insert", "storage": "sys.SendMail", "entity": "", "key": {}, "value": {
                "from": "test@gmail.com",
                "to": "customer@example.com",
                "body": "Your subscription has been updated. New status: active"}})],
            "{build}"
        );
        // Any other event: no mail.
        let other = JsonState::from_json_str(r#"{"sys.Event": [{"value": {"qname": "air.Other"}}]}"#).unwrap();
        assert_eq!(
            intents(&mut worker, "basic", "updateSubscriptionProjector", &other).unwrap(),
            Vec::<serde_json::Value>::new()
        );
    }
}

#[test]
fn increment_projector_inserts_or_updates() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("basicusage-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "basic", &BASIC, Config::default());
        let (_, test_view) = entities(build);
        let key = json!({"pk": 1, "cc": 1});
        let got = intents(&mut worker, "basic", "incrementProjector", &state("increment.json")).unwrap();
        assert_eq!(
            got,
            vec![json!({"op": "update", "storage": "sys.View", "entity": test_view, "key": key, "value": {"vv": 42}})],
            "{build}"
        );
        let empty = JsonState::from_json_str("{}").unwrap();
        let got = intents(&mut worker, "basic", "incrementProjector", &empty).unwrap();
        assert_eq!(
            got,
            vec![json!({"op": "insert", "storage": "sys.View", "entity": test_view, "key": key, "value": {"vv": 1}})],
            "{build}"
        );
    }
}

#[test]
fn missing_state_is_a_not_found_error_naming_the_key() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("basicusage-{build}.wasm")) else {
            return;
        };
        let mut worker = worker_for(&path, "basic", &BASIC, Config::default());
        let err = intents(&mut worker, "basic", "NewOrder", &JsonState::from_json_str("{}").unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{build}: {err}");
        let message = err.to_string();
        assert!(message.contains("basic/NewOrder") && message.contains("hostGetValue"), "{message}");
        assert!(message.contains("sys.CommandContext"), "{message}");
        let failing = JsonState::from_json_str(r#"{"sys.CommandContext": {"$error": "disk unavailable"}}"#).unwrap();
        let err = intents(&mut worker, "basic", "NewOrder", &failing).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State, "{build}: {err}");
        assert!(err.to_string().contains("disk unavailable"), "{err}");
    }
}

#[test]
fn running_out_of_memory_is_a_memory_limit_error_and_simple_still_works() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("allocs-{build}.wasm")) else {
            return;
        };
        let extensions = ["simple", "arrAppend", "arrAppend2", "arrReset"];
        // No threshold restore and no retry: the guest's leak runs into the limit.
        let config = Config::default().memory_limit_pages(32).restore_threshold_pages(32).retry_out_of_memory(false);
        let mut worker = worker_for(&path, "allocs", &extensions, config);
        let state = state("benchmarks.json");
        let mut error = None;
        for _ in 0..100 {
            if let Err(e) = intents(&mut worker, "allocs", "arrAppend2", &state) {
                error = Some(e);
                break;
            }
        }
        let error = error.unwrap_or_else(|| panic!("{build}: arrAppend2 never ran out of 2 MiB"));
        assert_eq!(error.kind(), ErrorKind::MemoryLimit, "{build}: {error}");
        let Error::MemoryLimit { limit_pages, requested_pages, message, .. } = &error else { unreachable!() };
        assert_eq!(*limit_pages, 32);
        assert!(*requested_pages > 32, "{requested_pages}");
        if build == "pkg" {
            // TinyGo's own line, which users of voedger's engine match, is in the text.
            assert_eq!(message, "panic: runtime error: out of memory");
            assert!(error.to_string().ends_with("the guest said: panic: runtime error: out of memory"), "{error}");
        }
        assert!(intents(&mut worker, "allocs", "simple", &state).is_ok(), "{build}: simple after OOM");
        // The failed instance was restored: arrAppend2 works again.
        assert!(intents(&mut worker, "allocs", "arrAppend2", &state).is_ok(), "{build}: arrAppend2 after restore");
    }
}

#[test]
fn a_leaking_guest_is_restored_before_it_runs_out_and_never_fails() {
    for build in BUILDS {
        let Some(path) = tinygo_module(&format!("allocs-{build}.wasm")) else {
            return;
        };
        let config = Config::default().memory_limit_pages(32);
        let mut worker = worker_for(&path, "allocs", &["arrAppend2"], config);
        let state = state("benchmarks.json");
        for i in 0..50 {
            intents(&mut worker, "allocs", "arrAppend2", &state).unwrap_or_else(|e| panic!("{build} call {i}: {e}"));
            assert!(worker.memory_bytes("allocs").unwrap() <= 32 << 16);
        }
        let stats = worker.stats("allocs").unwrap();
        assert_eq!((stats.invocations, stats.failures), (50, 0), "{build}: {stats:?}");
        assert!(stats.restores >= 10, "{build}: {stats:?}");
    }
}

#[test]
fn every_reference_module_is_preinitialised() {
    let Some(_) = tinygo_module("allocs-pkg.wasm") else {
        return;
    };
    let engine = extwasm_engine::Engine::new(Config::default()).unwrap();
    for module in ["allocs", "basicusage", "benchmarks"] {
        for build in BUILDS {
            let path = tinygo_module(&format!("{module}-{build}.wasm")).unwrap();
            let package = engine.load_package_file(module, &path, &[]).unwrap();
            assert_eq!(package.preinitialized(), Ok(()), "{module}-{build}");
        }
    }
}
