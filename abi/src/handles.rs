//! Handles: the opaque `i64`s the host hands a guest for its key builders,
//! values, keys and intents.
//!
//! A handle is `kind:8 | generation:24 | index:32`. The generation changes
//! with every invocation, so a handle kept from an earlier one is recognised
//! as stale; the kind byte is never `0xFF`, so no handle equals
//! [`crate::NOT_FOUND`].

/// What a handle names: its top byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HandleKind {
    /// A key builder (`hostGetKey`).
    KeyBuilder = 1,
    /// A value (`hostGetValue`, `hostQueryValue`, nested reads, read callbacks).
    Value = 2,
    /// An intent (`hostNewValue`, `hostUpdateValue`).
    Intent = 3,
    /// A key handed to `WasmOnReadValue`.
    Key = 4,
}

impl HandleKind {
    /// Every kind, in tag order.
    pub const ALL: [HandleKind; 4] = [HandleKind::KeyBuilder, HandleKind::Value, HandleKind::Intent, HandleKind::Key];

    /// The kind of a handle's top byte.
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(HandleKind::KeyBuilder),
            2 => Some(HandleKind::Value),
            3 => Some(HandleKind::Intent),
            4 => Some(HandleKind::Key),
            _ => None,
        }
    }

    /// The name messages use: `key builder`, `value`, `intent`, `key`.
    pub const fn name(self) -> &'static str {
        match self {
            HandleKind::KeyBuilder => "key builder",
            HandleKind::Value => "value",
            HandleKind::Intent => "intent",
            HandleKind::Key => "key",
        }
    }

    /// The name with its indefinite article: `a key builder`, `an intent`.
    pub const fn with_article(self) -> &'static str {
        match self {
            HandleKind::KeyBuilder => "a key builder",
            HandleKind::Value => "a value",
            HandleKind::Intent => "an intent",
            HandleKind::Key => "a key",
        }
    }
}

/// The bits of the generation in a handle.
pub const GENERATION_MASK: u32 = 0x00FF_FFFF;

/// The handle of object `index` of `kind` in invocation `generation`.
#[inline]
pub const fn encode_handle(kind: HandleKind, generation: u32, index: u32) -> u64 {
    ((kind as u64) << 56) | (((generation & GENERATION_MASK) as u64) << 32) | index as u64
}

/// Why a guest's handle does not name an object of this invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleFault {
    /// The top byte is no kind: not a handle the host made.
    NotAHandle {
        /// The kind that was expected.
        expected: HandleKind,
    },
    /// A handle of another kind.
    WrongKind {
        /// The kind the handle has.
        found: HandleKind,
        /// The kind that was expected.
        expected: HandleKind,
    },
    /// A handle from an earlier invocation.
    Stale {
        /// Its kind.
        kind: HandleKind,
    },
    /// A handle past the objects this invocation has.
    Forged {
        /// Its kind.
        kind: HandleKind,
        /// The index it names.
        index: u32,
    },
}

/// The index a handle names, when it is a handle of `expected` from
/// invocation `generation` and this invocation has more than `index` such
/// objects (`len`).
#[inline]
pub const fn decode_handle(handle: u64, expected: HandleKind, generation: u32, len: usize) -> Result<u32, HandleFault> {
    let Some(kind) = HandleKind::from_tag((handle >> 56) as u8) else {
        return Err(HandleFault::NotAHandle { expected });
    };
    if kind as u8 != expected as u8 {
        return Err(HandleFault::WrongKind { found: kind, expected });
    }
    if (handle >> 32) as u32 & GENERATION_MASK != generation & GENERATION_MASK {
        return Err(HandleFault::Stale { kind });
    }
    let index = handle as u32;
    if index as usize >= len {
        return Err(HandleFault::Forged { kind, index });
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_misuse_is_named() {
        let h = encode_handle(HandleKind::Value, 7, 3);
        assert_eq!(decode_handle(h, HandleKind::Value, 7, 4), Ok(3));
        assert_eq!(decode_handle(h, HandleKind::Value, 8, 4), Err(HandleFault::Stale { kind: HandleKind::Value }));
        assert_eq!(
            decode_handle(h, HandleKind::KeyBuilder, 7, 4),
            Err(HandleFault::WrongKind { found: HandleKind::Value, expected: HandleKind::KeyBuilder })
        );
        assert_eq!(
            decode_handle(h, HandleKind::Value, 7, 3),
            Err(HandleFault::Forged { kind: HandleKind::Value, index: 3 })
        );
        assert_eq!(
            decode_handle(u64::MAX, HandleKind::Key, 7, 4),
            Err(HandleFault::NotAHandle { expected: HandleKind::Key })
        );
        assert_eq!(decode_handle(0, HandleKind::Key, 7, 4), Err(HandleFault::NotAHandle { expected: HandleKind::Key }));
        assert_ne!(encode_handle(HandleKind::Key, GENERATION_MASK, u32::MAX), crate::NOT_FOUND);
        for kind in HandleKind::ALL {
            assert_eq!(HandleKind::from_tag(kind as u8), Some(kind));
        }
    }
}
