//! Engine-wide settings: every package gets these limits unless it sets its
//! own ([`crate::PackageLimits`]).

use std::path::PathBuf;
use std::time::Duration;

use extwasm_abi as abi;

use crate::memory_info::RestoreWhen;
use crate::{Error, Result};

/// How much an invocation may see of the ones before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// One instance serves many invocations; it is restored to its snapshot
    /// after a failure and when its memory passes the restore threshold.
    #[default]
    Reuse,
    /// Every invocation starts from the snapshot: nothing leaks from one
    /// invocation to the next through guest globals or heap.
    Fresh,
}

impl std::str::FromStr for Isolation {
    type Err = ParseIsolationError;

    fn from_str(s: &str) -> Result<Self, ParseIsolationError> {
        match s {
            "reuse" => Ok(Isolation::Reuse),
            "fresh" => Ok(Isolation::Fresh),
            other => Err(ParseIsolationError { given: other.to_owned() }),
        }
    }
}

/// A name that is not an [`Isolation`] (`reuse`, `fresh`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseIsolationError {
    /// What was given.
    pub given: String,
}

impl std::fmt::Display for ParseIsolationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "isolation must be reuse or fresh, not {:?}", self.given)
    }
}

impl std::error::Error for ParseIsolationError {}

/// Engine-wide settings. Every instance a [`crate::Worker`] creates gets
/// these limits.
#[derive(Clone, Debug)]
pub struct Config {
    memory_limit_pages: u32,
    exchange_buffer_bytes: u32,
    output_limit_bytes: usize,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    isolation: Isolation,
    restore_when: Option<RestoreWhen>,
    retry_out_of_memory: bool,
    max_instances: u32,
    keep_resident_bytes: usize,
    huge_pages: bool,
    background_restore_above: Option<usize>,
    host_budget_bytes: Option<usize>,
    max_handles: Option<u32>,
    load_timeout: Option<Duration>,
    cache_dir: Option<PathBuf>,
    cache_limit_bytes: u64,
    backtrace_lines: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_limit_pages: abi::DEFAULT_MEMORY_LIMIT_PAGES,
            exchange_buffer_bytes: abi::EXCHANGE_BUFFER_SIZE,
            output_limit_bytes: 1024,
            timeout: Some(Duration::from_secs(10)),
            fuel: None,
            isolation: Isolation::Reuse,
            restore_when: None,
            retry_out_of_memory: true,
            max_instances: 256,
            keep_resident_bytes: 128 << 20,
            huge_pages: true,
            background_restore_above: Some(512 << 10),
            host_budget_bytes: None,
            max_handles: None,
            load_timeout: Some(Duration::from_secs(10)),
            cache_dir: None,
            cache_limit_bytes: 1 << 30,
            backtrace_lines: true,
        }
    }
}

impl Config {
    /// Wall-clock deadline of one invocation (default 10 s; `None`: none).
    /// Enforced by epoch interruption with one ticker thread per engine
    /// (5 ms granularity); exceeding it fails with
    /// [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Deterministic instruction budget of one invocation in wasmtime fuel
    /// units (default `None`). Enabling fuel slows all guest code a little;
    /// exceeding the budget fails with [`Error::FuelExhausted`].
    pub fn fuel(mut self, fuel: Option<u64>) -> Self {
        self.fuel = fuel;
        self
    }

    /// [`Isolation::Reuse`] (default) or [`Isolation::Fresh`].
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Restore an instance between invocations once its memory exceeds this
    /// many pages (default: half the memory limit), so a leaking guest is
    /// reset before it runs out: `restore_when(RestoreWhen::MemoryPages(pages))`.
    /// A package whose snapshot is already this large would be restored
    /// after every invocation that grows its memory, so its load warns
    /// ([`crate::Warning::SnapshotAtRestoreThreshold`]).
    pub fn restore_threshold_pages(mut self, pages: u32) -> Self {
        self.restore_when = Some(RestoreWhen::MemoryPages(pages));
        self
    }

    /// When to restore an instance between invocations (besides after every
    /// failure): [`RestoreWhen::MemoryPages`] (the default, at half the
    /// memory limit) or [`RestoreWhen::HeapInuseBytes`], which asks the
    /// guest before each invocation.
    pub fn restore_when(mut self, when: RestoreWhen) -> Self {
        self.restore_when = Some(when);
        self
    }

    /// When instances are restored between invocations.
    pub fn get_restore_when(&self) -> RestoreWhen {
        self.restore_when.unwrap_or(RestoreWhen::MemoryPages(self.memory_limit_pages / 2))
    }

    /// Retry an invocation that ran out of memory once, on a restored
    /// instance (default on).
    pub fn retry_out_of_memory(mut self, retry: bool) -> Self {
        self.retry_out_of_memory = retry;
        self
    }

    /// How many instances may exist at once across the engine's workers
    /// (default 256): the size of the pooling allocator. Each takes address
    /// space, not memory, until used. A package instance restored in the
    /// background counts twice while it has a spare (see
    /// [`Config::background_restore_above`]).
    pub fn max_instances(mut self, instances: u32) -> Self {
        self.max_instances = instances;
        self
    }

    /// Bytes at the start of each instance's memory that a restore resets in
    /// place (only the pages the guest dirtied) instead of returning them to
    /// the kernel (default 128 MiB, capped at the memory limit). Resetting in
    /// place costs a `memset` of the dirtied pages and keeps them resident,
    /// so the next invocation takes no page fault on them (≈2 µs a page);
    /// returning pages costs `madvise` plus those faults later. The price is
    /// resident memory: an instance keeps up to this much of what it touched.
    pub fn keep_resident_bytes(mut self, bytes: usize) -> Self {
        self.keep_resident_bytes = bytes;
        self
    }

    /// Back guest memory with transparent huge pages where the kernel offers
    /// them (default on; Linux with THP `always` or `madvise`). A 2 MiB block
    /// of memory that a guest grows into at once (TinyGo doubles its heap)
    /// is then one page: filling it takes one page fault instead of 512, and
    /// a restore resets and protects it with one page-table entry instead of
    /// 512 (measured: 8 MiB filled 249 → 119 µs, 100 MiB 2.5 → 0.86 ms; see
    /// the README). Memory grown a page at a time, and the first 2 MiB,
    /// which holds the snapshot's image, keep 4 KiB pages. The price: memory
    /// becomes resident 2 MiB at a time, and the first touch of a block costs
    /// the kernel zeroing all of it.
    pub fn huge_pages(mut self, enabled: bool) -> Self {
        self.huge_pages = enabled;
        self
    }

    /// Whether guest memory is advised to use transparent huge pages.
    pub fn get_huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Restore in the background an instance whose memory grew more than
    /// `bytes` past its snapshot (default 512 KiB; `None`: every restore
    /// happens on the worker's thread). The worker swaps in a spare
    /// instance, made from the snapshot beforehand, and goes on at once; the
    /// engine's reclaimer thread drops the old instance, which resets its
    /// memory, and makes the next spare. A restore after a guest filled its
    /// memory then costs the worker a few microseconds instead of a reset
    /// proportional to what the guest dirtied (2 MiB filled: ≈ 60 µs), and that
    /// cost moves to the reclaimer ([`crate::Stats::last_reclaim`]).
    ///
    /// The first spare is ordered when an invocation leaves memory grown
    /// past the threshold, or else at the first such restore (which then
    /// happens on the worker). When the reclaimer has not finished the
    /// spare, the restore happens on the worker too. A package instance with
    /// a spare holds a second instance slot (see [`Config::max_instances`])
    /// and, once both have been filled, up to twice the resident memory (see
    /// [`Config::keep_resident_bytes`]).
    pub fn background_restore_above(mut self, bytes: Option<usize>) -> Self {
        self.background_restore_above = bytes;
        self
    }

    /// The growth past the snapshot above which restores are backgrounded.
    pub fn get_background_restore_above(&self) -> Option<usize> {
        self.background_restore_above
    }

    /// Bytes the host may hold for one invocation (default: the memory
    /// limit, so a guest cannot make the host hold more than it may hold
    /// itself). It counts what the host allocates because of the guest:
    /// key builders and intents with their names, strings and bytes, and
    /// the handle tables. Passing it fails the invocation with
    /// [`crate::Error::HostBudget`]; the instance is restored and the host
    /// memory released.
    pub fn host_budget_bytes(mut self, bytes: usize) -> Self {
        self.host_budget_bytes = Some(bytes);
        self
    }

    /// The host budget in bytes.
    pub fn get_host_budget_bytes(&self) -> usize {
        self.host_budget_bytes.unwrap_or_else(|| self.memory_limit_bytes())
    }

    /// Handles one invocation may be handed (key builders, values, keys
    /// of read callbacks and intents together; default: one per 256 bytes
    /// of the memory limit, 65 536 at the default 16 MiB). Passing it fails
    /// the invocation with [`crate::Error::HostBudget`].
    pub fn max_handles(mut self, handles: u32) -> Self {
        self.max_handles = Some(handles);
        self
    }

    /// The handle limit.
    pub fn get_max_handles(&self) -> u32 {
        self.max_handles.unwrap_or_else(|| (self.memory_limit_bytes() / 256).clamp(1024, u32::MAX as usize) as u32)
    }

    /// Deadline of a module's initialisation (default 10 s; `None`: none):
    /// its start function, `_initialize` or `_start`, the version call and
    /// the `malloc` of the exchange buffer, run once at load to take the
    /// snapshot (and at every instantiation of a module that cannot be
    /// pre-initialised). Exceeding it fails with
    /// [`crate::Error::LoadTimeout`], naming the phase. Initialisation also
    /// runs under the memory limit.
    pub fn load_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// Keep compiled, pre-initialised packages in `dir` (default `None`: no
    /// cache). A package loaded again, by this process or another, with the
    /// same module, extensions, engine version and settings that shape its
    /// compiled code and snapshot, is then read from `dir` instead of being
    /// compiled and initialised: milliseconds instead of a second for a
    /// standard-Go module (figures in the README).
    ///
    /// Entries are checked before use (magic, format, key, length and a
    /// SHA-256 of the whole entry); one that fails is ignored, rebuilt and
    /// replaced, and the load warns ([`crate::Warning::CacheEntryRejected`]).
    /// Entries are written to a temporary file and renamed into place, so
    /// concurrent loaders never see half an entry. The directory is made
    /// (mode 0700) when missing; an entry is only used when it is owned by
    /// this user and writable by no one else, since its code runs
    /// unchecked: keep the directory private. The entries are kept under
    /// [`Config::cache_limit_bytes`], least recently used deleted first.
    /// A cache that cannot be written costs nothing but the warning
    /// ([`crate::Warning::CacheNotWritten`]).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// The cache directory, if any.
    pub fn get_cache_dir(&self) -> Option<&std::path::Path> {
        self.cache_dir.as_deref()
    }

    /// Bytes the cache's entries may take in [`Config::cache_dir`] (default
    /// 1 GiB; a standard-Go package's entry is about 6 MiB, a TinyGo one's
    /// well under 1 MiB). After an entry is written, the least recently used
    /// entries are deleted until the rest fit; an entry larger than the whole
    /// limit is not written.
    pub fn cache_limit_bytes(mut self, bytes: u64) -> Self {
        self.cache_limit_bytes = bytes;
        self
    }

    /// The cache's size limit in bytes.
    pub fn get_cache_limit_bytes(&self) -> u64 {
        self.cache_limit_bytes
    }

    /// The per-user cache directory a program may pass to
    /// [`Config::cache_dir`]: `$XDG_CACHE_HOME/extwasm`, else
    /// `$HOME/.cache/extwasm` (`None` when neither variable is set to an
    /// absolute path). What `extwasm run` uses unless told otherwise.
    pub fn user_cache_dir() -> Option<PathBuf> {
        let absolute = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|path| path.is_absolute());
        absolute("XDG_CACHE_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
            .map(|cache| cache.join("extwasm"))
    }

    /// The load deadline.
    pub fn get_load_timeout(&self) -> Option<Duration> {
        self.load_timeout
    }

    /// Whether backtraces show file:line for modules that carry DWARF
    /// (default on). The engine then keeps a module's DWARF sections with
    /// its compiled code and reads them when a guest fails; a module
    /// without DWARF (the SDKs' release builds) costs nothing more either
    /// way, and a successful invocation never does. Off, such a module
    /// loads faster and takes less memory, and its frames show names only.
    pub fn backtrace_lines(mut self, enabled: bool) -> Self {
        self.backtrace_lines = enabled;
        self
    }

    /// Whether backtraces show file:line.
    pub fn get_backtrace_lines(&self) -> bool {
        self.backtrace_lines
    }

    /// The invocation deadline.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The fuel budget.
    pub fn get_fuel(&self) -> Option<u64> {
        self.fuel
    }

    /// The isolation mode.
    pub fn get_isolation(&self) -> Isolation {
        self.isolation
    }

    /// The restore threshold in pages: that of [`RestoreWhen::MemoryPages`],
    /// else half the memory limit (which applies to a guest that does not
    /// say its heap in use).
    pub fn get_restore_threshold_pages(&self) -> u32 {
        match self.get_restore_when() {
            RestoreWhen::MemoryPages(pages) => pages,
            _ => self.memory_limit_pages / 2,
        }
    }

    /// Whether out-of-memory invocations are retried.
    pub fn get_retry_out_of_memory(&self) -> bool {
        self.retry_out_of_memory
    }

    /// Memory limit of each instance in 64 KiB pages (default 256 = 16 MiB,
    /// at most 65 535). Growing beyond it fails the invocation with
    /// [`Error::MemoryLimit`].
    pub fn memory_limit_pages(mut self, pages: u32) -> Self {
        self.memory_limit_pages = pages;
        self
    }

    /// Size of the exchange buffer allocated in each instance for string and
    /// bytes results (default 64 000). The memory limit must exceed 1.7 × it.
    pub fn exchange_buffer_bytes(mut self, bytes: u32) -> Self {
        self.exchange_buffer_bytes = bytes;
        self
    }

    /// How much of what a guest prints per invocation is kept (default 1 KiB;
    /// the first `panic:` line is kept regardless).
    pub fn output_limit_bytes(mut self, bytes: usize) -> Self {
        self.output_limit_bytes = bytes;
        self
    }

    /// The memory limit in pages.
    pub fn get_memory_limit_pages(&self) -> u32 {
        self.memory_limit_pages
    }

    /// The size of the exchange buffer.
    pub fn get_exchange_buffer_bytes(&self) -> u32 {
        self.exchange_buffer_bytes
    }

    /// How much of a guest's output is kept per invocation.
    pub fn get_output_limit_bytes(&self) -> usize {
        self.output_limit_bytes
    }

    /// How many instances may exist at once.
    pub fn get_max_instances(&self) -> u32 {
        self.max_instances
    }

    /// The bytes of each memory a restore resets in place.
    pub fn get_keep_resident_bytes(&self) -> usize {
        self.keep_resident_bytes
    }

    pub(crate) fn memory_limit_bytes(&self) -> usize {
        self.memory_limit_pages as usize * abi::WASM_PAGE_SIZE as usize
    }

    /// Whether wasm code is interrupted by epochs: for invocation or load deadlines.
    pub(crate) fn uses_epochs(&self) -> bool {
        self.timeout.is_some() || self.load_timeout.is_some()
    }

    /// Checks the settings together; an invalid one is [`Error::Config`].
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_instances == 0 {
            return Err(Error::config("max_instances", "must be at least 1"));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::config("timeout", "must be longer than zero"));
        }
        if self.load_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::config("load_timeout", "must be longer than zero"));
        }
        if self.host_budget_bytes.is_some_and(|b| b == 0 || b > u32::MAX as usize) {
            let problem = format!("must be 1..={} bytes, got {}", u32::MAX, self.get_host_budget_bytes());
            return Err(Error::config("host_budget_bytes", problem));
        }
        if self.max_handles == Some(0) {
            return Err(Error::config("max_handles", "must be at least 1"));
        }
        if self.memory_limit_pages == 0 || self.memory_limit_pages > abi::MAX_MEMORY_LIMIT_PAGES {
            let problem = format!("must be 1..={} pages, got {}", abi::MAX_MEMORY_LIMIT_PAGES, self.memory_limit_pages);
            return Err(Error::config("memory_limit_pages", problem));
        }
        let (num, den) = abi::MEMORY_LIMIT_EXCHANGE_FACTOR;
        if self.memory_limit_bytes() as u64 * den <= self.exchange_buffer_bytes as u64 * num {
            let problem = format!(
                "{} pages ({} bytes) must exceed 1.7 x the exchange buffer of {} bytes",
                self.memory_limit_pages,
                self.memory_limit_bytes(),
                self.exchange_buffer_bytes
            );
            return Err(Error::config("memory_limit_pages", problem));
        }
        Ok(())
    }
}
