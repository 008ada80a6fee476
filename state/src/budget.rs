//! What an invocation may make the host hold and spend: bytes, handles,
//! fields per row, and time inside host calls.
//!
//! Guest memory is bounded by the memory limit, but what the host allocates
//! *because of* a guest (key builders, intents, their names, strings and
//! bytes, handle tables) lives outside it. Every such allocation is charged
//! here before it is made, by the capacity it adds, so a guest cannot make
//! the host hold more than the host allows (the engine's
//! `Config::host_budget_bytes`). Epoch
//! interruption only stops wasm code, so host calls whose work grows with a
//! guest-controlled size work in chunks of [`CHUNK`] bytes and check the
//! deadline between them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A clock for deadlines, in ticks: advanced by whoever runs the host (the
/// engine's ticker thread, together with wasmtime's epoch). Reading it is
/// one atomic load, so an invocation pays no clock read for its deadline; a
/// clock nobody advances never reaches a deadline.
///
/// Ticks may come late (a ticker that was not scheduled catches up at
/// once), so a tick count read at the start of a call can be stale, and a
/// deadline counted from it could pass early. Before it reports a deadline
/// passed, [`Clock::left`] therefore looks at the real time against the
/// time the tick after the start was published: the call started before
/// it, so the deadline is never early.
#[derive(Clone, Debug)]
pub struct Clock(Arc<ClockInner>);

#[derive(Debug)]
struct ClockInner {
    ticks: AtomicU64,
    tick: Duration,
    started: Instant,
    /// When tick `k` was published (nanoseconds since `started`), at
    /// `k % len`: enough for deadlines of [`PUBLISHED_TICKS`] ticks.
    published: Box<[AtomicU64]>,
}

/// Ticks whose publication time a clock remembers (82 s of 5 ms ticks);
/// a longer deadline is checked against the tick's nominal time.
pub const PUBLISHED_TICKS: usize = 16_384;

impl Default for Clock {
    /// A clock nobody advances: no deadline counted on it ever passes.
    fn default() -> Self {
        Clock::new(Duration::from_millis(5), 0)
    }
}

impl Clock {
    /// A clock of `tick`-long ticks, remembering when the last `remembered`
    /// were published (see [`PUBLISHED_TICKS`]).
    pub fn new(tick: Duration, remembered: usize) -> Self {
        let published = (0..remembered).map(|_| AtomicU64::new(0)).collect();
        Clock(Arc::new(ClockInner { ticks: AtomicU64::new(0), tick, started: Instant::now(), published }))
    }

    /// Ticks so far.
    #[inline]
    pub fn now(&self) -> u64 {
        self.0.ticks.load(Ordering::Acquire)
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        self.0.started.elapsed()
    }

    /// The ticks due by now: how many a ticker should have published.
    pub fn due(&self) -> u64 {
        (self.0.started.elapsed().as_nanos() / self.0.tick.as_nanos().max(1)) as u64
    }

    /// One more tick (the ticker only), published now.
    pub fn advance(&self) {
        let inner = &*self.0;
        let next = inner.ticks.load(Ordering::Relaxed) + 1;
        if !inner.published.is_empty() {
            let at = inner.started.elapsed().as_nanos() as u64;
            inner.published[next as usize % inner.published.len()].store(at, Ordering::Relaxed);
        }
        inner.ticks.store(next, Ordering::Release);
    }

    /// For a call that started when the clock read `start` and may run for
    /// `timeout`: `None` once the timeout has passed by the real time, else
    /// the ticks left (at least one).
    pub fn left(&self, start: u64, timeout: Duration) -> Option<u64> {
        let inner = &*self.0;
        let tick = inner.tick.as_nanos().max(1) as u64;
        let now_tick = self.now();
        let next = start + 1;
        if now_tick < next {
            return Some(1);
        }
        // The call started before tick `start + 1` was published.
        let len = inner.published.len() as u64;
        let started = if len > 0 && now_tick - next < len {
            inner.published[(next % len) as usize].load(Ordering::Relaxed)
        } else {
            next.saturating_mul(tick)
        };
        let deadline = started.saturating_add(timeout.as_nanos() as u64);
        let now = inner.started.elapsed().as_nanos() as u64;
        (now < deadline).then(|| (deadline - now).div_ceil(tick).max(1))
    }
}

/// A budget of the host's own resources that an invocation can exhaust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostResource {
    /// Bytes the host holds for the invocation: key builders, rows (names,
    /// strings, bytes), intents and handle tables.
    Bytes,
    /// Handles handed out in one invocation (key builders, values, keys,
    /// intents).
    Handles,
    /// Fields on one key builder or intent.
    RowFields,
}

impl HostResource {
    /// The stable snake-case name (`"bytes"`, `"handles"`, `"row_fields"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            HostResource::Bytes => "bytes",
            HostResource::Handles => "handles",
            HostResource::RowFields => "row_fields",
        }
    }
}

impl fmt::Display for HostResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostResource::Bytes => "the bytes the host holds for the invocation",
            HostResource::Handles => "the handles of the invocation",
            HostResource::RowFields => "the fields of one key builder or intent",
        })
    }
}

/// Most fields one key builder or intent may have: a put looks its name up
/// among them, so this bounds the work of one put.
pub const MAX_ROW_FIELDS: usize = 65_536;

/// Bytes a host call copies or checks between two looks at the deadline
/// (≈ 0.1 ms of work).
pub const CHUNK: usize = 1 << 20;

/// Why a charge was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    /// A budget ran out: which, and its limit.
    Budget(HostResource, u64),
    /// The invocation's deadline passed.
    Deadline,
}

/// The budget of one package instance: what its host context holds now
/// (retained allocations count: they are reused by later invocations) and
/// what the running invocation may still spend.
#[derive(Debug)]
pub struct Budget {
    limit_bytes: usize,
    held_bytes: usize,
    peak_bytes: usize,
    max_handles: usize,
    handles: usize,
    clock: Clock,
    /// The running call's deadline: the tick it passes at, the tick the
    /// call started at, and its length.
    deadline: Option<(u64, u64, Duration)>,
}

impl Budget {
    /// A budget of `limit_bytes` held and `max_handles` handles per
    /// invocation, with deadlines read from `clock`.
    pub fn new(limit_bytes: usize, max_handles: usize, clock: Clock) -> Self {
        Budget { limit_bytes, held_bytes: 0, peak_bytes: 0, max_handles, handles: 0, clock, deadline: None }
    }

    /// Starts an invocation (or an initialisation): no handles yet, and
    /// `timeout`, which is `ticks` ticks, from now (`None`: no deadline).
    #[inline]
    pub fn begin(&mut self, timeout: Option<(Duration, u64)>) {
        self.handles = 0;
        self.deadline = timeout.map(|(timeout, ticks)| {
            let now = self.clock.now();
            (now.saturating_add(ticks), now, timeout)
        });
    }

    /// Whether the running call's deadline has passed: by the ticks first
    /// (one atomic load), then, once they say so, by the real time.
    #[inline]
    pub fn past_deadline(&self) -> bool {
        match self.deadline {
            Some((at, start, timeout)) if self.clock.now() >= at => self.clock.left(start, timeout).is_none(),
            _ => false,
        }
    }

    /// The ticks left before the running call's deadline by the real time
    /// (`None`: it has passed), or `u64::MAX / 2` without a deadline.
    pub fn ticks_left(&self) -> Option<u64> {
        match self.deadline {
            Some((_, start, timeout)) => self.clock.left(start, timeout),
            None => Some(u64::MAX / 2),
        }
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Most bytes ever held.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Charges `bytes` about to be allocated; refused when they would pass
    /// the limit.
    #[inline]
    pub fn charge(&mut self, bytes: usize) -> Result<(), Exceeded> {
        match self.held_bytes.checked_add(bytes) {
            Some(held) if held <= self.limit_bytes => {
                self.held_bytes = held;
                self.peak_bytes = self.peak_bytes.max(held);
                Ok(())
            }
            _ => Err(Exceeded::Budget(HostResource::Bytes, self.limit_bytes as u64)),
        }
    }

    /// Records bytes that were allocated beyond what was charged (an
    /// allocator that gave more capacity than asked): they are held.
    fn charge_anyway(&mut self, bytes: usize) {
        self.held_bytes = self.held_bytes.saturating_add(bytes);
        self.peak_bytes = self.peak_bytes.max(self.held_bytes);
    }

    /// Forgets everything held: the allocations were dropped.
    pub fn release_all(&mut self) {
        self.held_bytes = 0;
    }

    /// Takes one handle of the invocation's allowance.
    #[inline]
    pub fn handle(&mut self) -> Result<(), Exceeded> {
        if self.handles >= self.max_handles {
            return Err(Exceeded::Budget(HostResource::Handles, self.max_handles as u64));
        }
        self.handles += 1;
        Ok(())
    }

    /// `Err` once the deadline has passed.
    #[inline]
    pub fn check_deadline(&self) -> Result<(), Exceeded> {
        if self.past_deadline() { Err(Exceeded::Deadline) } else { Ok(()) }
    }

    /// Makes room for one more element in `vec`, charging the capacity it
    /// grows by (it doubles, as `Vec` does, but is charged first).
    #[inline]
    pub fn reserve_one<T>(&mut self, vec: &mut Vec<T>) -> Result<(), Exceeded> {
        if vec.len() < vec.capacity() {
            return Ok(());
        }
        self.grow_one(vec)
    }

    #[cold]
    fn grow_one<T>(&mut self, vec: &mut Vec<T>) -> Result<(), Exceeded> {
        let grow = vec.capacity().max(4);
        self.reserve(vec, grow, size_of::<T>())
    }

    /// `vec.reserve_exact(additional)`, charged first.
    fn reserve<T>(&mut self, vec: &mut Vec<T>, additional: usize, element: usize) -> Result<(), Exceeded> {
        let wanted = vec.len().saturating_add(additional);
        if wanted <= vec.capacity() {
            return Ok(());
        }
        let charged = (wanted - vec.capacity()).saturating_mul(element.max(1));
        self.charge(charged)?;
        let before = vec.capacity();
        vec.reserve_exact(additional);
        let grown = (vec.capacity() - before).saturating_mul(element.max(1));
        self.charge_anyway(grown.saturating_sub(charged));
        Ok(())
    }

    /// Sets `target` to `value`, reusing its allocation; what it must grow
    /// by is charged first, and a long value is copied in chunks with the
    /// deadline checked between them.
    #[inline]
    pub fn set_bytes(&mut self, target: &mut Vec<u8>, value: &[u8]) -> Result<(), Exceeded> {
        target.clear();
        if value.len() <= target.capacity() && value.len() <= CHUNK {
            target.extend_from_slice(value);
            return Ok(());
        }
        self.set_long_bytes(target, value)
    }

    #[cold]
    fn set_long_bytes(&mut self, target: &mut Vec<u8>, value: &[u8]) -> Result<(), Exceeded> {
        self.reserve(target, value.len(), 1)?;
        for chunk in value.chunks(CHUNK) {
            target.extend_from_slice(chunk);
            if chunk.len() == CHUNK {
                self.check_deadline()?;
            }
        }
        Ok(())
    }

    /// [`Budget::set_bytes`] for a string.
    #[inline]
    pub fn set_str(&mut self, target: &mut String, value: &str) -> Result<(), Exceeded> {
        target.clear();
        self.push_str(target, value)
    }

    /// Appends `value` to `target` as [`Budget::set_str`] does.
    #[inline]
    pub fn push_str(&mut self, target: &mut String, value: &str) -> Result<(), Exceeded> {
        if target.capacity() - target.len() >= value.len() && value.len() <= CHUNK {
            target.push_str(value);
            return Ok(());
        }
        self.push_long_str(target, value)
    }

    #[cold]
    fn push_long_str(&mut self, target: &mut String, value: &str) -> Result<(), Exceeded> {
        if target.len().saturating_add(value.len()) > target.capacity() {
            let additional = value.len();
            let charged = target.len().saturating_add(additional) - target.capacity();
            self.charge(charged)?;
            let before = target.capacity();
            target.reserve_exact(additional);
            self.charge_anyway((target.capacity() - before).saturating_sub(charged));
        }
        let mut rest = value;
        while rest.len() > CHUNK {
            let mut end = CHUNK;
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            target.push_str(&rest[..end]);
            rest = &rest[end..];
            self.check_deadline()?;
        }
        target.push_str(rest);
        Ok(())
    }

    /// Clones `source` into `target`, reusing `target`'s allocations; the
    /// most it can grow by (`source_bytes`) is charged first and the rest
    /// given back.
    pub fn clone_into<T: Clone>(
        &mut self,
        target: &mut T,
        source: &T,
        source_bytes: usize,
        footprint: impl Fn(&T) -> usize,
    ) -> Result<(), Exceeded> {
        self.charge(source_bytes)?;
        let before = footprint(target);
        target.clone_from(source);
        let grown = footprint(target).saturating_sub(before);
        self.held_bytes = self.held_bytes.saturating_sub(source_bytes).saturating_add(grown);
        self.peak_bytes = self.peak_bytes.max(self.held_bytes);
        Ok(())
    }
}

/// Checks that `bytes` are UTF-8, a chunk at a time, looking at the deadline
/// between chunks. `Err(Ok(valid_up_to))` for invalid UTF-8.
#[inline]
pub fn utf8<'a>(bytes: &'a [u8], budget: &Budget) -> Result<&'a str, Result<usize, Exceeded>> {
    if bytes.len() <= CHUNK {
        return std::str::from_utf8(bytes).map_err(|e| Ok(e.valid_up_to()));
    }
    long_utf8(bytes, budget)
}

#[cold]
fn long_utf8<'a>(bytes: &'a [u8], budget: &Budget) -> Result<&'a str, Result<usize, Exceeded>> {
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + CHUNK).min(bytes.len());
        match std::str::from_utf8(&bytes[start..end]) {
            Ok(_) => start = end,
            // A character cut by the chunk's end: the piece ends before it,
            // and the next piece starts with it.
            Err(e) if e.error_len().is_none() && end < bytes.len() && e.valid_up_to() > 0 => {
                start += e.valid_up_to();
            }
            Err(e) => return Err(Ok(start + e.valid_up_to())),
        }
        budget.check_deadline().map_err(Err)?;
    }
    // SAFETY: the loop validated `bytes` as consecutive pieces that tile it
    // exactly (each piece starts where the previous ended, the last ends at
    // `bytes.len()`), and each piece is valid UTF-8 on its own; a
    // concatenation of valid UTF-8 strings is valid UTF-8.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_count_the_peak() {
        let mut budget = Budget::new(100, 2, Clock::default());
        budget.charge(60).unwrap();
        assert_eq!(budget.charge(41), Err(Exceeded::Budget(HostResource::Bytes, 100)));
        budget.charge(40).unwrap();
        assert_eq!(budget.held_bytes(), 100);
        budget.release_all();
        assert_eq!((budget.held_bytes(), budget.peak_bytes()), (0, 100));
        budget.handle().unwrap();
        budget.handle().unwrap();
        assert_eq!(budget.handle(), Err(Exceeded::Budget(HostResource::Handles, 2)));
        budget.begin(None);
        budget.handle().unwrap();
        assert_eq!(budget.charge(usize::MAX), Err(Exceeded::Budget(HostResource::Bytes, 100)));
    }

    #[test]
    fn set_reuses_capacity_and_charges_only_growth() {
        let mut budget = Budget::new(1 << 20, 10, Clock::default());
        let mut text = String::new();
        budget.set_str(&mut text, "hello world").unwrap();
        let held = budget.held_bytes();
        assert!(held >= 11);
        budget.set_str(&mut text, "short").unwrap();
        budget.set_str(&mut text, "hello world").unwrap();
        assert_eq!(budget.held_bytes(), held, "putting a value again reuses its space");
        let mut small = Budget::new(4, 10, Clock::default());
        assert!(small.set_bytes(&mut Vec::new(), b"too long").is_err());
    }

    #[test]
    fn a_late_tick_does_not_end_a_deadline_early() {
        let clock = Clock::new(Duration::from_millis(5), 16);
        // The call starts at tick 0; the ticker, late, publishes four ticks
        // at once, as many as a 15 ms deadline counts.
        let start = clock.now();
        for _ in 0..4 {
            clock.advance();
        }
        // By the ticks the deadline passed, by the time hardly any of it.
        let left = clock.left(start, Duration::from_millis(15)).expect("15 ms have not passed");
        assert!((2..=3).contains(&left), "{left} ticks left");
        std::thread::sleep(Duration::from_millis(16));
        assert_eq!(clock.left(start, Duration::from_millis(15)), None);
    }

    #[test]
    fn long_values_copy_in_chunks_and_stop_at_the_deadline() {
        let big = "é".repeat(CHUNK); // 2 MiB, characters straddling chunk ends
        let mut budget = Budget::new(usize::MAX, 1, Clock::default());
        let mut text = String::new();
        budget.set_str(&mut text, &big).unwrap();
        assert_eq!(text, big);
        assert_eq!(utf8(big.as_bytes(), &budget).unwrap().len(), big.len());
        let mut bad = big.clone().into_bytes();
        bad[CHUNK + 7] = 0xFF;
        assert_eq!(utf8(&bad, &budget), Err(Ok(CHUNK + 6)));
        // A clock nobody advances never passes a deadline.
        budget.begin(Some((Duration::ZERO, 0)));
        assert!(!budget.past_deadline());
        let clock = Clock::new(Duration::from_millis(1), 8);
        budget = Budget::new(usize::MAX, 1, clock.clone());
        budget.begin(Some((Duration::ZERO, 0)));
        clock.advance();
        assert_eq!(budget.set_str(&mut text, &big), Err(Exceeded::Deadline));
        assert_eq!(utf8(big.as_bytes(), &budget), Err(Err(Exceeded::Deadline)));
    }
}
