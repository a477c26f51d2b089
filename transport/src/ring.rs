//! A growable byte ring buffer: the bytes in flight in one direction of a stream connection.
//!
//! Writes and reads are at most two slice copies each. The storage grows on demand (doubling)
//! up to what the caller lets in, so an idle connection costs no buffer memory.

/// A FIFO of bytes stored in a circular `Vec`.
#[derive(Default)]
pub(crate) struct Ring {
    buf: Vec<u8>,
    head: usize,
    len: usize,
}

impl Ring {
    /// Number of bytes queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends all of `data`, growing the storage as needed.
    pub(crate) fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.reserve(data.len());
        let cap = self.buf.len();
        let tail = (self.head + self.len) % cap;
        let first = data.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        let rest = data.len() - first;
        self.buf[..rest].copy_from_slice(&data[first..]);
        self.len += data.len();
    }

    /// Copies up to `out.len()` bytes from the front into `out` without removing them, starting
    /// `skip` bytes in; returns how many were copied.
    pub(crate) fn peek_at(&self, skip: usize, out: &mut [u8]) -> usize {
        if skip >= self.len {
            return 0;
        }
        let n = out.len().min(self.len - skip);
        if n == 0 {
            return 0;
        }
        let cap = self.buf.len();
        let start = (self.head + skip) % cap;
        let first = n.min(cap - start);
        out[..first].copy_from_slice(&self.buf[start..start + first]);
        out[first..n].copy_from_slice(&self.buf[..n - first]);
        n
    }

    /// Removes `n` bytes (at most [`Ring::len`]) from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        if self.len == 0 {
            self.head = 0;
        } else {
            self.head = (self.head + n) % self.buf.len();
        }
    }

    /// Drops every queued byte and frees the storage.
    pub(crate) fn clear(&mut self) {
        *self = Ring::default();
    }

    /// Makes room for `extra` more bytes, keeping the queued ones in order.
    fn reserve(&mut self, extra: usize) {
        let needed = self.len + extra;
        if needed <= self.buf.len() {
            return;
        }
        let mut cap = self.buf.len().max(4096);
        while cap < needed {
            cap = cap.saturating_mul(2);
        }
        let mut grown = vec![0u8; cap];
        let copied = self.peek_at(0, &mut grown[..self.len]);
        debug_assert_eq!(copied, self.len);
        self.buf = grown;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn fifo_across_the_wrap() {
        let mut ring = Ring::default();
        ring.push(&[1; 3000]);
        ring.consume(2000);
        // 1000 queued at offset 2000 of 4096: this write wraps around.
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        ring.push(&data);
        assert_eq!(ring.len(), 4000);
        let mut out = vec![0u8; 4000];
        assert_eq!(ring.peek_at(0, &mut out), 4000);
        assert!(out[..1000].iter().all(|&b| b == 1));
        assert_eq!(&out[1000..], &data[..]);
        ring.consume(1000);
        let mut part = [0u8; 10];
        assert_eq!(ring.peek_at(5, &mut part), 10);
        assert_eq!(&part[..], &data[5..15]);
    }

    #[test]
    fn grows_keeping_order() {
        let mut ring = Ring::default();
        let mut expected = Vec::new();
        for round in 0..50u32 {
            let chunk: Vec<u8> = (0..(round * 97 % 5000))
                .map(|i| (i ^ round) as u8)
                .collect();
            ring.push(&chunk);
            expected.extend_from_slice(&chunk);
            let take = (round as usize * 131) % (ring.len() + 1);
            let mut out = vec![0u8; take];
            assert_eq!(ring.peek_at(0, &mut out), take);
            assert_eq!(&out[..], &expected[..take]);
            ring.consume(take);
            expected.drain(..take);
            assert_eq!(ring.len(), expected.len());
        }
    }

    #[test]
    fn edges() {
        let mut ring = Ring::default();
        assert!(ring.is_empty());
        assert_eq!(ring.peek_at(0, &mut [0u8; 4]), 0);
        ring.push(b"");
        assert!(ring.is_empty());
        ring.push(b"abc");
        assert_eq!(ring.peek_at(3, &mut [0u8; 4]), 0);
        ring.consume(10);
        assert!(ring.is_empty());
        ring.push(b"xyz");
        ring.clear();
        assert_eq!(ring.len(), 0);
    }
}
