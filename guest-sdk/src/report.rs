//! How a guest panic reads on the host: `<message> (at <file>:<line>:<column>)`.
//!
//! The wasm32 panic handler writes it into a fixed buffer (no allocation: the
//! panic may be the allocator's) and hands it to `hostPanic`; the native mock
//! host formats panics the same way, so tests see the message the engine
//! would report.

use core::fmt::{self, Display, Write};
use core::panic::Location;

/// Writes the panic text into `out`.
pub(crate) fn write_panic(out: &mut impl Write, message: impl Display, location: Option<&Location<'_>>) {
    let _ = write!(out, "{message}");
    if let Some(location) = location {
        // The file through `write_str`: `{}` of a `str` would pull
        // `Formatter::pad` into every module (1.5 KiB).
        let _ = out.write_str(" (at ");
        let _ = out.write_str(location.file());
        let _ = write!(out, ":{}:{})", location.line(), location.column());
    }
}

/// Longest panic text handed to the host, in bytes; longer ones are cut at a
/// character boundary and end with [`PanicText::ELLIPSIS`].
pub(crate) const PANIC_TEXT_MAX: usize = 1024;

/// A panic text in a fixed buffer.
pub(crate) struct PanicText {
    bytes: [u8; PANIC_TEXT_MAX],
    len: usize,
    truncated: bool,
}

impl PanicText {
    /// Marks a truncated text.
    pub(crate) const ELLIPSIS: &'static str = "…";

    pub(crate) const fn new() -> Self {
        PanicText { bytes: [0; PANIC_TEXT_MAX], len: 0, truncated: false }
    }

    /// The text written so far.
    pub(crate) fn as_str(&self) -> &str {
        // Only whole characters are ever copied in, so this does not fail.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("<panic message>")
    }
}

impl Write for PanicText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.truncated {
            return Ok(());
        }
        let room = PANIC_TEXT_MAX - self.len;
        if text.len() <= room {
            self.bytes[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
            self.len += text.len();
            return Ok(());
        }
        // Keep what fits with the ellipsis, cut at a character boundary.
        let mut keep = room.saturating_sub(Self::ELLIPSIS.len());
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        let ellipsis_at = self.len + keep;
        self.bytes[self.len..ellipsis_at].copy_from_slice(&text.as_bytes()[..keep]);
        self.bytes[ellipsis_at..ellipsis_at + Self::ELLIPSIS.len()].copy_from_slice(Self::ELLIPSIS.as_bytes());
        self.len = ellipsis_at + Self::ELLIPSIS.len();
        self.truncated = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn message_then_location() {
        let mut text = PanicText::new();
        let location = Location::caller();
        write_panic(&mut text, "negative order amount", Some(location));
        assert_eq!(
            text.as_str(),
            std::format!("negative order amount (at {}:{}:{})", location.file(), location.line(), location.column())
        );
        let mut text = String::new();
        write_panic(&mut text, format_args!("{} + {}", 1, 2), None);
        assert_eq!(text, "1 + 2");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let mut text = PanicText::new();
        let long: String = "é".repeat(PANIC_TEXT_MAX);
        write_panic(&mut text, &long, None);
        let out = text.as_str();
        assert!(out.len() <= PANIC_TEXT_MAX);
        assert!(out.ends_with(PanicText::ELLIPSIS));
        assert!(out.trim_end_matches(PanicText::ELLIPSIS).chars().all(|c| c == 'é'));
        // Nothing more is appended after the cut.
        let _ = text.write_str("more");
        assert!(text.as_str().ends_with(PanicText::ELLIPSIS));
    }
}
