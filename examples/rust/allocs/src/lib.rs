//! Memory behaviour of guests built with the SDK: freed memory handed out
//! again is zeroed when asked, strings grow in place, and running out of
//! memory is a guest panic that says so.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::hint::black_box;

use extwasm_guest_sdk::{Ext, extension};

extension! {
    /// The extensions of this module.
    pub const EXTENSIONS = [
        simple => simple,
        zeroedAfterFree => zeroed_after_free,
        exhaustMemory => exhaust_memory,
        leak => leak,
    ];
}

/// Returns.
pub fn simple(_: Ext<'_>) {}

/// Fills blocks, frees them, and asks for zeroed blocks of the same size
/// (which the bump allocator hands out at the same address): they must be
/// zero. Panics otherwise.
pub fn zeroed_after_free(_: Ext<'_>) {
    for size in [16, 1000, 70_000] {
        drop(black_box(vec![0xAA_u8; size]));
        let zeroed = black_box(vec![0_u8; size]);
        assert!(zeroed.iter().all(|&b| b == 0), "alloc_zeroed returned memory that is not zero");
    }
    let mut text = String::new();
    for _ in 0..1000 {
        text.push_str("abc");
    }
    assert_eq!(black_box(text).len(), 3000);
}

/// Allocates 1 MiB blocks and keeps them, 64 MiB in all: more than the
/// engine's default memory limit (16 MiB), so on the engine it runs out of
/// memory (a guest panic); natively it returns.
pub fn exhaust_memory(_: Ext<'_>) {
    let mut blocks = Vec::new();
    for _ in 0..64 {
        blocks.push(black_box(vec![1_u8; 1 << 20]));
    }
    black_box(blocks);
}

/// Bytes [`leak`] keeps per invocation.
pub const LEAKED_BYTES: usize = 64 << 10;

/// Allocates [`LEAKED_BYTES`] and never frees them: a leaking guest, whose
/// heap in use grows by that much per invocation until the instance is
/// restored.
pub fn leak(_: Ext<'_>) {
    core::mem::forget(black_box(vec![1_u8; LEAKED_BYTES]));
}

#[cfg(test)]
mod tests {
    use extwasm_guest_sdk::testing::MockHost;

    use super::*;

    #[test]
    fn natively_everything_returns() {
        let host = MockHost::default();
        for extension in [simple, zeroed_after_free] {
            assert_eq!(host.run(extension).unwrap().len(), 0);
        }
    }
}
