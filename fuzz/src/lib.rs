//! extwasm-fuzz: generates hostile guests and runs them through the engine,
//! checking after every load and every invocation that the engine kept its
//! promises (issue #9).
//!
//! # Running it
//!
//! ```sh
//! cargo run -p extwasm-fuzz -- [--seconds N] [--seed S] [--iterations N] [--out DIR] [--minimize]
//! cargo run -p extwasm-fuzz -- --replay target/fuzz-findings/<finding>.wat
//! cargo run -p extwasm-fuzz -- --seed 1 --seconds 20      # the short fixed-seed run of `cargo xtask test`
//! ```
//!
//! It prints progress every 2 s and a summary (cases, invocations, outcomes
//! by error kind, findings by kind with their first occurrence), and exits 0
//! when there is no finding, 1 otherwise (2 on a usage error). Every new kind
//! of finding is written to `--out` (default `target/fuzz-findings/`) as the
//! guest (`.wat`, whose first line says how to replay it) and a description
//! (`.txt`: oracle, figures, case and step); with `--minimize`, also as a
//! minimised guest (`.min.wat`). `--replay FILE` runs one saved guest, prints
//! every step with its figures, and exits 1 if the finding is still there.
//!
//! Findings become regression tests: a minimised guest goes to
//! `fuzz/regressions/` (with a comment saying what it shows) and gets a line
//! in `tests/regressions.rs`, which replays it with the same oracles and
//! fails on any finding. Those the engine does not pass yet are `#[ignore]`d
//! with the bug they show.
//!
//! A run is deterministic in what it generates: case *N* of seed *S* is made
//! from its own random stream ([`rng::Rng::for_case`]), whatever ran before
//! it. `--seconds` only decides how many cases run; what each case does is
//! up to the engine, and timing enters the verdict only through the deadline
//! oracle (and the watchdog).
//!
//! # The guests
//!
//! Two generators, in a 70/30 mix (`--smith-percent`):
//!
//! - [`abi_gen`], driven by the ABI table: each extension is a random list of
//!   host calls whose arguments are chosen by the table's parameter names
//!   from handles made earlier (including stale ones kept in globals),
//!   forged handles, boundary integers, names that exist in the state,
//!   invalid UTF-8, and whole-memory ranges; plus loops repeating calls up to
//!   a million times, WASI calls (`fd_write` with iovecs covering memory,
//!   `poll_oneoff`, `random_get`, `clock_time_get`, `proc_exit`), memory
//!   growth to and past the limit, traps, infinite loops, deep recursion,
//!   a `malloc` made to misbehave, and `WasmOnReadValue` running its own
//!   sub-programs, nested reads included.
//! - [`smith_gen`], random valid modules from `wasm-smith`, shaped like guests
//!   (the ABI's imports and exports), with random start functions and
//!   `_initialize`: they must load with a typed error or load, never hang.
//!
//! Every generated module also has `ok`, a known-good extension making one
//! insert intent. Each case loads its module once and invokes each
//! extension [`driver::ROUNDS`] times on one worker (the engine is shared by
//! all cases), checking `ok` after every failure.
//!
//! # The oracles ([`oracle`])
//!
//! - **panic**: no panic escapes `load_package`, `add_package` or `invoke`
//!   (each runs under `catch_unwind`; the panic's message and location are
//!   reported).
//! - **deadline**: an invocation with the 100 ms deadline ends within the
//!   deadline plus 50 ms or 50 %, whichever is larger (150 ms), figures
//!   reported. The machine is shared, so an overrun counts only if the same
//!   step overruns again when the case is run a second time; others are
//!   listed as noise.
//! - **hang**: a watchdog (the main thread; cases run on a runner thread)
//!   gives up on a load or an invocation still running after `--hang-seconds`
//!   (5 s, 50 deadlines). Loading has its own deadline (500 ms) but
//!   compilation is not under it, hence the generous limit. The hung thread cannot be
//!   stopped: the fuzzer reports it, starts a new runner and goes on, and
//!   stops after `--max-hangs` (3) lost threads.
//! - **host memory**: a counting global allocator ([`alloc`]) measures, on
//!   the invoking thread, the peak of live bytes above the level before the
//!   invocation; it must stay within twice the host budget (1 MiB, so 2 MiB:
//!   vectors double their capacity) plus a fixed slack (1 MiB, see
//!   [`run::Limits::peak_slack`]). After a failed invocation, live bytes must
//!   come back within 256 KiB of where they were. The watchdog also stops the
//!   run if the whole process holds more than `--runaway-mib` (2048 MiB).
//! - **untyped error**: at invocation time only the guest-caused kinds
//!   ([`oracle::GUEST_KINDS`]) may come back; a `trap` must describe a wasm
//!   trap or a guest exit, never the engine's own wording (`extwasm: host
//!   call …`); a `memory_limit` that took the whole deadline is a timeout
//!   misreported. Loading may only fail with `load` or `load_timeout`.
//! - **recovery**: after every failed invocation, `ok` on the same worker
//!   succeeds with exactly its one intent (atomicity and restore).
//! - **load**: a generator-1 module (valid by the ABI, with no
//!   initialisation that can fail) loads.
//!
//! The engine runs with a 100 ms deadline, a 500 ms load deadline, a 64-page
//! memory limit, a 1 MiB host budget, and restores on the invoking thread
//! (so that every allocation of an invocation is counted where it happens).
#![deny(missing_docs)]

pub mod abi_gen;
pub mod alloc;
pub mod driver;
pub mod minimize;
pub mod oracle;
pub mod rng;
pub mod run;
pub mod smith_gen;
pub mod state;

// The unit tests measure allocations too.
#[cfg(test)]
#[global_allocator]
static COUNTING: alloc::Counting = alloc::Counting;

#[cfg(test)]
mod tests {
    use super::*;

    /// Both generators make valid modules, by wasmparser's default features
    /// and by the engine's wasmtime (built without GC, so stricter).
    #[test]
    fn generated_modules_validate() {
        let wasmtime = wasmtime::Engine::default();
        for (seed, index) in (0..25).flat_map(|seed| (0..4).map(move |index| (seed, index))) {
            let (case, _) = driver::make_case(seed, index, 30);
            let binary = wat::parse_bytes(&case.wasm).unwrap_or_else(|e| panic!("{}: {e}", case.label));
            let text = || String::from_utf8_lossy(&case.wasm).into_owned();
            wasmparser::Validator::new()
                .validate_all(&binary)
                .unwrap_or_else(|e| panic!("{}: {e}\n{}", case.label, text()));
            wasmtime::Module::validate(&wasmtime, &binary)
                .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", case.label, text()));
            assert!(!case.extensions.is_empty(), "{}", case.label);
            if case.generator == "abi" {
                assert_eq!(case.extensions.last().map(String::as_str), Some("ok"));
            }
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_cases() {
        for index in [0, 1, 17] {
            assert_eq!(driver::make_case(3, index, 30).0.wasm, driver::make_case(3, index, 30).0.wasm);
        }
        assert_ne!(driver::make_case(3, 0, 30).0.wasm, driver::make_case(4, 0, 30).0.wasm);
    }

    #[test]
    fn the_counting_allocator_counts() {
        assert!(alloc::installed());
        let before = alloc::thread_live();
        alloc::reset_thread_peak();
        let mut v: Vec<u8> = Vec::with_capacity(1 << 20);
        v.extend_from_slice(&[1; 1000]);
        assert_eq!(alloc::thread_live() - before, 1 << 20);
        drop(v);
        assert_eq!(alloc::thread_live(), before);
        assert!(alloc::thread_peak() - before >= 1 << 20);
        alloc::reset_thread_peak();
        assert_eq!(alloc::thread_peak(), alloc::thread_live());
    }
}
