//! Builds the example extensions for `wasm32-unknown-unknown` with a nested
//! cargo, and copies each module to `$OUT_DIR/<example>.wasm` for
//! `src/lib.rs` to include. The examples are the folders here with a
//! `Cargo.toml` (`../discover.rs`); one without a test fails the build.
//!
//! The nested build has its own target dir under `$OUT_DIR`, so it does not
//! wait on the lock of the outer one, and its own profile settings (from the
//! environment: the root manifest's `[profile.release]` is the engine's):
//! the SDK's size profile, `guest-sdk/src/build_profile.rs` (release,
//! `opt-level = "z"`, LTO, one codegen unit, `panic = "abort"`, `strip =
//! "debuginfo"`: no DWARF, but the name section stays, so a backtrace names
//! the guest's functions).
//!
//! A second build of the same profile with DWARF line tables (`debug =
//! "line-tables-only"`, nothing stripped) goes to
//! `$OUT_DIR/<example>.debuginfo.wasm`: the tests of backtraces with
//! file:line use it.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../discover.rs"]
mod discover;

// The SDK's size profile, from its one definition (also `extwasm build`'s).
#[path = "../../guest-sdk/src/build_profile.rs"]
#[allow(dead_code)]
mod build_profile;
use build_profile::{DEBUGINFO_CONFIG, DEBUGINFO_PROFILE, RELEASE_ENV as PROFILE, TARGET};

/// Variables of the outer build that must not reach the nested one: flags
/// for the host target, clippy's wrapper, the outer target dir.
const SCRUBBED: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest_dir.join("../..");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));

    // This folder as a whole: an example added or removed, its sources, its tests.
    println!("cargo::rerun-if-changed=.");
    println!("cargo::rerun-if-changed=../discover.rs");
    let examples = match discover::rust_examples(&manifest_dir) {
        Ok(examples) => examples,
        Err(message) => {
            // Fails the build with this message, shown as an error.
            println!("cargo::error=examples/rust: {message}");
            return;
        }
    };
    println!("cargo::rerun-if-changed=../../guest-sdk/src");
    println!("cargo::rerun-if-changed=../../guest-sdk/Cargo.toml");
    println!("cargo::rerun-if-changed=../../abi/src");
    println!("cargo::rerun-if-changed=../../Cargo.lock");

    ensure_target(&rustc);

    // One target dir for both builds: each profile has its own folder in it.
    let target_dir = out_dir.join("wasm-target");
    for (profile, suffix) in [("release", ""), (DEBUGINFO_PROFILE, ".debuginfo")] {
        let mut build = Command::new(&cargo);
        build
            .current_dir(&workspace)
            .args(["build", "--locked", "--profile", profile, "--target", TARGET, "--target-dir"])
            .arg(&target_dir)
            .arg("--manifest-path")
            .arg(workspace.join("Cargo.toml"));
        if profile == DEBUGINFO_PROFILE {
            for setting in DEBUGINFO_CONFIG {
                build.args(["--config", setting]);
            }
        }
        for example in &examples {
            build.args(["--package", &example.package]);
        }
        for variable in SCRUBBED {
            build.env_remove(variable);
        }
        build.envs(PROFILE.iter().copied());
        let status = build.status().unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
        if !status.success() {
            let packages: Vec<String> =
                examples.iter().map(|e| format!("{} (examples/rust/{})", e.package, e.dir)).collect();
            panic!(
                "building the Rust example extensions for {TARGET} failed ({status}); see the cargo output above. \
                 The examples: {}; each must be a member of the workspace (the root Cargo.toml)",
                packages.join(", ")
            );
        }
        for example in &examples {
            let built = target_dir.join(TARGET).join(profile).join(example.wasm_file());
            let module = out_dir.join(format!("{}{suffix}.wasm", example.dir));
            copy_if_changed(&built, &module);
        }
    }
    let dirs: Vec<&str> = examples.iter().map(|e| e.dir.as_str()).collect();
    println!("cargo::rustc-env=EXTWASM_RUST_EXAMPLES={}", dirs.join(","));
}

/// Makes sure the standard library for `TARGET` is installed: installs it
/// with rustup when it is missing, or fails saying how to.
fn ensure_target(rustc: &OsString) {
    if target_installed(rustc) {
        return;
    }
    println!("cargo::warning=installing the {TARGET} target: rustup target add {TARGET}");
    let added = Command::new("rustup").args(["target", "add", TARGET]).status();
    if matches!(added, Ok(status) if status.success()) && target_installed(rustc) {
        return;
    }
    panic!(
        "the {TARGET} target is not installed and `rustup target add {TARGET}` did not install it \
         ({added:?}); run `rustup target add {TARGET}` for the toolchain in use, then build again"
    );
}

/// Whether the sysroot of `rustc` has `core` for `TARGET`.
fn target_installed(rustc: &OsString) -> bool {
    let Ok(output) = Command::new(rustc).args(["--print", "target-libdir", "--target", TARGET]).output() else {
        return false;
    };
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    output.status.success()
        && fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.flatten().any(|entry| entry.file_name().to_string_lossy().starts_with("libcore-"))
        })
}

/// Copies `from` to `to` unless `to` already has the same bytes, so that an
/// unchanged module does not make the crate rebuild.
fn copy_if_changed(from: &Path, to: &Path) {
    let bytes = fs::read(from).unwrap_or_else(|e| panic!("the nested build made no {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        fs::write(to, &bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
    }
}
