//! No creep: 10 000 cycles of "fill memory until out of memory, restore"
//! keep memory size, resident memory and restore time flat. Its own test
//! binary, so the process's resident memory is this test's alone.

mod common;

use std::time::Duration;

use common::restore_guest::{SNAPSHOT, empty, observe, worker};
use extwasm_engine::{Config, ErrorKind};

#[test]
fn no_creep_over_ten_thousand_fill_and_restore_cycles() {
    // On the worker: restore times are the restore's own, so creep would show.
    no_creep(Config::default().background_restore_above(None), true);
    // With spares: restore times depend on whether the reclaimer, at idle
    // priority, kept up with a loaded machine, so only sizes are compared.
    no_creep(Config::default(), false);
}

fn no_creep(config: Config, compare_times: bool) {
    let mut w = worker(config.memory_limit_pages(32).retry_out_of_memory(false));
    let state = empty();
    let mut restore_times = Vec::with_capacity(10_000);
    let mut resident_after_warmup = 0;
    for cycle in 0..10_000 {
        let error = w.invoke("guest", "fill", &state).err().expect("fill runs out of memory");
        assert_eq!(error.kind(), ErrorKind::MemoryLimit);
        assert_eq!(w.memory_bytes("guest"), Some(1 << 16), "cycle {cycle}: memory size is the snapshot's");
        restore_times.push(w.stats("guest").unwrap().last_restore);
        if cycle == 999 {
            resident_after_warmup = resident_bytes();
        }
    }
    let resident_growth = resident_bytes().saturating_sub(resident_after_warmup);
    assert!(resident_growth < 8 << 20, "resident memory grew by {resident_growth} bytes");
    let median = |times: &mut [Duration]| {
        times.sort();
        times[times.len() / 2]
    };
    let first = median(&mut restore_times[..1000].to_vec());
    let last = median(&mut restore_times[9000..].to_vec());
    // Medians resist the noise of a shared machine; creep would show as a trend.
    if compare_times {
        assert!(last <= first * 2 + Duration::from_micros(20), "first 1000: {first:?}, last 1000: {last:?}");
    }
    assert_eq!(w.stats("guest").unwrap().restores, 10_000);
    assert_eq!(observe(&mut w, "report"), Ok(SNAPSHOT));
}

/// Resident set size of this process (Linux), or 0 where unknown.
fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|pages| pages.parse::<usize>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
