//! The extension author's tools behind the `extwasm` command: `new`,
//! `build`, `inspect` and `test` (one module each, with its arguments and
//! its typed errors), and the pieces they share — what a module declares
//! ([`module`]) and the scenario format with its runner ([`scenario`]),
//! which the conformance suite uses too.
#![deny(missing_docs)]

pub mod build;
pub mod inspect;
pub mod module;
pub mod new;
pub mod scenario;
pub mod test;

use std::path::PathBuf;

/// The extwasm checkout this CLI was built from: where `extwasm new` finds
/// the SDKs a new project depends on by path (until they are published).
/// `$EXTWASM_SDK_ROOT` overrides it (a checkout moved after `cargo install`).
pub fn repository_root() -> PathBuf {
    match std::env::var_os("EXTWASM_SDK_ROOT").filter(|v| !v.is_empty()) {
        Some(root) => PathBuf::from(root),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
    }
}

/// `1.9 MiB`, `12.3 KiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    match bytes as f64 {
        b if b >= KIB * KIB => format!("{:.1} MiB", b / (KIB * KIB)),
        b if b >= KIB => format!("{:.1} KiB", b / KIB),
        _ => format!("{bytes} B"),
    }
}
