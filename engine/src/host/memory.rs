//! Guest memory, host side: writes into it, and the exchange buffer that
//! string and bytes results go through.

use extwasm_abi as abi;
use extwasm_host::{Fault, guest_bytes};

/// `len` bytes of guest memory at `ptr`, to write.
#[inline]
pub(super) fn guest_bytes_mut<'m>(
    memory: &'m mut [u8],
    ptr: u32,
    len: u32,
    argument: &'static str,
) -> Result<&'m mut [u8], Fault> {
    let memory_size = memory.len();
    let start = ptr as usize;
    start.checked_add(len as usize).and_then(|end| memory.get_mut(start..end)).ok_or_else(|| Fault::Memory {
        argument,
        ptr,
        len,
        memory_size,
    })
}

/// A little-endian `u32` of guest memory.
pub(super) fn read_u32(memory: &[u8], ptr: u32, argument: &'static str) -> Result<u32, Fault> {
    let bytes = guest_bytes(memory, ptr, 4, argument)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Writes a little-endian `u32` into guest memory.
pub(super) fn write_u32(memory: &mut [u8], ptr: u32, value: u32, argument: &'static str) -> Result<(), Fault> {
    guest_bytes_mut(memory, ptr, 4, argument)?.copy_from_slice(&value.to_le_bytes());
    Ok(())
}

/// Where string and bytes results go: a buffer the host allocated with the
/// guest's `malloc`, filled from offset 0 each invocation; results that do
/// not fit get buffers of their own, freed after the invocation.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    ptr: u32,
    size: u32,
    offset: u32,
    /// Extra buffers allocated this invocation for results that did not fit.
    overflow: Vec<u32>,
}

impl Exchange {
    /// Results go to `size` bytes at `ptr`.
    pub(super) fn place(&mut self, ptr: u32, size: u32) {
        self.ptr = ptr;
        self.size = size;
        self.offset = 0;
    }

    /// A new invocation fills the buffer from its start.
    #[inline]
    pub(super) fn begin(&mut self) {
        self.offset = 0;
    }

    /// Copies `bytes` into the buffer when they fit; returns the packed result.
    #[inline]
    pub(super) fn try_write(&mut self, memory: &mut [u8], bytes: &[u8]) -> Option<u64> {
        let len = u32::try_from(bytes.len()).ok()?;
        if len > self.size - self.offset {
            return None;
        }
        let ptr = self.ptr + self.offset;
        let dst = guest_bytes_mut(memory, ptr, len, "exchange buffer").ok()?;
        dst.copy_from_slice(bytes);
        self.offset += len;
        Some(abi::pack(ptr, len))
    }

    /// The list of extra buffers, for the budget to grow.
    pub(super) fn overflow_mut(&mut self) -> &mut Vec<u32> {
        &mut self.overflow
    }

    /// The extra buffers of the invocation, to free.
    pub(super) fn take_overflow(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.overflow)
    }

    /// Takes the emptied list back, keeping its allocation.
    pub(super) fn keep_overflow(&mut self, mut list: Vec<u32>) {
        list.clear();
        self.overflow = list;
    }

    /// Forgets the extra buffers and their list's allocation.
    pub(super) fn release(&mut self) {
        self.overflow = Vec::new();
    }
}
