//! Read access to committed pages: what a read transaction sees.

use std::sync::Arc;

use crate::error::{Corruption, Error, Result};
use crate::format::meta::{Meta, FIRST_PAGE};
use crate::format::page::{self, PageHeader, PageKind, HEADER};
use crate::os::map::Mapping;

/// Where tree code gets pages from: a committed snapshot, or a write transaction
/// (its own dirty pages first, then the snapshot it started from).
pub(crate) trait PageSource {
    /// The page `pgno`, exactly one page long.
    fn page(&self, pgno: u64) -> Result<&[u8]>;
    /// The `len` value bytes of the overflow run starting at `pgno`.
    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]>;
}

/// Bounds-checked page reads from a mapping, limited to pages `< high_water`.
#[derive(Clone)]
pub(crate) struct MappedPages {
    pub map: Arc<Mapping>,
    pub page_size: usize,
    pub high_water: u64,
    /// Verify page checksums on every read.
    pub verify: bool,
}

impl MappedPages {
    fn bound(&self) -> usize {
        (self.high_water as usize).saturating_mul(self.page_size)
    }

    /// A page without checksum verification (used for overflow heads).
    pub fn raw(&self, pgno: u64) -> Result<&[u8]> {
        if pgno < FIRST_PAGE || pgno >= self.high_water {
            return Err(Error::corrupted(
                Corruption::Bounds,
                pgno,
                format!(
                    "page number outside the allocated range [2, {})",
                    self.high_water
                ),
            ));
        }
        let off = (pgno as usize).saturating_mul(self.page_size);
        self.map
            .get(off, self.page_size, self.bound())
            .ok_or_else(|| {
                Error::corrupted(
                    Corruption::Bounds,
                    pgno,
                    "page lies beyond the end of the file",
                )
            })
    }

    /// Bytes of `n` whole pages starting at `pgno` (all below the high-water mark).
    pub fn run(&self, pgno: u64, n: u64) -> Result<&[u8]> {
        let end = pgno.checked_add(n).filter(|e| *e <= self.high_water);
        if pgno < FIRST_PAGE || end.is_none() {
            return Err(Error::corrupted(
                Corruption::Bounds,
                pgno,
                format!("page run of {n} pages outside [2, {})", self.high_water),
            ));
        }
        let off = (pgno as usize).saturating_mul(self.page_size);
        let len = (n as usize).saturating_mul(self.page_size);
        self.map.get(off, len, self.bound()).ok_or_else(|| {
            Error::corrupted(
                Corruption::Bounds,
                pgno,
                "page run lies beyond the end of the file",
            )
        })
    }
}

/// Check the stored checksum of a node page or an overflow run.
pub(crate) fn verify_checksum(bytes: &[u8], pgno: u64) -> Result<()> {
    let stored = header_of(bytes, pgno)?.checksum();
    let actual = page::compute_checksum(bytes);
    if stored != actual {
        return Err(Error::corrupted(
            Corruption::Checksum,
            pgno,
            format!("checksum mismatch (stored {stored:08x}, computed {actual:08x})"),
        ));
    }
    Ok(())
}

/// The header of page `pgno`, or `Corrupted` if `bytes` are too short to hold one.
fn header_of(bytes: &[u8], pgno: u64) -> Result<PageHeader<'_>> {
    PageHeader::new(bytes)
        .ok_or_else(|| Error::corrupted(Corruption::Header, pgno, "page shorter than its header"))
}

/// Validate an overflow run head and return the run length in pages.
pub(crate) fn overflow_run(head: &[u8], pgno: u64, len: usize, page_size: usize) -> Result<u64> {
    let h = header_of(head, pgno)?;
    if h.kind() != Some(PageKind::Overflow) {
        return Err(Error::corrupted(
            Corruption::Overflow,
            pgno,
            "expected an overflow page",
        ));
    }
    if h.pgno() != pgno {
        return Err(Error::corrupted(
            Corruption::Header,
            pgno,
            format!("page header names page {}", h.pgno()),
        ));
    }
    let n = h.run_len();
    if n != page::overflow_pages_needed(len, page_size) {
        return Err(Error::corrupted(
            Corruption::Overflow,
            pgno,
            format!("overflow run of {n} pages cannot hold a value of {len} bytes"),
        ));
    }
    Ok(n)
}

impl PageSource for MappedPages {
    #[inline]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        let p = self.raw(pgno)?;
        if self.verify {
            verify_checksum(p, pgno)?;
        }
        Ok(p)
    }

    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
        let head = self.raw(pgno)?;
        let n = overflow_run(head, pgno, len, self.page_size)?;
        let run = self.run(pgno, n)?;
        if self.verify {
            verify_checksum(run, pgno)?;
        }
        Ok(&run[HEADER..HEADER + len])
    }
}

/// A committed state: the meta that names it and the pages it can reach.
#[derive(Clone)]
pub(crate) struct Snapshot {
    pub meta: Meta,
    pub pages: MappedPages,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    #[test]
    fn short_pages_are_corruption_errors() {
        assert!(matches!(
            verify_checksum(&[0u8; 3], 9),
            Err(Error::Corrupted { page: 9, .. })
        ));
        assert!(matches!(
            overflow_run(&[0u8; HEADER - 1], 9, 10, PAGE),
            Err(Error::Corrupted { page: 9, .. })
        ));
    }

    #[test]
    fn an_overflow_head_from_the_format_passes_the_run_checks() {
        let value = vec![0x5Au8; 3 * PAGE];
        let n = page::overflow_pages_needed(value.len(), PAGE);
        let mut head = page::overflow_head(11, 3, n).unwrap();
        let mut run = head.to_vec();
        run.extend_from_slice(&value);
        run.resize(n as usize * PAGE, 0);
        let crc = page::compute_checksum(&run);
        page::header_mut(&mut head).set_checksum(crc);
        run[..HEADER].copy_from_slice(&head);
        verify_checksum(&run, 11).unwrap();
        assert_eq!(overflow_run(&run, 11, value.len(), PAGE).unwrap(), n);
        // Another page number, or a value longer than the run, is refused.
        assert!(overflow_run(&run, 12, value.len(), PAGE).is_err());
        assert!(overflow_run(&run, 11, n as usize * PAGE, PAGE).is_err());
    }
}
