//! The generator's only source of randomness: splitmix64, small and fast, written out here so
//! the same seed gives the same data on every platform and with every dependency version.

/// A splitmix64 stream. Each part of the generator draws from its own named stream, so
/// changing how one table is generated does not reshuffle every other table.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The stream `name` of `seed`.
    pub(crate) fn stream(seed: u64, name: &str) -> Self {
        // FNV-1a of the name, then mixed with the seed, so streams of one seed are unrelated.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut r = Rng(seed ^ h.rotate_left(17));
        r.next_u64();
        r
    }

    /// The stream `name` of `seed`, for item `n` (a file's bytes, say), without drawing the
    /// items before it.
    pub(crate) fn item(seed: u64, name: &str, n: u64) -> Self {
        let mut r = Self::stream(seed, name);
        r.0 ^= n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        r.next_u64();
        r
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-and-shift: the bias is below 2^-32 for the
    /// sizes used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (`lo < hi`).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo < hi);
        lo + self.below((hi - lo) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Fills a buffer with random bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }

    /// Shuffles a slice (Fisher–Yates).
    pub(crate) fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}

use std::sync::Arc;

/// Where generated ids start: 2016-01-01, milliseconds since the Unix epoch.
const ID_EPOCH_MS: u64 = 1_451_606_400_000;

/// Ids for one table: UUID v7 text, like the ids hiatus makes itself, with the random bits
/// from the seed and the time field counting up one millisecond per id. Counting (rather than
/// the row's own time) keeps ids independent of the day the data is generated, and makes each
/// table's ids ascend in insertion order, so primary-key inserts append instead of splitting
/// pages all over the index.
#[derive(Clone, Debug)]
pub(crate) struct IdGen {
    rng: Rng,
    next_ms: u64,
}

impl IdGen {
    /// The ids of `table` for `seed`.
    pub(crate) fn new(seed: u64, table: &str) -> Self {
        Self {
            rng: Rng::stream(seed, &format!("id:{table}")),
            next_ms: ID_EPOCH_MS,
        }
    }

    /// The next id, as hyphenated lower-case text (shared: rows refer to it again and again).
    pub(crate) fn next_id(&mut self) -> Arc<str> {
        let a = self.rng.next_u64().to_le_bytes();
        let b = self.rng.next_u64().to_le_bytes();
        let mut rand = [0u8; 10];
        rand[..8].copy_from_slice(&a);
        rand[8..].copy_from_slice(&b[..2]);
        let u = uuid::Builder::from_unix_timestamp_millis(self.next_ms, &rand).into_uuid();
        self.next_ms += 1;
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        Arc::from(&*u.hyphenated().encode_lower(&mut buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = Rng::stream(7, "x");
        let mut b = Rng::stream(7, "x");
        let mut c = Rng::stream(7, "y");
        let mut d = Rng::stream(8, "x");
        let va: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let vb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let vc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        let vd: Vec<u64> = (0..4).map(|_| d.next_u64()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
        assert_ne!(va, vd);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::stream(1, "r");
        for _ in 0..10_000 {
            let v = r.range(-5, 5);
            assert!((-5..5).contains(&v));
            assert!(r.unit() < 1.0);
        }
        let mut buf = [0u8; 13];
        r.fill(&mut buf);
        assert!(buf.iter().any(|b| *b != 0));
    }

    #[test]
    fn ids_are_v7_ascending_and_seeded() {
        let mut g = IdGen::new(3, "t");
        let a = g.next_id();
        let b = g.next_id();
        assert!(a < b);
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert_eq!(IdGen::new(3, "t").next_id(), a);
        assert_ne!(IdGen::new(4, "t").next_id(), a);
    }
}
