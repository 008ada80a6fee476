//! Compile once: a validated, pre-initialised [`Package`] that every worker
//! instantiates, and its [`Extension`]s.

use std::path::Path;
use std::sync::Arc;

use extwasm_host::LoadError;
use extwasm_state::names::NameIndex;
use wasmtime::FuncType;

use crate::backtrace::FuncNames;
use crate::engine::Engine;
use crate::instance::{self, Blueprint};
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
    /// the named extensions. Every ABI problem is found here, as a typed
    /// [`LoadError`].
    ///
    /// Loading also runs the module's initialisation once, under the load
    /// deadline and the memory limit, and captures the result as the
    /// package's snapshot (see [`Package::preinitialized`]): every instance
    /// starts from it, and every restore returns to it.
    pub fn load_package(&self, name: &str, wasm: &[u8], extensions: &[&str]) -> Result<Package> {
        let invalid = |detail: String| Error::load(name, LoadError::InvalidModule { detail });
        let binary = wat::parse_bytes(wasm).map_err(|e| invalid(e.to_string()))?;
        // Before compiling: the pooling allocator would refuse an oversized
        // memory with a message about itself rather than about the module.
        let limit_pages = self.config().get_memory_limit_pages();
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
        let outcome = match instrumented {
            Ok(instrumented) => instrumented.preinitialize(self, name, &validated.denied_wasi)?,
            Err(reason) => {
                instance::trial_initialize(self, name, &module, &validated.denied_wasi)?;
                Err(reason)
            }
        };
        let func_names = Arc::new(FuncNames::of_module(&binary));
        let blueprint = |preinitialized| Blueprint {
            name: name.into(),
            extensions: validated.extensions.clone().into(),
            preinitialized,
            func_names,
        };
        let (blueprint, module, not_preinitialized) = match outcome {
            Ok(snapshot) => (blueprint(Some(snapshot.exchange)), snapshot.module, None),
            // Instances run initialisation themselves, from `module` (the
            // instrumented module, when only the snapshot failed).
            Err(reason) => (blueprint(None), module, Some(reason)),
        };
        Ok(Package {
            inner: Arc::new(PackageInner {
                blueprint,
                module,
                engine: self.clone(),
                extension_index: validated.extension_index,
                denied_wasi: validated.denied_wasi,
                not_preinitialized,
            }),
        })
    }

    /// [`Engine::load_package`] from a file.
    pub fn load_package_file(&self, name: &str, path: impl AsRef<Path>, extensions: &[&str]) -> Result<Package> {
        let path = path.as_ref();
        let wasm = std::fs::read(path).map_err(|e| {
            Error::load(name, LoadError::Unreadable { path: path.display().to_string(), detail: e.to_string() })
        })?;
        self.load_package(name, &wasm, extensions)
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
