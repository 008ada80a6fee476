//! The platform state extwasm extensions read, and the intents they write:
//! the embedder's traits and value types, with no wasm runtime in sight.
//!
//! An embedder implements [`State`] for its storage and [`Value`] for a
//! cheap handle to one of its records; hosts (the extwasm engine, the Rust
//! SDK's mock host) hand guests key builders ([`KeyBuilder`]) and intents
//! ([`Intent`], fields in a [`Row`]) and charge what they hold to a
//! [`budget::Budget`]. With the `json` feature, [`JsonState`] is the
//! reference state, loaded from JSON.
//!
//! ```
//! use std::ops::ControlFlow;
//! use extwasm_state::{Field, KeyBuilder, Scalar, State, StateError, Value};
//!
//! /// One record: a view with a counter.
//! #[derive(Debug, PartialEq)]
//! struct Counter(i64);
//!
//! impl Value for Counter {
//!     fn field(&self, name: &str) -> Option<Field<'_, Self>> {
//!         (name == "count").then(|| Field::Scalar(Scalar::Int64(self.0)))
//!     }
//!     fn element(&self, _: usize) -> Option<Field<'_, Self>> { None }
//!     fn len(&self) -> Option<usize> { None }
//! }
//!
//! struct Views;
//!
//! impl State for Views {
//!     type Value = Counter;
//!     type Key = Counter;
//!     fn query(&self, key: &KeyBuilder) -> Result<Option<Counter>, StateError> {
//!         Ok((key.storage() == "sys.View").then_some(Counter(41)))
//!     }
//!     fn read(&self, key: &KeyBuilder, each: &mut dyn FnMut(Counter, Counter) -> ControlFlow<()>)
//!         -> Result<(), StateError> {
//!         if let Some(value) = self.query(key)? {
//!             let _ = each(Counter(0), value);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let value = Views.query(&KeyBuilder::new("sys.View", "app.Counter")).unwrap().unwrap();
//! assert_eq!(value.field("count"), Some(Field::Scalar(Scalar::Int64(41))));
//! ```
#![deny(missing_docs)]

pub mod budget;
#[cfg(feature = "json")]
mod json;
pub mod names;
mod types;

#[cfg(feature = "json")]
pub use json::{JsonState, JsonStateError, JsonValue};
pub use types::{Field, Intent, IntentKind, KeyBuilder, QName, Row, Scalar, State, StateError, Value, excerpt};
