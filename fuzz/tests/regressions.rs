//! The fuzzer's findings, kept: every guest in `fuzz/regressions/` is
//! replayed with the fuzzer's oracles (same engine limits, same schedule,
//! same watchdog) and must show no finding.
//!
//! The guests were found by `extwasm-fuzz` on this branch's engine and
//! minimised (`--minimize`); a comment in each says what it shows and
//! where it was found (the seed and case of the generator of the time: the
//! generator changes, the files do not). The first line says how it is run;
//! `cargo run -p extwasm-fuzz -- --replay fuzz/regressions/<file>` prints
//! every step with its figures. A guest the engine does not pass yet is
//! `#[ignore]`d with the bug it shows: the fix removes the `ignore`.
//! `cargo test -p extwasm-fuzz --test regressions -- --include-ignored`
//! shows where the engine stands.

use std::path::Path;

use extwasm_fuzz::alloc::Counting;
use extwasm_fuzz::driver::{self, Options};
use extwasm_fuzz::run::Limits;

// The host-memory oracle counts this test binary's allocations (per
// thread, so tests running side by side do not disturb each other).
#[global_allocator]
static COUNTING: Counting = Counting;

fn replay(file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(file);
    let findings = driver::replay(&path, &Options::default(), &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(findings.is_empty(), "{file} still shows:\n{findings:#?}");
}

macro_rules! regression {
    ($($(#[$attr:meta])* $name:ident;)*) => {$(
        #[test]
        $(#[$attr])*
        fn $name() {
            replay(concat!(stringify!($name), ".wat"));
        }
    )*};
}

regression! {
    // Passes today: keeps the harness honest.
    typed_errors_and_recovery;

    key_builders_are_bounded;
    intents_are_bounded;
    value_handles_are_bounded;
    read_values_handles_are_bounded;
    reput_fields_are_bounded;
    panic_message_is_bounded;
    fd_write_iovecs_covering_memory_meet_the_deadline;
    timeout_after_a_denied_grow_is_a_timeout;
    load_never_ends_start;
    load_never_ends_initialize;
    load_host_call_in_start_says_why;
}
