//! Metrics of a pool thread through the `metrics` facade. Each thread
//! registers its handles once per (package, extension) and keeps them: an
//! invocation then costs a lookup in the thread's own map and the
//! recorder's atomic updates, with no registration and no label allocation.

use std::collections::HashMap;

use metrics::{Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram};

use crate::metrics_names::*;

/// What one invocation adds to the metrics.
pub(crate) struct Record<'a> {
    pub package: &'a str,
    pub extension: &'a str,
    pub worker: usize,
    pub seconds: f64,
    /// The error's kind, if it failed.
    pub error: Option<&'static str>,
    pub host_calls: u64,
    pub restores: u64,
    pub background_restores: u64,
    pub peak_memory_bytes: Option<usize>,
}

/// One thread's handles.
#[derive(Default)]
pub(crate) struct Meter {
    packages: HashMap<Box<str>, PackageHandles>,
}

struct PackageHandles {
    peak_memory: Gauge,
    extensions: HashMap<Box<str>, Handles>,
}

struct Handles {
    invocations: Counter,
    seconds: Histogram,
    restores: Counter,
    background_restores: Counter,
    host_calls: Counter,
    /// By error kind, registered when a kind first occurs.
    errors: Vec<(&'static str, Counter)>,
}

impl Meter {
    pub(crate) fn record(&mut self, record: &Record<'_>) {
        let package = match self.packages.get_mut(record.package) {
            Some(package) => package,
            None => self.packages.entry(record.package.into()).or_insert_with(|| PackageHandles {
                peak_memory: metrics::gauge!(PEAK_MEMORY_BYTES, "package" => record.package.to_owned(), "worker" => record.worker.to_string()),
                extensions: HashMap::new(),
            }),
        };
        if let Some(peak) = record.peak_memory_bytes {
            package.peak_memory.set(peak as f64);
        }
        let handles = match package.extensions.get_mut(record.extension) {
            Some(handles) => handles,
            None => package
                .extensions
                .entry(record.extension.into())
                .or_insert_with(|| Handles::new(record.package, record.extension)),
        };
        handles.invocations.increment(1);
        handles.seconds.record(record.seconds);
        if record.host_calls > 0 {
            handles.host_calls.increment(record.host_calls);
        }
        if record.restores > 0 {
            handles.restores.increment(record.restores);
        }
        if record.background_restores > 0 {
            handles.background_restores.increment(record.background_restores);
        }
        if let Some(kind) = record.error {
            let at = match handles.errors.iter().position(|(k, _)| *k == kind) {
                Some(at) => at,
                None => {
                    handles.errors.push((kind, error_counter(record.package, record.extension, kind)));
                    handles.errors.len() - 1
                }
            };
            handles.errors[at].1.increment(1);
        }
    }
}

impl Handles {
    fn new(package: &str, extension: &str) -> Self {
        let labels = [("package", package.to_owned()), ("extension", extension.to_owned())];
        Handles {
            invocations: metrics::counter!(INVOCATIONS_TOTAL, &labels),
            seconds: metrics::histogram!(INVOCATION_SECONDS, &labels),
            restores: metrics::counter!(RESTORES_TOTAL, &labels),
            background_restores: metrics::counter!(BACKGROUND_RESTORES_TOTAL, &labels),
            host_calls: metrics::counter!(HOST_CALLS_TOTAL, &labels),
            errors: Vec::new(),
        }
    }
}

fn error_counter(package: &str, extension: &str, kind: &'static str) -> Counter {
    counter!(ERRORS_TOTAL, "package" => package.to_owned(), "extension" => extension.to_owned(), "kind" => kind)
}

/// An invocation the pool refused before it ran (full queues, shut down).
pub(crate) fn rejected(package: &str, extension: &str, kind: &'static str) {
    error_counter(package, extension, kind).increment(1);
}

/// Describes the metrics to the installed recorder (units and help text).
pub(crate) fn describe() {
    describe_counter!(INVOCATIONS_TOTAL, Unit::Count, "Invocations that ran on the pool's threads.");
    describe_histogram!(INVOCATION_SECONDS, Unit::Seconds, "How long an invocation took on its pool thread.");
    describe_counter!(ERRORS_TOTAL, Unit::Count, "Failed or refused invocations, by error kind.");
    describe_counter!(RESTORES_TOTAL, Unit::Count, "Instance restores to the snapshot.");
    describe_counter!(BACKGROUND_RESTORES_TOTAL, Unit::Count, "Restores that swapped in a spare made off the thread.");
    describe_counter!(HOST_CALLS_TOTAL, Unit::Count, "Host calls the guests made.");
    describe_gauge!(PEAK_MEMORY_BYTES, Unit::Bytes, "Largest memory a thread's instance of the package grew to.");
}
