//! Bytes kept on the stack when short: a range's bound keys, the entry bytes a dup-sort
//! write holds while it rebuilds an entry. Short ones (real keys, nested records) then
//! cost no allocation; longer ones go to the heap.

/// Up to `N` bytes (at most 255) inline, more on the heap. (The inline variant is large
/// on purpose: boxing it would put the allocation back.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum SmallBytes<const N: usize> {
    Inline { len: u8, bytes: [u8; N] },
    Heap(Vec<u8>),
}

impl<const N: usize> SmallBytes<N> {
    const FITS_U8: () = assert!(N <= 255);

    pub(crate) fn new(b: &[u8]) -> Self {
        let () = Self::FITS_U8;
        if b.len() <= N {
            let mut bytes = [0u8; N];
            bytes[..b.len()].copy_from_slice(b);
            SmallBytes::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            SmallBytes::Heap(b.to_vec())
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            SmallBytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SmallBytes::Heap(v) => v,
        }
    }
}

impl<const N: usize> std::ops::Deref for SmallBytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::SmallBytes;

    #[test]
    fn short_bytes_stay_inline_and_long_ones_go_to_the_heap() {
        let short = SmallBytes::<4>::new(b"abcd");
        assert!(matches!(short, SmallBytes::Inline { len: 4, .. }));
        assert_eq!(&*short, b"abcd");
        let long = SmallBytes::<4>::new(b"abcde");
        assert!(matches!(long, SmallBytes::Heap(_)));
        assert_eq!(long.as_slice(), b"abcde");
        assert_eq!(&*SmallBytes::<4>::new(b""), b"");
    }
}
