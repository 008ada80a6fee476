//! The Rust example extensions (`examples/rust/`, built to wasm by the
//! `extwasm-rust-examples` crate) on the engine, compared
//!
//! * with the TinyGo modules of `../shared/reference/tinygo-testdata/` that
//!   have the same extensions, on the same states: the same intents, the same
//!   number of host calls, the same errors (a Rust panic message adds its
//!   location: `negative order amount (at examples/rust/…/lib.rs:41:9)`);
//! * with the same extension run natively on the SDK's mock host: the same
//!   intents and the same errors, word for word;
//!
//! and the SDK's allocator and panics on the engine. `SHOW_OUTCOMES=1` prints
//! every outcome compared.

use std::path::{Path, PathBuf};

use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, Worker};
use extwasm_rust_examples::sdk::testing::MockHost;
use extwasm_rust_examples::{ALLOCS, BASICUSAGE, BENCHMARKS, Module, READVALUES, READVALUES_STATE};
use serde_json::{Value as Json, json};

const PACKAGE: &str = "pkg";

/// The project root: the folder with `Cargo.lock` above this crate.
fn root() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    while !dir.join("Cargo.lock").exists() {
        assert!(dir.pop(), "no Cargo.lock above {}", env!("CARGO_MANIFEST_DIR"));
    }
    dir
}

/// A state of `examples/states/`.
fn state_file(name: &str) -> String {
    let path = root().join("examples/states").join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The TinyGo module `file`, or `None` (said loudly; under CI, a failure)
/// when the reference folder is not there.
fn tinygo(file: &str) -> Option<Vec<u8>> {
    crate::common::tinygo_testdata::tinygo_bytes(file)
}

/// How an invocation ended, comparably.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Done {
        intents: Vec<Json>,
        /// Not counted by the mock host.
        host_calls: Option<u64>,
    },
    Failed {
        kind: ErrorKind,
        /// The error's text with the extension's label replaced by `<ext>`
        /// (and an invalid handle by `<handle>`).
        text: String,
        /// The message of a guest panic.
        panic: Option<String>,
    },
}

impl Outcome {
    fn failed(error: Error, label: &str) -> Self {
        let panic = match &error {
            Error::GuestPanic { message, .. } | Error::MemoryLimit { message, .. } => Some(message.clone()),
            _ => None,
        };
        let mut text = error.to_string().replace(label, "<ext>");
        if let Error::InvalidHandle { handle, .. } = &error {
            // A handle carries its invocation's generation, which the engine
            // and the mock host count each their own way.
            text = text.replace(&format!("{handle:#x}"), "<handle>");
        }
        Outcome::Failed { kind: error.kind(), text, panic }
    }

    fn intents(&self) -> &[Json] {
        match self {
            Outcome::Done { intents, .. } => intents,
            failed => panic!("expected intents, got {failed:?}"),
        }
    }
}

/// One package in one worker.
struct Loaded {
    worker: Worker<JsonState>,
}

impl Loaded {
    fn new(wasm: &[u8], extensions: &[&str]) -> Self {
        let engine = Engine::new(Config::default()).unwrap();
        let package = engine.load_package(PACKAGE, wasm, extensions).unwrap();
        let mut worker = Worker::new(&engine);
        worker.add_package(&package).unwrap();
        Loaded { worker }
    }

    fn rust(module: &Module) -> Self {
        Loaded::new(module.wasm, &module.extension_names())
    }

    fn invoke(&mut self, extension: &str, state: &JsonState) -> Outcome {
        match self.worker.invoke(PACKAGE, extension, state) {
            Ok(done) => Outcome::Done {
                intents: done.intents().map(|intent| JsonState::intent_json(&intent)).collect(),
                host_calls: Some(done.host_calls()),
            },
            Err(error) => Outcome::failed(error, &format!("{PACKAGE}/{extension}")),
        }
    }
}

/// The extension run natively on the mock host.
fn mock(module: &Module, extension: &str, state: &JsonState) -> Outcome {
    let function = module.extension(extension).unwrap();
    match MockHost::new(state.clone()).run_extension(&function) {
        Ok(intents) => Outcome::Done { intents, host_calls: None },
        Err(error) => Outcome::failed(error, &format!("mock/{extension}")),
    }
}

/// Rust on the engine and TinyGo on the engine agree.
fn assert_like_tinygo(rust: &Outcome, tinygo: &Outcome, what: &str) {
    match (rust, tinygo) {
        (
            Outcome::Failed { kind: ErrorKind::GuestPanic, panic: Some(rust), .. },
            Outcome::Failed { kind: ErrorKind::GuestPanic, panic: Some(go), .. },
        ) => {
            assert!(rust.starts_with(&format!("{go} (at examples/rust/")), "{what}: Rust {rust:?}, TinyGo {go:?}");
        }
        _ => assert_eq!(rust, tinygo, "{what}: Rust (left) and TinyGo (right) differ"),
    }
}

/// Rust on the engine and Rust on the mock host agree.
fn assert_like_mock(engine: &Outcome, mock: &Outcome, what: &str) {
    match (engine, mock) {
        (Outcome::Done { intents, .. }, Outcome::Done { intents: native, .. }) => {
            assert_eq!(intents, native, "{what}: engine (left) and mock host (right) differ")
        }
        _ => assert_eq!(engine, mock, "{what}: engine (left) and mock host (right) differ"),
    }
}

/// Runs every extension of `module` on every state: on the engine, natively
/// on the mock host, and (when it is there) on the TinyGo module with the
/// same extensions; checks that they agree. Returns the engine's outcomes.
fn compare(module: &Module, states: &[(&str, String)]) -> Vec<(String, Outcome)> {
    let names = module.extension_names();
    let mut rust = Loaded::rust(module);
    let mut go = module.tinygo.and_then(tinygo).map(|wasm| Loaded::new(&wasm, &names));
    let mut outcomes = Vec::new();
    for (state_name, json) in states {
        let state = JsonState::from_json_str(json).unwrap_or_else(|e| panic!("{state_name}: {e}"));
        for &extension in &names {
            let what = format!("{}/{extension} on {state_name}", module.name);
            let outcome = rust.invoke(extension, &state);
            let native = mock(module, extension, &state);
            if extension == "readKeptEvent" {
                // Natively, the handle it reads lives in a static of the whole
                // test process, which other tests running `keepEvent` at the same
                // time set: the mock may see their (stale) handle where the
                // instance sees its own. Both must refuse it as a handle.
                assert!(
                    matches!(
                        (&outcome, &native),
                        (
                            Outcome::Failed { kind: ErrorKind::InvalidHandle, .. },
                            Outcome::Failed { kind: ErrorKind::InvalidHandle, .. }
                        )
                    ),
                    "{what}: engine {outcome:?}, mock host {native:?}"
                );
            } else {
                assert_like_mock(&outcome, &native, &what);
            }
            if let Some(go) = &mut go {
                assert_like_tinygo(&outcome, &go.invoke(extension, &state), &what);
            }
            if std::env::var_os("SHOW_OUTCOMES").is_some() {
                eprintln!("{what}: {outcome:?}");
            }
            outcomes.push((what, outcome));
        }
    }
    outcomes
}

fn outcome_of<'a>(outcomes: &'a [(String, Outcome)], what: &str) -> &'a Outcome {
    &outcomes.iter().find(|(w, _)| w == what).unwrap_or_else(|| panic!("no outcome for {what}")).1
}

#[test]
fn benchmarks_behave_like_tinygo() {
    let states = [
        ("benchmarks.json", state_file("benchmarks")),
        ("an empty state", "{}".to_owned()),
        (
            "failing storages",
            r#"{"sys.Event": {"$error": "disk unavailable"}, "sys.Test": {"$error": "disk unavailable"}}"#.to_owned(),
        ),
        ("a number in 500c", r#"{"sys.Event": [{"value": {}}], "sys.Test": [{"value": {"500c": 5}}]}"#.to_owned()),
        // Longer than the exchange buffer: the host mallocs another one mid-call.
        ("a 100 000-byte 500c", json!({"sys.Test": [{"value": {"500c": "c".repeat(100_000)}}]}).to_string()),
    ];
    let outcomes = compare(&BENCHMARKS, &states);
    let Outcome::Done { host_calls, .. } =
        outcome_of(&outcomes, "benchmarks/oneGetLongStr3calls on a 100 000-byte 500c")
    else {
        panic!("a long string read")
    };
    assert_eq!(*host_calls, Some(3));
    for (extension, calls) in [
        ("doNothing", 0),
        ("oneKey1call", 1),
        ("oneGetNoIntents2calls", 2),
        ("oneGetLongStr3calls", 3),
        ("oneGetOneIntent5calls", 5),
    ] {
        let outcome = outcome_of(&outcomes, &format!("benchmarks/{extension} on benchmarks.json"));
        let Outcome::Done { host_calls, .. } = outcome else { panic!("{extension}: {outcome:?}") };
        assert_eq!(*host_calls, Some(calls), "{extension}");
    }
    assert_eq!(
        outcome_of(&outcomes, "benchmarks/oneGetOneIntent5calls on benchmarks.json").intents(),
        [
            json!({"op": "insert", "storage": "sys.SendMail", "entity": "", "key": {}, "value": {"from": "test@gmail.com"}})
        ]
    );
    let Outcome::Failed { kind, .. } = outcome_of(&outcomes, "benchmarks/oneGetNoIntents2calls on an empty state")
    else {
        panic!("must-get of nothing")
    };
    assert_eq!(*kind, ErrorKind::NotFound);
}

#[test]
fn basicusage_behaves_like_tinygo() {
    let order = |items: &str| {
        format!(
            r#"{{"sys.CommandContext": [{{"value": {{"ArgumentObject": {{"Year": 2023, "Month": 5, "Day": 17, "Items": {items}}}}}}}],
                "sys.Event": [{{"value": {{"ArgumentObject": {{"Year": 2023, "Month": 5, "Day": 17, "Items": {items}}}}}}}]}}"#
        )
    };
    let states = [
        ("order.json", state_file("order")),
        ("order-negative.json", state_file("order-negative")),
        ("subscription.json", state_file("subscription")),
        ("increment.json", state_file("increment")),
        ("an empty state", "{}".to_owned()),
        ("no items", order("[]")),
        ("items that are an object", order(r#"{"Quantity": 1}"#)),
        ("a quantity that is a string", order(r#"[{"Quantity": "1", "SinglePrice": 1}]"#)),
        ("a quantity out of int32 range", order(r#"[{"Quantity": 3000000000, "SinglePrice": 1}]"#)),
        ("an item without a price", order(r#"[{"Quantity": 1}]"#)),
        ("a float price", order(r#"[{"Quantity": 1, "SinglePrice": 2.5}]"#)),
        (
            "a subscription without a customer email",
            r#"{"sys.Event": [{"value": {"qname": "air.UpdateSubscription", "arg": {"subscription": {"status": "x"}, "customer": {}}}}]}"#
                .to_owned(),
        ),
        ("a view count that is a string", r#"{"sys.View": [{"entity": "mypkg.TestView", "key": {"pk": 1, "cc": 1}, "value": {"vv": "41"}}]}"#.to_owned()),
        ("a failing view", {
            let mut state: Json = serde_json::from_str(&state_file("order")).unwrap();
            state["sys.View"] = json!({"$error": "disk unavailable"});
            state.to_string()
        }),
    ];
    let outcomes = compare(&BASICUSAGE, &states);
    let failing = outcome_of(&outcomes, "basicusage/CalcOrderedItems on a failing view");
    let Outcome::Failed { kind: ErrorKind::State, text, .. } = failing else { panic!("{failing:?}") };
    assert_eq!(text, "extension <ext>: hostQueryValue(keyBuilder): state error: disk unavailable");
    let panic = outcome_of(&outcomes, "basicusage/NewOrder on order-negative.json");
    let Outcome::Failed { kind: ErrorKind::GuestPanic, panic: Some(message), .. } = panic else { panic!("{panic:?}") };
    assert!(message.starts_with("negative order amount (at examples/rust/basicusage/src/lib.rs:"), "{message}");
    assert_eq!(
        outcome_of(&outcomes, "basicusage/CalcOrderedItems on order.json").intents()[0]["value"],
        json!({"Amount": 200})
    );
    assert_eq!(
        outcome_of(&outcomes, "basicusage/incrementProjector on increment.json").intents()[0]["value"],
        json!({"vv": 42})
    );
}

/// Runs `extension` `times` times on one worker, applying the intents of each
/// invocation to the state before the next.
fn run_applied(loaded: &mut Loaded, extension: &str, state: &str, times: usize) -> Vec<Vec<Json>> {
    let mut state = JsonState::from_json_str(state).unwrap();
    (0..times)
        .map(|_| {
            let intents = loaded.invoke(extension, &state).intents().to_vec();
            for intent in &intents {
                state.apply_intent(intent).unwrap();
            }
            intents
        })
        .collect()
}

#[test]
fn projectors_accumulate_like_tinygo() {
    let mut rust = Loaded::rust(&BASICUSAGE);
    let amounts = run_applied(&mut rust, "CalcOrderedItems", &state_file("order"), 3);
    let amounts: Vec<_> = amounts.iter().map(|i| (i[0]["op"].clone(), i[0]["value"]["Amount"].clone())).collect();
    assert_eq!(amounts, [(json!("insert"), json!(200)), (json!("update"), json!(400)), (json!("update"), json!(600))]);
    let counts = run_applied(&mut rust, "incrementProjector", "{}", 3);
    let counts: Vec<_> = counts.iter().map(|i| i[0]["value"]["vv"].clone()).collect();
    assert_eq!(counts, [json!(1), json!(2), json!(3)]);

    if let Some(wasm) = tinygo("basicusage-pkg.wasm") {
        let mut go = Loaded::new(&wasm, &BASICUSAGE.extension_names());
        for (extension, state) in [("CalcOrderedItems", state_file("order")), ("incrementProjector", "{}".to_owned())] {
            assert_eq!(
                run_applied(&mut rust, extension, &state, 3),
                run_applied(&mut go, extension, &state, 3),
                "{extension}"
            );
        }
    }
}

#[test]
fn reads_with_callbacks_and_every_field_type_on_the_engine_as_on_the_mock() {
    let states = [
        ("readvalues/state.json", READVALUES_STATE.to_owned()),
        ("an empty state", "{}".to_owned()),
        ("a failing view", r#"{"sys.View": {"$error": "disk unavailable"}}"#.to_owned()),
        (
            "a key field of another type",
            r#"{"sys.View": [{"entity": "mypkg.AllTypes", "key": {"pk": 1, "cc": "text"}, "value": {}}]}"#.to_owned(),
        ),
    ];
    let outcomes = compare(&READVALUES, &states);
    let copies = outcome_of(&outcomes, "readvalues/copyAllTypes on readvalues/state.json").intents();
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[0]["value"]["s"], "héllo wörld");
    assert_eq!(copies[0]["value"]["list3"], json!({"$qname": "c.d.E"}));
    assert_eq!(copies[0]["key"]["kind"], json!({"$qname": "github.com/org/app/mypkg.Kind"}));
    let totals = outcome_of(&outcomes, "readvalues/orderTotals on readvalues/state.json").intents();
    let totals: Vec<_> = totals.iter().map(|t| (t["value"]["customer"].clone(), t["value"]["total"].clone())).collect();
    assert_eq!(totals, [(json!("Ada"), json!(150)), (json!("Grace"), json!(24)), (json!("Linus"), json!(0))]);
    let Outcome::Failed { kind, .. } = outcome_of(&outcomes, "readvalues/copyAllTypes on a key field of another type")
    else {
        panic!("int64 read of a string key field")
    };
    assert_eq!(*kind, ErrorKind::TypeMismatch);
}

#[test]
fn running_out_of_memory_is_a_memory_limit_error_with_the_guest_message_and_the_instance_recovers() {
    let mut rust = Loaded::rust(&ALLOCS);
    let state = JsonState::default();
    for _ in 0..2 {
        assert_eq!(rust.invoke("simple", &state).intents(), &[] as &[Json]);
        assert_eq!(rust.invoke("zeroedAfterFree", &state).intents(), &[] as &[Json]);
        let outcome = rust.invoke("exhaustMemory", &state);
        // The SDK's allocator panics through hostPanic after the denied
        // memory.grow; the engine reports what happened: the limit.
        let Outcome::Failed { kind: ErrorKind::MemoryLimit, panic: Some(message), .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(message.starts_with("out of memory: cannot allocate 1048576 bytes (the heap has taken "), "{message}");
    }
    assert_eq!(rust.invoke("simple", &state).intents(), &[] as &[Json]);
}

#[test]
fn failures_leave_nothing_behind_for_the_next_invocation() {
    let mut rust = Loaded::rust(&BASICUSAGE);
    let negative = JsonState::from_json_str(&state_file("order-negative")).unwrap();
    let order = JsonState::from_json_str(&state_file("order")).unwrap();
    for _ in 0..3 {
        assert!(matches!(rust.invoke("NewOrder", &negative), Outcome::Failed { kind: ErrorKind::GuestPanic, .. }));
        assert_eq!(rust.invoke("NewOrder", &order).intents(), &[] as &[Json]);
        assert_eq!(rust.invoke("CalcOrderedItems", &order).intents()[0]["value"], json!({"Amount": 200}));
    }
}
