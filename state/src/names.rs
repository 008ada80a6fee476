//! Name comparison and lookup on the invocation hot path.
//!
//! Extension, storage, entity and field names are short. Measured on this
//! project's machines, glibc's `memcmp` (which `==` on `str` calls) cost
//! ~25 ns per call there, more than half of a whole invocation; these
//! helpers compare short names in registers instead.

/// Whether `a` and `b` hold the same bytes, without calling `memcmp`.
#[inline]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
    for (x, y) in (&mut a8).zip(&mut b8) {
        if word(x) != word(y) {
            return false;
        }
    }
    let (x, y) = (a8.remainder(), b8.remainder());
    tail(x) == tail(y)
}

/// Eight bytes as one word.
#[inline(always)]
fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
}

/// Up to eight bytes as one word, zero-padded. Built in a register: storing
/// the bytes into an array and loading it as a word stalls store forwarding.
#[inline(always)]
fn tail(rest: &[u8]) -> u64 {
    if rest.len() == 8 {
        return word(rest);
    }
    let mut value = 0u64;
    for (i, &byte) in rest.iter().enumerate() {
        value |= (byte as u64) << (8 * i);
    }
    value
}

/// `str` equality through [`bytes_eq`].
#[inline]
pub fn str_eq(a: &str, b: &str) -> bool {
    bytes_eq(a.as_bytes(), b.as_bytes())
}

/// A constant-time hash of a name: its length and its first and last eight
/// bytes. A byte-serial hash (FNV) costs a multiply per byte in one
/// dependency chain, which shows on 20-byte extension names; collisions
/// only cost a comparison.
#[inline]
fn name_hash(name: &[u8]) -> u64 {
    let head = tail(&name[..name.len().min(8)]);
    let last = tail(&name[name.len().saturating_sub(8)..]);
    let mixed = (head ^ (name.len() as u64).rotate_left(56)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ last.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    mixed ^ (mixed >> 29)
}

/// Maps names to their position in a list given at construction: hash, then
/// binary search over the hashes, then one comparison.
#[derive(Clone, Debug, Default)]
pub struct NameIndex {
    /// (hash, position), sorted.
    entries: Vec<(u64, usize)>,
    names: Vec<Box<str>>,
}

impl NameIndex {
    /// An index of `names`, each at its position.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut index = NameIndex::default();
        for name in names {
            index.push(name);
        }
        index
    }

    /// Adds `name` at the next position.
    pub fn push(&mut self, name: &str) {
        let entry = (name_hash(name.as_bytes()), self.names.len());
        let at = self.entries.partition_point(|e| *e < entry);
        self.entries.insert(at, entry);
        self.names.push(name.into());
    }

    /// The position of `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<usize> {
        let hash = name_hash(name.as_bytes());
        let start = self.entries.partition_point(|e| e.0 < hash);
        self.entries[start..].iter().take_while(|e| e.0 == hash).map(|e| e.1).find(|&i| str_eq(&self.names[i], name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_eq_agrees_with_slice_eq() {
        let samples: [&[u8]; 9] =
            [b"", b"a", b"b", b"sys.Event", b"sys.Evenu", b"sys.Even", b"12345678", b"123456789", b"12345679"];
        for a in samples {
            for b in samples {
                assert_eq!(bytes_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
        let long = vec![7u8; 1000];
        let mut other = long.clone();
        assert!(bytes_eq(&long, &other));
        other[999] = 8;
        assert!(!bytes_eq(&long, &other));
    }

    #[test]
    fn name_index_finds_every_name_and_nothing_else() {
        let names: Vec<String> = (0..200).map(|i| format!("ext{i}")).collect();
        let index = NameIndex::new(names.iter().map(String::as_str));
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.get(name), Some(i));
        }
        assert_eq!(index.get("ext200"), None);
        assert_eq!(index.get(""), None);
    }
}
