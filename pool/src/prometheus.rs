//! A small `metrics` recorder that renders the Prometheus text format
//! (version 0.0.4): counters, gauges, and histograms with fixed buckets.
//! No HTTP listener: the embedder serves [`PrometheusRecorder::render`]'s
//! text however it likes (the CLI prints it).
//!
//! Handles are atomics; registering one takes a lock, updating one does not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use metrics::{Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit};

/// Upper bounds of the histogram buckets, in the metric's unit (seconds,
/// for the pool's latency): 1 µs to 10 s.
pub const BUCKETS: &[f64] = &[
    0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005,
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// The metric's name and its labels, in order.
type Id = (String, Vec<(String, String)>);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Id, Arc<AtomicU64>>,
    gauges: BTreeMap<Id, Arc<AtomicU64>>,
    histograms: BTreeMap<Id, Arc<Buckets>>,
    help: BTreeMap<String, String>,
}

/// A recorder whose metrics render as Prometheus text. Clones share the
/// metrics: install one (`metrics::set_global_recorder`), keep a clone to
/// render.
#[derive(Clone, Default)]
pub struct PrometheusRecorder {
    registry: Arc<Mutex<Registry>>,
}

impl PrometheusRecorder {
    /// A recorder with no metrics yet.
    pub fn new() -> Self {
        PrometheusRecorder::default()
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Every metric so far, in the Prometheus text format, sorted by name
    /// and labels.
    pub fn render(&self) -> String {
        let registry = self.registry();
        let mut out = String::new();
        let header = |out: &mut String, name: &str, kind: &str, last: &mut String| {
            if name != last {
                if let Some(help) = registry.help.get(name) {
                    let _ = writeln!(out, "# HELP {name} {help}");
                }
                let _ = writeln!(out, "# TYPE {name} {kind}");
                *last = name.to_owned();
            }
        };
        let mut last_name = String::new();
        for ((name, labels), value) in &registry.counters {
            header(&mut out, name, "counter", &mut last_name);
            let _ = writeln!(out, "{name}{} {}", labels_text(labels, None), value.load(Ordering::Relaxed));
        }
        for ((name, labels), value) in &registry.gauges {
            header(&mut out, name, "gauge", &mut last_name);
            let value = f64::from_bits(value.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}{} {}", labels_text(labels, None), number(value));
        }
        for ((name, labels), buckets) in &registry.histograms {
            header(&mut out, name, "histogram", &mut last_name);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&buckets.counts) {
                cumulative += count.load(Ordering::Relaxed);
                let le = number(*bound);
                let _ = writeln!(out, "{name}_bucket{} {cumulative}", labels_text(labels, Some(&le)));
            }
            let count = buckets.count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{} {count}", labels_text(labels, Some("+Inf")));
            let sum = f64::from_bits(buckets.sum.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}_sum{} {}", labels_text(labels, None), number(sum));
            let _ = writeln!(out, "{name}_count{} {count}", labels_text(labels, None));
        }
        out
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        let help = match unit {
            Some(unit) if !description.contains(unit.as_canonical_label()) => {
                format!("{} ({})", escape_help(&description), unit.as_canonical_label())
            }
            _ => escape_help(&description),
        };
        self.registry().help.insert(key.as_str().to_owned(), help);
    }
}

fn id(key: &Key) -> Id {
    (key.name().to_owned(), key.labels().map(|l| (l.key().to_owned(), l.value().to_owned())).collect())
}

/// `{a="x",b="y"}` (with `le` last for a bucket), or nothing without labels.
fn labels_text(labels: &[(String, String)], le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut text = String::from("{");
    for (i, (key, value)) in labels.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(text, "{key}=\"{}\"", escape_label(value));
    }
    if let Some(le) = le {
        if !labels.is_empty() {
            text.push(',');
        }
        let _ = write!(text, "le=\"{le}\"");
    }
    text.push('}');
    text
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Prometheus writes it.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{value}")
    }
}

/// A histogram: a count per bucket (not cumulative), the count and the sum.
struct Buckets {
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// An `f64`'s bits.
    sum: AtomicU64,
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        if let Some(bucket) = BUCKETS.iter().position(|bound| value <= *bound) {
            self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + value).to_bits()));
    }
}

impl Recorder for PrometheusRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.registry().counters.entry(id(key)).or_default().clone())
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.registry().gauges.entry(id(key)).or_default().clone())
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let mut registry = self.registry();
        let buckets = registry.histograms.entry(id(key)).or_insert_with(|| {
            Arc::new(Buckets {
                counts: BUCKETS.iter().map(|_| AtomicU64::new(0)).collect(),
                count: AtomicU64::new(0),
                sum: AtomicU64::new(0),
            })
        });
        Histogram::from_arc(buckets.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_cumulative_histograms() {
        let recorder = PrometheusRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("c_total", "Things \"done\".");
            metrics::counter!("c_total", "package" => "p\"q").increment(3);
            metrics::gauge!("g_bytes").set(1024.0);
            let h = metrics::histogram!("h_seconds", "extension" => "e");
            h.record(0.000_003);
            h.record(0.5);
            h.record(100.0);
        });
        let text = recorder.render();
        assert!(text.contains("# HELP c_total Things \"done\".\n# TYPE c_total counter\n"), "{text}");
        assert!(text.contains("c_total{package=\"p\\\"q\"} 3\n"), "{text}");
        assert!(text.contains("# TYPE g_bytes gauge\ng_bytes 1024\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{extension=\"e\",le=\"0.000002\"} 0\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{extension=\"e\",le=\"0.000005\"} 1\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{extension=\"e\",le=\"0.5\"} 2\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{extension=\"e\",le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{extension=\"e\",le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("h_seconds_count{extension=\"e\"} 3\n"), "{text}");
        assert!(text.contains("h_seconds_sum{extension=\"e\"} 100.500003"), "{text}");
    }
}
