//! `extwasm new PATH --lang rust|go [--name NAME] [--sdk DIR]`: a ready
//! extension project — one projector (it reads the event and writes a view
//! record), its native unit tests (the Rust SDK's mock host, or Go's
//! `exttest`), a state, a `scenarios.json` and a README with the author's
//! commands. As generated it builds, passes its tests and its scenarios.
//!
//! The SDKs are not published yet: the project depends on the extwasm
//! checkout this CLI was built from by path (`--sdk` or `$EXTWASM_SDK_ROOT`
//! for another), and a Rust project gets the checkout's `Cargo.lock`, so it
//! builds with the versions the SDK was tested with, offline too.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The language of a new project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the guest SDK (`extwasm-guest-sdk`).
    Rust,
    /// Go (standard Go ≥ 1.24, or TinyGo ≥ 0.34), with the Go SDK.
    Go,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Rust => "Rust",
            Lang::Go => "Go",
        })
    }
}

/// Arguments of `extwasm new`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder of the new project (created; if it exists it must be empty).
    pub path: PathBuf,
    /// Language of the project.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Project name: the crate or Go module, and the module file NAME.wasm (default: the folder's name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The extwasm checkout whose SDKs the project uses by path (default: the one this CLI was built from,
    /// or $EXTWASM_SDK_ROOT).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// Why a project cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The folder exists and has files in it.
    #[error("{path} exists and is not empty: name a new folder (extwasm new never overwrites files)")]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// The name cannot name a project.
    #[error("{name:?} cannot name a project: {why}; pass --name NAME")]
    BadName {
        /// The name.
        name: String,
        /// Why not.
        why: String,
    },
    /// The SDK is not where the project would point.
    #[error(
        "no {lang} SDK at {path}: pass --sdk <extwasm checkout> (or set EXTWASM_SDK_ROOT); \
         this CLI was built from {built_from}"
    )]
    NoSdk {
        /// The language.
        lang: Lang,
        /// The file looked for.
        path: PathBuf,
        /// The checkout the CLI was built from.
        built_from: String,
    },
    /// A file cannot be written.
    #[error("cannot write {path}: {detail}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        detail: String,
    },
}

/// A project `extwasm new` made.
#[derive(Debug)]
pub struct Created {
    /// Its folder.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// The files written, relative to the folder.
    pub files: Vec<&'static str>,
    /// The module file `extwasm build` writes and the scenarios name.
    pub module_file: String,
}

/// `extwasm new`: prints what was made and the next commands; exit 0, or 2
/// with one line on stderr.
pub fn main(args: &Args) -> ExitCode {
    match create(args) {
        Ok(created) => {
            println!("created {} project {} in {}", args.lang, created.name, created.path.display());
            for file in &created.files {
                println!("  {file}");
            }
            let test = match args.lang {
                Lang::Rust => "cargo test",
                Lang::Go => "go test ./...",
            };
            println!("next (see its README.md):");
            println!("  cd {}", created.path.display());
            println!("  {test}");
            println!("  extwasm build");
            println!("  extwasm inspect {}", created.module_file);
            println!("  extwasm test scenarios.json");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("extwasm new: {error}");
            ExitCode::from(2)
        }
    }
}

const RUST_KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "gen",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    // Names of the standard library's crates.
    "std",
    "core",
    "alloc",
    "test",
    "proc_macro",
];

/// Checks `name` for both languages' rules that matter here.
fn check_name(name: &str, lang: Lang) -> Result<(), NewError> {
    let bad = |why: &str| Err(NewError::BadName { name: name.to_owned(), why: why.to_owned() });
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return bad("it must start with an ASCII letter");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return bad("use ASCII letters, digits, '-' and '_' only");
    }
    if name.len() > 64 {
        return bad("it is longer than 64 characters");
    }
    if lang == Lang::Rust && RUST_KEYWORDS.contains(&name.replace('-', "_").as_str()) {
        return bad("it is a Rust keyword or a standard crate's name");
    }
    Ok(())
}

/// Creates the project `args` ask for.
pub fn create(args: &Args) -> Result<Created, NewError> {
    let path = &args.path;
    if std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_some()) || path.is_file() {
        return Err(NewError::NotEmpty { path: path.clone() });
    }
    let folder_name = std::path::absolute(path)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name = args.name.clone().unwrap_or(folder_name);
    check_name(&name, args.lang)?;

    let root = args.sdk.clone().unwrap_or_else(crate::repository_root);
    let sdk_file = match args.lang {
        Lang::Rust => root.join("guest-sdk/Cargo.toml"),
        Lang::Go => root.join("tinygo-sdk/go.mod"),
    };
    let no_sdk = || NewError::NoSdk {
        lang: args.lang,
        path: sdk_file.clone(),
        built_from: crate::repository_root().display().to_string(),
    };
    if !sdk_file.is_file() {
        return Err(no_sdk());
    }
    let sdk = sdk_file.parent().and_then(|dir| dir.canonicalize().ok()).ok_or_else(no_sdk)?;

    let (files, module_file) = match args.lang {
        Lang::Rust => rust_project(&name, &sdk, &root),
        Lang::Go => go_project(&name, &sdk, &root),
    };
    let write = |file: &Path, content: &[u8]| {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| NewError::Write { path: dir.to_owned(), detail: e.to_string() })?;
        }
        std::fs::write(file, content).map_err(|e| NewError::Write { path: file.to_owned(), detail: e.to_string() })
    };
    let mut written = Vec::with_capacity(files.len());
    for (file, content) in &files {
        write(&path.join(file), content)?;
        written.push(*file);
    }
    Ok(Created { path: path.clone(), name, files: written, module_file })
}

/// The state the scenarios and the tests start from.
const FIRST_ORDER: &str = r#"{
  "sys.Event": [
    { "value": { "customer": "alice", "amount": 250 } }
  ]
}
"#;

/// The scenarios of a new project; `@MODULE@` is the module file.
const SCENARIOS: &str = r#"{
  "about": "extwasm test scenarios.json runs these on the engine; the format: docs/SCENARIOS.md of the extwasm repository",
  "scenarios": [
    {
      "name": "a first order starts the customer's record",
      "module": "@MODULE@",
      "state": "states/first-order.json",
      "extension": "countOrders",
      "expect": {
        "intents": [
          {
            "op": "insert",
            "storage": "sys.View",
            "entity": "app.CustomerOrders",
            "key": { "customer": "alice" },
            "value": { "orders": { "$int32": 1 }, "total": { "$int64": 250 } }
          }
        ]
      }
    },
    {
      "name": "a second order adds to it",
      "module": "@MODULE@",
      "state": "states/first-order.json",
      "steps": [
        {
          "extension": "countOrders",
          "apply": true,
          "expect": {
            "intents": [
              {
                "op": "insert",
                "storage": "sys.View",
                "entity": "app.CustomerOrders",
                "key": { "customer": "alice" },
                "value": { "orders": 1, "total": 250 }
              }
            ]
          }
        },
        {
          "extension": "countOrders",
          "expect": {
            "intents": [
              {
                "op": "update",
                "storage": "sys.View",
                "entity": "app.CustomerOrders",
                "key": { "customer": "alice" },
                "value": { "orders": 2, "total": 500 }
              }
            ]
          }
        }
      ]
    },
    {
      "name": "a negative amount is refused",
      "module": "@MODULE@",
      "state": { "sys.Event": [{ "value": { "customer": "bob", "amount": -5 } }] },
      "extension": "countOrders",
      "expect": {
        "error": {
          "kind": "guest_panic",
          "message": "extension <ext> panicked: order amount must be positive, got -5"
        }
      }
    },
    {
      "name": "without an event there is nothing to project",
      "module": "@MODULE@",
      "state": {},
      "extension": "countOrders",
      "expect": {
        "error": {
          "kind": "not_found",
          "message": "extension <ext>: hostGetValue(keyBuilder): no value for storage \"sys.Event\", entity \"\", key {}"
        }
      }
    }
  ]
}
"#;

const RUST_CARGO_TOML: &str = r#"[package]
name = "@NAME@"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the wasm module (extwasm build); rlib: the native unit tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
# The extwasm guest SDK, by path to the extwasm checkout this project was
# created from, until the SDK is published.
extwasm-guest-sdk = { path = "@SDK@" }

[dev-dependencies]
serde_json = "1"

# A project of its own, not a member of an enclosing workspace.
[workspace]
"#;

const RUST_LIB: &str = r##"//! @NAME@: an extwasm extension module (ABI 0.0.1).
//!
//! `countOrders` is a projector: it reads the event being projected (an
//! order: a customer and an amount) and keeps one record per customer in the
//! view `app.CustomerOrders`: how many orders, and their total.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use extwasm_guest_sdk::{Ext, NULL_ENTITY, STORAGE_EVENT, STORAGE_VIEW, extension};

extension! {
    /// The extensions of this module: export name => function.
    pub const EXTENSIONS = [countOrders => count_orders];
}

/// The view record [`count_orders`] keeps, one per customer.
pub const CUSTOMER_ORDERS: &str = "app.CustomerOrders";

/// Projector: adds the event's order to its customer's record of the view.
pub fn count_orders(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    let customer = event.as_string("customer");
    let amount = event.as_int64("amount");
    if amount <= 0 {
        // Fails the invocation: the engine reports a guest_panic with this text.
        panic!("order amount must be positive, got {amount}");
    }
    let key = ext.key_builder(STORAGE_VIEW, CUSTOMER_ORDERS);
    key.put_string("customer", customer);
    match ext.query_value(&key) {
        None => {
            ext.new_value(&key).put_int32("orders", 1).put_int64("total", amount);
        }
        Some(existing) => {
            ext.update_value(&key, &existing)
                .put_int32("orders", existing.as_int32("orders") + 1)
                .put_int64("total", existing.as_int64("total") + amount);
        }
    }
}

// Natively, on the SDK's mock host: `cargo test` (no wasm, no engine).
#[cfg(test)]
mod tests {
    use extwasm_guest_sdk::testing::{ErrorKind, MockHost};
    use serde_json::json;

    use super::*;

    const FIRST_ORDER: &str = include_str!("../states/first-order.json");

    #[test]
    fn a_first_order_inserts_the_record_and_a_second_updates_it() {
        let mut host = MockHost::from_json(FIRST_ORDER).unwrap();
        let intents = host.run_and_apply(count_orders).unwrap();
        assert_eq!(
            intents,
            [json!({
                "op": "insert",
                "storage": "sys.View",
                "entity": CUSTOMER_ORDERS,
                "key": {"customer": "alice"},
                "value": {"orders": 1, "total": 250},
            })]
        );
        let intents = host.run_and_apply(count_orders).unwrap();
        assert_eq!(intents[0]["op"], "update");
        assert_eq!(intents[0]["value"], json!({"orders": 2, "total": 500}));
    }

    #[test]
    fn a_negative_amount_is_refused() {
        let host = MockHost::from_json(r#"{"sys.Event": [{"value": {"customer": "bob", "amount": -5}}]}"#).unwrap();
        let error = host.run(count_orders).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::GuestPanic);
        assert!(error.to_string().contains("order amount must be positive, got -5"), "{error}");
    }
}
"##;

const RUST_README: &str = r#"# @NAME@

An [extwasm](@ROOT@) extension module (ABI 0.0.1) in Rust, made by
`extwasm new`. `countOrders` is a projector: it reads the event being
projected (`sys.Event`: a customer and an order amount) and keeps one record
per customer in the view `app.CustomerOrders` (the number of orders and their
total).

The guest SDK is not published yet: `Cargo.toml` depends on it by path, in
the extwasm checkout this project was created from (`@SDK@`), and
`Cargo.lock` pins the versions that checkout was tested with. If the checkout
moves, change the path.

## Commands

```sh
cargo test                     # unit tests, natively on the SDK's mock host: no wasm, no engine
extwasm build                  # -> @MODULE@ (wasm32-unknown-unknown, release, size profile)
extwasm inspect @MODULE@       # ABI version, extensions, imports, exports, memory
extwasm test scenarios.json    # the scenarios of scenarios.json, on the engine
extwasm run @MODULE@ countOrders --state states/first-order.json
```

Needs Rust with the wasm target (`rustup target add wasm32-unknown-unknown`)
and the `extwasm` command (`cargo install --path cli` in the extwasm
checkout).

## Files

- `src/lib.rs`: the extension (`extension!` exports it) and its unit tests;
- `states/first-order.json`: a state in the JSON state format
  (`docs/STATE-FORMAT.md` in the extwasm checkout);
- `scenarios.json`: states, an extension and the intents or error expected
  (`docs/SCENARIOS.md`); `extwasm test` checks them on the engine.
"#;

const GO_MOD: &str = r#"module @NAME@

// Standard Go ≥ 1.24 builds this as a wasip1 reactor; TinyGo ≥ 0.34 builds
// the same source. extwasm build uses TinyGo when this file has a line
// "// extwasm: tinygo" (or with --tinygo), or when there is no standard Go.
go 1.24

require example.invalid/extwasm/tinygo-sdk v0.0.0

// The extwasm Go SDK, by path to the extwasm checkout this project was
// created from, until the SDK is published.
replace example.invalid/extwasm/tinygo-sdk => @SDK@
"#;

const GO_MAIN: &str = r#"// @NAME@: an extwasm extension module (ABI 0.0.1).
//
// countOrders is a projector: it reads the event being projected (an order:
// a customer and an amount) and keeps one record per customer in the view
// app.CustomerOrders: how many orders, and their total.
package main

import (
	"strconv"

	"example.invalid/extwasm/tinygo-sdk/ext"
)

func main() {}

// customerOrders is the view record countOrders keeps, one per customer.
const customerOrders = "app.CustomerOrders"

// countOrders (a projector) adds the event's order to its customer's record
// of the view.
//
//go:wasmexport countOrders
func countOrders() {
	event := ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
	customer := event.AsString("customer")
	amount := event.AsInt64("amount")
	if amount <= 0 {
		// Fails the invocation: the engine reports a guest_panic with this text.
		panic("order amount must be positive, got " + strconv.FormatInt(amount, 10))
	}
	key := ext.KeyBuilder(ext.StorageView, customerOrders)
	key.PutString("customer", customer)
	if existing, ok := ext.QueryValue(key); ok {
		ext.UpdateValue(key, existing).
			PutInt32("orders", existing.AsInt32("orders")+1).
			PutInt64("total", existing.AsInt64("total")+amount)
	} else {
		ext.NewValue(key).PutInt32("orders", 1).PutInt64("total", amount)
	}
}
"#;

const GO_TEST: &str = r#"package main

import (
	"errors"
	"testing"

	"example.invalid/extwasm/tinygo-sdk/exttest"
)

// Natively, on the SDK's mock host: go test (no wasm, no engine).
func TestAFirstOrderInsertsTheRecordAndASecondUpdatesIt(t *testing.T) {
	host, err := exttest.FromFile("states/first-order.json")
	if err != nil {
		t.Fatal(err)
	}
	intents, err := host.RunAndApply(countOrders)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op":"insert","storage":"sys.View","entity":"app.CustomerOrders","key":{"customer":"alice"},"value":{"orders":1,"total":250}}`
	if len(intents) != 1 || intents[0].JSON() != want {
		t.Fatalf("got %v, want [%s]", intents, want)
	}
	intents, err = host.RunAndApply(countOrders)
	if err != nil {
		t.Fatal(err)
	}
	if len(intents) != 1 || intents[0].Op != "update" || intents[0].Value["orders"] != int64(2) || intents[0].Value["total"] != int64(500) {
		t.Fatalf("got %v, want an update to 2 orders, 500 in total", intents)
	}
}

func TestANegativeAmountIsRefused(t *testing.T) {
	host, err := exttest.FromJSON(`{"sys.Event": [{"value": {"customer": "bob", "amount": -5}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = host.Run(countOrders)
	var failure *exttest.Error
	if !errors.As(err, &failure) || failure.Kind != exttest.KindGuestPanic || failure.Message != "order amount must be positive, got -5" {
		t.Fatalf("got %v", err)
	}
}
"#;

const GO_README: &str = r#"# @NAME@

An [extwasm](@ROOT@) extension module (ABI 0.0.1) in Go, made by
`extwasm new`. `countOrders` is a projector: it reads the event being
projected (`sys.Event`: a customer and an order amount) and keeps one record
per customer in the view `app.CustomerOrders` (the number of orders and their
total).

The Go SDK is not published yet: `go.mod` replaces it by the one in the
extwasm checkout this project was created from (`@SDK@`). If the checkout
moves, change the path.

## Commands

```sh
go test ./...                  # unit tests, natively on the SDK's mock host (exttest): no wasm, no engine
extwasm build                  # -> @MODULE@ (standard Go, GOOS=wasip1 GOARCH=wasm -buildmode=c-shared)
extwasm build --tinygo         # the same with TinyGo (kilobytes instead of ~2 MiB; or "// extwasm: tinygo" in go.mod)
extwasm inspect @MODULE@       # ABI version, extensions, imports, exports, memory
extwasm test scenarios.json    # the scenarios of scenarios.json, on the engine
extwasm run @MODULE@ countOrders --state states/first-order.json
```

Needs Go ≥ 1.24 (or TinyGo ≥ 0.34 for `--tinygo`) and the `extwasm` command
(`cargo install --path cli` in the extwasm checkout). A standard-Go module is
about 2 MiB, which the engine compiles and pre-initialises whenever it loads
it: `extwasm build`, `inspect` and `test` each take seconds (about 3.5 s of
CPU with a release `extwasm`); a TinyGo module (the reference ones are
about 8 KiB) loads in about a tenth of a second.

## Files

- `main.go`: the extension (`//go:wasmexport countOrders`);
- `main_test.go`: its unit tests;
- `states/first-order.json`: a state in the JSON state format
  (`docs/STATE-FORMAT.md` in the extwasm checkout);
- `scenarios.json`: states, an extension and the intents or error expected
  (`docs/SCENARIOS.md`); `extwasm test` checks them on the engine.
"#;

const GITIGNORE: &str = "/target\n*.wasm\n";

/// Fills the placeholders of a template.
fn fill(template: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs.iter().fold(template.to_owned(), |text, (from, to)| text.replace(from, to)).into_bytes()
}

/// A path as a TOML basic string's content.
fn toml_escaped(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

type Files = Vec<(&'static str, Vec<u8>)>;

fn rust_project(name: &str, sdk: &Path, root: &Path) -> (Files, String) {
    let module = format!("{}.wasm", name.replace('-', "_"));
    let root_text = root.canonicalize().unwrap_or_else(|_| root.to_owned()).display().to_string();
    let sdk_text = sdk.display().to_string();
    let pairs = [("@NAME@", name), ("@MODULE@", module.as_str()), ("@ROOT@", &root_text), ("@SDK@", &sdk_text)];
    let mut files: Files = vec![
        ("Cargo.toml", fill(RUST_CARGO_TOML, &[("@NAME@", name), ("@SDK@", &toml_escaped(sdk))])),
        ("src/lib.rs", fill(RUST_LIB, &pairs)),
        ("states/first-order.json", FIRST_ORDER.as_bytes().to_vec()),
        ("scenarios.json", fill(SCENARIOS, &pairs)),
        ("README.md", fill(RUST_README, &pairs)),
        (".gitignore", GITIGNORE.as_bytes().to_vec()),
    ];
    // The versions the SDK was tested with; cargo drops what the project
    // does not use on its first build.
    if let Ok(lock) = std::fs::read(root.join("Cargo.lock")) {
        files.push(("Cargo.lock", lock));
    }
    (files, module)
}

fn go_project(name: &str, sdk: &Path, root: &Path) -> (Files, String) {
    let module = format!("{name}.wasm");
    let root_text = root.canonicalize().unwrap_or_else(|_| root.to_owned()).display().to_string();
    let sdk_text = sdk.display().to_string();
    // go.mod takes a path with spaces as a quoted string.
    let replacement = if sdk_text.contains(char::is_whitespace) { format!("{sdk_text:?}") } else { sdk_text.clone() };
    let pairs = [("@NAME@", name), ("@MODULE@", module.as_str()), ("@ROOT@", &root_text), ("@SDK@", &sdk_text)];
    let files: Files = vec![
        ("go.mod", fill(GO_MOD, &[("@NAME@", name), ("@SDK@", &replacement)])),
        ("main.go", fill(GO_MAIN, &pairs)),
        ("main_test.go", fill(GO_TEST, &pairs)),
        ("states/first-order.json", FIRST_ORDER.as_bytes().to_vec()),
        ("scenarios.json", fill(SCENARIOS, &pairs)),
        ("README.md", fill(GO_README, &pairs)),
        (".gitignore", GITIGNORE.as_bytes().to_vec()),
    ];
    (files, module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_both_languages_rules() {
        assert!(check_name("orders", Lang::Rust).is_ok());
        assert!(check_name("my-orders_2", Lang::Go).is_ok());
        for bad in ["", "2fast", "with space", "dots.too", "café"] {
            assert!(check_name(bad, Lang::Go).is_err(), "{bad}");
        }
        assert!(check_name("fn", Lang::Rust).is_err());
        assert!(check_name("test", Lang::Rust).is_err());
        assert!(check_name("test", Lang::Go).is_ok());
    }

    #[test]
    fn the_scenarios_name_the_module_build_writes() {
        let (files, module) = rust_project("my-orders", Path::new("/sdk"), Path::new("/root"));
        assert_eq!(module, "my_orders.wasm");
        let scenarios = files.iter().find(|(name, _)| *name == "scenarios.json").unwrap();
        let text = String::from_utf8_lossy(&scenarios.1);
        assert!(text.contains("\"module\": \"my_orders.wasm\""), "{text}");
        assert!(!text.contains('@'), "every placeholder is filled: {text}");
    }
}
