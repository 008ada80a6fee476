//! The guest heap: a bump ("leaking") allocator over pages taken from linear
//! memory with `memory.grow`, and the counters the memory-info exports report.
//!
//! Allocating moves a pointer forward and nothing is collected, like TinyGo's
//! `-gc=leaking`. Two cheap exceptions keep the usual patterns (a `Vec` or
//! `String` that grows, a temporary freed right away) from wasting memory:
//! freeing the latest block gives it back, and resizing the latest block
//! happens in place. Running out of memory (the engine refuses a grow) is a
//! guest panic that says how much was asked for.
//!
//! [`Heap`] is the arithmetic, on addresses, with `memory.grow` passed in, so
//! it is tested natively; [`BumpAllocator`] is the `GlobalAlloc` of wasm32
//! guests over the one [`HEAP`].

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes in a page of linear memory.
const PAGE: usize = extwasm_abi::WASM_PAGE_SIZE as usize;

/// Adds `pages` pages to linear memory; returns the previous size in pages,
/// or `None` when the engine refuses.
type Grow<'a> = &'a mut dyn FnMut(usize) -> Option<usize>;

/// A request the heap could not satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory {
    /// Bytes asked for.
    pub(crate) size: usize,
    /// Bytes the heap had taken from linear memory by then.
    pub(crate) heap_sys: usize,
}

/// State of the bump allocator. Addresses are plain numbers here. The guest
/// is single-threaded; the atomics are only there to make the statics safe
/// (they compile to plain loads and stores on wasm32).
pub(crate) struct Heap {
    /// First free byte of the current region.
    next: AtomicUsize,
    /// End of the current region.
    end: AtomicUsize,
    /// Start of the latest block if it may be given back or resized, else 0.
    latest: AtomicUsize,
    sys: AtomicUsize,
    mallocs: AtomicUsize,
    frees: AtomicUsize,
}

/// Where a block of `size` bytes aligned to `align` starts in `[next, end)`,
/// if it fits. Address 0 is never handed out.
fn fit(next: usize, end: usize, size: usize, align: usize) -> Option<usize> {
    let start = next.max(1).checked_next_multiple_of(align)?;
    (start.checked_add(size)? <= end).then_some(start)
}

impl Heap {
    /// An empty heap: the first allocation grows memory.
    pub(crate) const fn new() -> Self {
        Heap {
            next: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            latest: AtomicUsize::new(0),
            sys: AtomicUsize::new(0),
            mallocs: AtomicUsize::new(0),
            frees: AtomicUsize::new(0),
        }
    }

    /// Reserves `size` bytes aligned to `align` (a power of two) and returns
    /// the address. `reclaimable` says whether a later [`Heap::release`] or
    /// [`Heap::resize`] of the block may give it back; blocks handed to the
    /// host are not.
    pub(crate) fn reserve(
        &self,
        size: usize,
        align: usize,
        reclaimable: bool,
        grow: Grow<'_>,
    ) -> Result<usize, OutOfMemory> {
        let start = match fit(self.next.load(Relaxed), self.end.load(Relaxed), size, align) {
            Some(start) => start,
            None => {
                // Room for the block wherever the padding falls, and for address 0 being skipped.
                let worst = size.checked_add(align).ok_or(self.out_of_memory(size))?;
                self.extend(worst, size, grow)?;
                fit(self.next.load(Relaxed), self.end.load(Relaxed), size, align).ok_or(self.out_of_memory(size))?
            }
        };
        self.next.store(start + size, Relaxed);
        self.latest.store(if reclaimable { start } else { 0 }, Relaxed);
        self.mallocs.fetch_add(1, Relaxed);
        Ok(start)
    }

    /// Takes the pages that hold `bytes` more bytes from linear memory. When
    /// they follow the current region it grows (and `true` is returned);
    /// otherwise they become the current region. `size` is for the error.
    ///
    /// Exactly the pages needed, never more: a grow the engine refuses then
    /// always means that this allocation fails, which is how the engine
    /// recognises running out of memory.
    fn extend(&self, bytes: usize, size: usize, grow: Grow<'_>) -> Result<bool, OutOfMemory> {
        let pages = bytes.div_ceil(PAGE).max(1);
        let old_pages = grow(pages).ok_or(self.out_of_memory(size))?;
        let base = old_pages.checked_mul(PAGE).ok_or(self.out_of_memory(size))?;
        let new_end = pages.checked_mul(PAGE).and_then(|b| base.checked_add(b)).ok_or(self.out_of_memory(size))?;
        let contiguous = base == self.end.load(Relaxed) && base != 0;
        if !contiguous {
            // The rest of the old region is left unused.
            self.next.store(base, Relaxed);
            self.latest.store(0, Relaxed);
        }
        self.end.store(new_end, Relaxed);
        self.sys.fetch_add(pages * PAGE, Relaxed);
        Ok(contiguous)
    }

    fn out_of_memory(&self, size: usize) -> OutOfMemory {
        OutOfMemory { size, heap_sys: self.sys.load(Relaxed) }
    }

    /// Whether `[address, address + size)` is the latest block, reclaimable.
    fn is_latest(&self, address: usize, size: usize) -> bool {
        let latest = self.latest.load(Relaxed);
        latest != 0 && latest == address && address.checked_add(size) == Some(self.next.load(Relaxed))
    }

    /// Frees a block: counted, and given back when it is the latest.
    pub(crate) fn release(&self, address: usize, size: usize) {
        self.frees.fetch_add(1, Relaxed);
        if self.is_latest(address, size) {
            self.next.store(address, Relaxed);
            self.latest.store(0, Relaxed);
        }
    }

    /// Counts a free of a block whose size is unknown (`free` export).
    pub(crate) fn count_free(&self) {
        self.frees.fetch_add(1, Relaxed);
    }

    /// Resizes the latest block in place (growing memory when the block ends
    /// the region); `false` when it is not the latest or cannot grow here.
    pub(crate) fn resize(&self, address: usize, old_size: usize, new_size: usize, grow: Grow<'_>) -> bool {
        if !self.is_latest(address, old_size) {
            return false;
        }
        let Some(new_next) = address.checked_add(new_size) else { return false };
        let end = self.end.load(Relaxed);
        if new_next > end && !matches!(self.extend(new_next - end, new_size, grow), Ok(true)) {
            return false;
        }
        self.next.store(new_next, Relaxed);
        true
    }

    /// Bytes consumed: taken from memory, less the free end of the region.
    pub(crate) fn inuse(&self) -> usize {
        self.sys.load(Relaxed) - (self.end.load(Relaxed) - self.next.load(Relaxed))
    }

    /// Bytes taken from linear memory.
    pub(crate) fn sys(&self) -> usize {
        self.sys.load(Relaxed)
    }

    /// Blocks allocated.
    pub(crate) fn mallocs(&self) -> usize {
        self.mallocs.load(Relaxed)
    }

    /// Frees (counted even when nothing was given back).
    pub(crate) fn frees(&self) -> usize {
        self.frees.load(Relaxed)
    }
}

/// The heap of this guest.
static HEAP: Heap = Heap::new();

#[cfg(target_arch = "wasm32")]
fn grow_memory(pages: usize) -> Option<usize> {
    let old = core::arch::wasm32::memory_grow::<0>(pages);
    (old != usize::MAX).then_some(old)
}

#[cfg(not(target_arch = "wasm32"))]
fn grow_memory(_pages: usize) -> Option<usize> {
    None
}

/// Reserves a block of [`HEAP`]; running out of memory is a guest panic.
fn reserve(size: usize, align: usize, reclaimable: bool) -> usize {
    match HEAP.reserve(size, align, reclaimable, &mut grow_memory) {
        Ok(address) => address,
        Err(oom) => panic!(
            "out of memory: cannot allocate {} bytes (the heap has taken {} bytes of linear memory)",
            oom.size, oom.heap_sys
        ),
    }
}

/// The global allocator of wasm32 guests: [`HEAP`].
pub(crate) struct BumpAllocator;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator;

// SAFETY: `alloc` returns blocks of `layout.size()` bytes aligned to
// `layout.align()` that overlap no other live block: the bump pointer only
// moves forward past the blocks it hands out, and moves back only over the
// latest block when that one is freed or resized, which the caller allows
// only for that block. The memory comes from `memory.grow` and is never
// given back; no other code of the guest takes grown pages.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Linear memory has no Rust allocation to take provenance from: the
        // address is all there is, as for every wasm allocator.
        ptr::with_exposed_provenance_mut(reserve(layout.size(), layout.align(), true))
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, valid for `alloc` by its contract.
        let block = unsafe { self.alloc(layout) };
        // SAFETY: `block` is a fresh, writable block of `layout.size()`
        // bytes. Zeroed explicitly: a block given back and handed out again
        // holds what its previous owner wrote.
        unsafe { ptr::write_bytes(block, 0, layout.size()) };
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        HEAP.release(block.addr(), layout.size());
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if HEAP.resize(block.addr(), layout.size(), new_size, &mut grow_memory) {
            return block;
        }
        // SAFETY: `realloc`'s contract: `new_size` is not zero and, rounded up
        // to `layout.align()` (a power of two), does not overflow `isize`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` is valid (above).
        let new_block = unsafe { self.alloc(new_layout) };
        // SAFETY: both blocks are live and at least `min(old, new)` bytes
        // long; the new one was reserved past every live block, so they do
        // not overlap.
        unsafe { ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size)) };
        // SAFETY: `block` was allocated here with `layout` (caller's contract).
        unsafe { self.dealloc(block, layout) };
        new_block
    }
}

/// `malloc` export: 16-byte aligned, never reclaimed, never 0.
pub(crate) fn malloc(size: u32) -> u32 {
    reserve((size as usize).max(1), 16, false) as u32
}

/// `free` export: counted only (the size is unknown).
pub(crate) fn free(_address: u32) {
    HEAP.count_free();
}

/// `WasmGetHeapInuse`.
pub(crate) fn heap_inuse() -> i64 {
    HEAP.inuse() as i64
}

/// `WasmGetHeapSys`.
pub(crate) fn heap_sys() -> i64 {
    HEAP.sys() as i64
}

/// `WasmGetMallocs`.
pub(crate) fn mallocs() -> i64 {
    HEAP.mallocs() as i64
}

/// `WasmGetFrees`.
pub(crate) fn frees() -> i64 {
    HEAP.frees() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linear memory as a page count, with a limit and an optional foreign
    /// grower that takes pages between the heap's grows.
    struct Memory {
        pages: usize,
        limit: usize,
        steal_next: usize,
    }

    impl Memory {
        fn new(pages: usize, limit: usize) -> Self {
            Memory { pages, limit, steal_next: 0 }
        }

        fn grow(&mut self, delta: usize) -> Option<usize> {
            self.pages += std::mem::take(&mut self.steal_next);
            if self.pages + delta > self.limit {
                return None;
            }
            let old = self.pages;
            self.pages += delta;
            Some(old)
        }
    }

    #[test]
    fn bumps_aligned_blocks_and_grows_by_the_pages_needed() {
        let heap = Heap::new();
        let mut memory = Memory::new(17, 256);
        let (a, c) = {
            let mut grow = |pages| memory.grow(pages);
            let a = heap.reserve(3, 1, true, &mut grow).unwrap();
            assert_eq!(a, 17 * PAGE);
            let b = heap.reserve(8, 8, true, &mut grow).unwrap();
            assert_eq!(b, a + 8);
            let c = heap.reserve(1, 4096, true, &mut grow).unwrap();
            assert_eq!(c % 4096, 0);
            (a, c)
        };
        assert_eq!(heap.sys(), PAGE);
        assert_eq!(heap.inuse(), c + 1 - a);
        assert_eq!((heap.mallocs(), heap.frees()), (3, 0));
        assert_eq!(memory.pages, 18);
    }

    #[test]
    fn a_large_block_grows_exactly_enough() {
        let heap = Heap::new();
        let mut memory = Memory::new(2, 1000);
        let a = heap.reserve(10 * PAGE, 16, true, &mut |p| memory.grow(p)).unwrap();
        assert_eq!(a, 2 * PAGE);
        // The region continues contiguously: the next block follows.
        let b = heap.reserve(PAGE, 1, true, &mut |p| memory.grow(p)).unwrap();
        assert_eq!(b, a + 10 * PAGE);
    }

    #[test]
    fn freeing_or_resizing_the_latest_block_reuses_it() {
        let heap = Heap::new();
        let mut memory = Memory::new(1, 64);
        let mut grow = |pages| memory.grow(pages);
        let a = heap.reserve(100, 8, true, &mut grow).unwrap();
        let b = heap.reserve(100, 8, true, &mut grow).unwrap();
        heap.release(a, 100); // not the latest: counted, leaked
        assert_eq!(heap.inuse(), b + 100 - a);
        heap.release(b, 100); // the latest: given back
        assert_eq!(heap.inuse(), b - a);
        assert_eq!(heap.reserve(50, 8, true, &mut grow).unwrap(), b);
        assert!(heap.resize(b, 50, 5000, &mut grow));
        assert!(heap.resize(b, 5000, 10, &mut grow));
        assert_eq!(heap.reserve(1, 1, true, &mut grow).unwrap(), b + 10);
        assert!(!heap.resize(b, 10, 20, &mut grow), "no longer the latest");
        assert_eq!(heap.frees(), 2);
        // A resize past the region grows memory in place.
        let big = heap.reserve(16, 16, true, &mut grow).unwrap();
        assert!(heap.resize(big, 16, 20 * PAGE, &mut grow));
        assert_eq!(heap.inuse(), big + 20 * PAGE - a);
    }

    #[test]
    fn blocks_for_the_host_are_never_reclaimed() {
        let heap = Heap::new();
        let mut memory = Memory::new(1, 64);
        let a = heap.reserve(64_000, 16, false, &mut |p| memory.grow(p)).unwrap();
        heap.release(a, 64_000);
        assert!(!heap.resize(a, 64_000, 10, &mut |p| memory.grow(p)));
        assert_eq!(heap.reserve(1, 1, true, &mut |p| memory.grow(p)).unwrap(), a + 64_000);
    }

    #[test]
    fn a_foreign_grow_starts_a_new_region() {
        let heap = Heap::new();
        let mut memory = Memory::new(1, 64);
        let a = heap.reserve(16, 16, true, &mut |p| memory.grow(p)).unwrap();
        memory.steal_next = 2;
        let b = heap.reserve(2 * PAGE, 16, true, &mut |p| memory.grow(p)).unwrap();
        assert_eq!(a, PAGE);
        // Pages 2 and 3 are someone else's; the new region starts at 4.
        assert_eq!(b, 4 * PAGE);
        // Freeing a block of the old region gives nothing back.
        heap.release(a, 16);
        assert_eq!(heap.reserve(1, 1, true, &mut |p| memory.grow(p)).unwrap(), b + 2 * PAGE);
    }

    #[test]
    fn out_of_memory_is_reported() {
        let heap = Heap::new();
        let mut memory = Memory::new(1, 3);
        let a = heap.reserve(10, 1, true, &mut |p| memory.grow(p)).unwrap();
        assert_eq!(a, PAGE);
        assert_eq!(heap.sys(), PAGE);
        // Needs 3 more pages (the rest of the first does not hold it): refused.
        let err = heap.reserve(2 * PAGE, 1, true, &mut |p| memory.grow(p)).unwrap_err();
        assert_eq!(err, OutOfMemory { size: 2 * PAGE, heap_sys: PAGE });
        assert_eq!(memory.pages, 2);
        // Overflowing sizes are out of memory too, not a wrap-around.
        let err = heap.reserve(usize::MAX, 2, true, &mut |p| memory.grow(p)).unwrap_err();
        assert_eq!(err.size, usize::MAX);
        // The heap still works after a refusal.
        assert_eq!(heap.reserve(10, 1, true, &mut |p| memory.grow(p)).unwrap(), a + 10);
    }

    #[test]
    fn address_zero_is_never_handed_out() {
        let heap = Heap::new();
        let mut memory = Memory::new(0, 8);
        let a = heap.reserve(8, 8, true, &mut |p| memory.grow(p)).unwrap();
        assert_ne!(a, 0);
    }
}
