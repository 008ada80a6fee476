//! One package's limits ([`PackageLimits`]), where they differ from the
//! engine's ([`Config`]), and what an invocation reads of them ([`Limits`]).

use std::time::Duration;

use crate::config::{Config, Isolation};
use crate::{Error, Result};

/// What an invocation of one package reads of its limits: resolved at load
/// and copied into each worker's instance of the package, so that the invoke
/// path reads them as fields, with no lookup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The engine checks deadlines (epoch interruption is compiled in): a
    /// deadline is set before every call, if only a far one.
    pub(crate) epochs: bool,
    /// The invocation deadline in epoch ticks (far away without one).
    pub(crate) invoke_ticks: u64,
    /// The invocation deadline.
    pub(crate) timeout: Option<Duration>,
    /// The engine meters fuel (compiled in): fuel is set before every call.
    pub(crate) metered: bool,
    /// The fuel budget (`None`: unlimited).
    pub(crate) fuel: Option<u64>,
    pub(crate) isolation: Isolation,
    /// Restore between invocations once memory is larger than this.
    pub(crate) restore_above_bytes: usize,
    /// `Some(bytes)`: restore when the guest says its heap in use is over
    /// this ([`crate::RestoreWhen::HeapInuseBytes`]); `restore_above_bytes`
    /// then judges only a guest that cannot say.
    pub(crate) restore_heap_inuse_bytes: Option<u64>,
    pub(crate) retry_out_of_memory: bool,
}

/// One package's limits where they differ from the engine's: give it to
/// [`crate::Engine::load_package_with`]. A limit not set here is the
/// engine's ([`Config`]). The limits are resolved at load and kept in each
/// worker's instance of the package, so an invocation reads them as it reads
/// the engine's.
///
/// ```
/// use std::time::Duration;
/// use extwasm_engine::{Config, Engine, Isolation, PackageLimits};
///
/// let wasm = r#"(module (memory (export "memory") 1)
///   (func (export "WasmAbiVersion_0_0_1")) (func (export "run")))"#;
/// let engine = Engine::new(Config::default().memory_limit_pages(256).fuel(Some(10_000_000)))?;
/// let trusted = engine.load_package("trusted", wasm.as_bytes(), &["run"])?;
/// let untrusted = engine.load_package_with(
///     "untrusted",
///     wasm.as_bytes(),
///     &["run"],
///     &PackageLimits::new()
///         .memory_limit_pages(32)
///         .timeout(Some(Duration::from_millis(50)))
///         .fuel(Some(100_000))
///         .isolation(Isolation::Fresh),
/// )?;
/// assert_eq!(trusted.memory_limit_pages(), 256);
/// assert_eq!(untrusted.memory_limit_pages(), 32);
/// assert_eq!(untrusted.fuel(), Some(100_000));
/// # Ok::<(), extwasm_engine::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageLimits {
    memory_limit_pages: Option<u32>,
    timeout: Option<Option<Duration>>,
    fuel: Option<Option<u64>>,
    restore_threshold_pages: Option<u32>,
    isolation: Option<Isolation>,
}

impl PackageLimits {
    /// The engine's limits for everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Memory limit of the package's instances in 64 KiB pages, at most the
    /// engine's [`Config::memory_limit_pages`]: the engine's instance pool
    /// sizes every memory slot by the engine's limit, so a package may use
    /// less of its slot, never more (a larger limit is [`crate::Error::Config`]).
    /// The module's initialisation at load runs under this limit. The host
    /// budget and the handle limit, when the engine leaves them to their
    /// defaults, follow it (they are derived from the memory limit); the
    /// exchange buffer must fit as with [`Config::exchange_buffer_bytes`].
    pub fn memory_limit_pages(mut self, pages: u32) -> Self {
        self.memory_limit_pages = Some(pages);
        self
    }

    /// Deadline of one invocation (`None`: none). A deadline needs an engine
    /// that counts them, one with a [`Config::timeout`] or a
    /// [`Config::load_timeout`]: the checks are compiled into the code.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fuel budget of one invocation (`None`: unlimited). A budget needs an
    /// engine with [`Config::fuel`] set: fuel metering is compiled into the
    /// code, and costs every package of the engine a little.
    pub fn fuel(mut self, fuel: Option<u64>) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Restore threshold in pages (see [`Config::restore_threshold_pages`];
    /// default: the engine's if it set one, else half the package's memory
    /// limit).
    pub fn restore_threshold_pages(mut self, pages: u32) -> Self {
        self.restore_threshold_pages = Some(pages);
        self
    }

    /// [`Isolation`] of the package's invocations.
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// The engine's settings with this package's limits, checked: an invalid
    /// limit, or one the engine cannot enforce, is [`Error::Config`].
    pub(crate) fn apply(&self, engine: &Config) -> Result<Config> {
        let mut config = engine.clone();
        if let Some(pages) = self.memory_limit_pages {
            if pages > engine.get_memory_limit_pages() {
                let problem = format!(
                    "a package's limit of {pages} pages exceeds the engine's {} pages, which size the memory slots \
                     of the engine's instance pool",
                    engine.get_memory_limit_pages()
                );
                return Err(Error::config("memory_limit_pages", problem));
            }
            config = config.memory_limit_pages(pages);
        }
        if let Some(timeout) = self.timeout {
            if timeout.is_some() && !engine.uses_epochs() {
                let problem = "a package's deadline needs an engine with a timeout or a load timeout \
                               (deadline checks are compiled into the code)";
                return Err(Error::config("timeout", problem));
            }
            config = config.timeout(timeout);
        }
        if let Some(fuel) = self.fuel {
            if fuel.is_some() && engine.get_fuel().is_none() {
                let problem = "a package's fuel budget needs an engine with Config::fuel set \
                               (fuel metering is compiled into the code)";
                return Err(Error::config("fuel", problem));
            }
            config = config.fuel(fuel);
        }
        if let Some(pages) = self.restore_threshold_pages {
            config = config.restore_threshold_pages(pages);
        }
        if let Some(isolation) = self.isolation {
            config = config.isolation(isolation);
        }
        config.validate()?;
        Ok(config)
    }
}
