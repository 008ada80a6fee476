//! The one error type of every extwasm host: what an embedder (or a test)
//! gets when loading a package or invoking an extension fails.

use std::fmt;
use std::time::Duration;

pub use extwasm_abi::ErrorKind;
use extwasm_abi::{HandleFault, messages, render};
pub use extwasm_state::budget::HostResource;
use extwasm_state::{JsonStateError, StateError};

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an invocation an error happened: which extension, which host
/// call, which argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// `package/extension` (or `package/<initialisation>` during
    /// instantiation; `mock/<name>` on a mock host).
    pub extension: String,
    /// The host import the guest called (`hostGetKey`, `fd_write`, …).
    pub host_call: &'static str,
    /// The argument at fault (`keyBuilder`, `namePtr`, …).
    pub argument: &'static str,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: [(&str, &dyn fmt::Display); 3] =
            [("extension", &self.extension), ("call", &self.host_call), ("argument", &self.argument)];
        render(f, messages::SITE, &args)
    }
}

/// Why a handle a guest passed names nothing of its invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleReason {
    /// Not a handle of this invocation (see [`HandleFault`]).
    Handle(HandleFault),
    /// A row writer's `kind` that is neither 0 (key builder) nor 1 (intent).
    RowWriterKind(i32),
}

impl fmt::Display for HandleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HandleReason::Handle(HandleFault::NotAHandle { expected }) => {
                render(f, messages::NOT_A_HANDLE, &[("expected", &expected.with_article())])
            }
            HandleReason::Handle(HandleFault::WrongKind { found, expected }) => render(
                f,
                messages::WRONG_KIND,
                &[("found", &found.with_article()), ("expected", &expected.with_article())],
            ),
            HandleReason::Handle(HandleFault::Stale { kind }) => {
                render(f, messages::STALE_HANDLE, &[("kind", &kind.name())])
            }
            HandleReason::Handle(HandleFault::Forged { kind, index }) => {
                render(f, messages::FORGED_HANDLE, &[("kind", &kind.name()), ("index", &index)])
            }
            HandleReason::RowWriterKind(kind) => render(f, messages::BAD_ROW_WRITER_KIND, &[("kind", &kind)]),
        }
    }
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

/// Why a module does not load, in the module's and the ABI's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file cannot be read.
    Unreadable {
        /// The path.
        path: String,
        /// The operating system's error.
        detail: String,
    },
    /// Not a valid WebAssembly module (binary or text).
    InvalidModule {
        /// The parser's or validator's message.
        detail: String,
    },
    /// The module exports no linear memory named `memory`.
    NoMemory,
    /// The module's memory starts larger than the engine's limit.
    MemoryTooLarge {
        /// Its initial size, in pages.
        pages: u64,
        /// The limit, in pages.
        limit_pages: u32,
    },
    /// A module without `WasmAbiVersion_0_0_1` was built for another ABI.
    NoAbiVersion,
    /// An export the ABI defines is not a function.
    ExportNotAFunction {
        /// The export.
        export: String,
        /// What it is (`global`, `table`, `memory`).
        found: &'static str,
    },
    /// An export of the ABI with another signature.
    ExportSignature {
        /// The export.
        export: String,
        /// Its signature in the module.
        found: String,
        /// The ABI's.
        expected: String,
    },
    /// An extension the module does not export.
    MissingExtension {
        /// The extension.
        extension: String,
        /// The module's exports that could be extensions (functions `() ->
        /// ()` of names the ABI does not reserve), comma separated.
        known: String,
        /// The one of `known` closest to `extension`, when it is close
        /// enough to be a misspelling of it (see [`closest_name`]).
        closest: Option<String>,
    },
    /// An extension whose signature is not `() -> ()`.
    ExtensionSignature {
        /// The extension.
        extension: String,
        /// Its signature in the module.
        found: String,
    },
    /// An extension with a name the ABI reserves.
    ReservedName {
        /// The extension.
        extension: String,
    },
    /// An extension listed twice.
    DuplicateExtension {
        /// The extension.
        extension: String,
    },
    /// An import that is not a function.
    ImportNotAFunction {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
        /// What it is.
        found: &'static str,
    },
    /// An import the host does not provide.
    UnknownImport {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
        /// Its signature in the module.
        signature: String,
    },
    /// An import of a module the host does not provide.
    UnknownImportModule {
        /// The module.
        module: String,
        /// The import's name.
        name: String,
    },
    /// An import the host provides with another signature.
    ImportSignature {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
        /// Its signature in the module.
        found: String,
        /// The host's.
        expected: String,
    },
    /// The module imports a host call that needs an export it lacks
    /// (`malloc` for byte results, `WasmOnReadValue` for `hostReadValues`).
    MissingExportFor {
        /// The export.
        export: &'static str,
        /// The import that needs it.
        import: String,
    },
    /// Initialisation failed (trapped, panicked, exited, or ran out of
    /// memory); see also [`Error::LoadTimeout`].
    Initialization {
        /// What was running.
        phase: LoadPhase,
        /// What went wrong.
        detail: String,
    },
    /// `malloc` of the exchange buffer returned an address the buffer does
    /// not fit at.
    ExchangeBuffer {
        /// The address.
        ptr: u32,
        /// The buffer's size.
        size: u32,
        /// The guest memory's size.
        memory_size: usize,
    },
    /// Every instance slot of the engine is taken (`Config::max_instances`).
    PoolFull {
        /// The engine's limit.
        max_instances: u32,
    },
    /// The package was compiled by another engine than the worker's.
    ForeignEngine,
    /// Instantiation failed for another reason (the runtime's message).
    Instantiation {
        /// The runtime's message.
        detail: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Unreadable { path, detail } => write!(f, "cannot read {path}: {detail}"),
            LoadError::InvalidModule { detail } => write!(f, "not a valid WebAssembly module: {detail}"),
            LoadError::NoMemory => f.write_str("module exports no memory named \"memory\""),
            LoadError::MemoryTooLarge { pages, limit_pages } => {
                write!(
                    f,
                    "the module needs {pages} pages of memory at start, more than the limit of {limit_pages} pages"
                )
            }
            LoadError::NoAbiVersion => write!(
                f,
                "module exports no {}: built with an SDK this engine does not speak",
                extwasm_abi::export::ABI_VERSION
            ),
            LoadError::ExportNotAFunction { export, found } => {
                write!(f, "export {export:?} is a {found}, not a function")
            }
            LoadError::ExportSignature { export, found, expected } => {
                write!(f, "export {export} has signature {found}, the ABI says {expected}")
            }
            LoadError::MissingExtension { extension, known, closest } => {
                write!(f, "module exports no extension {extension:?}")?;
                write_known(f, known, closest.as_deref(), "it exports")
            }
            LoadError::ExtensionSignature { extension, found } => {
                write!(f, "extension {extension:?} has signature {found}, extensions must be () -> ()")
            }
            LoadError::ReservedName { extension } => write!(
                f,
                "{extension:?} cannot name an extension: names starting with {:?} and {:?} are reserved",
                extwasm_abi::RESERVED_EXTENSION_PREFIX,
                extwasm_abi::RESERVED_EXTENSION_NAMES
            ),
            LoadError::DuplicateExtension { extension } => write!(f, "extension {extension:?} is listed twice"),
            LoadError::ImportNotAFunction { module, name, found } => {
                write!(f, "import {module}.{name} is a {found}; only functions can be imported")
            }
            LoadError::UnknownImport { module, name, signature } => {
                if module == extwasm_abi::HOST_MODULE {
                    write!(
                        f,
                        "import {module}.{name} {signature} is not a host function of ABI {}",
                        extwasm_abi::ABI_VERSION
                    )
                } else {
                    write!(f, "import {module}.{name} is not a WASI preview 1 function this engine provides")
                }
            }
            LoadError::UnknownImportModule { module, name } => write!(
                f,
                "import {module}.{name}: unknown module {module:?} (the host provides {:?} and {:?})",
                extwasm_abi::HOST_MODULE,
                extwasm_abi::WASI_MODULE
            ),
            LoadError::ImportSignature { module, name, found, expected } => {
                let provider =
                    if module == extwasm_abi::HOST_MODULE { "the host provides" } else { "WASI preview 1 says" };
                write!(f, "import {module}.{name} has signature {found}, {provider} {expected}")
            }
            LoadError::MissingExportFor { export, import } => {
                write!(f, "module imports {import}, which needs the export {export}, but exports no {export}")
            }
            LoadError::Initialization { phase, detail } => write!(f, "{phase} failed: {detail}"),
            LoadError::ExchangeBuffer { ptr, size, memory_size } => {
                write!(f, "malloc({size}) returned {ptr:#x}, outside guest memory of {memory_size} bytes")
            }
            LoadError::PoolFull { max_instances } => write!(
                f,
                "no free instance slot: all {max_instances} of the engine's instances (Config::max_instances) are in use"
            ),
            LoadError::ForeignEngine => f.write_str("package was compiled by another engine"),
            LoadError::Instantiation { detail } => write!(f, "cannot instantiate: {detail}"),
        }
    }
}

/// Why an engine configuration is invalid: which setting, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting (`memory_limit_pages`, `timeout`, …).
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

/// Everything that can go wrong loading packages and invoking extensions.
/// Guest misbehaviour never panics the host: it becomes one of these, and
/// the next invocation works.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The guest panicked: it printed `panic: …` and trapped, or called
    /// `hostPanic`.
    GuestPanic {
        /// `package/extension`.
        extension: String,
        /// The panic message.
        message: String,
        /// Wasm frames, innermost first (function names where the module has them).
        backtrace: Vec<String>,
    },
    /// The guest trapped (unreachable, out-of-bounds access, division by
    /// zero…) without a panic message.
    Trap {
        /// `package/extension`.
        extension: String,
        /// What the trap was.
        message: String,
        /// Wasm frames, innermost first.
        backtrace: Vec<String>,
    },
    /// `hostGetValue` found no value for the key.
    NotFound {
        /// Where.
        site: Site,
        /// The key, rendered: storage, entity and key fields.
        key: String,
    },
    /// The embedder's state failed (an I/O error, say), or refused a write.
    State {
        /// Where.
        site: Site,
        /// The embedder's error.
        source: StateError,
    },
    /// A handle that this invocation did not hand out, one from an earlier
    /// invocation, or one of another kind.
    InvalidHandle {
        /// Where.
        site: Site,
        /// The handle the guest passed.
        handle: u64,
        /// Why it is invalid.
        reason: HandleReason,
    },
    /// A pointer/length pair outside the guest's memory.
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
    InvalidUtf8 {
        /// Where.
        site: Site,
        /// Length of the longest valid prefix.
        valid_up_to: usize,
    },
    /// A field read as a type it does not have.
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
    MissingField {
        /// Where.
        site: Site,
        /// What is missing.
        what: String,
    },
    /// The guest tried to grow its memory beyond the instance's limit.
    MemoryLimit {
        /// `package/extension`.
        extension: String,
        /// The limit, in 64 KiB pages.
        limit_pages: u32,
        /// The size the guest asked to grow to, in pages.
        requested_pages: u64,
        /// What the guest said when it failed, in its own words: the line it
        /// printed (TinyGo: `panic: runtime error: out of memory`; Go:
        /// `fatal error: out of memory`), the message it passed to
        /// `hostPanic` (the Rust SDK), or else the trap. The error's text
        /// ends with it.
        message: String,
    },
    /// The invocation ran past its deadline.
    Timeout {
        /// `package/extension`.
        extension: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The invocation used up its fuel.
    FuelExhausted {
        /// `package/extension`.
        extension: String,
        /// The budget.
        fuel: u64,
    },
    /// The guest recursed too deeply; the host is unharmed.
    StackOverflow {
        /// `package/extension`.
        extension: String,
        /// Wasm frames, innermost first.
        backtrace: Vec<String>,
    },
    /// The worker has no package of that name.
    UnknownPackage {
        /// The name asked for.
        package: String,
    },
    /// The package has no extension of that name.
    UnknownExtension {
        /// The package.
        package: String,
        /// The name asked for.
        extension: String,
        /// The extensions it has, comma separated.
        known: String,
        /// The one of `known` closest to `extension`, when it is close
        /// enough to be a misspelling of it (see [`closest_name`]).
        closest: Option<String>,
    },
    /// The module cannot be loaded.
    Load {
        /// The package name.
        package: String,
        /// What is wrong.
        error: LoadError,
    },
    /// A module's initialisation did not finish within the load deadline.
    LoadTimeout {
        /// The package name.
        package: String,
        /// What was running when the deadline passed.
        phase: LoadPhase,
        /// The deadline.
        timeout: Duration,
    },
    /// The engine configuration is invalid.
    Config(ConfigError),
    /// A JSON state (a file, an intent to apply) is invalid.
    InvalidState(JsonStateError),
    /// The invocation asked the host to hold more than its budget.
    HostBudget {
        /// Where.
        site: Site,
        /// Which budget ran out.
        resource: HostResource,
        /// The limit, in the resource's unit.
        limit: u64,
    },
    /// The embedder's state or value panicked while serving a host call; the
    /// invocation fails, the host carries on.
    StatePanic {
        /// Where.
        site: Site,
        /// The panic's message.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::GuestPanic { extension, message, .. } => {
                render(f, messages::GUEST_PANIC, &[("extension", extension), ("message", message)])
            }
            Error::Trap { extension, message, .. } => write!(f, "extension {extension} trapped: {message}"),
            Error::NotFound { site, key } => render(f, messages::NOT_FOUND, &[("site", site), ("key", key)]),
            Error::State { site, source } => render(f, messages::STATE, &[("site", site), ("message", source)]),
            Error::InvalidHandle { site, handle, reason } => {
                let handle = format!("{handle:#x}");
                render(f, messages::INVALID_HANDLE, &[("site", site), ("handle", &handle), ("reason", reason)])
            }
            Error::InvalidMemoryAccess { site, ptr, len, memory_size } => {
                write!(f, "{site}: memory access [{ptr:#x}, +{len}) is outside guest memory of {memory_size} bytes")
            }
            Error::InvalidUtf8 { site, valid_up_to } => {
                render(f, messages::INVALID_UTF8, &[("site", site), ("valid_up_to", valid_up_to)])
            }
            Error::TypeMismatch { site, field, expected, found } => render(
                f,
                messages::TYPE_MISMATCH,
                &[("site", site), ("field", field), ("found", found), ("expected", expected)],
            ),
            Error::MissingField { site, what } => render(f, messages::MISSING_FIELD, &[("site", site), ("what", what)]),
            Error::MemoryLimit { extension, limit_pages, requested_pages, message } => {
                write!(
                    f,
                    "extension {extension} exceeded its memory limit of {limit_pages} pages ({} KiB): it asked for {requested_pages} pages",
                    *limit_pages as u64 * 64
                )?;
                // The guest's own words too: users match the runtime's text
                // (TinyGo's `panic: runtime error: out of memory`).
                if message.is_empty() { Ok(()) } else { write!(f, "; the guest said: {message}") }
            }
            Error::Timeout { extension, timeout } => {
                write!(f, "extension {extension} ran past its deadline of {} ms", timeout.as_millis())
            }
            Error::FuelExhausted { extension, fuel } => {
                write!(f, "extension {extension} used up its fuel budget of {fuel}")
            }
            Error::StackOverflow { extension, .. } => write!(f, "extension {extension} overflowed its call stack"),
            Error::UnknownPackage { package } => write!(f, "unknown package {package:?}"),
            Error::UnknownExtension { package, extension, known, closest } => {
                write!(f, "package {package:?} has no extension {extension:?}")?;
                write_known(f, known, closest.as_deref(), "it has")
            }
            Error::Load { package, error } => write!(f, "package {package:?}: {error}"),
            Error::LoadTimeout { package, phase, timeout } => {
                write!(f, "package {package:?}: {phase} ran past the load deadline of {} ms", timeout.as_millis())
            }
            Error::Config(error) => write!(f, "invalid engine configuration: {error}"),
            Error::InvalidState(error) => write!(f, "invalid state: {error}"),
            Error::HostBudget { site, resource, limit } => {
                write!(f, "{site}: host budget exceeded: {resource} would pass the limit of {limit}")
            }
            Error::StatePanic { site, message } => write!(f, "{site}: the state panicked: {message}"),
        }
    }
}

/// ` (it has: a, b)`, or ` (did you mean "b"? it has: a, b)` when one of
/// `known` (comma separated) is `closest` to what was asked.
fn write_known(f: &mut fmt::Formatter<'_>, known: &str, closest: Option<&str>, it_has: &str) -> fmt::Result {
    if known.is_empty() {
        return write!(f, " ({it_has} none)");
    }
    match closest {
        Some(close) => write!(f, " (did you mean {close:?}? {it_has}: {known})"),
        None => write!(f, " ({it_has}: {known})"),
    }
}

/// The candidate closest to `asked` by edit distance, ignoring case, if it
/// is close enough to be a misspelling of it: at most one edit per three
/// characters (one at least). The first of equally close ones. What
/// [`Error::UnknownExtension`] and [`LoadError::MissingExtension`] suggest.
pub fn closest_name<'a>(asked: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    /// Longer names are no one's typing: not compared (bounds the work).
    const MAX_CHARS: usize = 256;
    let asked: Vec<char> = asked.chars().flat_map(char::to_lowercase).collect();
    if asked.len() > MAX_CHARS {
        return None;
    }
    let allowed = (asked.len() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate.chars().take(MAX_CHARS + 1).flat_map(char::to_lowercase).collect();
        if lower.len() > MAX_CHARS || lower.len().abs_diff(asked.len()) > allowed {
            continue;
        }
        let distance = edit_distance(&asked, &lower);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance (insertions, deletions, substitutions).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

impl Error {
    /// [`Error::UnknownExtension`] for `extension`, which `package` lacks; it
    /// has the `known` extensions (listed in that order).
    pub fn unknown_extension<'a>(package: &str, extension: &str, known: impl IntoIterator<Item = &'a str>) -> Error {
        let known: Vec<&str> = known.into_iter().collect();
        Error::UnknownExtension {
            package: package.to_owned(),
            extension: extension.to_owned(),
            closest: closest_name(extension, known.iter().copied()).map(str::to_owned),
            known: known.join(", "),
        }
    }
}

impl LoadError {
    /// [`LoadError::MissingExtension`] for `extension`, which the module
    /// does not export; it exports the `known` functions that could be
    /// extensions (listed in that order).
    pub fn missing_extension<'a>(extension: &str, known: impl IntoIterator<Item = &'a str>) -> LoadError {
        let known: Vec<&str> = known.into_iter().collect();
        LoadError::MissingExtension {
            extension: extension.to_owned(),
            closest: closest_name(extension, known.iter().copied()).map(str::to_owned),
            known: known.join(", "),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::State { source, .. } => Some(source),
            Error::InvalidState(error) => Some(error),
            _ => None,
        }
    }
}

impl From<JsonStateError> for Error {
    fn from(error: JsonStateError) -> Self {
        Error::InvalidState(error)
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

    /// A load error of `package`.
    pub fn load(package: &str, error: LoadError) -> Self {
        Error::Load { package: package.to_owned(), error }
    }

    /// A configuration error of `setting`.
    pub fn config(setting: &'static str, problem: impl Into<String>) -> Self {
        Error::Config(ConfigError { setting, problem: problem.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_name_gets_the_closest_one() {
        let known = "CalcOrderedItems, NewOrder, incrementProjector, updateSubscriptionProjector";
        let names = || known.split(", ");
        assert_eq!(closest_name("CalcOrderdItems", names()), Some("CalcOrderedItems"));
        assert_eq!(closest_name("neworder", names()), Some("NewOrder"));
        assert_eq!(closest_name("incrementProjektor", names()), Some("incrementProjector"));
        // Nothing close: no suggestion.
        assert_eq!(closest_name("fly", ["run", "walk"]), None);
        assert_eq!(closest_name("Order", names()), None);
        assert_eq!(closest_name(&"x".repeat(10_000), names()), None);

        let error = Error::unknown_extension("shop", "CalcOrderdItems", known.split(", "));
        assert!(
            matches!(&error, Error::UnknownExtension { closest: Some(c), .. } if c == "CalcOrderedItems"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "package \"shop\" has no extension \"CalcOrderdItems\" (did you mean \"CalcOrderedItems\"? it has: {known})"
            )
        );
        let error = LoadError::missing_extension("nope", []);
        assert_eq!(error.to_string(), "module exports no extension \"nope\" (it exports none)");
        let error = LoadError::missing_extension("rum", ["run", "walk"]);
        assert_eq!(
            error.to_string(),
            "module exports no extension \"rum\" (did you mean \"run\"? it exports: run, walk)"
        );
    }

    #[test]
    fn a_memory_limit_error_ends_with_the_guests_own_words() {
        let error = |message: &str| Error::MemoryLimit {
            extension: "allocs/arrAppend2".into(),
            limit_pages: 32,
            requested_pages: 33,
            message: message.into(),
        };
        let explanation =
            "extension allocs/arrAppend2 exceeded its memory limit of 32 pages (2048 KiB): it asked for 33 pages";
        assert_eq!(
            error("panic: runtime error: out of memory").to_string(),
            format!("{explanation}; the guest said: panic: runtime error: out of memory")
        );
        assert_eq!(error("").to_string(), explanation);
    }
}
