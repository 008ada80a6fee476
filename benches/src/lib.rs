//! Shared set-up of the criterion benchmarks in `benches/benches/`.

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
pub use tinygo_testdata::{root, tinygo_module};

/// The five benchmark extensions of the seed, in the order of its table.
pub const BENCHMARK_EXTENSIONS: [&str; 5] =
    ["doNothing", "oneKey1call", "oneGetNoIntents2calls", "oneGetLongStr3calls", "oneGetOneIntent5calls"];
