//! Running one case — a module and its schedule of invocations — through
//! the engine, measuring each step, and judging it with the oracles.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, Package, Worker};
use serde_json::Value as Json;

use crate::alloc;
use crate::oracle::{self, Finding, Oracle};
use crate::state;

/// The package name of every case.
pub const PKG: &str = "fuzz";

/// The fuzzer's memory limit per instance: 4 MiB, small enough that
/// "all of memory" is cheap to pass around, large enough for the 64 000-byte
/// exchange buffer (1.7 × it is the minimum).
pub const MEMORY_LIMIT_PAGES: u32 = 64;

/// The engine's limits and the oracles' tolerances.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Invocation deadline (`Config::timeout`).
    pub timeout: Duration,
    /// Load deadline (`Config::load_timeout`).
    pub load_timeout: Duration,
    /// `Config::host_budget_bytes`.
    pub host_budget: usize,
    /// Instance memory limit (`Config::memory_limit_pages`).
    pub memory_limit_pages: u32,
    /// Added to twice the budget for the peak check. It covers what the host
    /// allocates per invocation whatever the guest does — wasmtime's
    /// re-instantiation on a restore, a trap's backtrace, the error, a
    /// result larger than the exchange buffer copied on its way to the
    /// guest (the state's longest value is 100 000 bytes) — measured at
    /// under 300 KiB in debug builds; 1 MiB leaves room for the allocator
    /// of a future engine. "Twice the budget" is capacity doubling: a `Vec`
    /// holding up to the budget may have twice that allocated.
    pub peak_slack: usize,
    /// How much more a failed invocation may leave allocated than there was
    /// before it. A restore replaces the store; what may stay is first-time
    /// bookkeeping (stats entries, caches) and the capacity of per-invocation
    /// tables sized for an ordinary invocation (a few thousand handles). Far
    /// below what a hostile invocation can make the host hold (megabytes),
    /// which is what this check is for.
    pub retained_slack: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(100),
            load_timeout: Duration::from_millis(500),
            host_budget: 1 << 20,
            memory_limit_pages: MEMORY_LIMIT_PAGES,
            peak_slack: 1 << 20,
            retained_slack: 256 << 10,
        }
    }
}

impl Limits {
    /// The engine configuration the fuzzer runs with: small limits so the
    /// memory oracle means something, restores on the invoking thread so
    /// the allocator counts belong to the invocation.
    pub fn config(&self) -> Config {
        Config::default()
            .memory_limit_pages(self.memory_limit_pages)
            .timeout(Some(self.timeout))
            .load_timeout(Some(self.load_timeout))
            .host_budget_bytes(self.host_budget)
            .background_restore_above(None)
    }

    /// Most live bytes an invocation may add at its peak.
    pub fn peak_limit(&self) -> isize {
        (2 * self.host_budget + self.peak_slack) as isize
    }
}

/// A module and how to invoke it.
#[derive(Clone, Debug)]
pub struct Case {
    /// `seed S case N` or the replayed file.
    pub label: String,
    /// `abi`, `smith` or `replay`.
    pub generator: &'static str,
    /// WAT text or binary.
    pub wasm: Vec<u8>,
    /// Extensions to load (the known-good `ok` among them when `has_ok`).
    pub extensions: Vec<String>,
    /// Whether `ok` is the known-good extension (one insert into `sys.Ok`).
    pub has_ok: bool,
    /// Whether the module must load (it is valid by the ABI and its
    /// initialisation cannot fail).
    pub must_load: bool,
    /// How many times every extension is invoked.
    pub rounds: usize,
}

impl Case {
    /// The invocations, in order: every extension but `ok`, `rounds` times
    /// (when there is no known-good `ok`, it is one of them).
    pub fn schedule(&self) -> Vec<&str> {
        let targets: Vec<&str> =
            self.extensions.iter().map(String::as_str).filter(|e| !(self.has_ok && *e == "ok")).collect();
        (0..self.rounds).flat_map(|_| targets.iter().copied()).collect()
    }
}

/// Where a runner thread is, for the watchdog.
#[derive(Debug, Default)]
pub struct Progress {
    current: Mutex<Option<(String, Instant)>>,
}

impl Progress {
    fn enter(&self, phase: String) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((phase, Instant::now()));
    }

    fn leave(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The phase running now and for how long.
    pub fn current(&self) -> Option<(String, Duration)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(p, t)| (p.clone(), t.elapsed()))
    }
}

/// One invocation, measured.
#[derive(Clone, Debug)]
pub struct Step {
    /// The extension.
    pub extension: String,
    /// Whether this was the recovery check after a failure.
    pub recovery: bool,
    /// `None` when it succeeded; the kind otherwise.
    pub kind: Option<ErrorKind>,
    /// The error's text, or the number of intents.
    pub message: String,
    /// The `message` field of a `trap` error.
    pub trap_message: Option<String>,
    /// The intents as JSON (recovery checks only).
    pub intents: Vec<Json>,
    /// Wall time of `invoke`.
    pub elapsed: Duration,
    /// CPU time of the invoking thread during `invoke`: next to the wall
    /// time, it tells an engine that kept working past the deadline from a
    /// machine that did not give it the CPU.
    pub cpu: Duration,
    /// Peak live bytes above the level before the call (this thread).
    pub peak_above: isize,
    /// Live bytes above the level before the call, once the error is dropped.
    pub retained: isize,
    /// A panic that escaped `invoke`.
    pub panic: Option<String>,
    /// Whether the engine retried the invocation (after running out of
    /// memory), so `elapsed` covers two attempts.
    pub retried: bool,
}

impl Step {
    /// `ok` or the error kind.
    pub fn outcome(&self) -> &'static str {
        match (&self.panic, self.kind) {
            (Some(_), _) => "panic",
            (None, None) => "ok",
            (None, Some(kind)) => kind.as_str(),
        }
    }
}

/// Everything that happened to one case.
#[derive(Debug, Default)]
pub struct Execution {
    /// `ok`, or the load error kind, or `panic`.
    pub load: String,
    /// The load error's text.
    pub load_message: String,
    /// Wall time of `load_package`.
    pub load_elapsed: Duration,
    /// The invocations, in order.
    pub steps: Vec<Step>,
    /// Findings from load and add_package.
    pub findings: Vec<Finding>,
}

thread_local! {
    /// The last panic on this thread: message and location.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that records a panic's message and location
/// for the report, and prints nothing for panics the runner catches.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string payload>".into());
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            let caught = LAST_PANIC.with(|last| {
                let mut last = last.borrow_mut();
                let catching = last.is_some();
                *last = Some(format!("{message}{location}"));
                catching
            });
            if !caught {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message and location)`.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    // An empty record marks "a panic here is caught": the hook stays quiet.
    LAST_PANIC.with(|last| *last.borrow_mut() = Some(String::new()));
    let result = catch_unwind(AssertUnwindSafe(f));
    let recorded = LAST_PANIC.with(|last| last.borrow_mut().take()).unwrap_or_default();
    result.map_err(|_| recorded)
}

/// Loads and invokes `case` on `engine`, recording every step.
pub fn execute(engine: &Engine, case: &Case, state: &JsonState, progress: &Progress) -> Execution {
    install_panic_hook();
    let mut run = Execution::default();
    let names: Vec<&str> = case.extensions.iter().map(String::as_str).collect();

    progress.enter(format!("load {}", case.label));
    let started = Instant::now();
    let loaded = guarded(|| engine.load_package(PKG, &case.wasm, &names));
    run.load_elapsed = started.elapsed();
    progress.leave();
    let package = match loaded {
        Err(panic) => {
            run.load = "panic".into();
            run.findings.push(Finding {
                oracle: Oracle::Panic,
                kind: "load".into(),
                detail: format!("load_package panicked: {panic}"),
            });
            return run;
        }
        Ok(Err(error)) => {
            run.load = error.kind().as_str().into();
            run.load_message = error.to_string();
            judge_load_error(case, &error, &mut run.findings);
            return run;
        }
        Ok(Ok(package)) => package,
    };
    run.load = "ok".into();

    progress.enter(format!("add_package {}", case.label));
    let added = guarded(|| add(engine, &package));
    progress.leave();
    let mut worker = match added {
        Err(panic) => {
            run.findings.push(Finding {
                oracle: Oracle::Panic,
                kind: "add_package".into(),
                detail: format!("add_package panicked: {panic}"),
            });
            return run;
        }
        Ok(Err(error)) => {
            run.load = format!("add_package:{}", error.kind());
            run.load_message = error.to_string();
            judge_load_error(case, &error, &mut run.findings);
            return run;
        }
        Ok(Ok(worker)) => worker,
    };

    let mut invoke = |extension: &str, recovery: bool| {
        progress.enter(format!("invoke {extension} of {}", case.label));
        let step = invoke_measured(&mut worker, extension, recovery, state);
        progress.leave();
        step
    };
    // The module works at all (and its first invocation's one-off
    // allocations are out of the way of the retained-memory check).
    if case.has_ok {
        run.steps.push(invoke("ok", true));
    }
    for extension in case.schedule() {
        let step = invoke(extension, false);
        let failed = step.kind.is_some();
        let panicked = step.panic.is_some();
        run.steps.push(step);
        if panicked {
            // The worker may be in any state after a panic: stop here.
            break;
        }
        if failed && case.has_ok {
            let check = invoke("ok", true);
            let stop = check.panic.is_some();
            run.steps.push(check);
            if stop {
                break;
            }
        }
    }
    run
}

fn add(engine: &Engine, package: &Package) -> Result<Worker<JsonState>, Error> {
    let mut worker = Worker::new(engine);
    worker.add_package(package)?;
    Ok(worker)
}

fn judge_load_error(case: &Case, error: &Error, findings: &mut Vec<Finding>) {
    if !oracle::LOAD_KINDS.contains(&error.kind()) {
        findings.push(Finding {
            oracle: Oracle::Untyped,
            kind: error.kind().as_str().into(),
            detail: format!("loading failed with a {} error: {error}", error.kind()),
        });
    } else if error.to_string().contains("extwasm: host call") {
        // The engine's internal wording instead of what went wrong.
        findings.push(Finding {
            oracle: Oracle::Untyped,
            kind: "load-internal-message".into(),
            detail: format!("a load error that says what the engine's plumbing did, not what the guest did: {error}"),
        });
    } else if case.must_load {
        findings.push(Finding {
            oracle: Oracle::Load,
            kind: error.kind().as_str().into(),
            detail: format!("a module valid by the ABI, with initialisation that cannot fail, did not load: {error}"),
        });
    }
}

fn invoke_measured(worker: &mut Worker<JsonState>, extension: &str, recovery: bool, state: &JsonState) -> Step {
    let retries = |worker: &Worker<JsonState>| worker.stats(PKG).map_or(0, |s| s.retries);
    let retries_before = retries(worker);
    let base = alloc::thread_live();
    alloc::reset_thread_peak();
    let cpu_started = thread_cpu_time();
    let started = Instant::now();
    let result = guarded(|| match worker.invoke(PKG, extension, state) {
        // Measure before converting the intents to JSON (that is ours).
        Ok(done) => {
            let (elapsed, peak) = (started.elapsed(), alloc::thread_peak());
            let intents =
                if recovery { done.intents().map(|i| JsonState::intent_json(&i)).collect() } else { Vec::new() };
            Ok((elapsed, peak, done.intents().len(), intents))
        }
        Err(error) => Err((started.elapsed(), alloc::thread_peak(), Box::new(error))),
    });
    let mut step = Step {
        extension: extension.to_owned(),
        recovery,
        kind: None,
        message: String::new(),
        trap_message: None,
        intents: Vec::new(),
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        peak_above: 0,
        retained: 0,
        panic: None,
        retried: false,
    };
    match result {
        Err(panic) => {
            step.elapsed = started.elapsed();
            step.peak_above = alloc::thread_peak() - base;
            step.panic = Some(panic);
        }
        Ok(Ok((elapsed, peak, count, intents))) => {
            step.elapsed = elapsed;
            step.peak_above = peak - base;
            step.message = format!("{count} intents");
            step.intents = intents;
        }
        Ok(Err((elapsed, peak, error))) => {
            step.elapsed = elapsed;
            step.peak_above = peak - base;
            step.kind = Some(error.kind());
            step.message = truncate(&error.to_string(), 300);
            if let Error::Trap { message, .. } = &*error {
                step.trap_message = Some(truncate(message, 300));
            }
            drop(error);
            step.retained = alloc::thread_live() - base;
        }
    }
    step.cpu = thread_cpu_time().saturating_sub(cpu_started);
    step.retried = step.panic.is_none() && retries(worker) > retries_before;
    step
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec, and CLOCK_THREAD_CPUTIME_ID
    // is a clock every Linux has; on failure `now` stays zero.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// `text` cut to about `max` bytes, control characters escaped (guests put
/// anything in their panic messages).
fn truncate(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.len() >= max {
            return format!("{out}… ({} bytes)", text.len());
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A finding of one step: which step, and what.
#[derive(Clone, Debug)]
pub struct StepFinding {
    /// Index into [`Execution::steps`] (`None`: load).
    pub step: Option<usize>,
    /// The finding.
    pub finding: Finding,
}

/// Judges an execution with every oracle. Deadline overruns are returned
/// apart: the caller confirms them by running the case again.
pub fn judge(run: &Execution, limits: &Limits) -> (Vec<StepFinding>, Vec<StepFinding>) {
    let mut findings: Vec<StepFinding> =
        run.findings.iter().map(|f| StepFinding { step: None, finding: f.clone() }).collect();
    let mut overruns = Vec::new();
    let expected = state::ok_intent();
    let measure_memory = alloc::installed();
    for (i, step) in run.steps.iter().enumerate() {
        let mut add = |finding: Option<Finding>| {
            if let Some(finding) = finding {
                findings.push(StepFinding { step: Some(i), finding });
            }
        };
        if let Some(panic) = &step.panic {
            add(Some(Finding {
                oracle: Oracle::Panic,
                kind: "invoke".into(),
                detail: format!("invoke of {} panicked: {panic}", step.extension),
            }));
            continue;
        }
        let outcome = step.outcome();
        if let Some(kind) = step.kind {
            add(oracle::check_error(kind, &step.message, step.trap_message.as_deref()));
        }
        if let Some(mut overrun) = oracle::check_deadline(step.elapsed, limits.timeout, step.kind) {
            overrun.detail += &format!(" ({:.1} ms of it on the CPU)", oracle::ms(step.cpu));
            if step.retried {
                overrun.detail += " (the engine retried it once after it ran out of memory: two attempts)";
            }
            overruns.push(StepFinding { step: Some(i), finding: overrun });
        }
        add(oracle::check_timeout_reported_as(step.elapsed, limits.timeout, step.kind, step.retried));
        if measure_memory {
            add(oracle::check_peak(step.peak_above, limits.peak_limit(), limits.host_budget, outcome));
            if step.kind.is_some() {
                add(oracle::check_retained(step.retained, limits.retained_slack as isize, outcome));
            }
        }
        // The check after a failure (the first `ok` checks that the module works at all).
        if step.recovery && i > 0 {
            let result = match step.kind {
                None => Ok(step.intents.as_slice()),
                Some(_) => Err(step.message.as_str()),
            };
            add(oracle::check_recovery(result, &expected));
        }
    }
    (findings, overruns)
}

/// A runner: one engine, shared by the cases it runs.
pub struct Runner {
    /// The engine.
    pub engine: Engine,
    /// The limits it was made with.
    pub limits: Limits,
    /// The state every case runs against.
    pub state: JsonState,
    /// Where the runner is, for a watchdog.
    pub progress: Arc<Progress>,
}

/// The result of [`Runner::run`].
#[derive(Debug)]
pub struct Report {
    /// The first execution.
    pub run: Execution,
    /// Confirmed findings, with their step.
    pub findings: Vec<StepFinding>,
    /// Deadline overruns that did not happen again on the second run.
    pub unconfirmed: Vec<StepFinding>,
}

impl Runner {
    /// A runner with `limits`.
    pub fn new(limits: Limits) -> Result<Self, Error> {
        Ok(Runner {
            engine: Engine::new(limits.config())?,
            limits,
            state: state::state(),
            progress: Arc::new(Progress::default()),
        })
    }

    /// Executes and judges `case`. The machine is shared and noisy, so a
    /// deadline overrun counts when the same step overruns again when the
    /// case runs a second time, and in at least one of the two the invoking
    /// thread was on the CPU for half the wall time or more (or for longer
    /// than the allowed time anyway). A guest is interrupted at the deadline
    /// by wall-clock time whatever CPU it got, so an engine that goes on past
    /// it keeps using the CPU; an overrun made of waiting for the CPU does
    /// not. Overruns that fail this are reported as noise, with figures.
    pub fn run(&self, case: &Case) -> Report {
        let run = execute(&self.engine, case, &self.state, &self.progress);
        let (mut findings, overruns) = judge(&run, &self.limits);
        let mut unconfirmed = Vec::new();
        if !overruns.is_empty() {
            let again = execute(&self.engine, case, &self.state, &self.progress);
            let (_, overruns_again) = judge(&again, &self.limits);
            let allowed = oracle::allowed_wall(self.limits.timeout);
            let engine_kept_working =
                |step: &Step| step.cpu > allowed || step.cpu.as_secs_f64() >= 0.5 * step.elapsed.as_secs_f64();
            for mut overrun in overruns {
                let second = overruns_again.iter().find(|o| o.step == overrun.step);
                let steps = overrun.step.map(|i| (&run.steps[i], again.steps.get(i)));
                match (second, steps) {
                    (Some(second), Some((first_step, Some(second_step))))
                        if engine_kept_working(first_step) || engine_kept_working(second_step) =>
                    {
                        overrun.finding.detail += &format!("; again on a second run: {}", second.finding.detail);
                        findings.push(overrun);
                    }
                    (second, _) => {
                        if let Some(second) = second {
                            overrun.finding.detail += &format!("; second run: {}", second.finding.detail);
                        }
                        unconfirmed.push(overrun);
                    }
                }
            }
        }
        Report { run, findings, unconfirmed }
    }
}
