//! A small, self-contained PRNG: SplitMix64. Chosen over a crate so that a
//! seed names the same guests on every machine and every toolchain, forever.

/// SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period, good
/// enough statistics for test generation, trivially seedable.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The generator of case `index` of a run seeded with `seed`: every case
    /// is generated from its own stream, so case N is the same whether or not
    /// the cases before it ran (a replay, a run cut short by a hang).
    pub fn for_case(seed: u64, index: u64) -> Self {
        let mut mix = Rng(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mix.next_u64() ^ mix.next_u64().rotate_left(17))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One element of a non-empty vector, taken out of it.
    pub fn take<T>(&mut self, mut items: Vec<T>) -> T {
        let i = self.below(items.len());
        items.swap_remove(i)
    }

    /// An index drawn with the given weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut ticket = self.next_u64() % total;
        for (i, &w) in weights.iter().enumerate() {
            if ticket < w as u64 {
                return i;
            }
            ticket -= w as u64;
        }
        unreachable!("the ticket is below the total")
    }

    /// `len` random bytes (for `arbitrary::Unstructured`).
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}
