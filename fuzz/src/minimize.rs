//! Makes a generator-1 program that shows a finding as small as it will
//! go, so it can become a readable regression test.
//!
//! Greedy one-at-a-time reduction (a poor man's delta debugging): drop
//! whole extensions, then rounds, then callback sub-programs, then single
//! statements from the end of each body, and the initialisation; keep a
//! change when the finding (same oracle and kind) still shows. Every
//! statement is stack-neutral, so every candidate is a valid module.

use std::time::{Duration, Instant};

use crate::abi_gen::{Init, Program};
use crate::driver::{ROUNDS, program_case};
use crate::run::{Case, Report, Runner};

/// How long one minimisation may take.
const BUDGET: Duration = Duration::from_secs(60);

/// The case of the smallest program found that still shows `signature`,
/// with its report; `None` if the finding did not show again at all.
pub fn minimize(runner: &Runner, program: &Program, label: &str, signature: &str) -> Option<(Case, Report)> {
    let started = Instant::now();
    let label = format!("{label} (minimising)");
    let shows = |candidate: &Program, rounds: usize| {
        let report = runner.run(&program_case(candidate, label.clone(), rounds));
        report.findings.iter().any(|f| f.finding.signature() == signature).then_some(report)
    };
    let mut rounds = ROUNDS;
    let mut best = (program.clone(), shows(program, rounds)?);
    let out_of_time = || started.elapsed() > BUDGET;
    let mut changed = true;
    while changed && !out_of_time() {
        changed = false;
        let try_candidate = |candidate: Program, rounds: usize, best: &mut (Program, Report)| {
            if out_of_time() {
                return false;
            }
            match shows(&candidate, rounds) {
                Some(report) => {
                    *best = (candidate, report);
                    true
                }
                None => false,
            }
        };
        for i in 0..best.0.extensions.len() {
            let live = best.0.extensions.iter().filter(|e| e.is_some()).count();
            if best.0.extensions[i].is_some() && live > 1 {
                let mut candidate = best.0.clone();
                candidate.extensions[i] = None;
                changed |= try_candidate(candidate, rounds, &mut best);
            }
        }
        while rounds > 1 && try_candidate(best.0.clone(), rounds - 1, &mut best) {
            rounds -= 1;
            changed = true;
        }
        for i in 0..best.0.callbacks.len() {
            if !best.0.callbacks[i].is_empty() {
                let mut candidate = best.0.clone();
                candidate.callbacks[i].clear();
                changed |= try_candidate(candidate, rounds, &mut best);
            }
        }
        if best.0.init != Init::None {
            let mut candidate = best.0.clone();
            candidate.init = Init::None;
            candidate.init_benign = true;
            changed |= try_candidate(candidate, rounds, &mut best);
        }
        for i in 0..best.0.extensions.len() {
            let mut j = best.0.extensions[i].as_ref().map_or(0, Vec::len);
            while j > 0 {
                j -= 1;
                let mut candidate = best.0.clone();
                if let Some(body) = candidate.extensions[i].as_mut()
                    && j < body.len()
                {
                    body.remove(j);
                    changed |= try_candidate(candidate, rounds, &mut best);
                }
            }
        }
        for i in 0..best.0.callbacks.len() {
            let mut j = best.0.callbacks[i].len();
            while j > 0 {
                j -= 1;
                let mut candidate = best.0.clone();
                if j < candidate.callbacks[i].len() {
                    candidate.callbacks[i].remove(j);
                    changed |= try_candidate(candidate, rounds, &mut best);
                }
            }
        }
    }
    // The rounds it needs travel in its header.
    let (program, report) = best;
    Some((program_case(&program, label, rounds), report))
}
