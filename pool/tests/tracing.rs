//! A `tracing` span per invocation (feature `tracing`), seen by a minimal
//! subscriber. One test: the subscriber is process-wide.

mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{EXTENSIONS, module};
use extwasm_engine::{Config, Engine, JsonState};
use extwasm_pool::{Pool, PoolConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span's name and fields.
type Span = (String, HashMap<String, String>);

/// Every span's name and fields, by id.
#[derive(Clone, Default)]
struct Spans {
    spans: Arc<Mutex<HashMap<u64, Span>>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Spans {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = HashMap::new();
        span.record(&mut Fields(&mut fields));
        self.spans.lock().unwrap().insert(id, (span.metadata().name().to_owned(), fields));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some((_, fields)) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_invocation_has_a_span_naming_package_extension_and_failure() {
    let spans = Spans::default();
    tracing::subscriber::set_global_default(spans.clone()).unwrap();
    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package("p", module(1).as_bytes(), EXTENSIONS).unwrap();
    let pool = Pool::new(&engine, &[package], PoolConfig::default().threads(2)).unwrap();
    let state = Arc::new(JsonState::from_json_str("{}").unwrap());
    for _ in 0..5 {
        pool.invoke("p", "version", state.clone()).unwrap();
    }
    pool.invoke("p", "boom", state).unwrap_err();
    pool.shutdown();
    let spans = spans.spans.lock().unwrap();
    let invocations: Vec<_> = spans.values().filter(|(name, _)| name == "extwasm_invoke").collect();
    assert_eq!(invocations.len(), 6);
    let ok = invocations.iter().filter(|(_, f)| f["package"] == "p" && f["extension"] == "version").count();
    assert_eq!(ok, 5);
    assert!(
        invocations.iter().filter(|(_, f)| f["extension"] == "version").all(|(_, f)| !f.contains_key("error_kind"))
    );
    let failed: Vec<_> = invocations.iter().filter(|(_, f)| f["extension"] == "boom").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].1["error_kind"], "trap");
    assert!(failed[0].1["worker"] == "0" || failed[0].1["worker"] == "1");
}
