//! The engine's one error type.

use std::fmt;

use extwasm_state::StateError;
pub use extwasm_state::budget::HostResource;

/// `Result` with the engine's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use extwasm_abi::ErrorKind;

/// Where in an invocation an error happened: which extension, which host
/// call, which argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// `package/extension` (or `package/<init>` during instantiation).
    pub extension: String,
    /// The host import the guest called (`hostGetKey`, `fd_write`, …).
    pub host_call: &'static str,
    /// The argument at fault (`keyBuilder`, `namePtr`, …).
    pub argument: &'static str,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "extension {}: {}({})", self.extension, self.host_call, self.argument)
    }
}

/// Everything that can go wrong loading packages and invoking extensions.
/// Guest misbehaviour never panics the host: it becomes one of these, and the
/// next invocation works.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The guest panicked: TinyGo printed `panic: …` and trapped, or the guest
    /// called `hostPanic`.
    #[error("extension {extension} panicked: {message}")]
    GuestPanic {
        /// `package/extension`.
        extension: String,
        /// The panic message.
        message: String,
        /// Wasm frames, innermost first (function names where the module has them).
        backtrace: Vec<String>,
    },
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow,
    /// division by zero…) without a panic message.
    #[error("extension {extension} trapped: {message}")]
    Trap {
        /// `package/extension`.
        extension: String,
        /// What the trap was.
        message: String,
        /// Wasm frames, innermost first.
        backtrace: Vec<String>,
    },
    /// `hostGetValue` found no value for the key.
    #[error("{site}: no value for {key}")]
    NotFound {
        /// Where.
        site: Site,
        /// The key, rendered: storage, entity and key fields.
        key: String,
    },
    /// The embedder's state failed (an I/O error, say).
    #[error("{site}: state error: {source}")]
    State {
        /// Where.
        site: Site,
        /// The embedder's error.
        #[source]
        source: StateError,
    },
    /// A handle that this invocation did not hand out, one from an earlier
    /// invocation, or one of another kind.
    #[error("{site}: invalid handle {handle:#x}: {reason}")]
    InvalidHandle {
        /// Where.
        site: Site,
        /// The handle the guest passed.
        handle: u64,
        /// Why it is invalid.
        reason: String,
    },
    /// A pointer/length pair outside the guest's memory.
    #[error("{site}: memory access [{ptr:#x}, +{len}) is outside guest memory of {memory_size} bytes")]
    InvalidMemoryAccess {
        /// Where.
        site: Site,
        /// Guest pointer.
        ptr: u32,
        /// Length in bytes.
        len: u32,
        /// Size of the guest's memory.
        memory_size: usize,
    },
    /// A name or string argument that is not valid UTF-8.
    #[error("{site}: argument is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        /// Where.
        site: Site,
        /// Length of the longest valid prefix.
        valid_up_to: usize,
    },
    /// A field read as a type it does not have.
    #[error("{site}: field {field:?} is {found}, read as {expected}")]
    TypeMismatch {
        /// Where.
        site: Site,
        /// The field name, or `[index]`.
        field: String,
        /// The type the guest asked for.
        expected: &'static str,
        /// The type the field has.
        found: &'static str,
    },
    /// A field or array element that does not exist.
    #[error("{site}: {what}")]
    MissingField {
        /// Where.
        site: Site,
        /// What is missing.
        what: String,
    },
    /// The guest tried to grow its memory beyond the instance's limit.
    #[error("extension {extension} exceeded its memory limit of {limit_pages} pages ({} KiB): it asked for {requested_pages} pages", *limit_pages as u64 * 64)]
    MemoryLimit {
        /// `package/extension`.
        extension: String,
        /// The limit, in 64 KiB pages.
        limit_pages: u32,
        /// The size the guest asked to grow to, in pages.
        requested_pages: u64,
        /// What the guest printed when it failed (TinyGo: `panic: runtime error: out of memory`).
        message: String,
    },
    /// The invocation ran past its deadline (see `Config::timeout`).
    #[error("extension {extension} ran past its deadline of {} ms", timeout.as_millis())]
    Timeout {
        /// `package/extension`.
        extension: String,
        /// The deadline.
        timeout: std::time::Duration,
    },
    /// The invocation used up its fuel (see `Config::fuel`).
    #[error("extension {extension} used up its fuel budget of {fuel}")]
    FuelExhausted {
        /// `package/extension`.
        extension: String,
        /// The budget.
        fuel: u64,
    },
    /// The guest recursed too deeply; the host is unharmed.
    #[error("extension {extension} overflowed its call stack")]
    StackOverflow {
        /// `package/extension`.
        extension: String,
        /// Wasm frames, innermost first.
        backtrace: Vec<String>,
    },
    /// The worker has no package of that name.
    #[error("unknown package {package:?}")]
    UnknownPackage {
        /// The name asked for.
        package: String,
    },
    /// The package has no extension of that name.
    #[error("package {package:?} has no extension {extension:?} (it has: {known})")]
    UnknownExtension {
        /// The package.
        package: String,
        /// The name asked for.
        extension: String,
        /// The extensions it has, comma separated.
        known: String,
    },
    /// The module cannot be loaded: not wasm, ABI mismatch, missing or
    /// ill-typed exports, unknown imports, failed initialisation.
    #[error("package {package:?}: {message}")]
    Load {
        /// The package name.
        package: String,
        /// What is wrong, naming the export or import and both signatures.
        message: String,
    },
    /// The engine configuration is invalid.
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// A JSON state file is invalid; the message says where.
    #[error("invalid state: {0}")]
    InvalidState(String),
    /// The invocation asked the host to hold more than its budget (see
    /// [`crate::Config::host_budget_bytes`] and [`crate::Config::max_handles`]).
    #[error("{site}: host budget exceeded: {resource} would pass the limit of {limit}")]
    HostBudget {
        /// Where.
        site: Site,
        /// Which budget ran out.
        resource: HostResource,
        /// The limit, in the resource's unit.
        limit: u64,
    },
    /// A module's initialisation did not finish within the load deadline
    /// (see [`crate::Config::load_timeout`]).
    #[error("package {package:?}: {phase} ran past the load deadline of {} ms", timeout.as_millis())]
    LoadTimeout {
        /// The package name.
        package: String,
        /// What was running when the deadline passed.
        phase: LoadPhase,
        /// The deadline.
        timeout: std::time::Duration,
    },
    /// The embedder's [`crate::State`] or [`crate::Value`] panicked while
    /// serving a host call; the invocation fails, the host carries on.
    #[error("{site}: the state panicked: {message}")]
    StatePanic {
        /// Where.
        site: Site,
        /// The panic's message.
        message: String,
    },
}

/// What a module was doing at load (or, for a module that could not be
/// pre-initialised, at instantiation) when it failed or ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoadPhase {
    /// The module's start section.
    StartFunction,
    /// The `_initialize` export (reactor modules).
    Initialize,
    /// The `_start` export (command modules: TinyGo's `wasi` target).
    Start,
    /// The `WasmAbiVersion_0_0_1` export, which the engine calls at load.
    AbiVersion,
    /// `malloc` of the exchange buffer.
    ExchangeBuffer,
}

impl LoadPhase {
    /// The stable snake-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LoadPhase::StartFunction => "start_function",
            LoadPhase::Initialize => "initialize",
            LoadPhase::Start => "start",
            LoadPhase::AbiVersion => "abi_version",
            LoadPhase::ExchangeBuffer => "exchange_buffer",
        }
    }
}

impl fmt::Display for LoadPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadPhase::StartFunction => "the module's start function",
            LoadPhase::Initialize => "_initialize",
            LoadPhase::Start => "_start",
            LoadPhase::AbiVersion => "WasmAbiVersion_0_0_1",
            LoadPhase::ExchangeBuffer => "malloc of the exchange buffer",
        })
    }
}

impl Error {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::GuestPanic { .. } => ErrorKind::GuestPanic,
            Error::Trap { .. } => ErrorKind::Trap,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::State { .. } => ErrorKind::State,
            Error::InvalidHandle { .. } => ErrorKind::InvalidHandle,
            Error::InvalidMemoryAccess { .. } => ErrorKind::InvalidMemoryAccess,
            Error::InvalidUtf8 { .. } => ErrorKind::InvalidUtf8,
            Error::TypeMismatch { .. } => ErrorKind::TypeMismatch,
            Error::MissingField { .. } => ErrorKind::MissingField,
            Error::MemoryLimit { .. } => ErrorKind::MemoryLimit,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::FuelExhausted { .. } => ErrorKind::FuelExhausted,
            Error::StackOverflow { .. } => ErrorKind::StackOverflow,
            Error::UnknownPackage { .. } => ErrorKind::UnknownPackage,
            Error::UnknownExtension { .. } => ErrorKind::UnknownExtension,
            Error::Load { .. } => ErrorKind::Load,
            Error::Config(_) => ErrorKind::Config,
            Error::InvalidState(_) => ErrorKind::InvalidState,
            Error::HostBudget { .. } => ErrorKind::HostBudget,
            Error::LoadTimeout { .. } => ErrorKind::LoadTimeout,
            Error::StatePanic { .. } => ErrorKind::StatePanic,
        }
    }

    /// The wasm backtrace, innermost frame first, when the guest trapped.
    pub fn backtrace(&self) -> &[String] {
        match self {
            Error::GuestPanic { backtrace, .. }
            | Error::Trap { backtrace, .. }
            | Error::StackOverflow { backtrace, .. } => backtrace,
            _ => &[],
        }
    }

    /// The site (extension, host call, argument) of a host-call error.
    pub fn site(&self) -> Option<&Site> {
        match self {
            Error::NotFound { site, .. }
            | Error::State { site, .. }
            | Error::InvalidHandle { site, .. }
            | Error::InvalidMemoryAccess { site, .. }
            | Error::InvalidUtf8 { site, .. }
            | Error::TypeMismatch { site, .. }
            | Error::MissingField { site, .. }
            | Error::HostBudget { site, .. }
            | Error::StatePanic { site, .. } => Some(site),
            _ => None,
        }
    }

    pub(crate) fn load(package: &str, message: impl Into<String>) -> Self {
        Error::Load { package: package.to_owned(), message: message.into() }
    }
}
