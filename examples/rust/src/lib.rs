//! The Rust example extensions, built to wasm by this crate's build script
//! (release, `opt-level = "z"`, LTO, `panic = "abort"`, DWARF stripped, the
//! name section kept), for tests: each [`Module`] has the wasm bytes, the
//! same module with DWARF line tables, its extensions, and the TinyGo module
//! of `../shared/reference/tinygo-testdata/` with the same extensions.
//!
//! The example crates are re-exported, so a test can run the same extension
//! natively against `extwasm_guest_sdk::testing::MockHost`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use extwasm_guest_sdk as sdk;
pub use extwasm_guest_sdk::Extension;

pub use extwasm_example_allocs as allocs;
pub use extwasm_example_basicusage as basicusage;
pub use extwasm_example_benchmarks as benchmarks;
pub use extwasm_example_readvalues as readvalues;

/// One example module.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    /// Directory of the example under `examples/rust/`.
    pub name: &'static str,
    /// The wasm module.
    pub wasm: &'static [u8],
    /// The same module with DWARF line tables (`debug =
    /// "line-tables-only"`, not stripped): backtraces show file:line.
    pub wasm_debuginfo: &'static [u8],
    /// Its extensions: export names and the functions (to run natively).
    pub extensions: &'static [Extension],
    /// File name of the TinyGo module (in `tinygo-testdata/`) with the same
    /// extensions, if there is one.
    pub tinygo: Option<&'static str>,
}

macro_rules! module {
    ($name:literal, $krate:ident, $tinygo:expr) => {
        Module {
            name: $name,
            wasm: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".wasm")),
            wasm_debuginfo: include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".debuginfo.wasm")),
            extensions: $krate::EXTENSIONS,
            tinygo: $tinygo,
        }
    };
}

/// doNothing, oneKey1call, oneGetNoIntents2calls, oneGetLongStr3calls,
/// oneGetOneIntent5calls.
pub const BENCHMARKS: Module = module!("benchmarks", benchmarks, Some("benchmarks-pkg.wasm"));

/// NewOrder, CalcOrderedItems, updateSubscriptionProjector, incrementProjector.
pub const BASICUSAGE: Module = module!("basicusage", basicusage, Some("basicusage-pkg.wasm"));

/// copyAllTypes, orderTotals: reads with a callback and every field type;
/// putNonFinite, archiveTotal: non-finite floats, an update across storages;
/// readAs, keepEvent, readKeptEvent, readIntentAsValue, updateFromKeyBuilder,
/// readForgedValue, readZeroHandle: misreads and misused handles.
pub const READVALUES: Module = module!("readvalues", readvalues, None);

/// simple, zeroedAfterFree, exhaustMemory, leak: the allocator.
pub const ALLOCS: Module = module!("allocs", allocs, None);

/// Every example module.
pub const ALL: &[Module] = &[BENCHMARKS, BASICUSAGE, READVALUES, ALLOCS];

impl Module {
    /// The export names of the extensions.
    pub fn extension_names(&self) -> Vec<&'static str> {
        self.extensions.iter().map(|e| e.name).collect()
    }

    /// The extension called `name`.
    pub fn extension(&self, name: &str) -> Option<Extension> {
        self.extensions.iter().copied().find(|e| e.name == name)
    }
}

/// The state `readvalues` is tested on (JSON state format).
pub const READVALUES_STATE: &str = include_str!("../readvalues/state.json");
