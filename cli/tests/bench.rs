//! `extwasm bench` end to end, on a small text-format module.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value as Json;

/// `version` inserts {"v": 1}; `boom` traps.
const MODULE: &str = r#"(module
  (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $new (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "sys.Viewv")
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "version")
    (call $put (call $new (call $key (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 0)))
               (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 1)))
  (func (export "boom") unreachable))"#;

/// The module and an empty state, in a directory of this test's own.
fn files(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("extwasm-bench-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (module, state) = (dir.join("versioned.wat"), dir.join("state.json"));
    std::fs::write(&module, MODULE).unwrap();
    std::fs::write(&state, "{}").unwrap();
    (module, state)
}

fn bench(test: &str, extension: &str, extra: &[&str]) -> Output {
    let (module, state) = files(test);
    let mut args = vec!["bench", module.to_str().unwrap(), extension, "--state", state.to_str().unwrap()];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_extwasm")).args(&args).output().expect("extwasm runs")
}

fn first_line_json(output: &Output) -> Json {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("first line is JSON ({e}): {stdout}"))
}

#[test]
fn json_reports_throughput_and_latency_per_thread_and_in_total() {
    let out = bench("json", "version", &["--threads", "2", "--seconds", "0.5", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = first_line_json(&out);
    assert_eq!(report["package"], "versioned");
    assert_eq!(report["threads"], 2);
    assert_eq!(report["failures"], 0);
    let invocations = report["invocations"].as_u64().unwrap();
    assert!(invocations > 100, "{report}");
    let rate = report["invocations_per_second"].as_f64().unwrap();
    let seconds = report["seconds"].as_f64().unwrap();
    assert!(seconds >= 0.5, "{report}");
    assert!((rate * seconds - invocations as f64).abs() <= invocations as f64 * 0.01 + 1.0, "{report}");
    let threads = report["per_thread"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    let per_thread: u64 = threads.iter().map(|t| t["invocations"].as_u64().unwrap()).sum();
    assert_eq!(per_thread, invocations);
    for t in threads.iter().chain([&report]) {
        let (p50, p99, p999) =
            (t["p50_micros"].as_f64().unwrap(), t["p99_micros"].as_f64().unwrap(), t["p999_micros"].as_f64().unwrap());
        assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{t}");
    }
}

#[test]
fn metrics_prints_the_prometheus_text_after_the_report() {
    let out = bench("metrics", "version", &["--seconds", "0.3", "--json", "--metrics"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = first_line_json(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let labels = r#"{package="versioned",extension="version"}"#;
    let invocations = report["invocations"].as_u64().unwrap();
    assert!(stdout.contains("# TYPE extwasm_invocations_total counter\n"), "{stdout}");
    assert!(stdout.contains(&format!("extwasm_invocations_total{labels} {invocations}\n")), "{stdout}");
    assert!(stdout.contains(&format!("extwasm_host_calls_total{labels} {}\n", invocations * 3)), "{stdout}");
    assert!(stdout.contains("# TYPE extwasm_invocation_seconds histogram\n"), "{stdout}");
    let count = format!("extwasm_invocation_seconds_count{labels} {invocations}\n");
    assert!(stdout.contains(&count), "{stdout}");
    assert!(stdout.contains(r#"extwasm_peak_memory_bytes{package="versioned",worker="0"} 65536"#), "{stdout}");
}

#[test]
fn the_table_has_a_row_per_thread_and_a_total_and_counts_failures_by_kind() {
    let out = bench("table", "boom", &["--threads", "2", "--seconds", "0.3"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("versioned/boom on 2 thread(s)"), "{stdout}");
    assert!(lines[1].contains("p999 µs"), "{stdout}");
    assert!(lines[2].trim_start().starts_with("0 ") && lines[3].trim_start().starts_with("1 "), "{stdout}");
    assert!(lines[4].trim_start().starts_with("total "), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("errors trap: ")), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("first error: ") && l.contains("unreachable")), "{stdout}");
}

#[test]
fn bad_arguments_and_modules_exit_2_with_one_line() {
    let out = bench("args", "version", &["--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench("seconds", "version", &["--seconds", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = bench("missing", "nope", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("extwasm: ") && stderr.contains("nope") && stderr.lines().count() == 1, "{stderr}");
}
