//! Choosing session ids (spec 3).
//!
//! The session id is part of the SUDI proof's signed message (M2 = id as 4
//! little-endian bytes || SUDI certificate, spec 9.5). A server that reuses
//! an id lets a recorded SUDI proof be replayed into a later session, which
//! is what the reference's "1, 2, 3 … from every process start" counter
//! allows after a restart. So ids must not repeat, and their starting point
//! must not be guessable.
//!
//! [`SessionIdAllocator`] starts at a random 32-bit value and adds a random
//! odd stride modulo 2^32 for each new id. An odd number generates the whole
//! additive group of integers modulo 2^32, so the sequence visits all 2^32
//! values before any repeats: no repetition within one allocator (it stops
//! handing out ids after 2^32 of them). A fresh allocator after a restart
//! starts at an independent random point, so landing on a recently used id
//! is about as likely as guessing a 32-bit random value per session.
//!
//! Limits, stated plainly: the stride is constant, so someone who sees two
//! consecutive ids can predict the next; unpredictability protects only the
//! starting point. Several server instances with separate allocators may
//! collide by chance (birthday bound over 2^32). A host that needs more can
//! persist the last id, or keep one allocator per cluster.

use rand_core::{CryptoRng, RngCore};

/// Hands out session ids that never repeat within one allocator, from a
/// random start with a random odd stride.
///
/// ```
/// use capf_core::capf::server::SessionIdAllocator;
/// use rand_core::OsRng;
/// let mut ids = SessionIdAllocator::new(&mut OsRng);
/// let first = ids.next_id().unwrap();
/// let second = ids.next_id().unwrap();
/// assert_ne!(first, second);
/// ```
#[derive(Debug, Clone)]
pub struct SessionIdAllocator {
    next: u32,
    stride: u32,
    issued: u64,
}

impl SessionIdAllocator {
    /// A new allocator; draws its start and stride from `rng`.
    pub fn new<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let next = rng.next_u32();
        let stride = rng.next_u32() | 1;
        Self {
            next,
            stride,
            issued: 0,
        }
    }

    /// The next id, or `None` once all 2^32 ids have been handed out.
    pub fn next_id(&mut self) -> Option<u32> {
        if self.issued >= 1 << 32 {
            return None;
        }
        let id = self.next;
        self.next = self.next.wrapping_add(self.stride);
        self.issued = self.issued.saturating_add(1);
        Some(id)
    }

    /// How many ids were handed out.
    pub const fn issued(&self) -> u64 {
        self.issued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<u32>);
    impl RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.0.remove(0)
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            dest.fill(0);
            Ok(())
        }
    }
    impl CryptoRng for Fixed {}

    #[test]
    fn start_and_odd_stride_come_from_the_rng() {
        let mut ids = SessionIdAllocator::new(&mut Fixed(vec![u32::MAX - 1, 4]));
        // Stride 4 is made odd: 5.
        assert_eq!(ids.next_id(), Some(u32::MAX - 1));
        assert_eq!(ids.next_id(), Some(3));
        assert_eq!(ids.next_id(), Some(8));
        assert_eq!(ids.issued(), 3);
    }

    #[test]
    fn no_repeat_over_a_full_small_cycle() {
        // The same argument at 2^16: an odd stride visits every value once.
        let stride: u16 = 0x9e37 | 1;
        let mut seen = vec![false; 1 << 16];
        let mut value: u16 = 0x1234;
        for _ in 0..(1 << 16) {
            let slot = &mut seen[usize::from(value)];
            assert!(!*slot);
            *slot = true;
            value = value.wrapping_add(stride);
        }
    }

    #[test]
    fn stops_after_the_whole_space() {
        let mut ids = SessionIdAllocator::new(&mut Fixed(vec![7, 1]));
        ids.issued = (1 << 32) - 1;
        assert!(ids.next_id().is_some());
        assert_eq!(ids.next_id(), None);
    }
}
