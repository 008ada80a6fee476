//! What a pool invocation hands back: owned copies of what the worker's
//! [`Invocation`] lends (its intents borrow the worker, which stays on its
//! thread).

use extwasm_engine::{Intent, IntentKind, Invocation, KeyBuilder, Row, State};

/// A successful invocation, owned: its intents, output and counters.
#[derive(Debug)]
pub struct Outcome<V> {
    /// The intents, in the order the guest made them.
    pub intents: Vec<OwnedIntent<V>>,
    /// What the guest printed on stdout and stderr (bounded).
    pub output: String,
    /// Host calls the guest made.
    pub host_calls: u64,
    /// Size of the instance's memory after the invocation, in bytes.
    pub memory_bytes: usize,
}

impl<V: Clone> Outcome<V> {
    /// Copies what `invocation` lends.
    pub fn of<S: State<Value = V>>(invocation: &Invocation<'_, S>) -> Self {
        Outcome {
            intents: invocation.intents().map(|intent| OwnedIntent::of(&intent)).collect(),
            output: invocation.output(),
            host_calls: invocation.host_calls(),
            memory_bytes: invocation.memory_bytes(),
        }
    }
}

/// An [`Intent`], owned.
#[derive(Clone, Debug)]
pub struct OwnedIntent<V> {
    /// Insert, or update of a value.
    pub kind: OwnedIntentKind<V>,
    /// Where: storage, entity and key fields.
    pub key: KeyBuilder,
    /// The fields the guest put on the intent.
    pub value: Row,
}

/// An [`IntentKind`], owned.
#[derive(Clone, Debug)]
pub enum OwnedIntentKind<V> {
    /// Insert a new value at the key.
    Insert,
    /// Update `existing` with the intent's fields.
    Update {
        /// The value the guest read and wants to change.
        existing: V,
    },
}

impl<V: Clone> OwnedIntent<V> {
    /// Copies `intent`.
    pub fn of(intent: &Intent<'_, V>) -> Self {
        let kind = match intent.kind {
            IntentKind::Insert => OwnedIntentKind::Insert,
            IntentKind::Update { existing } => OwnedIntentKind::Update { existing: existing.clone() },
        };
        OwnedIntent { kind, key: intent.key.clone(), value: intent.value.clone() }
    }
}

impl<V> OwnedIntent<V> {
    /// The intent as the engine lends it (for `JsonState::intent_json`, say).
    pub fn as_intent(&self) -> Intent<'_, V> {
        let kind = match &self.kind {
            OwnedIntentKind::Insert => IntentKind::Insert,
            OwnedIntentKind::Update { existing } => IntentKind::Update { existing },
        };
        Intent { kind, key: &self.key, value: &self.value }
    }
}
