//! The Go example extensions (`examples/go/`, written with the Go SDK of
//! `tinygo-sdk/`), built to wasm with standard Go by this crate's build script
//! (`GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`), for tests: each
//! [`Module`] has the wasm bytes, its extensions, and the TinyGo module of
//! `../shared/reference/tinygo-testdata/` with the same extensions.
//!
//! Without Go (see the build script for where it is looked for) every module
//! is empty; [`skipped`] says so loudly, for tests to return early.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// One example module.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    /// Directory of the example under `examples/go/`.
    pub name: &'static str,
    /// The wasm module; empty when Go was not available to build it.
    pub wasm: &'static [u8],
    /// The export names of its extensions.
    pub extensions: &'static [&'static str],
    /// File name of the TinyGo module (in `tinygo-testdata/`) with the same
    /// extensions, if there is one.
    pub tinygo: Option<&'static str>,
}

macro_rules! module {
    ($name:literal, $extensions:expr, $tinygo:expr) => {
        Module {
            name: $name,
            wasm: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
            extensions: $extensions,
            tinygo: $tinygo,
        }
    };
}

/// doNothing, oneKey1call, oneGetNoIntents2calls, oneGetLongStr3calls,
/// oneGetOneIntent5calls.
pub const BENCHMARKS: Module = module!(
    "benchmarks",
    &["doNothing", "oneKey1call", "oneGetNoIntents2calls", "oneGetLongStr3calls", "oneGetOneIntent5calls"],
    Some("benchmarks-pkg.wasm")
);

/// NewOrder, CalcOrderedItems, updateSubscriptionProjector, incrementProjector.
pub const BASICUSAGE: Module = module!(
    "basicusage",
    &["NewOrder", "CalcOrderedItems", "updateSubscriptionProjector", "incrementProjector"],
    Some("basicusage-pkg.wasm")
);

/// copyAllTypes, orderTotals: reads with a callback and every field type;
/// putNonFinite, archiveTotal: non-finite floats, an update across storages;
/// readAs, keepEvent, readKeptEvent, readIntentAsValue, updateFromKeyBuilder,
/// readForgedValue, readZeroHandle: misreads and misused handles.
pub const READVALUES: Module = module!(
    "readvalues",
    &[
        "copyAllTypes",
        "orderTotals",
        "putNonFinite",
        "archiveTotal",
        "readAs",
        "keepEvent",
        "readKeptEvent",
        "readIntentAsValue",
        "updateFromKeyBuilder",
        "readForgedValue",
        "readZeroHandle"
    ],
    None
);

/// TinyGo's simple, arrAppend, arrReset, arrAppend2, longFunc; Rust's
/// zeroedAfterFree, exhaustMemory; everyHostCall and heapStats (host calls
/// do not allocate).
pub const ALLOCS: Module = module!(
    "allocs",
    &[
        "simple",
        "arrAppend",
        "arrReset",
        "arrAppend2",
        "longFunc",
        "zeroedAfterFree",
        "exhaustMemory",
        "everyHostCall",
        "heapStats"
    ],
    Some("allocs-pkg.wasm")
);

/// Every example module.
pub const ALL: &[Module] = &[BENCHMARKS, BASICUSAGE, READVALUES, ALLOCS];

/// Why the modules are empty, or `""` when they were built.
pub const SKIP_REASON: &str = env!("EXTWASM_GO_SKIPPED");

/// Whether the modules were built (Go was available).
pub fn available() -> bool {
    SKIP_REASON.is_empty()
}

/// `true`, after saying loudly on stderr that `what` is skipped and why,
/// when Go was not available to build the modules.
pub fn skipped(what: &str) -> bool {
    if available() {
        return false;
    }
    eprintln!("SKIPPED: {what}: the Go examples were not built: {SKIP_REASON}");
    true
}

impl Module {
    /// Whether the module exports an extension called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.extensions.contains(&name)
    }
}
