//! Write extwasm extensions (ABI 0.0.1) in Rust.
//!
//! An extension is a function that receives the running invocation, [`Ext`],
//! reads the platform state through it and leaves intents; [`extension!`]
//! exports it under its ABI name. The same code runs natively against
//! [`testing::MockHost`], a mock host backed by the engine's JSON state, so
//! it is unit-tested with plain `cargo test`:
//!
//! ```
//! use extwasm_guest_sdk::{Ext, STORAGE_VIEW, extension};
//!
//! /// Counts its invocations in the view record `mypkg.Counter`, key `pk` = 1.
//! fn increment(ext: Ext<'_>) {
//!     let key = ext.key_builder(STORAGE_VIEW, "mypkg.Counter");
//!     key.put_int32("pk", 1);
//!     match ext.query_value(&key) {
//!         None => {
//!             ext.new_value(&key).put_int32("count", 1);
//!         }
//!         Some(existing) => {
//!             ext.update_value(&key, &existing).put_int32("count", existing.as_int32("count") + 1);
//!         }
//!     }
//! }
//!
//! // In a wasm32 build, exports `incrementCounter() -> ()`.
//! extension!(incrementCounter => increment);
//!
//! # fn main() -> Result<(), extwasm_guest_sdk::testing::MockError> {
//! use extwasm_guest_sdk::testing::MockHost;
//!
//! let mut host = MockHost::from_json(r#"{ "sys.View": [] }"#)?;
//! let intents = host.run_and_apply(increment)?;
//! assert_eq!(intents[0]["op"], "insert");
//! assert_eq!(intents[0]["value"]["count"], 1);
//!
//! let intents = host.run_and_apply(increment)?;
//! assert_eq!(intents[0]["op"], "update");
//! assert_eq!(intents[0]["value"]["count"], 2);
//! # Ok(())
//! # }
//! ```
//!
//! # The API
//!
//! It has the shape of the TinyGo SDK, one name per concept in both
//! languages: [`Ext::key_builder`] (`ext.KeyBuilder`) with typed puts
//! (`put_int32` … `put_qname`), [`Ext::must_get_value`],
//! [`Ext::query_value`] (an `Option`), [`Ext::read_values`] (a closure called
//! for every key and value; reading again inside it works),
//! [`Ext::new_value`] and [`Ext::update_value`] (intents, with the same
//! puts); [`Value`] fields by name (`as_int32` … `as_value`) and elements by
//! index (`get_as_int32` … `get_as_value`, [`Value::len`]); [`Key`] fields
//! by name. Strings and bytes are borrowed from the host's exchange buffer
//! without copying, for the invocation `'i`: they cannot be kept past it.
//!
//! Reading a missing field, a field of another type, or must-getting a value
//! that does not exist fails the invocation on the host's side, with an error
//! that says which; an extension does not handle those.
//!
//! # What the SDK puts in a wasm module
//!
//! A crate of extensions is `no_std` (`#![cfg_attr(not(test), no_std)]`
//! keeps the standard library for its unit tests; `alloc` is there:
//! `String`, `Vec`, `format!`) with `crate-type = ["cdylib", "rlib"]`, built
//! for `wasm32-unknown-unknown`. On that target this crate provides everything
//! the module must export besides the extensions: `WasmAbiVersion_0_0_1`,
//! `WasmOnReadValue`, `WasmGetHeapInuse`, `WasmGetHeapSys`, `WasmGetMallocs`,
//! `WasmGetFrees` (all `() -> i64`), `WasmGC`, `malloc` and `free`. It also
//! provides:
//!
//! * the global allocator: a bump ("leaking") allocator that never
//!   collects, like TinyGo's `-gc=leaking`; it gives back only the latest
//!   block when that is freed or resized. Running out of memory is a guest
//!   panic saying how much was asked for.
//! * the panic handler: the message and location (`<message> (at
//!   src/lib.rs:12:9)`) go to the host through `hostPanic`, then the guest
//!   traps; the engine reports a guest-panic error with that text and
//!   restores the instance.
//!
//! Every import name, signature and constant comes from [`extwasm_abi`];
//! each declaration is checked against its tables at compile time.
//!
//! Natively nothing is exported and nothing is installed: the standard
//! allocator and panic machinery serve, and host calls go to the mock host.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod api;
pub mod build_profile;
// The FFI boundary: the one module with `unsafe` code.
#[allow(unsafe_code)]
mod ffi;
mod report;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

// Where host calls go: the wasm imports, or the mock host natively. Both
// modules have the same safe functions.
#[cfg(target_arch = "wasm32")]
use ffi as host;
#[cfg(not(target_arch = "wasm32"))]
use testing::host;

pub use api::{Ext, Intent, Key, KeyBuilder, QName, Value};

/// Storage of the event a projector handles.
pub const STORAGE_EVENT: &str = "sys.Event";
/// Storage of mails to send.
pub const STORAGE_SEND_MAIL: &str = "sys.SendMail";
/// Storage of records.
pub const STORAGE_RECORD: &str = "sys.Record";
/// Storage of views.
pub const STORAGE_VIEW: &str = "sys.View";
/// Storage of the write-ahead log.
pub const STORAGE_WLOG: &str = "sys.WLog";
/// Storage of HTTP requests.
pub const STORAGE_HTTP: &str = "sys.Http";
/// Storage of application secrets.
pub const STORAGE_APP_SECRET: &str = "sys.AppSecret";
/// Storage of the request subject.
pub const STORAGE_REQUEST_SUBJECT: &str = "sys.RequestSubject";
/// Storage of a command's result.
pub const STORAGE_RESULT: &str = "sys.Result";
/// Storage of the context (argument) of the command being executed.
pub const STORAGE_COMMAND_CONTEXT: &str = "sys.CommandContext";
/// The entity of a key that has none.
pub const NULL_ENTITY: &str = "";

/// An extension function: what [`extension!`] exports.
pub type ExtensionFn = for<'i> fn(Ext<'i>);

/// An extension by name, as the list form of [`extension!`] records it (to
/// run every extension of a crate natively, say).
#[derive(Clone, Copy, Debug)]
pub struct Extension {
    /// The export name.
    pub name: &'static str,
    /// The function.
    pub function: ExtensionFn,
}

/// Declares extensions: exports each function under its name with the ABI's
/// `() -> ()` signature (on wasm32; natively nothing is exported and the
/// functions are tested through [`testing::MockHost`]).
///
/// Each function is `fn(Ext<'_>)`. `extension!(NewOrder => new_order)`
/// exports `new_order` as `NewOrder`; `extension!(doNothing)` exports the
/// function `doNothing` under its own name. Several may be listed, comma
/// separated. The list form also defines a constant with them all:
///
/// ```
/// # use extwasm_guest_sdk::{Ext, extension};
/// # fn new_order(_: Ext<'_>) {}
/// # fn calc_ordered_items(_: Ext<'_>) {}
/// extension! {
///     /// The extensions of this crate.
///     pub const EXTENSIONS = [NewOrder => new_order, CalcOrderedItems => calc_ordered_items];
/// }
/// assert_eq!(EXTENSIONS[1].name, "CalcOrderedItems");
/// ```
///
/// A reserved name (one starting with `Wasm`, or `malloc`, `free`, … — see
/// [`extwasm_abi::is_reserved_extension_name`]) is a compile error:
///
/// ```compile_fail
/// fn on_read(_: extwasm_guest_sdk::Ext<'_>) {}
/// extwasm_guest_sdk::extension!(WasmOnReadValue => on_read);
/// ```
///
/// and so is a function of another signature:
///
/// ```compile_fail
/// fn takes_nothing() {}
/// extwasm_guest_sdk::extension!(Nothing => takes_nothing);
/// ```
#[macro_export]
macro_rules! extension {
    ($(#[$meta:meta])* $vis:vis const $list:ident = [$($name:ident $(=> $function:path)?),+ $(,)?];) => {
        $($crate::__extension!($name $(=> $function)?);)+
        $(#[$meta])*
        $vis const $list: &[$crate::Extension] = &[$($crate::__extension!(@entry $name $(=> $function)?)),+];
    };
    ($($name:ident $(=> $function:path)?),+ $(,)?) => {
        $($crate::__extension!($name $(=> $function)?);)+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __extension {
    (@entry $name:ident) => {
        $crate::__extension!(@entry $name => $name)
    };
    (@entry $name:ident => $function:path) => {
        $crate::Extension { name: ::core::stringify!($name), function: $function }
    };
    ($name:ident) => {
        $crate::__extension!($name => $name);
    };
    ($name:ident => $function:path) => {
        const _: () = {
            ::core::assert!(
                !$crate::__private::is_reserved_extension_name(::core::stringify!($name)),
                ::core::concat!(
                    "`",
                    ::core::stringify!($name),
                    "` is reserved by the ABI and cannot name an extension ",
                    "(see extwasm_abi::is_reserved_extension_name)"
                )
            );
            let _: for<'i> fn($crate::Ext<'i>) = $function;
        };
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(export_name = ::core::stringify!($name))]
            extern "C" fn __extwasm_extension() {
                $crate::__private::invoke($function)
            }
        };
    };
}

/// Writes a line to the extension's output, formatted as [`format!`] does:
/// `log!("order {id}: {} items", items.len())`.
///
/// On wasm the line goes to stderr through WASI `fd_write`, which the
/// engine captures with the rest of the invocation's output
/// (`Invocation::output`, the `stdout` of `extwasm run`; it keeps the first
/// `Config::output_limit_bytes`, 1 KiB by default). A module that logs
/// imports `wasi_snapshot_preview1.fd_write`, which every extwasm host
/// provides; one that does not imports nothing more. Logging never fails
/// the extension and allocates nothing. Each call is one host call (a line
/// over 512 bytes, one per 512 bytes).
///
/// Natively the [`testing::MockHost`] captures the lines
/// ([`testing::MockHost::output`]); outside a mock run they go to stderr.
///
/// ```
/// use extwasm_guest_sdk::testing::MockHost;
/// use extwasm_guest_sdk::{Ext, log};
///
/// fn greet(_: Ext<'_>) {
///     log!("hello");
///     log!("{} + {} = {}", 1, 2, 1 + 2);
/// }
///
/// let host = MockHost::default();
/// host.run(greet).unwrap();
/// assert_eq!(host.output(), "hello\n1 + 2 = 3\n");
/// ```
///
/// [`format!`]: https://doc.rust-lang.org/alloc/macro.format.html
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::__private::log(::core::format_args!($($arg)*))
    };
}

/// What [`extension!`] and [`log!`] expand to uses; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::api::invoke;
    pub use extwasm_abi::is_reserved_extension_name;

    /// One log line (see [`crate::log!`]).
    pub fn log(args: core::fmt::Arguments<'_>) {
        crate::host::log(args)
    }
}
