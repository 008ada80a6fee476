//! The oracles: what counts as a finding. Pure functions of what was
//! measured, so they can be tested without an engine.

use std::fmt;
use std::time::Duration;

use extwasm_engine::ErrorKind;
use serde_json::Value as Json;

/// Which promise a finding breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Oracle {
    /// A panic escaped the engine (load, add_package or invoke).
    Panic,
    /// An invocation ended later than its deadline plus the allowed slack.
    Deadline,
    /// An invocation did not end at all (the watchdog gave up on it), or a
    /// load never finished.
    Hang,
    /// The host held more memory during an invocation than the budget allows.
    HostMemory,
    /// After a failed invocation the host kept memory it had allocated for it.
    HostMemoryRetained,
    /// The process's host memory ran away (the watchdog's hard cap).
    Runaway,
    /// An error that is not one of the guest-caused kinds, a trap whose
    /// message is the engine's own wording, or a kind that contradicts what
    /// happened.
    Untyped,
    /// After a failure, the known-good extension did not produce exactly its
    /// one intent.
    Recovery,
    /// A module that is valid by the ABI did not load.
    Load,
}

impl Oracle {
    /// Short stable name (file names, summaries).
    pub fn as_str(self) -> &'static str {
        match self {
            Oracle::Panic => "panic",
            Oracle::Deadline => "deadline",
            Oracle::Hang => "hang",
            Oracle::HostMemory => "host-memory",
            Oracle::HostMemoryRetained => "host-memory-retained",
            Oracle::Runaway => "host-memory-runaway",
            Oracle::Untyped => "untyped-error",
            Oracle::Recovery => "recovery",
            Oracle::Load => "load",
        }
    }
}

impl fmt::Display for Oracle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken promise.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Which oracle caught it.
    pub oracle: Oracle,
    /// The error kind of the invocation (`ok` when it succeeded), or the load outcome.
    pub kind: String,
    /// What happened, with the figures.
    pub detail: String,
}

impl Finding {
    /// Findings with the same signature are one bug as far as the summary
    /// (and the files written) are concerned.
    pub fn signature(&self) -> String {
        format!("{}/{}", self.oracle, self.kind)
    }
}

/// The kinds a guest can cause at invocation time: anything else from
/// `invoke` (`load`, `config`, `unknown_*`, `invalid_state`, …) is the
/// engine not classifying.
pub const GUEST_KINDS: &[ErrorKind] = &[
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
    ErrorKind::HostBudget,
    ErrorKind::StatePanic,
];

/// The kinds a load may fail with.
pub const LOAD_KINDS: &[ErrorKind] = &[ErrorKind::Load, ErrorKind::LoadTimeout];

/// What a `trap` error may say: a WebAssembly trap, as wasmtime describes
/// it, or the guest's exit.
fn trap_descriptions() -> Vec<String> {
    use wasmtime::Trap;
    [
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::HeapMisaligned,
        Trap::TableOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::Interrupt,
        Trap::OutOfFuel,
        Trap::NullReference,
        Trap::ArrayOutOfBounds,
        Trap::AllocationTooLarge,
        Trap::CastFailure,
    ]
    .iter()
    .map(|t| t.to_string())
    .collect()
}

/// Oracle (d): `kind` must be a guest-caused kind, and a `trap` must
/// describe a WebAssembly trap or a guest exit. `message` is the error's
/// `Display`; `trap_message` the `message` field of a `trap` error.
pub fn check_error(kind: ErrorKind, display: &str, trap_message: Option<&str>) -> Option<Finding> {
    if !GUEST_KINDS.contains(&kind) {
        return Some(Finding {
            oracle: Oracle::Untyped,
            kind: kind.as_str().into(),
            detail: format!("invoke returned a {kind} error, which no guest can cause: {display}"),
        });
    }
    if kind == ErrorKind::Trap {
        let message = trap_message.unwrap_or(display);
        let described = trap_descriptions().iter().any(|d| message == d.as_str())
            || message.strip_prefix("guest exited with code ").is_some_and(|code| code.parse::<i32>().is_ok());
        if !described || message.contains("extwasm") {
            return Some(Finding {
                oracle: Oracle::Untyped,
                kind: kind.as_str().into(),
                detail: format!("a trap error whose message is not a wasm trap or a guest exit: {message:?}"),
            });
        }
    }
    None
}

/// The wall time an invocation with deadline `timeout` may take: the
/// deadline plus 50 ms or 50 %, whichever is larger (the engine promises
/// 100–120 ms for 100 ms; the rest is for a noisy machine).
pub fn allowed_wall(timeout: Duration) -> Duration {
    timeout + (timeout / 2).max(Duration::from_millis(50))
}

/// Oracle (b): the invocation ended within [`allowed_wall`].
pub fn check_deadline(elapsed: Duration, timeout: Duration, kind: Option<ErrorKind>) -> Option<Finding> {
    let kind_name = kind.map_or("ok", |k| k.as_str());
    let allowed = allowed_wall(timeout);
    (elapsed > allowed).then(|| Finding {
        oracle: Oracle::Deadline,
        kind: kind_name.into(),
        detail: format!(
            "the invocation took {:.1} ms (ended {kind_name}); deadline {} ms, allowed {} ms",
            ms(elapsed),
            timeout.as_millis(),
            allowed.as_millis()
        ),
    })
}

/// Oracle (d), kind against time: an attempt that ran for the whole
/// deadline was interrupted, so its error is a timeout, whatever the guest
/// did before (a denied `memory.grow`, say). `retried`: `elapsed` covers two
/// attempts.
pub fn check_timeout_reported_as(
    elapsed: Duration,
    timeout: Duration,
    kind: Option<ErrorKind>,
    retried: bool,
) -> Option<Finding> {
    let attempt = if retried { elapsed / 2 } else { elapsed };
    let kind = kind.filter(|k| *k == ErrorKind::MemoryLimit)?;
    (attempt >= timeout).then(|| Finding {
        oracle: Oracle::Untyped,
        kind: format!("{kind}-after-deadline"),
        detail: format!(
            "{kind} after {:.1} ms{}, past the {} ms deadline: the guest was interrupted, so it is a timeout",
            ms(elapsed),
            if retried { " (two attempts)" } else { "" },
            timeout.as_millis()
        ),
    })
}

/// Oracle (c), during: the peak of live host bytes above the baseline is at
/// most `limit` (twice the budget plus slack, see [`crate::run::Limits`]).
pub fn check_peak(peak_above: isize, limit: isize, budget: usize, kind: &str) -> Option<Finding> {
    (peak_above > limit).then(|| Finding {
        oracle: Oracle::HostMemory,
        kind: kind.into(),
        detail: format!(
            "the host held {} bytes ({:.1} MiB) more than before the invocation (ended {kind}); budget {budget} bytes, allowed {limit}",
            peak_above,
            peak_above as f64 / (1 << 20) as f64
        ),
    })
}

/// Oracle (c), after: a failed invocation leaves live host bytes within
/// `slack` of where they were before it.
pub fn check_retained(retained: isize, slack: isize, kind: &str) -> Option<Finding> {
    (retained > slack).then(|| Finding {
        oracle: Oracle::HostMemoryRetained,
        kind: kind.into(),
        detail: format!(
            "after the failed invocation ({kind}) the host still holds {retained} bytes ({:.1} MiB) more than before it; allowed {slack}",
            retained as f64 / (1 << 20) as f64
        ),
    })
}

/// Oracle (e): after a failure, the known-good extension succeeds with
/// exactly its one intent.
pub fn check_recovery(outcome: Result<&[Json], &str>, expected: &Json) -> Option<Finding> {
    match outcome {
        Ok([only]) if only == expected => None,
        Ok(intents) => Some(Finding {
            oracle: Oracle::Recovery,
            kind: "ok".into(),
            detail: format!("after a failure, `ok` succeeded with {intents:?} instead of exactly [{expected}]"),
        }),
        Err(error) => Some(Finding {
            oracle: Oracle::Recovery,
            kind: "error".into(),
            detail: format!("after a failure, `ok` failed: {error}"),
        }),
    }
}

/// Milliseconds, for messages.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untyped_errors_and_internal_trap_messages_are_findings() {
        let load = check_error(ErrorKind::Load, "package \"x\": boom", None).expect("load at invoke is untyped");
        assert_eq!((load.oracle, load.kind.as_str()), (Oracle::Untyped, "load"));
        assert!(check_error(ErrorKind::UnknownExtension, "no such", None).is_some());
        let internal = check_error(ErrorKind::Trap, "x", Some("extwasm: host call hostGetKey failed"));
        assert_eq!(internal.map(|f| f.oracle), Some(Oracle::Untyped));
        // What the engine is allowed to say.
        assert_eq!(check_error(ErrorKind::Trap, "x", Some("wasm trap: integer divide by zero")), None);
        assert_eq!(check_error(ErrorKind::Trap, "x", Some("guest exited with code 3")), None);
        assert_eq!(check_error(ErrorKind::InvalidHandle, "bad handle", None), None);
    }

    #[test]
    fn deadline_slack_is_50_ms_or_half_whichever_is_larger() {
        let t = Duration::from_millis(100);
        assert_eq!(allowed_wall(t), Duration::from_millis(150));
        assert_eq!(allowed_wall(Duration::from_secs(1)), Duration::from_millis(1500));
        assert_eq!(check_deadline(Duration::from_millis(149), t, Some(ErrorKind::Timeout)), None);
        let late = check_deadline(Duration::from_millis(151), t, Some(ErrorKind::Timeout)).expect("late");
        assert!(late.detail.contains("151.0 ms") && late.detail.contains("allowed 150 ms"), "{}", late.detail);
        let masked = check_timeout_reported_as(Duration::from_millis(212), t, Some(ErrorKind::MemoryLimit), true);
        assert_eq!(masked.map(|f| f.oracle), Some(Oracle::Untyped));
        assert_eq!(check_timeout_reported_as(Duration::from_millis(150), t, Some(ErrorKind::MemoryLimit), true), None);
        assert_eq!(check_timeout_reported_as(Duration::from_millis(500), t, Some(ErrorKind::Timeout), false), None);
    }
}
