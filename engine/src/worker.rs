//! Instantiate many: a [`Worker`] owns one store and instance per package and
//! invokes extensions on them, one at a time.

use extwasm_abi::export;
use wasmtime::{InstancePre, Linker, Store, TypedFunc};

use crate::error::{Error, Result};
use crate::host::{self, HostCtx};
use crate::names::str_eq;
use crate::package::{Engine, Package};
use crate::state::{Intent, State};
use crate::wasi;

/// Invokes extensions of the packages added to it against an embedder's
/// [`State`]. One worker per thread: it owns its stores (one per package
/// instance); the compiled packages are shared.
pub struct Worker<S: State> {
    engine: Engine,
    linker: Linker<HostCtx<S>>,
    instances: Vec<PackageInstance<S>>,
}

struct PackageInstance<S: State> {
    package: Package,
    store: Store<HostCtx<S>>,
    /// Same order as the package's sorted extension names.
    extensions: Vec<TypedFunc<(), ()>>,
    /// Kept for re-instantiation.
    _pre: InstancePre<HostCtx<S>>,
}

impl<S: State> Worker<S> {
    /// A worker with no packages yet.
    pub fn new(engine: &Engine) -> Self {
        let mut linker = Linker::new(engine.wasmtime());
        // Denied WASI functions are defined per package, with the signature
        // each module imports them with.
        linker.allow_shadowing(true);
        host::define_imports(&mut linker).expect("the ABI table defines each import name once");
        Worker {
            engine: engine.clone(),
            linker,
            instances: Vec::new(),
        }
    }

    /// Instantiates `package` in this worker: runs `_initialize` (or `_start`;
    /// `proc_exit(0)` there is success) and allocates the exchange buffer with
    /// the guest's `malloc`. Adding a package of a name already present
    /// replaces it.
    pub fn add_package(&mut self, package: &Package) -> Result<()> {
        let name = package.name();
        if !wasmtime::Engine::same(package.inner.engine.wasmtime(), self.engine.wasmtime()) {
            return Err(Error::load(name, "package was compiled by another engine"));
        }
        for (field, ty) in &package.inner.denied_wasi {
            wasi::define_denied(&mut self.linker, field, ty)
                .map_err(|e| Error::load(name, format!("{e:#}")))?;
        }
        let pre = self
            .linker
            .instantiate_pre(&package.inner.module)
            .map_err(|e| Error::load(name, format!("cannot link: {e:#}")))?;
        let config = self.engine.config();
        let ctx = HostCtx::new(
            package.inner.name.clone(),
            package.inner.extensions.clone(),
            config.memory_limit_bytes(),
            config.output_limit(),
        );
        let mut store = Store::new(self.engine.wasmtime(), ctx);
        store.limiter(|ctx| &mut ctx.limiter);
        let instance = pre.instantiate(&mut store).map_err(|e| {
            let ctx = store.data();
            match ctx.limiter.denied {
                Some(pages) => Error::load(
                    name,
                    format!("initial memory of {pages} pages exceeds the limit"),
                ),
                None => Error::load(name, format!("cannot instantiate: {e:#}")),
            }
        })?;
        let init_error = |store: &mut Store<HostCtx<S>>, what: &str, e: wasmtime::Error| {
            let ctx = store.data_mut();
            let detail = match ctx.pending.take() {
                Some(error) => error.to_string(),
                None => match ctx.output.panic_message() {
                    Some(message) => format!("panic: {message}"),
                    None => format!("{e:#}"),
                },
            };
            Error::load(name, format!("{what} failed: {detail}"))
        };

        let memory = instance
            .get_memory(&mut store, export::MEMORY)
            .ok_or_else(|| Error::load(name, "module exports no memory"))?;
        let malloc = instance
            .get_typed_func::<i32, i32>(&mut store, export::MALLOC)
            .ok();
        let free = instance
            .get_typed_func::<i32, ()>(&mut store, export::FREE)
            .ok();
        let on_read = instance
            .get_typed_func::<(i64, i64), ()>(&mut store, export::ON_READ_VALUE)
            .ok();
        {
            let ctx = store.data_mut();
            ctx.memory = Some(memory);
            ctx.malloc = malloc.clone();
            ctx.free = free;
            ctx.on_read = on_read;
        }

        let init = [export::INITIALIZE, export::START]
            .into_iter()
            .find_map(|entry| {
                instance
                    .get_typed_func::<(), ()>(&mut store, entry)
                    .ok()
                    .map(|f| (entry, f))
            });
        if let Some((entry, init)) = init
            && let Err(e) = init.call(&mut store, ())
            && store.data().exit_code != Some(0)
        {
            return Err(init_error(&mut store, entry, e));
        }
        store.data_mut().exit_code = None;

        if let Some(malloc) = malloc {
            let size = config.exchange_bytes();
            let ptr = malloc
                .call(&mut store, size as i32)
                .map_err(|e| init_error(&mut store, "malloc of the exchange buffer", e))?
                as u32;
            let memory_size = memory.data_size(&store);
            if ptr == 0 || ptr as usize + size as usize > memory_size {
                return Err(Error::load(
                    name,
                    format!(
                        "malloc({size}) returned {ptr:#x}, outside guest memory of {memory_size} bytes"
                    ),
                ));
            }
            let ctx = store.data_mut();
            ctx.exchange.ptr = ptr;
            ctx.exchange.size = size;
        }

        let mut extensions = Vec::with_capacity(package.inner.extensions.len());
        for extension in package.extensions() {
            let func = instance
                .get_typed_func::<(), ()>(&mut store, extension)
                .map_err(|e| Error::load(name, format!("extension {extension}: {e:#}")))?;
            extensions.push(func);
        }
        let instance = PackageInstance {
            package: package.clone(),
            store,
            extensions,
            _pre: pre,
        };
        match self.instances.iter_mut().find(|i| i.package.name() == name) {
            Some(slot) => *slot = instance,
            None => self.instances.push(instance),
        }
        Ok(())
    }

    /// Invokes `extension` of `package` against `state`. On success the
    /// returned [`Invocation`] holds the extension's intents (valid until the
    /// next invocation); on failure no intent is handed over.
    pub fn invoke(
        &mut self,
        package: &str,
        extension: &str,
        state: &S,
    ) -> Result<Invocation<'_, S>> {
        let Some(instance) = self
            .instances
            .iter_mut()
            .find(|i| str_eq(&i.package.inner.name, package))
        else {
            return Err(Error::UnknownPackage {
                package: package.to_owned(),
            });
        };
        let Some(index) = instance.package.extension_index(extension) else {
            return Err(Error::UnknownExtension {
                package: package.to_owned(),
                extension: extension.to_owned(),
                known: instance.package.extensions().collect::<Vec<_>>().join(", "),
            });
        };
        let func = &instance.extensions[index];
        let store = &mut instance.store;
        let ctx = store.data_mut();
        ctx.begin(index);
        ctx.state.set(state);
        let result = func.call(&mut *store, ());
        store.data_mut().state.clear();
        if let Err(trap) = result {
            return Err(classify(store.data_mut(), trap));
        }
        release_overflow(store);
        let ctx = store.data_mut();
        if let Some(error) = ctx.pending.take() {
            return Err(error);
        }
        Ok(Invocation {
            ctx: store.data(),
            memory_bytes: memory_bytes(store),
        })
    }

    /// The packages in this worker.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.instances.iter().map(|i| &i.package)
    }
}

fn memory_bytes<S: State>(store: &Store<HostCtx<S>>) -> usize {
    store.data().memory.map(|m| m.data_size(store)).unwrap_or(0)
}

/// Frees the extra result buffers of the invocation that just succeeded.
fn release_overflow<S: State>(store: &mut Store<HostCtx<S>>) {
    if store.data().exchange.overflow.is_empty() {
        return;
    }
    let chunks = std::mem::take(&mut store.data_mut().exchange.overflow);
    if let Some(free) = store.data().free.clone() {
        for ptr in chunks {
            // A guest whose free traps only leaks its own memory.
            let _ = free.call(&mut *store, ptr as i32);
        }
    }
}

/// Turns a failed call into the invocation's error: a host-call error wins,
/// then a denied memory grow, then a panic message the guest printed.
fn classify<S: State>(ctx: &mut HostCtx<S>, trap: wasmtime::Error) -> Error {
    let backtrace = backtrace_of(&trap);
    let extension = ctx.label();
    ctx.exchange.overflow.clear();
    let printed_panic = ctx.output.panic_message();
    if let Some(error) = ctx.pending.take() {
        return match error {
            Error::GuestPanic {
                extension, message, ..
            } => Error::GuestPanic {
                extension,
                message,
                backtrace,
            },
            other => other,
        };
    }
    if let Some(requested_pages) = ctx.limiter.denied {
        return Error::MemoryLimit {
            extension,
            limit_pages: (ctx.limiter.limit_bytes / extwasm_abi::WASM_PAGE_SIZE as usize) as u32,
            requested_pages,
            message: printed_panic.unwrap_or_else(|| format!("{trap:#}")),
        };
    }
    if let Some(message) = printed_panic {
        return Error::GuestPanic {
            extension,
            message,
            backtrace,
        };
    }
    let message = match (ctx.exit_code.take(), trap.downcast_ref::<wasmtime::Trap>()) {
        (Some(code), _) => format!("guest exited with code {code}"),
        (None, Some(trap)) => trap.to_string(),
        (None, None) => format!("{trap:#}"),
    };
    Error::Trap {
        extension,
        message,
        backtrace,
    }
}

fn backtrace_of(error: &wasmtime::Error) -> Vec<String> {
    error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| {
            bt.frames()
                .iter()
                .map(|frame| match frame.func_name() {
                    Some(name) => name.to_owned(),
                    None => format!("<wasm function {}>", frame.func_index()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A successful invocation: its intents and what the guest printed. Borrows
/// the worker until dropped.
pub struct Invocation<'w, S: State> {
    ctx: &'w HostCtx<S>,
    memory_bytes: usize,
}

impl<'w, S: State> Invocation<'w, S> {
    /// The intents, in the order the guest made them.
    pub fn intents(&self) -> impl ExactSizeIterator<Item = Intent<'w, S::Value>> + 'w {
        self.ctx.intents()
    }

    /// What the guest printed on stdout and stderr (bounded).
    pub fn output(&self) -> String {
        self.ctx.output.text()
    }

    /// Host calls the guest made (WASI calls included).
    pub fn host_calls(&self) -> u64 {
        self.ctx.host_calls
    }

    /// Size of the instance's memory after the invocation, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}
