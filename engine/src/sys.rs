//! The operating-system calls the engine makes itself (wasmtime makes the
//! rest): advice on how guest memory is backed, and the reclaimer thread's
//! priority.

/// The size of a transparent huge page on Linux with 4 KiB base pages
/// (x86-64, aarch64).
pub(crate) const HUGE_PAGE_BYTES: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB blocks of the `len` bytes at
/// `base` (a guest memory's reservation) with transparent huge pages as the
/// guest touches them. Returns whether the kernel took the advice; it is a
/// hint, and an engine that cannot use huge pages works as before.
#[cfg(target_os = "linux")]
pub(crate) fn advise_huge_pages(base: *mut u8, len: usize) -> bool {
    let start = base.addr().next_multiple_of(HUGE_PAGE_BYTES);
    let end = base.addr().saturating_add(len) & !(HUGE_PAGE_BYTES - 1);
    if end <= start {
        return false;
    }
    // SAFETY: MADV_HUGEPAGE sets a flag on the mappings in the range that
    // says how pages not yet faulted in will be backed. It changes no
    // contents and no protection, so no reference into this memory (the
    // host's or the guest's) can observe it. A range that is not mapped
    // makes the call fail with ENOMEM and changes nothing.
    unsafe { libc::madvise(base.with_addr(start).cast(), end - start, libc::MADV_HUGEPAGE) == 0 }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn advise_huge_pages(_base: *mut u8, _len: usize) -> bool {
    false
}

/// Lowers the calling thread to the idle scheduling class: it runs on CPUs
/// that no other thread wants (plus a sliver the kernel grants so that it
/// never starves), and its wake-ups never preempt a worker. Returns whether
/// the kernel agreed.
#[cfg(target_os = "linux")]
pub(crate) fn lower_to_idle_priority() -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, initialised sched_param for the duration of
    // the call; pid 0 means the calling thread.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_to_idle_priority() -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping that contains `addr`, from
    /// `/proc/self/smaps`.
    fn flags_at(addr: usize) -> Vec<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (usize::from_str_radix(from, 16), usize::from_str_radix(to, 16))
            {
                inside = (from..to).contains(&addr);
            } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.split_whitespace().map(str::to_owned).collect();
            }
        }
        panic!("no mapping contains {addr:#x}");
    }

    /// The advice lands on the whole 2 MiB blocks inside the range, and only
    /// on them.
    #[test]
    fn advice_covers_the_whole_blocks() {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
        if thp.is_empty() || thp.contains("[never]") {
            eprintln!("SKIPPED: transparent huge pages are off here ({thp:?})");
            return;
        }
        let len = 8 * HUGE_PAGE_BYTES;
        // SAFETY: a fresh private anonymous mapping that nothing else uses;
        // unmapped below.
        let base = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        assert_ne!(base, libc::MAP_FAILED);
        let base = base.cast::<u8>();
        let first_block = base.addr().next_multiple_of(HUGE_PAGE_BYTES);
        // Starts a page into the mapping: the partial block before the first
        // whole one must stay unadvised.
        let advised = advise_huge_pages(base.wrapping_add(4096), len - 4096);
        let inside = flags_at(first_block + HUGE_PAGE_BYTES);
        let before = flags_at(base.addr() + 4096);
        let too_small = advise_huge_pages(base, HUGE_PAGE_BYTES - 4096);
        // SAFETY: the mapping made above, used by nothing.
        unsafe { libc::munmap(base.cast(), len) };
        assert!(advised, "the kernel refused MADV_HUGEPAGE with THP {thp:?}");
        assert!(inside.iter().any(|f| f == "hg"), "advised block flags: {inside:?}");
        if first_block != base.addr() {
            assert!(!before.iter().any(|f| f == "hg"), "partial block flags: {before:?}");
        }
        assert!(!too_small, "a range without a whole block is not advised");
    }

    #[test]
    fn a_thread_can_lower_itself_to_idle_priority() {
        let policy = std::thread::spawn(|| {
            assert!(lower_to_idle_priority());
            // SAFETY: pid 0 is the calling thread; no memory is passed.
            unsafe { libc::sched_getscheduler(0) }
        });
        assert_eq!(policy.join().unwrap(), libc::SCHED_IDLE);
    }
}
