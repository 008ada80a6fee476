//! How a failed invocation is reported: the stable error kinds and the
//! message templates every host (the engine, the Rust SDK's mock host, the
//! Go SDK's `exttest`) renders, so that one extension fails with the same
//! words on each.
//!
//! Templates name their parts in braces (`{site}`); every other character
//! is literal. `{site}` is [`messages::SITE`] rendered.

/// Stable, machine-readable kind of an error; [`ErrorKind::as_str`] is what
/// the CLI prints and what embedders and tests may match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The guest panicked (a `panic:` line it printed, or `hostPanic`).
    GuestPanic,
    /// The guest trapped without a panic message.
    Trap,
    /// Must-get found no value.
    NotFound,
    /// The embedder's state failed.
    State,
    /// A forged, stale or wrong-kind handle.
    InvalidHandle,
    /// A pointer/length outside guest memory.
    InvalidMemoryAccess,
    /// A name or string that is not UTF-8.
    InvalidUtf8,
    /// A field read as the wrong type.
    TypeMismatch,
    /// A field or element that does not exist.
    MissingField,
    /// Guest memory would exceed the instance's limit.
    MemoryLimit,
    /// The invocation ran past its deadline.
    Timeout,
    /// The invocation used up its fuel.
    FuelExhausted,
    /// The guest's call stack overflowed (deep recursion).
    StackOverflow,
    /// No such package in the worker.
    UnknownPackage,
    /// No such extension in the package.
    UnknownExtension,
    /// The module cannot be loaded or instantiated (ABI, validation, init).
    Load,
    /// The engine configuration is invalid.
    Config,
    /// A state file (JSON state) is invalid.
    InvalidState,
    /// The invocation made the host hold more for it than its host budget
    /// allows (bytes of rows, strings and intents, or handles).
    HostBudget,
    /// A module's initialisation ran past the load deadline.
    LoadTimeout,
    /// The embedder's state panicked while serving a host call.
    StatePanic,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::GuestPanic,
        ErrorKind::Trap,
        ErrorKind::NotFound,
        ErrorKind::State,
        ErrorKind::InvalidHandle,
        ErrorKind::InvalidMemoryAccess,
        ErrorKind::InvalidUtf8,
        ErrorKind::TypeMismatch,
        ErrorKind::MissingField,
        ErrorKind::MemoryLimit,
        ErrorKind::Timeout,
        ErrorKind::FuelExhausted,
        ErrorKind::StackOverflow,
        ErrorKind::UnknownPackage,
        ErrorKind::UnknownExtension,
        ErrorKind::Load,
        ErrorKind::Config,
        ErrorKind::InvalidState,
        ErrorKind::HostBudget,
        ErrorKind::LoadTimeout,
        ErrorKind::StatePanic,
    ];

    /// The stable snake-case name (`"guest_panic"`, `"not_found"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::GuestPanic => "guest_panic",
            ErrorKind::Trap => "trap",
            ErrorKind::NotFound => "not_found",
            ErrorKind::State => "state",
            ErrorKind::InvalidHandle => "invalid_handle",
            ErrorKind::InvalidMemoryAccess => "invalid_memory_access",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::TypeMismatch => "type_mismatch",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::Timeout => "timeout",
            ErrorKind::FuelExhausted => "fuel_exhausted",
            ErrorKind::StackOverflow => "stack_overflow",
            ErrorKind::UnknownPackage => "unknown_package",
            ErrorKind::UnknownExtension => "unknown_extension",
            ErrorKind::Load => "load",
            ErrorKind::Config => "config",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::HostBudget => "host_budget",
            ErrorKind::LoadTimeout => "load_timeout",
            ErrorKind::StatePanic => "state_panic",
        }
    }

    /// One line: what the kind means (for docs and generated code).
    pub const fn doc(self) -> &'static str {
        match self {
            ErrorKind::GuestPanic => "the extension panicked",
            ErrorKind::Trap => "the guest trapped without a panic message",
            ErrorKind::NotFound => "must-get found no value",
            ErrorKind::State => "the state failed (a storage given as {\"$error\": message})",
            ErrorKind::InvalidHandle => "a forged or stale handle, or one of another kind",
            ErrorKind::InvalidMemoryAccess => "a pointer and length outside guest memory",
            ErrorKind::InvalidUtf8 => "a name or string that is not UTF-8",
            ErrorKind::TypeMismatch => "a field read as a type it does not have",
            ErrorKind::MissingField => "a field or array element that does not exist",
            ErrorKind::MemoryLimit => "guest memory would exceed the instance's limit",
            ErrorKind::Timeout => "the invocation ran past its deadline",
            ErrorKind::FuelExhausted => "the invocation used up its fuel",
            ErrorKind::StackOverflow => "the guest's call stack overflowed",
            ErrorKind::UnknownPackage => "no such package",
            ErrorKind::UnknownExtension => "no such extension in the package",
            ErrorKind::Load => "the module cannot be loaded",
            ErrorKind::Config => "the engine configuration is invalid",
            ErrorKind::InvalidState => "a state file is invalid",
            ErrorKind::HostBudget => "the invocation passed its host budget (bytes, handles or fields per row)",
            ErrorKind::LoadTimeout => "initialisation ran past the load deadline",
            ErrorKind::StatePanic => "the embedder's state panicked",
        }
    }
}

impl core::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The words of the errors of host calls, which every host renders alike.
pub mod messages {
    /// Where a host-call error happened.
    pub const SITE: &str = "extension {extension}: {call}({argument})";
    /// The guest panicked.
    pub const GUEST_PANIC: &str = "extension {extension} panicked: {message}";
    /// Must-get found nothing; `{key}` is [`KEY`] rendered.
    pub const NOT_FOUND: &str = "{site}: no value for {key}";
    /// A key in messages; `{fields}` is `{name: value, …}`, each value as
    /// [`SCALAR_STRING`], [`SCALAR_BYTES`], a qualified name `pkg.Entity`, or a
    /// number or bool as written.
    pub const KEY: &str = "storage \"{storage}\", entity \"{entity}\", key {fields}";
    /// A string value in a rendered key.
    pub const SCALAR_STRING: &str = "\"{value}\"";
    /// A bytes value in a rendered key.
    pub const SCALAR_BYTES: &str = "<{len} bytes>";
    /// The state failed.
    pub const STATE: &str = "{site}: state error: {message}";
    /// A handle that names nothing of this invocation; `{handle}` in hex
    /// (`0x…`), `{reason}` one of the handle reasons below.
    pub const INVALID_HANDLE: &str = "{site}: invalid handle {handle}: {reason}";
    /// Reason: the top byte is no kind.
    pub const NOT_A_HANDLE: &str = "not a handle the host handed out (expected {expected})";
    /// Reason: a handle of another kind (kinds with their article).
    pub const WRONG_KIND: &str = "{found} handle where {expected} was expected";
    /// Reason: a handle of an earlier invocation.
    pub const STALE_HANDLE: &str = "stale {kind} handle from an earlier invocation";
    /// Reason: a handle past the objects of this invocation.
    pub const FORGED_HANDLE: &str = "forged {kind} handle: this invocation has no {kind} #{index}";
    /// Reason: a row writer's `kind` argument that is neither 0 nor 1
    /// (reported as an invalid handle with the kind as the handle).
    pub const BAD_ROW_WRITER_KIND: &str = "row-writer kind must be 0 (key builder) or 1 (intent), got {kind}";
    /// A name or string that is not UTF-8.
    pub const INVALID_UTF8: &str = "{site}: argument is not valid UTF-8 (valid up to byte {valid_up_to})";
    /// A field read as a type it does not have (type names of
    /// [`crate::FieldType::as_str`], or the ones below).
    pub const TYPE_MISMATCH: &str = "{site}: field \"{field}\" is {found}, read as {expected}";
    /// Found: an int64 that does not fit the int32 it is read as.
    pub const INT64_OUT_OF_INT32_RANGE: &str = "int64 out of int32 range";
    /// Field: the length of a value that is not an array.
    pub const THE_VALUE_ITSELF: &str = "(the value itself)";
    /// Found: the length of a value that is not an array.
    pub const OBJECT_OR_SCALAR: &str = "object or scalar";
    /// Expected: the length of a value.
    pub const ARRAY: &str = "array";
    /// A field or element that does not exist; `{what}` one of the two below.
    pub const MISSING_FIELD: &str = "{site}: {what}";
    /// What: no field of that name.
    pub const NO_FIELD: &str = "no field \"{name}\"";
    /// What: no element at that index.
    pub const NO_ELEMENT: &str = "no element {index}: out of range or not an array";
}

/// Writes `template` to `out` with each `{name}` replaced by the argument of
/// that name; a placeholder without an argument is written as it stands.
pub fn render(
    out: &mut dyn core::fmt::Write,
    template: &str,
    args: &[(&str, &dyn core::fmt::Display)],
) -> core::fmt::Result {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.write_str(&rest[..open])?;
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => write!(out, "{value}")?,
                    None => write!(out, "{{{name}}}")?,
                }
                rest = &after[close + 1..];
            }
            None => {
                out.write_str(&rest[open..])?;
                rest = "";
            }
        }
    }
    out.write_str(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Text([u8; 128], usize);

    impl core::fmt::Write for Text {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    #[test]
    fn templates_render_their_parts() {
        let mut text = Text([0; 128], 0);
        render(&mut text, messages::FORGED_HANDLE, &[("kind", &"value"), ("index", &7)]).unwrap();
        assert_eq!(core::str::from_utf8(&text.0[..text.1]), Ok("forged value handle: this invocation has no value #7"));
        let mut text = Text([0; 128], 0);
        render(&mut text, "{a} {unknown} {", &[("a", &1)]).unwrap();
        assert_eq!(core::str::from_utf8(&text.0[..text.1]), Ok("1 {unknown} {"));
    }

    #[test]
    fn kind_names_are_unique_snake_case() {
        for (i, a) in ErrorKind::ALL.iter().enumerate() {
            assert!(a.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{a:?}");
            for b in &ErrorKind::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }
}
