//! `extwasm bench`: invokes one extension on a pool of N threads for a
//! while and reports throughput and latency, per thread and in total.
//!
//! One caller thread keeps up to 64 invocations per pool thread in flight
//! (`Pool::submit_with`) and collects them half a window at a time, so the
//! pool's threads rarely wait for it and rarely wake it; latency
//! is each invocation's time on its pool thread (`Served::elapsed`), not
//! the time it waited in a queue (which depends only on how many are kept
//! in flight). Invocations and rates count the successful ones; failures
//! are counted by kind.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use extwasm_engine::{Config, Engine, JsonState};
use extwasm_pool::prometheus::{BUCKETS, PrometheusRecorder};
use extwasm_pool::{Pool, PoolConfig, PoolError};
use serde_json::{Value as Json, json};

/// Invocations kept in flight per pool thread.
const IN_FLIGHT_PER_THREAD: usize = 64;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The extension module (.wasm, or .wat text).
    module: PathBuf,
    /// The extension to invoke (an export of the module).
    extension: String,
    /// JSON state file the extension reads (the same state for every invocation).
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Pool threads, each with its own worker.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: u32,
    /// How long to invoke, in seconds.
    #[arg(long, value_name = "S", default_value_t = 5.0, value_parser = parse_seconds)]
    seconds: f64,
    /// Print one JSON object (with `invocations_per_second`) instead of a table.
    #[arg(long)]
    json: bool,
    /// At the end, print the pool's metrics in the Prometheus text format.
    #[arg(long)]
    metrics: bool,
    /// Package name (default: the module's file stem).
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
    /// Memory limit of each instance, in 64 KiB pages.
    #[arg(long, value_name = "N", default_value_t = Config::default().get_memory_limit_pages())]
    memory_limit_pages: u32,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err(format!("{text:?} is not a number of seconds in (0, 86400]")),
    }
}

/// Why the bench could not run: bad arguments, unreadable files, a module
/// that does not load, a pool that does not start.
pub struct BenchError(pub String);

impl<E: std::fmt::Display> From<E> for BenchError {
    fn from(error: E) -> Self {
        BenchError(error.to_string())
    }
}

/// Nanosecond latencies in log-linear buckets (64 per power of two, so a
/// quantile is within 1.6 % of the sample), in constant memory however long
/// the bench runs.
#[derive(Clone)]
struct Latencies {
    counts: Vec<u64>,
    total: u64,
}

const SUB_BUCKET_BITS: u32 = 6;
/// Values below this have a bucket each.
const EXACT_BELOW: u64 = 2 << SUB_BUCKET_BITS;

impl Latencies {
    fn new() -> Self {
        Latencies { counts: vec![0; (64 - SUB_BUCKET_BITS as usize + 1) << SUB_BUCKET_BITS], total: 0 }
    }

    fn index(nanos: u64) -> usize {
        if nanos < EXACT_BELOW {
            return nanos as usize;
        }
        let shift = 64 - nanos.leading_zeros() - SUB_BUCKET_BITS - 1;
        (((shift + 1) as usize) << SUB_BUCKET_BITS) + ((nanos >> shift) as usize & ((1 << SUB_BUCKET_BITS) - 1))
    }

    /// The smallest value of bucket `index`.
    fn lowest(index: usize) -> u64 {
        if (index as u64) < EXACT_BELOW {
            return index as u64;
        }
        let shift = (index >> SUB_BUCKET_BITS) as u32 - 1;
        ((1u64 << SUB_BUCKET_BITS) | (index as u64 & ((1 << SUB_BUCKET_BITS) - 1))) << shift
    }

    fn record(&mut self, nanos: u64) {
        self.counts[Self::index(nanos)] += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Latencies) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// The latency at `quantile` (0..=1), in microseconds.
    fn micros(&self, quantile: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((self.total as f64 * quantile).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return (Self::lowest(index) as f64 / 1e3 * 100.0).round() / 100.0;
            }
        }
        0.0
    }
}

/// What one pool thread did.
struct PerThread {
    invocations: u64,
    latencies: Latencies,
}

/// Runs the bench; returns what to print.
pub fn bench(args: &BenchArgs) -> Result<String, BenchError> {
    let recorder = args.metrics.then(PrometheusRecorder::new);
    if let Some(recorder) = &recorder {
        metrics::set_global_recorder(recorder.clone())
            .map_err(|_| BenchError("a metrics recorder is already installed".into()))?;
    }
    let threads = args.threads as usize;
    let config = Config::default()
        .memory_limit_pages(args.memory_limit_pages)
        .max_instances(Config::default().get_max_instances().max(args.threads * 2 + 2));
    let engine = Engine::new(config)?;
    let name = args.package.clone().unwrap_or_else(|| crate::package_name(&args.module));
    let package = engine.load_package_file(&name, &args.module, &[&args.extension])?;
    let state = Arc::new(JsonState::from_path(&args.state)?);
    let in_flight = threads * IN_FLIGHT_PER_THREAD;
    let pool = Pool::new(&engine, &[package], PoolConfig::default().threads(threads).queue_capacity(in_flight))?;

    let mut per_thread: Vec<PerThread> =
        (0..threads).map(|_| PerThread { invocations: 0, latencies: Latencies::new() }).collect();
    let mut errors: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut first_error: Option<String> = None;
    let mut pending = VecDeque::with_capacity(in_flight);
    let mut tally = |result: Result<(usize, Duration), PoolError>| match result {
        Ok((worker, elapsed)) => {
            let thread = &mut per_thread[worker];
            thread.invocations += 1;
            thread.latencies.record(elapsed.as_nanos().min(u64::MAX as u128) as u64);
        }
        Err(error) => {
            *errors.entry(error.kind()).or_default() += 1;
            first_error.get_or_insert_with(|| error.to_string());
        }
    };
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.seconds);
    while Instant::now() < until {
        while pending.len() < in_flight {
            match pool.submit_with(&name, &args.extension, state.clone(), |served| (served.worker(), served.elapsed()))
            {
                Ok(invocation) => pending.push_back(invocation),
                // The queues hold what is in flight; a full one means
                // waiting for the oldest.
                Err(PoolError::QueueFull { .. }) => break,
                Err(error) => return Err(error.into()),
            }
        }
        // Wait for the middle one first, then take the older half: they
        // are mostly done by then, so the caller sleeps (and a pool thread
        // wakes it) once per half window rather than once per invocation.
        let half = pending.len() / 2;
        if let Some(middle) = pending.remove(half) {
            tally(middle.wait());
        }
        for oldest in pending.drain(..half) {
            tally(oldest.wait());
        }
    }
    for invocation in pending {
        tally(invocation.wait());
    }
    let wall = started.elapsed().as_secs_f64();
    pool.shutdown();

    let mut total = Latencies::new();
    for thread in &per_thread {
        total.merge(&thread.latencies);
    }
    let invocations: u64 = per_thread.iter().map(|t| t.invocations).sum();
    let failures: u64 = errors.values().sum();
    let rate = |n: u64| ((n as f64 / wall) * 10.0).round() / 10.0;
    let mut out = if args.json {
        let threads_json: Vec<Json> = per_thread
            .iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "thread": i,
                    "invocations": t.invocations,
                    "invocations_per_second": rate(t.invocations),
                    "p50_micros": t.latencies.micros(0.5),
                    "p99_micros": t.latencies.micros(0.99),
                    "p999_micros": t.latencies.micros(0.999),
                })
            })
            .collect();
        let report = json!({
            "package": name,
            "extension": args.extension,
            "threads": threads,
            "seconds": (wall * 1000.0).round() / 1000.0,
            "invocations": invocations,
            "failures": failures,
            "errors": errors,
            "first_error": first_error,
            "invocations_per_second": rate(invocations),
            "p50_micros": total.micros(0.5),
            "p99_micros": total.micros(0.99),
            "p999_micros": total.micros(0.999),
            "per_thread": threads_json,
        });
        format!("{report}\n")
    } else {
        let mut text = format!(
            "{name}/{} on {threads} thread(s) for {wall:.2} s: {invocations} invocations succeeded, {failures} failed\n\
             {:>8} {:>12} {:>14} {:>10} {:>10} {:>10}\n",
            args.extension, "thread", "invocations", "per second", "p50 µs", "p99 µs", "p999 µs"
        );
        let mut row = |label: String, n: u64, l: &Latencies| {
            text += &format!(
                "{label:>8} {n:>12} {:>14.1} {:>10.2} {:>10.2} {:>10.2}\n",
                rate(n),
                l.micros(0.5),
                l.micros(0.99),
                l.micros(0.999)
            );
        };
        for (i, thread) in per_thread.iter().enumerate() {
            row(i.to_string(), thread.invocations, &thread.latencies);
        }
        row("total".into(), invocations, &total);
        for (kind, count) in &errors {
            text += &format!("errors {kind}: {count}\n");
        }
        if let Some(error) = &first_error {
            text += &format!("first error: {error}\n");
        }
        text
    };
    if let Some(recorder) = recorder {
        debug_assert!(BUCKETS.len() > 1);
        out += &recorder.render();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_keep_quantiles_within_two_percent() {
        let mut latencies = Latencies::new();
        for nanos in 1..=100_000u64 {
            latencies.record(nanos);
        }
        for (quantile, exact) in [(0.5, 50.0), (0.99, 99.0), (0.999, 99.9)] {
            let got = latencies.micros(quantile);
            assert!((got - exact).abs() / exact < 0.02, "p{quantile}: {got} µs, not ≈ {exact}");
        }
        for nanos in [0, 1, 63, 64, 65, 1000, 123_456_789, u64::MAX] {
            let lowest = Latencies::lowest(Latencies::index(nanos));
            assert!(lowest <= nanos && nanos - lowest <= nanos / 64, "{nanos} in a bucket from {lowest}");
        }
    }
}
