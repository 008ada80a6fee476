//! The host side of the extwasm ABI, without a wasm runtime: the invocation
//! [`Session`] (handle tables, reads and puts, the type rules, the host
//! budget) and the typed [`Error`] every host reports.
//!
//! The engine runs it behind wasm imports ([`Session::call`] decodes any
//! import of the ABI table from raw arguments and guest memory); the Rust
//! SDK's mock host calls its typed operations directly. One implementation,
//! so both answer every host call alike.
//!
//! ```
//! use extwasm_host::{Label, Selector, Session, Read};
//! use extwasm_state::budget::{Budget, Clock};
//! use extwasm_state::{JsonState, Scalar};
//! use extwasm_abi::FieldType;
//!
//! let state = JsonState::from_json_str(r#"{"sys.View": [{"value": {"total": 41}}]}"#)?;
//! let label = Label::new("shop".into(), vec!["project".into()].into());
//! let mut session: Session<JsonState> = Session::new(label, Budget::new(1 << 20, 1024, Clock::default()), None);
//! session.begin(Some(0), None);
//!
//! // A fault becomes an error naming the host call it happened in.
//! let fail = |session: &Session<JsonState>, call, fault| session.error(call, fault);
//! let key = session.get_key("sys.View", "").map_err(|f| fail(&session, "hostGetKey", f))?;
//! let value = session.query(&state, key, true).map_err(|f| fail(&session, "hostGetValue", f))?;
//! match session.read(value, false, Selector::Name("total"), FieldType::Int32) {
//!     Ok(read) => assert_eq!(read, Read::I32(41)),
//!     Err(fault) => return Err(fail(&session, "hostValueAsInt32", fault).into()),
//! }
//!
//! let view = session.get_key("sys.View", "").map_err(|f| fail(&session, "hostGetKey", f))?;
//! let intent = session.new_value(&state, view).map_err(|f| fail(&session, "hostNewValue", f))?;
//! session.put(intent, 1, "total", Scalar::Int32(42)).map_err(|f| fail(&session, "hostRowWriterPutInt32", f))?;
//! assert_eq!(session.intents().len(), 1);
//!
//! let error = session.read(value, false, Selector::Name("total"), FieldType::String).unwrap_err();
//! assert_eq!(
//!     session.error("hostValueAsString", error).to_string(),
//!     r#"extension shop/project: hostValueAsString(namePtr): field "total" is int64, read as string"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod session;

pub use error::{
    ConfigError, Error, ErrorKind, HandleReason, HostResource, LoadError, LoadPhase, Result, Site, closest_name,
};
pub use session::{
    Fault, Label, MAX_PANIC_MESSAGE, Read, Ret, Selector, Session, embedder, guest_bytes, guest_text, panic_message,
    state_call,
};
