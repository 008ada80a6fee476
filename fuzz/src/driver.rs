//! The fuzzing loop: generates cases, runs them on a runner thread under a
//! watchdog, collects findings, writes them out and summarises.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::abi_gen::{self, Program};
use crate::alloc;
use crate::minimize;
use crate::oracle::{Finding, Oracle, ms};
use crate::rng::Rng;
use crate::run::{Case, Limits, Progress, Report, Runner};
use crate::smith_gen;

/// How many times every extension of a case is invoked: the second and
/// third rounds meet stale handles in globals, a heap the first round left
/// behind, and a restored instance after failures.
pub const ROUNDS: usize = 3;

/// Options of a fuzzing run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Seed of the run.
    pub seed: u64,
    /// Stop starting new cases after this long.
    pub seconds: Option<u64>,
    /// Stop after this many cases.
    pub iterations: Option<u64>,
    /// Where findings go.
    pub out: PathBuf,
    /// Minimise the first program of every new finding kind (generator 1).
    pub minimize: bool,
    /// An operation still running after this long is a hang.
    pub hang_after: Duration,
    /// Stop after this many hung runner threads (each keeps a CPU busy).
    pub max_hangs: usize,
    /// Process-wide live host bytes at which the watchdog stops the run.
    pub runaway_bytes: isize,
    /// Percentage of cases from wasm-smith.
    pub smith_percent: u32,
    /// Print every finding occurrence, not only the first of each kind.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            seconds: Some(60),
            iterations: None,
            out: default_out(),
            minimize: false,
            hang_after: Duration::from_secs(5),
            max_hangs: 3,
            runaway_bytes: 2048 << 20,
            smith_percent: 30,
            verbose: false,
        }
    }
}

/// Makes case `index` of a run seeded with `seed`: the same case whatever
/// ran before it.
pub fn make_case(seed: u64, index: u64, smith_percent: u32) -> (Case, Option<Program>) {
    let mut rng = Rng::for_case(seed, index);
    let label = format!("seed {seed} case {index}");
    if rng.chance(smith_percent) {
        let module = smith_gen::generate(&mut rng);
        let header = header("smith", false, module.has_ok, ROUNDS);
        let text = match wasmprinter::print_bytes(&module.wasm) {
            Ok(text) => format!("{header}{text}"),
            Err(_) => String::new(),
        };
        // Run what will be saved (the text), so a replay is the same case.
        let wasm = if text.is_empty() { module.wasm } else { text.into_bytes() };
        let case = Case {
            label,
            generator: "smith",
            extensions: extensions_of(&wasm).unwrap_or(module.extensions),
            wasm,
            has_ok: module.has_ok,
            must_load: false,
            rounds: ROUNDS,
        };
        (case, None)
    } else {
        let program = abi_gen::generate(&mut rng);
        (program_case(&program, label, ROUNDS), Some(program))
    }
}

/// The case of a generator-1 program.
pub fn program_case(program: &Program, label: String, rounds: usize) -> Case {
    let wasm = format!("{}{}", header("abi", program.init_benign, true, rounds), program.to_wat()).into_bytes();
    Case {
        label,
        generator: "abi",
        extensions: program.extension_names(),
        wasm,
        has_ok: true,
        must_load: program.init_benign,
        rounds,
    }
}

/// The first line of a saved guest: how to replay it.
fn header(generator: &str, must_load: bool, has_ok: bool, rounds: usize) -> String {
    let load = if must_load { "ok" } else { "any" };
    let ok = if has_ok { "yes" } else { "no" };
    format!(";; extwasm-fuzz generator={generator} expect-load={load} ok={ok} rounds={rounds}\n")
}

/// The case of a saved guest (`.wat` with the header, or a bare `.wasm`).
pub fn replay_case(path: &Path) -> Result<Case, String> {
    let wasm = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let first = wasm.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first).into_owned();
    let field = |name: &str| {
        first.split_whitespace().find_map(|w| w.strip_prefix(name).and_then(|w| w.strip_prefix('='))).map(str::to_owned)
    };
    let extensions = extensions_of(&wasm)?;
    let has_ok = field("ok").map_or(extensions.iter().any(|e| e == "ok"), |v| v == "yes");
    Ok(Case {
        label: path.display().to_string(),
        generator: "replay",
        extensions,
        wasm,
        has_ok,
        must_load: field("expect-load").is_some_and(|v| v == "ok"),
        rounds: field("rounds").and_then(|r| r.parse().ok()).unwrap_or(ROUNDS),
    })
}

/// The exported `() -> ()` functions of a module that may be extensions, in
/// export order.
pub fn extensions_of(wasm: &[u8]) -> Result<Vec<String>, String> {
    use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};
    let binary = wat::parse_bytes(wasm).map_err(|e| format!("not a module: {e}"))?;
    let mut types = Vec::new();
    let mut funcs = Vec::new();
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(&binary) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(|e| e.to_string())?.into_types() {
                        types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => f.params().is_empty() && f.results().is_empty(),
                            _ => false,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if let TypeRef::Func(ty) = import.map_err(|e| e.to_string())?.ty {
                        funcs.push(ty);
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    funcs.push(ty.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|e| e.to_string())?;
                    if export.kind == ExternalKind::Func {
                        names.push((export.name.to_owned(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names
        .into_iter()
        .filter(|(name, index)| {
            !extwasm_abi::is_reserved_extension_name(name)
                && funcs.get(*index as usize).and_then(|&ty| types.get(ty as usize)).copied().unwrap_or(false)
        })
        .map(|(name, _)| name)
        .collect())
}

/// Work for the runner thread.
enum Job {
    Run(Box<Case>),
    Minimize { program: Box<Program>, label: String, signature: String },
}

/// What the runner thread sends back.
enum Done {
    Ran(Box<Report>),
    Minimized(Option<Box<(Case, Report)>>),
}

/// A runner thread and its channels.
struct RunnerThread {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    progress: Arc<Progress>,
}

impl RunnerThread {
    fn spawn(limits: &Limits) -> Result<RunnerThread, String> {
        let runner = Runner::new(limits.clone()).map_err(|e| format!("engine: {e}"))?;
        let progress = runner.progress.clone();
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("extwasm-fuzz-runner".into())
            .spawn(move || {
                for job in job_rx {
                    let done = match job {
                        Job::Run(case) => Done::Ran(Box::new(runner.run(&case))),
                        Job::Minimize { program, label, signature } => {
                            Done::Minimized(minimize::minimize(&runner, &program, &label, &signature).map(Box::new))
                        }
                    };
                    if done_tx.send(done).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("cannot start the runner thread: {e}"))?;
        Ok(RunnerThread { jobs, done, progress })
    }
}

/// Why the watchdog gave up on a job.
enum Lost {
    Hang(String, Duration),
    Runaway(isize, Option<String>),
    Died,
}

/// One kind of finding: how often, and its first occurrence.
#[derive(Debug)]
pub struct FindingKind {
    /// Occurrences.
    pub count: u64,
    /// The first finding.
    pub first: Finding,
    /// Where it was: `seed S case N`, step.
    pub at: String,
    /// The files written for it.
    pub files: Vec<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Cases per generator.
    pub by_generator: BTreeMap<&'static str, u64>,
    /// Load outcomes (`ok` or the error kind).
    pub loads: BTreeMap<String, u64>,
    /// Invocations (recovery checks included).
    pub invocations: u64,
    /// Invocation outcomes (`ok` or the error kind).
    pub outcomes: BTreeMap<String, u64>,
    /// Findings by signature.
    pub findings: BTreeMap<String, FindingKind>,
    /// Deadline overruns that did not repeat on a second run.
    pub unconfirmed: Vec<String>,
    /// Runner threads lost to hangs.
    pub hung_threads: usize,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Largest per-invocation peak seen (bytes above the baseline).
    pub max_peak: isize,
    /// Longest invocation.
    pub max_invoke: Duration,
    /// Time spent loading (compiling, initialising) modules.
    pub load_time: Duration,
    /// Time spent in invocations that ended before the deadline.
    pub fast_time: Duration,
    /// Invocations that reached the deadline (timeouts, overruns).
    pub slow: u64,
    /// Time spent in them.
    pub slow_time: Duration,
}

impl Summary {
    /// Number of finding occurrences.
    pub fn finding_count(&self) -> u64 {
        self.findings.values().map(|k| k.count).sum()
    }

    /// The summary as text.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = String::new();
        let _ = writeln!(s, "extwasm-fuzz summary");
        let _ = writeln!(
            s,
            "  cases (iterations): {} in {:.1} s ({:.1} modules/s); by generator: {:?}",
            self.cases,
            secs,
            self.cases as f64 / secs,
            self.by_generator
        );
        let _ = writeln!(s, "  loads: {:?}", self.loads);
        let _ = writeln!(
            s,
            "  invocations: {} ({:.0}/s); longest {:.1} ms; largest host-memory peak {:.1} KiB",
            self.invocations,
            self.invocations as f64 / secs,
            ms(self.max_invoke),
            self.max_peak as f64 / 1024.0
        );
        let fast = self.invocations - self.slow;
        let _ = writeln!(
            s,
            "  where the time went: loads {:.1} s ({:.1} ms each); {fast} invocations within the deadline {:.2} s ({:.0} µs each); {} that reached it {:.1} s",
            self.load_time.as_secs_f64(),
            ms(self.load_time) / self.cases.max(1) as f64,
            self.fast_time.as_secs_f64(),
            self.fast_time.as_secs_f64() * 1e6 / fast.max(1) as f64,
            self.slow,
            self.slow_time.as_secs_f64()
        );
        let _ = writeln!(s, "  outcomes: {:?}", self.outcomes);
        if !self.unconfirmed.is_empty() {
            let _ = writeln!(s, "  deadline overruns not repeated on a second run (noise, not findings):");
            for u in self.unconfirmed.iter().take(5) {
                let _ = writeln!(s, "    {u}");
            }
        }
        if self.hung_threads > 0 {
            let _ = writeln!(s, "  runner threads lost to hangs: {}", self.hung_threads);
        }
        if let Some(why) = &self.stopped {
            let _ = writeln!(s, "  stopped early: {why}");
        }
        let _ = writeln!(s, "  findings: {} in {} kinds", self.finding_count(), self.findings.len());
        for (signature, kind) in &self.findings {
            let _ = writeln!(s, "  - [{}] {signature} ×{}: first at {}", kind.first.oracle, kind.count, kind.at);
            let _ = writeln!(s, "      {}", kind.first.detail);
            for file in &kind.files {
                let _ = writeln!(s, "      {}", file.display());
            }
        }
        s
    }
}

/// Runs the fuzzer. Returns the summary; findings are written to `out`.
pub fn fuzz(options: &Options, limits: &Limits) -> Result<Summary, String> {
    if !alloc::installed() {
        return Err("the counting allocator is not the global allocator: the host-memory oracle cannot work".into());
    }
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut runner = RunnerThread::spawn(limits)?;
    let mut last_progress = Instant::now();
    let mut index = 0u64;
    println!(
        "extwasm-fuzz: seed {}, deadline {} ms (allowed {} ms), host budget {} B (peak allowed {} B), memory limit {} pages, findings to {}",
        options.seed,
        limits.timeout.as_millis(),
        crate::oracle::allowed_wall(limits.timeout).as_millis(),
        limits.host_budget,
        limits.peak_limit(),
        limits.memory_limit_pages,
        options.out.display()
    );
    loop {
        if options.iterations.is_some_and(|n| index >= n)
            || options.seconds.is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
        let (case, program) = make_case(options.seed, index, options.smith_percent);
        *summary.by_generator.entry(case.generator).or_default() += 1;
        summary.cases += 1;
        let _ = runner.jobs.send(Job::Run(Box::new(case.clone())));
        match watch(&runner, options) {
            Ok(Done::Ran(report)) => {
                record(&mut summary, options, limits, &mut runner, &case, program.as_ref(), &report)
            }
            Ok(Done::Minimized(_)) => unreachable!("no minimisation was asked for"),
            Err(lost) => {
                if lose(&mut summary, options, limits, &mut runner, &case, lost)? {
                    break;
                }
            }
        }
        index += 1;
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "[{secs:6.1}s] cases {} ({:.1}/s) invocations {} ({:.0}/s) findings {} ({} kinds)",
                summary.cases,
                summary.cases as f64 / secs,
                summary.invocations,
                summary.invocations as f64 / secs,
                summary.finding_count(),
                summary.findings.len()
            );
        }
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Waits for the runner's answer, watching for hangs and runaway memory.
fn watch(runner: &RunnerThread, options: &Options) -> Result<Done, Lost> {
    loop {
        match runner.done.recv_timeout(Duration::from_millis(10)) {
            Ok(done) => return Ok(done),
            Err(RecvTimeoutError::Disconnected) => return Err(Lost::Died),
            Err(RecvTimeoutError::Timeout) => {
                let live = alloc::process_live();
                if live > options.runaway_bytes {
                    return Err(Lost::Runaway(live, runner.progress.current().map(|(p, _)| p)));
                }
                if let Some((phase, running)) = runner.progress.current()
                    && running > options.hang_after
                {
                    return Err(Lost::Hang(phase, running));
                }
            }
        }
    }
}

/// Records a lost job as a finding; replaces the runner. Returns whether
/// the run must stop.
fn lose(
    summary: &mut Summary,
    options: &Options,
    limits: &Limits,
    runner: &mut RunnerThread,
    case: &Case,
    lost: Lost,
) -> Result<bool, String> {
    let (finding, stop) = match lost {
        Lost::Hang(phase, running) => {
            summary.hung_threads += 1;
            let deadline = if phase.starts_with("invoke") {
                format!("its deadline is {} ms", limits.timeout.as_millis())
            } else {
                format!("the load deadline is {} ms", limits.load_timeout.as_millis())
            };
            let finding = Finding {
                oracle: Oracle::Hang,
                kind: phase.split_whitespace().next().unwrap_or("?").to_owned(),
                detail: format!("{phase} still running after {:.1} s; {deadline}", running.as_secs_f64()),
            };
            let stop = (summary.hung_threads >= options.max_hangs)
                .then(|| format!("{} runner threads hung (each keeps a CPU busy)", summary.hung_threads));
            (finding, stop)
        }
        Lost::Runaway(live, phase) => {
            let finding = Finding {
                oracle: Oracle::Runaway,
                kind: phase.as_deref().and_then(|p| p.split_whitespace().next()).unwrap_or("?").to_owned(),
                detail: format!(
                    "the process held {live} bytes ({:.0} MiB) of host memory during {}; the watchdog's cap is {} bytes",
                    live as f64 / (1 << 20) as f64,
                    phase.unwrap_or_default(),
                    options.runaway_bytes
                ),
            };
            // The runner is still allocating: nothing to do but stop.
            (finding, Some("host memory ran away".to_owned()))
        }
        Lost::Died => (
            Finding {
                oracle: Oracle::Panic,
                kind: "runner".into(),
                detail: "the runner thread died (a panic outside the guarded calls)".into(),
            },
            None,
        ),
    };
    add_finding(summary, options, case, None, None, finding);
    if let Some(why) = stop {
        summary.stopped = Some(why);
        return Ok(true);
    }
    *runner = RunnerThread::spawn(limits)?;
    Ok(false)
}

fn record(
    summary: &mut Summary,
    options: &Options,
    limits: &Limits,
    runner: &mut RunnerThread,
    case: &Case,
    program: Option<&Program>,
    report: &Report,
) {
    let run = &report.run;
    *summary.loads.entry(run.load.clone()).or_default() += 1;
    summary.load_time += run.load_elapsed;
    for step in &run.steps {
        summary.invocations += 1;
        if step.elapsed >= limits.timeout {
            summary.slow += 1;
            summary.slow_time += step.elapsed;
        } else {
            summary.fast_time += step.elapsed;
        }
        *summary.outcomes.entry(step.outcome().to_owned()).or_default() += 1;
        summary.max_peak = summary.max_peak.max(step.peak_above);
        summary.max_invoke = summary.max_invoke.max(step.elapsed);
    }
    for overrun in &report.unconfirmed {
        summary.unconfirmed.push(format!("{}: {}", case.label, overrun.finding.detail));
    }
    for found in &report.findings {
        let at = match found.step {
            Some(i) => format!("{}, step {i} ({})", case.label, run.steps[i].extension),
            None => format!("{}, load", case.label),
        };
        let first = !summary.findings.contains_key(&found.finding.signature());
        // The first program of a new kind, made small (generator 1 only).
        let minimized = match (first && options.minimize, program) {
            (true, Some(program)) => {
                let _ = runner.jobs.send(Job::Minimize {
                    program: Box::new(program.clone()),
                    label: case.label.clone(),
                    signature: found.finding.signature(),
                });
                match watch(runner, options) {
                    Ok(Done::Minimized(result)) => result,
                    // A hang while minimising: the original is still saved.
                    _ => {
                        summary.hung_threads += 1;
                        if let Ok(fresh) = RunnerThread::spawn(limits) {
                            *runner = fresh;
                        }
                        None
                    }
                }
            }
            _ => None,
        };
        add_finding(summary, options, case, Some(&at), minimized.as_deref(), found.finding.clone());
    }
}

fn add_finding(
    summary: &mut Summary,
    options: &Options,
    case: &Case,
    at: Option<&str>,
    minimized: Option<&(Case, Report)>,
    finding: Finding,
) {
    let at = at.map_or_else(|| case.label.clone(), str::to_owned);
    let signature = finding.signature();
    if options.verbose || !summary.findings.contains_key(&signature) {
        println!("FINDING [{}] {signature} at {at}: {}", finding.oracle, finding.detail);
    }
    if let Some(kind) = summary.findings.get_mut(&signature) {
        kind.count += 1;
        return;
    }
    let files = write_finding(options, case, &at, &finding, minimized).unwrap_or_else(|e| {
        eprintln!("extwasm-fuzz: cannot write the finding: {e}");
        Vec::new()
    });
    for file in &files {
        println!("  saved {}", file.display());
    }
    summary.findings.insert(signature, FindingKind { count: 1, first: finding, at, files });
}

/// Writes the guest and a description; with a minimised program, that too.
fn write_finding(
    options: &Options,
    case: &Case,
    at: &str,
    finding: &Finding,
    minimized: Option<&(Case, Report)>,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    let stem = format!(
        "{}-{}-{}",
        finding.oracle,
        finding.kind.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-', "_"),
        case.label.replace(' ', "")
    );
    let binary = !case.wasm.starts_with(b";;") && case.wasm.starts_with(b"\0asm");
    let guest = options.out.join(format!("{stem}.{}", if binary { "wasm" } else { "wat" }));
    std::fs::write(&guest, &case.wasm).map_err(|e| format!("{}: {e}", guest.display()))?;
    let mut files = vec![guest.clone()];
    let mut text = format!(
        "oracle: {}\nkind: {}\nwhere: {at}\ngenerator: {}\nwhat: {}\nreplay: cargo run -p extwasm-fuzz -- --replay {}\n",
        finding.oracle,
        finding.kind,
        case.generator,
        finding.detail,
        guest.display()
    );
    if let Some(index) = case.label.strip_prefix(&format!("seed {} case ", options.seed)) {
        let _ = writeln!(
            text,
            "regenerate: cargo run -p extwasm-fuzz -- --seed {} --smith-percent {} --dump-case {index}",
            options.seed, options.smith_percent
        );
    }
    if let Some((small_case, report)) = minimized {
        let small = options.out.join(format!("{stem}.min.wat"));
        std::fs::write(&small, &small_case.wasm).map_err(|e| format!("{}: {e}", small.display()))?;
        let _ = writeln!(text, "minimised: {} ({} steps)", small.display(), report.run.steps.len());
        for found in &report.findings {
            let _ = writeln!(text, "  minimised finding: [{}] {}", found.finding.oracle, found.finding.detail);
        }
        files.push(small);
    }
    let description = options.out.join(format!("{stem}.txt"));
    std::fs::write(&description, text).map_err(|e| format!("{}: {e}", description.display()))?;
    files.push(description);
    Ok(files)
}

/// Replays one saved guest, printing every step and every finding. Runs
/// under the same watchdog as the fuzzer. Returns the findings.
pub fn replay(path: &Path, options: &Options, limits: &Limits) -> Result<Vec<Finding>, String> {
    let case = replay_case(path)?;
    let runner = RunnerThread::spawn(limits)?;
    let _ = runner.jobs.send(Job::Run(Box::new(case.clone())));
    let report = match watch(&runner, options) {
        Ok(Done::Ran(report)) => report,
        Ok(Done::Minimized(_)) => unreachable!("no minimisation was asked for"),
        Err(Lost::Hang(phase, running)) => {
            let finding = Finding {
                oracle: Oracle::Hang,
                kind: phase.split_whitespace().next().unwrap_or("?").to_owned(),
                detail: format!("{phase} still running after {:.1} s", running.as_secs_f64()),
            };
            println!("FINDING [{}] {}", finding.oracle, finding.detail);
            return Ok(vec![finding]);
        }
        Err(Lost::Runaway(live, phase)) => {
            let finding = Finding {
                oracle: Oracle::Runaway,
                kind: "?".into(),
                detail: format!("{live} bytes live during {}", phase.unwrap_or_default()),
            };
            println!("FINDING [{}] {}", finding.oracle, finding.detail);
            return Ok(vec![finding]);
        }
        Err(Lost::Died) => return Err("the runner thread died".into()),
    };
    println!("load: {} {:.1} ms {}", report.run.load, ms(report.run.load_elapsed), report.run.load_message);
    for (i, step) in report.run.steps.iter().enumerate() {
        println!(
            "step {i:3} {:>6} {:<22} {:8.2} ms (cpu {:8.2}) peak {:>9} B retained {:>8} B  {}",
            step.extension,
            step.outcome(),
            ms(step.elapsed),
            ms(step.cpu),
            step.peak_above,
            step.retained,
            step.panic.as_deref().unwrap_or(&step.message)
        );
    }
    for overrun in &report.unconfirmed {
        println!("unconfirmed overrun at step {:?}: {}", overrun.step, overrun.finding.detail);
    }
    for found in &report.findings {
        println!("FINDING [{}] step {:?}: {}", found.finding.oracle, found.step, found.finding.detail);
    }
    Ok(report.findings.iter().map(|f| f.finding.clone()).collect())
}

/// Where findings go by default: `target/fuzz-findings` of the workspace
/// (or of `CARGO_TARGET_DIR`).
pub fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).join("target"));
    target.join("fuzz-findings")
}
