//! How extension modules are built: the one place the SDK's size profile is
//! written down. `examples/rust/build.rs` builds the examples with it (it
//! includes this file with `#[path]`, so it needs no build dependency), and
//! `extwasm build` builds authors' projects with it.
//!
//! The profile is passed to a nested `cargo build --release --target
//! wasm32-unknown-unknown` as environment variables ([`RELEASE_ENV`]), which
//! override the project's own `[profile.release]`: release, `opt-level =
//! "z"`, LTO, one codegen unit, `panic = "abort"`, and `strip =
//! "debuginfo"`: no DWARF, but the module keeps its name section, so a
//! backtrace names the guest's functions (`strip = true` would drop it and
//! show `<wasm function 26>`). The name section adds 3–12 KB to the example modules
//! (39–62 % of a fully stripped one; see the README's "Diagnostics").
//!
//! [`DEBUGINFO_PROFILE`] with [`DEBUGINFO_CONFIG`] builds the same modules with
//! DWARF line tables: backtraces then show file:line per frame.

/// The target extension modules are built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// The size profile, as the environment of a `cargo build --release` (these
/// variables override the manifest's `[profile.release]`).
pub const RELEASE_ENV: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
    // Not `true` ("symbols"), which drops the name section too.
    ("CARGO_PROFILE_RELEASE_STRIP", "debuginfo"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS", "false"),
    ("CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS", "false"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
];

/// A profile for modules with DWARF line tables: `cargo build --profile
/// wasm-debuginfo` with [`DEBUGINFO_CONFIG`] (and [`RELEASE_ENV`], which it
/// inherits). Its output is in `target/wasm32-unknown-unknown/wasm-debuginfo/`.
pub const DEBUGINFO_PROFILE: &str = "wasm-debuginfo";

/// `--config` arguments (one each) that define [`DEBUGINFO_PROFILE`]: the
/// release profile with line tables, nothing stripped.
pub const DEBUGINFO_CONFIG: &[&str] = &[
    "profile.wasm-debuginfo.inherits=\"release\"",
    "profile.wasm-debuginfo.debug=\"line-tables-only\"",
    "profile.wasm-debuginfo.strip=\"none\"",
];
