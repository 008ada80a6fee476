//! The pool's one error type.

use std::fmt;

use extwasm_engine::Error;

/// Why a pool invocation (or reload) did not give a result.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// Every thread's queue was full ([`crate::Pool::try_invoke`] and the
    /// async front end fail fast; [`crate::Pool::invoke`] waits instead).
    QueueFull {
        /// The pool's threads.
        threads: usize,
        /// Invocations each thread's queue holds.
        capacity: usize,
    },
    /// The pool was shut down before the invocation could run.
    ShutDown,
    /// The invocation ran and failed (the engine's typed error).
    Invocation(Error),
    /// The invocation, or the closure collecting its result, panicked on a
    /// pool thread. The thread goes on serving.
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },
    /// Some threads could not instantiate a package (at start or reload).
    /// A thread that failed keeps serving the version it had, if any.
    Package {
        /// How many threads failed.
        threads_failed: usize,
        /// The first thread's error.
        error: Box<Error>,
    },
    /// An invalid [`crate::PoolConfig`].
    Config {
        /// What is wrong.
        detail: &'static str,
    },
    /// The operating system refused to start a thread.
    Spawn {
        /// The operating system's error.
        detail: String,
    },
}

impl PoolError {
    /// A stable snake-case name of the error: the engine's
    /// [`extwasm_engine::ErrorKind`] name for [`PoolError::Invocation`] and
    /// [`PoolError::Package`], else `queue_full`, `shut_down`, `panicked`,
    /// `pool_config` or `spawn`. Metrics label errors with it.
    pub fn kind(&self) -> &'static str {
        match self {
            PoolError::QueueFull { .. } => "queue_full",
            PoolError::ShutDown => "shut_down",
            PoolError::Invocation(error) => error.kind().as_str(),
            PoolError::Package { error, .. } => error.kind().as_str(),
            PoolError::Panicked { .. } => "panicked",
            PoolError::Config { .. } => "pool_config",
            PoolError::Spawn { .. } => "spawn",
        }
    }

    /// The engine's error, for [`PoolError::Invocation`] and [`PoolError::Package`].
    pub fn engine_error(&self) -> Option<&Error> {
        match self {
            PoolError::Invocation(error) => Some(error),
            PoolError::Package { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::QueueFull { threads, capacity } => write!(
                f,
                "the pool is saturated: the queues of all {threads} threads are full ({capacity} invocations each); \
                 retry later, shed load, or raise PoolConfig::threads or PoolConfig::queue_capacity"
            ),
            PoolError::ShutDown => f.write_str("the pool has been shut down; invocations need a new pool"),
            PoolError::Invocation(error) => error.fmt(f),
            PoolError::Panicked { message } => {
                write!(
                    f,
                    "the invocation panicked on a pool thread (a bug of the engine or of the collecting closure): {message}"
                )
            }
            PoolError::Package { threads_failed, error } => write!(
                f,
                "{threads_failed} pool thread(s) could not instantiate the package and keep the version they had: {error}; \
                 is Config::max_instances at least threads × (packages + 1)?"
            ),
            PoolError::Config { detail } => write!(f, "invalid pool configuration: {detail}"),
            PoolError::Spawn { detail } => write!(f, "the operating system refused to start a pool thread: {detail}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Invocation(error) => Some(error),
            PoolError::Package { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

impl From<Error> for PoolError {
    fn from(error: Error) -> Self {
        PoolError::Invocation(error)
    }
}
