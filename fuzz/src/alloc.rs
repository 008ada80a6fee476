//! A counting global allocator: host memory the engine holds, as the
//! host-memory oracle sees it.
//!
//! Install it in a binary with
//! `#[global_allocator] static A: extwasm_fuzz::alloc::Counting = extwasm_fuzz::alloc::Counting;`.
//!
//! It counts per thread (live bytes and a resettable peak) and process-wide
//! (live bytes). The oracle uses the per-thread figures of the thread that
//! invokes: invocations run entirely on it (the fuzzer turns background
//! restores off), and other threads — wasmtime's epoch ticker, parallel
//! compilation, other tests of the same test binary — do not disturb the
//! measurement. The process-wide figure is what the watchdog checks against
//! its hard cap, whichever thread allocates.
//!
//! Sizes are the requested (logical) sizes: a `realloc` moves the count from
//! the old size to the new one, so a growing `Vec` shows its capacity, at
//! most twice what it holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The counting allocator (wraps [`System`]).
pub struct Counting;

static PROCESS_LIVE: AtomicIsize = AtomicIsize::new(0);

struct ThreadCounts {
    live: Cell<isize>,
    peak: Cell<isize>,
}

thread_local! {
    // `const` and without a destructor: reading it never allocates and works
    // at any point of a thread's life, as an allocator needs.
    static THREAD: ThreadCounts = const { ThreadCounts { live: Cell::new(0), peak: Cell::new(0) } };
}

fn add(bytes: usize) {
    PROCESS_LIVE.fetch_add(bytes as isize, Ordering::Relaxed);
    let _ = THREAD.try_with(|t| {
        let live = t.live.get() + bytes as isize;
        t.live.set(live);
        if live > t.peak.get() {
            t.peak.set(live);
        }
    });
}

fn sub(bytes: usize) {
    PROCESS_LIVE.fetch_sub(bytes as isize, Ordering::Relaxed);
    // A thread can free what another allocated, so its count can go below
    // zero; only differences on one thread are meaningful.
    let _ = THREAD.try_with(|t| t.live.set(t.live.get() - bytes as isize));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the bookkeeping around the
// calls neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) };
        sub(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; `ptr` came from `System` with `layout`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            sub(layout.size());
            add(new_size);
        }
        new
    }
}

/// Bytes allocated and not yet freed by the whole process (0 when the
/// counting allocator is not installed).
pub fn process_live() -> isize {
    PROCESS_LIVE.load(Ordering::Relaxed)
}

/// Bytes this thread allocated minus bytes it freed.
pub fn thread_live() -> isize {
    THREAD.with(|t| t.live.get())
}

/// The highest [`thread_live`] since the last [`reset_thread_peak`].
pub fn thread_peak() -> isize {
    THREAD.with(|t| t.peak.get())
}

/// Starts a new peak measurement at the current live count.
pub fn reset_thread_peak() {
    THREAD.with(|t| t.peak.set(t.live.get()));
}

/// Whether the counting allocator is the global allocator of this process:
/// an allocation moves the count.
pub fn installed() -> bool {
    let before = thread_live();
    let probe = std::hint::black_box(vec![0u8; 4096]);
    let counted = thread_live() - before >= 4096;
    drop(probe);
    counted
}
