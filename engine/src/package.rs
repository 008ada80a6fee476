//! Compile once: a validated, pre-initialised [`Package`] that every worker
//! instantiates, its [`Extension`]s, its limits, and what its load warns of.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use extwasm_abi::WASM_PAGE_SIZE;
use extwasm_host::LoadError;
use extwasm_state::names::NameIndex;
use wasmtime::FuncType;

use crate::backtrace::FuncNames;
use crate::cache;
use crate::config::{Config, Isolation};
use crate::engine::{Engine, ticks};
use crate::instance::{self, Blueprint};
use crate::limits::{Limits, PackageLimits};
use crate::memory_info::RestoreWhen;
use crate::validate;
use crate::{Error, Result};

/// A compiled, validated package. Cheap to clone; `Send + Sync`; shared by
/// every worker that instantiates it.
#[derive(Clone)]
pub struct Package {
    pub(crate) inner: Arc<PackageInner>,
}

pub(crate) struct PackageInner {
    /// What instances are made of: name, extensions, snapshot.
    pub(crate) blueprint: Blueprint,
    pub(crate) module: wasmtime::Module,
    pub(crate) engine: Engine,
    /// Name -> position in the blueprint's extensions.
    pub(crate) extension_index: NameIndex,
    /// WASI functions the module imports that the engine denies, with the
    /// signature they are imported with.
    pub(crate) denied_wasi: Vec<(String, FuncType)>,
    /// Why the module could not be pre-initialised.
    pub(crate) not_preinitialized: Option<String>,
    /// The engine's settings with the package's limits: what the host
    /// context of each of its instances is made with.
    pub(crate) config: Config,
    /// What an invocation reads of them, resolved once.
    pub(crate) limits: Limits,
    /// The snapshot's memory size, in pages.
    pub(crate) snapshot_pages: u32,
    /// The restore threshold, resolved (see [`Package::restore_threshold_pages`]).
    pub(crate) restore_threshold_pages: u32,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) cache: CacheStatus,
}

/// What loading a package makes besides its name and limits: what a cache
/// entry holds.
pub(crate) struct Compiled {
    /// The module instances are made of: the pre-initialised snapshot, or
    /// (when the module could not be pre-initialised) the module that runs
    /// initialisation itself.
    pub(crate) module: wasmtime::Module,
    /// The extensions, sorted.
    pub(crate) extensions: Vec<Box<str>>,
    /// The WASI functions the module imports that the engine denies.
    pub(crate) denied_wasi: Vec<(String, FuncType)>,
    /// `Some(exchange buffer address)` when `module` is the snapshot.
    pub(crate) exchange: Option<u32>,
    /// Why the module could not be pre-initialised.
    pub(crate) not_preinitialized: Option<String>,
    /// The memory size after initialisation, in pages.
    pub(crate) snapshot_pages: u32,
}

/// Something a load found worth telling whoever deploys the package; the
/// package works regardless. See [`Package::warnings`] (`extwasm run` prints
/// them on stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The snapshot's memory is at or above the restore threshold: the
    /// instance is restored after every invocation that grows its memory at
    /// all (above it: after every invocation), which costs each of them a
    /// restore. Raise the threshold or the memory limit.
    SnapshotAtRestoreThreshold {
        /// The snapshot's memory size, in pages.
        snapshot_pages: u32,
        /// The restore threshold, in pages.
        threshold_pages: u32,
    },
    /// A cache entry for the package was found and not used (see
    /// [`crate::Config::cache_dir`]); the package was compiled, and the
    /// entry replaced when it could be.
    CacheEntryRejected {
        /// The entry's file.
        path: PathBuf,
        /// Why, in kind.
        kind: CacheRejection,
        /// Why, in detail.
        reason: String,
    },
    /// The compiled package could not be stored in the cache; the next load
    /// compiles it again.
    CacheNotWritten {
        /// The entry's file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::SnapshotAtRestoreThreshold { snapshot_pages, threshold_pages } => write!(
                f,
                "the snapshot's memory ({snapshot_pages} pages) is at or above the restore threshold \
                 ({threshold_pages} pages): the instance is restored after every invocation that grows its memory; \
                 raise the restore threshold or the memory limit"
            ),
            Warning::CacheEntryRejected { path, reason, .. } => {
                write!(f, "cache entry {} not used: {reason}; compiled again", path.display())
            }
            Warning::CacheNotWritten { path, detail } => {
                write!(f, "cache entry {} not written: {detail}", path.display())
            }
        }
    }
}

/// Why a cache entry was not used ([`Warning::CacheEntryRejected`]): each
/// is rebuilt and replaced alike; the kind says whether to look into the
/// cache directory (`NotPrivate`, `Unreadable`) or the disk (`Corrupt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheRejection {
    /// It could not be opened or read.
    Unreadable,
    /// It is not a regular file owned by this user and writable by no one
    /// else, so its code may not be this user's processes'.
    NotPrivate,
    /// It is larger than [`crate::Config::cache_limit_bytes`].
    TooLarge,
    /// It is shorter or longer than its header says (a torn write).
    Truncated,
    /// It does not start as an entry does.
    NotAnEntry,
    /// It is another entry format's, or another key's under this name
    /// (another engine version, configuration or module).
    Foreign,
    /// Its contents do not match their SHA-256, or do not decode.
    Corrupt,
}

/// Where a package came from (see [`crate::Config::cache_dir`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheStatus {
    /// The engine has no cache: the package was compiled.
    Off,
    /// Read from the cache: nothing was compiled or initialised.
    Hit,
    /// Compiled, and stored in the cache (unless a
    /// [`Warning::CacheNotWritten`] says otherwise).
    Miss,
}

/// Why a package's instances run initialisation themselves instead of
/// starting from a snapshot taken at load (see [`Package::preinitialized`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotPreinitialized {
    /// The snapshotting tool's reason (`wasmtime-wizer`).
    pub reason: String,
}

impl std::fmt::Display for NotPreinitialized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the module could not be pre-initialised: {}", self.reason)
    }
}

impl std::error::Error for NotPreinitialized {}

impl Package {
    /// The package name.
    pub fn name(&self) -> &str {
        &self.inner.blueprint.name
    }

    /// The extension names, sorted.
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.inner.blueprint.extensions.iter().map(|e| &**e)
    }

    /// Extension `name`, resolved once: invoking through it
    /// ([`crate::Worker::call`]) skips the lookups by name.
    pub fn extension(&self, name: &str) -> Result<Extension> {
        match self.inner.extension_index.get(name) {
            Some(index) => Ok(Extension { package: self.clone(), index }),
            None => Err(Error::unknown_extension(self.name(), name, self.extensions())),
        }
    }

    /// Whether instances start from a snapshot taken at load (the normal
    /// case) rather than by running initialisation each time; `Err` says why
    /// the module could not be pre-initialised.
    pub fn preinitialized(&self) -> Result<(), NotPreinitialized> {
        match &self.inner.not_preinitialized {
            None => Ok(()),
            Some(reason) => Err(NotPreinitialized { reason: reason.clone() }),
        }
    }

    /// The memory limit of the package's instances, in pages (the
    /// engine's unless [`PackageLimits::memory_limit_pages`] set it).
    pub fn memory_limit_pages(&self) -> u32 {
        self.inner.config.get_memory_limit_pages()
    }

    /// The deadline of one invocation.
    pub fn timeout(&self) -> Option<Duration> {
        self.inner.config.get_timeout()
    }

    /// The fuel budget of one invocation.
    pub fn fuel(&self) -> Option<u64> {
        self.inner.config.get_fuel()
    }

    /// The isolation of its invocations.
    pub fn isolation(&self) -> Isolation {
        self.inner.config.get_isolation()
    }

    /// The memory size of the snapshot instances start from, in pages.
    pub fn snapshot_pages(&self) -> u32 {
        self.inner.snapshot_pages
    }

    /// Restore an instance between invocations once its memory exceeds this
    /// many pages: the one set ([`PackageLimits::restore_threshold_pages`],
    /// else [`Config::restore_threshold_pages`]), else half the package's
    /// memory limit. A snapshot at or above it warns
    /// ([`Warning::SnapshotAtRestoreThreshold`]): a standard-Go module is 42
    /// pages after initialisation, over half of a 64-page limit.
    pub fn restore_threshold_pages(&self) -> u32 {
        self.inner.restore_threshold_pages
    }

    /// What the load found worth telling (the package works regardless).
    pub fn warnings(&self) -> &[Warning] {
        &self.inner.warnings
    }

    /// Whether the package was read from the engine's cache.
    pub fn cache_status(&self) -> CacheStatus {
        self.inner.cache
    }

    pub(crate) fn extension_index(&self, extension: &str) -> Option<usize> {
        self.inner.extension_index.get(extension)
    }

    /// Whether `self` and `other` are the same load of a package.
    pub(crate) fn same(&self, other: &Package) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// An extension of a loaded [`Package`], resolved once, as a wasmtime
/// `TypedFunc` is: cheap to clone, valid with every worker the package was
/// added to.
#[derive(Clone)]
pub struct Extension {
    pub(crate) package: Package,
    pub(crate) index: usize,
}

impl Extension {
    /// The extension's name.
    pub fn name(&self) -> &str {
        &self.package.inner.blueprint.extensions[self.index]
    }

    /// The package it belongs to.
    pub fn package(&self) -> &Package {
        &self.package
    }
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Extension({}/{})", self.package.name(), self.name())
    }
}

impl Engine {
    /// Compiles and validates a package: `wasm` (binary, or text format) with
    /// the named extensions, under the engine's limits. Every ABI problem is
    /// found here, as a typed [`LoadError`].
    ///
    /// Loading also runs the module's initialisation once, under the load
    /// deadline and the memory limit, and captures the result as the
    /// package's snapshot (see [`Package::preinitialized`]): every instance
    /// starts from it, and every restore returns to it. With a cache
    /// ([`Config::cache_dir`]), a package loaded before is read from it
    /// instead, with neither compilation nor initialisation.
    pub fn load_package(&self, name: &str, wasm: &[u8], extensions: &[&str]) -> Result<Package> {
        self.load_package_with(name, wasm, extensions, &PackageLimits::default())
    }

    /// [`Engine::load_package`] with the package's own limits: each one set
    /// in `limits` replaces the engine's for this package (an invalid one,
    /// or one this engine cannot enforce, is [`Error::Config`]).
    pub fn load_package_with(
        &self,
        name: &str,
        wasm: &[u8],
        extensions: &[&str],
        limits: &PackageLimits,
    ) -> Result<Package> {
        let config = limits.apply(self.config())?;
        let Some(dir) = self.config().get_cache_dir() else {
            let compiled = self.compile(name, wasm, extensions, &config)?;
            return Ok(self.package(name, wasm, config, compiled, CacheStatus::Off, Vec::new()));
        };
        let key = cache::key(self, &config, wasm, extensions);
        let path = cache::entry_path(dir, &key);
        let mut warnings = Vec::new();
        let limit = self.config().get_cache_limit_bytes();
        match cache::read(self, &path, &key, limit) {
            Ok(Some(compiled)) => return Ok(self.package(name, wasm, config, compiled, CacheStatus::Hit, warnings)),
            Ok(None) => {}
            Err((kind, reason)) => warnings.push(Warning::CacheEntryRejected { path: path.clone(), kind, reason }),
        }
        let compiled = self.compile(name, wasm, extensions, &config)?;
        if let Err(detail) = cache::write(dir, &path, &key, &compiled, limit) {
            warnings.push(Warning::CacheNotWritten { path, detail });
        }
        Ok(self.package(name, wasm, config, compiled, CacheStatus::Miss, warnings))
    }

    /// Compiles, validates and pre-initialises `wasm` under `config` (the
    /// engine's settings with the package's limits).
    fn compile(&self, name: &str, wasm: &[u8], extensions: &[&str], config: &Config) -> Result<Compiled> {
        let invalid = |detail: String| Error::load(name, LoadError::InvalidModule { detail });
        let binary = wat::parse_bytes(wasm).map_err(|e| invalid(e.to_string()))?;
        // Before compiling: the pooling allocator would refuse an oversized
        // memory with a message about itself rather than about the module.
        let limit_pages = config.get_memory_limit_pages();
        if let Some(pages) = initial_memory_pages(&binary)
            && pages > limit_pages as u64
        {
            return Err(Error::load(name, LoadError::MemoryTooLarge { pages, limit_pages }));
        }
        // Compile once for validation and pre-initialisation (the
        // instrumented module), once for the snapshot.
        let (module, instrumented) = match instance::Instrumented::new(self, name, &binary)? {
            Ok(instrumented) => (instrumented.module.clone(), Ok(instrumented)),
            Err(reason) => {
                let module = wasmtime::Module::new(self.wasmtime(), &binary).map_err(|e| invalid(format!("{e:#}")))?;
                (module, Err(reason))
            }
        };
        let validated = validate::validate(&module, extensions).map_err(|error| Error::load(name, error))?;
        let (snapshot_pages, outcome) = match instrumented {
            Ok(instrumented) => instrumented.preinitialize(self, config, name, &validated.denied_wasi)?,
            Err(reason) => {
                let pages = instance::trial_initialize(self, config, name, &module, &validated.denied_wasi)?;
                (pages, Err(reason))
            }
        };
        let (module, exchange, not_preinitialized) = match outcome {
            Ok(snapshot) => (snapshot.module, Some(snapshot.exchange), None),
            // Instances run initialisation themselves, from `module` (the
            // instrumented module, when only the snapshot failed).
            Err(reason) => (module, None, Some(reason)),
        };
        Ok(Compiled {
            module,
            extensions: validated.extensions,
            denied_wasi: validated.denied_wasi,
            exchange,
            not_preinitialized,
            snapshot_pages,
        })
    }

    /// The package made of `compiled`, with its limits resolved and what
    /// they warn of.
    fn package(
        &self,
        name: &str,
        wasm: &[u8],
        config: Config,
        compiled: Compiled,
        cache: CacheStatus,
        mut warnings: Vec<Warning>,
    ) -> Package {
        let snapshot_pages = compiled.snapshot_pages;
        let restore_threshold_pages = config.get_restore_threshold_pages();
        // Under fresh isolation every invocation restores anyway.
        if snapshot_pages >= restore_threshold_pages && config.get_isolation() == Isolation::Reuse {
            warnings
                .push(Warning::SnapshotAtRestoreThreshold { snapshot_pages, threshold_pages: restore_threshold_pages });
        }
        let limits = Limits {
            epochs: self.config().uses_epochs(),
            invoke_ticks: ticks(config.get_timeout()),
            timeout: config.get_timeout(),
            metered: self.config().get_fuel().is_some(),
            fuel: config.get_fuel(),
            isolation: config.get_isolation(),
            restore_above_bytes: restore_threshold_pages as usize * WASM_PAGE_SIZE as usize,
            restore_heap_inuse_bytes: match config.get_restore_when() {
                RestoreWhen::HeapInuseBytes(bytes) => Some(bytes),
                RestoreWhen::MemoryPages(_) => None,
            },
            retry_out_of_memory: config.get_retry_out_of_memory(),
        };
        let extension_index = NameIndex::new(compiled.extensions.iter().map(|e| &**e));
        Package {
            inner: Arc::new(PackageInner {
                blueprint: Blueprint {
                    name: name.into(),
                    extensions: compiled.extensions.into(),
                    preinitialized: compiled.exchange,
                    // From the module's own name section, which a cache
                    // entry does not keep: reading it costs less than a
                    // copy of the names in every entry would.
                    func_names: Arc::new(wat::parse_bytes(wasm).map(|b| FuncNames::of_module(&b)).unwrap_or_default()),
                },
                module: compiled.module,
                engine: self.clone(),
                extension_index,
                denied_wasi: compiled.denied_wasi,
                not_preinitialized: compiled.not_preinitialized,
                config,
                limits,
                snapshot_pages,
                restore_threshold_pages,
                warnings,
                cache,
            }),
        }
    }

    /// [`Engine::load_package`] from a file.
    pub fn load_package_file(&self, name: &str, path: impl AsRef<Path>, extensions: &[&str]) -> Result<Package> {
        self.load_package_file_with(name, path, extensions, &PackageLimits::default())
    }

    /// [`Engine::load_package_with`] from a file.
    pub fn load_package_file_with(
        &self,
        name: &str,
        path: impl AsRef<Path>,
        extensions: &[&str],
        limits: &PackageLimits,
    ) -> Result<Package> {
        let path = path.as_ref();
        let wasm = std::fs::read(path).map_err(|e| {
            Error::load(name, LoadError::Unreadable { path: path.display().to_string(), detail: e.to_string() })
        })?;
        self.load_package_with(name, &wasm, extensions, limits)
    }
}

/// The initial size of the module's first defined memory, if it has one and
/// parses (a module that does not parse fails compilation right after).
fn initial_memory_pages(wasm: &[u8]) -> Option<u64> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::MemorySection(memories) = payload.ok()? {
            return memories.into_iter().next()?.ok().map(|memory| memory.initial);
        }
    }
    None
}
