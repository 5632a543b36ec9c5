//! The two meta pages on disk: reading and classifying them (verifying a one-sync meta
//! from an earlier boot), writing one, creating an empty database, replacing an
//! untrusted meta left by a previous boot, and marking an older format's metas with the
//! current version.

use std::borrow::Cow;

use parking_lot::Mutex;

use crate::error::{Corruption, Error, Result};
use crate::format::meta::{
    fold_checksums, next_txnid, Meta, MetaProblem, WrittenPage, FORMAT_VERSION, MAX_PAGE_SIZE,
    META_LEN, META_READ_LEN,
};
use crate::format::page::{self, PageKind};
use crate::os::io::Storage;

/// How to bring an LMDB database over.
pub(crate) const LMDB_HINT: &str = "convert it with LMDB's tools: \
    `mdb_dump -a SRC | mdbx-lite load NEW.db` (and `mdb_dump SRC` for the main table)";

/// A file no longer than two of the largest pages and made only of zero bytes can only
/// be the remains of a creation interrupted before its metas reached the disk (a real
/// database always has a non-zero meta): nothing was ever committed to it, so it is
/// initialised like an empty file.
pub(crate) fn never_initialised(storage: &dyn Storage, len: u64) -> Result<bool> {
    if len > 2 * MAX_PAGE_SIZE as u64 {
        return Ok(false);
    }
    let mut buf = vec![0u8; len as usize];
    storage.read_at(&mut buf, 0)?;
    Ok(buf.iter().all(|&b| b == 0))
}

/// Replace an untrusted meta left by a previous boot (a weak one, or a one-sync one
/// whose pages did not all reach the disk) with a steady copy of the state the file
/// falls back to, under a newer transaction id so ids stay monotonic. Called with the
/// file lock held; returns the pair as it is afterwards.
pub(crate) fn roll_back_stale_meta(
    storage: &dyn Storage,
    len: u64,
    trust: &MetaTrust,
) -> Result<MetaPair> {
    let pair = read_meta_pair(storage, len, None, trust)?;
    let Some(stale) = pair.stale else {
        return Ok(pair); // another process got here first
    };
    let head = pair.head;
    let txnid = next_txnid(stale.txnid.max(head.txnid), stale.slot)?;
    write_steady_copy(storage, &head, txnid, stale.slot)?;
    read_meta_pair(storage, len, None, trust)
}

/// Write a steady copy of `head` (the committed state, unchanged) under `txnid` into
/// `slot`, and sync. A copy lists no pages, so it claims they were synced before it:
/// for a one-sync head (trusted because it was written since this boot, so its pages
/// may still be only in the page cache) the file is synced first.
pub(crate) fn write_steady_copy(
    storage: &dyn Storage,
    head: &Meta,
    txnid: u64,
    slot: u64,
) -> Result<Meta> {
    if head.one_sync {
        storage.sync_data()?;
    }
    let copy = Meta {
        txnid,
        slot,
        steady: true,
        one_sync: false,
        boot_id: storage.boot_id().unwrap_or_default(),
        ..*head
    };
    write_meta(storage, &copy)?;
    storage.sync_data()?;
    Ok(copy)
}

/// Whether a writable open must rewrite the metas with the current format version: a
/// valid meta of the pair is older.
pub(crate) fn needs_upgrade(pair: &MetaPair) -> bool {
    std::iter::once(pair.head)
        .chain(pair.other)
        .any(|m| m.version < FORMAT_VERSION)
}

/// Mark both metas with the current format version, before this build writes any page
/// an older build would misread: a steady copy of the committed state goes into the
/// other slot under the next transaction id, then another into the head's slot under
/// the one after, each synced. The committed state is unchanged (no page is written),
/// readers of it keep reading, and a crash between the two writes leaves a pair this
/// function finishes on the next writable open. Called with the file lock held; returns
/// the pair as it is afterwards.
pub(crate) fn upgrade_metas(
    storage: &dyn Storage,
    len: u64,
    trust: &MetaTrust,
) -> Result<MetaPair> {
    let mut pair = read_meta_pair(storage, len, None, trust)?;
    while needs_upgrade(&pair) {
        let head = pair.head;
        let txnid = next_txnid(head.txnid, head.slot)?;
        let copy = write_steady_copy(storage, &head, txnid, 1 - head.slot)?;
        pair = read_meta_pair(storage, len, None, trust)?;
        if pair.head.txnid != copy.txnid {
            return Err(Error::Internal(format!(
                "meta {} did not read back after marking it format version {FORMAT_VERSION}",
                copy.slot
            )));
        }
    }
    Ok(pair)
}

/// Write `meta` as the whole of its meta page (zeros after the record).
pub(crate) fn write_meta(storage: &dyn Storage, meta: &Meta) -> Result<()> {
    write_meta_listing(storage, meta, &[])
}

/// Write a meta with the pages its one-sync commit wrote (zeros after the list).
pub(crate) fn write_meta_listing(
    storage: &dyn Storage,
    meta: &Meta,
    listed: &[WrittenPage],
) -> Result<()> {
    let ps = meta.page_size as usize;
    let mut page = meta.encode_listing(listed);
    page.resize(ps, 0);
    storage.write_at(&page, meta.slot * ps as u64)?;
    Ok(())
}

/// The meta page of `meta` as the file holds it (its first [`META_READ_LEN`] bytes),
/// or `None` when it no longer holds that meta.
pub(crate) fn read_meta_page(storage: &dyn Storage, meta: &Meta) -> Result<Option<Vec<u8>>> {
    let mut b = vec![0u8; META_READ_LEN];
    storage.read_at(&mut b, meta.slot * u64::from(meta.page_size))?;
    Ok(Meta::decode(&b, meta.slot)
        .ok()
        .filter(|m| m == meta)
        .map(|_| b))
}

/// Whether every page the one-sync meta `meta` (read from `raw`) lists holds exactly
/// what its commit wrote there. Reads through `storage`, so after a restart it sees
/// what reached the disk.
pub(crate) fn listed_pages_hold(storage: &dyn Storage, meta: &Meta, raw: &[u8]) -> Result<bool> {
    let ps = meta.page_size as u64;
    let file_pages = storage.len()? / ps;
    let mut read = |pgno: u64, n: u64| -> Result<Cow<'static, [u8]>> {
        let mut b = vec![0u8; (n * ps) as usize];
        storage.read_at(&mut b, pgno * ps)?;
        Ok(Cow::Owned(b))
    };
    Ok(check_listed_pages(meta, raw, file_pages, &mut read)? == ListedPages::Hold)
}

/// What the pages a one-sync meta lists hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ListedPages {
    /// Exactly what its commit wrote.
    Hold,
    /// This page does not: it is outside the file, or its header names another page,
    /// or its checksum does not match its bytes.
    PageDiffers(u64),
    /// Every page is whole, but one of them holds other content than the commit wrote
    /// (an older page left by a lost write): the checksum over their checksums differs.
    ContentDiffers,
}

/// Check the pages the one-sync meta `meta` (read from `raw`) lists: the file's
/// `file_pages` reach its high-water mark, each listed page is whole (its header names
/// it, its checksum matches its bytes, an overflow run's over the whole run, inside the
/// high-water mark), and the checksum over their checksums is the one the meta keeps. `read(pgno, n)` returns the `n` pages from
/// `pgno`.
pub(crate) fn check_listed_pages<'a>(
    meta: &Meta,
    raw: &[u8],
    file_pages: u64,
    read: &mut dyn FnMut(u64, u64) -> Result<Cow<'a, [u8]>>,
) -> Result<ListedPages> {
    if file_pages < meta.high_water {
        // The commit grew the file and the new length was lost with the crash (it is
        // synced with the pages): the first page the meta counts on is missing.
        return Ok(ListedPages::PageDiffers(file_pages));
    }
    let limit = meta.high_water;
    let (pages, want) = Meta::listed(raw);
    let mut sums = Vec::with_capacity(pages.len());
    for pgno in pages {
        if pgno >= limit {
            return Ok(ListedPages::PageDiffers(pgno));
        }
        let first = read(pgno, 1)?;
        let h = page::header(&first);
        let crc = match h.kind() {
            _ if h.pgno() != pgno => return Ok(ListedPages::PageDiffers(pgno)),
            Some(PageKind::Overflow) => {
                let n = h.run_len();
                if n == 0 || pgno.saturating_add(n) > limit {
                    return Ok(ListedPages::PageDiffers(pgno));
                }
                page::compute_checksum(&read(pgno, n)?)
            }
            _ => page::compute_checksum(&first),
        };
        if crc != h.checksum() {
            return Ok(ListedPages::PageDiffers(pgno));
        }
        sums.push(crc);
    }
    Ok(if fold_checksums(sums.into_iter()) == want {
        ListedPages::Hold
    } else {
        ListedPages::ContentDiffers
    })
}

/// After a failed sync: when every page the one-sync meta `meta` (read from `raw`) lists
/// still reads back as written (the page cache kept it), write each again, and the
/// meta, so that the next sync really writes them (the failed one marked them clean),
/// and return true.
pub(crate) fn rewrite_listed_pages(storage: &dyn Storage, meta: &Meta, raw: &[u8]) -> Result<bool> {
    if !listed_pages_hold(storage, meta, raw)? {
        return Ok(false);
    }
    let ps = meta.page_size as usize;
    let mut head = vec![0u8; ps];
    for pgno in Meta::listed(raw).0 {
        storage.read_at(&mut head, pgno * ps as u64)?;
        let n = match page::header(&head).kind() {
            Some(PageKind::Overflow) => page::header(&head).run_len(),
            _ => 1,
        };
        let mut run = vec![0u8; n as usize * ps];
        storage.read_at(&mut run, pgno * ps as u64)?;
        storage.write_at(&run, pgno * ps as u64)?;
    }
    let mut page = raw[..Meta::encoded_len(raw).unwrap_or(META_LEN)].to_vec();
    page.resize(ps, 0);
    storage.write_at(&page, meta.slot * ps as u64)?;
    Ok(true)
}

/// Which one-sync metas from an earlier boot this environment found whole, so that
/// each is verified once, not at every read of the metas: (slot, txn id) -> verdict.
/// A meta's verdict cannot change while it stays in its slot: its pages were written
/// before the restart, and no writer overwrites them while the meta can be chosen.
#[derive(Default)]
pub(crate) struct MetaTrust {
    verdicts: Mutex<Vec<(u64, u64, bool)>>,
}

impl MetaTrust {
    /// Whether `meta` (read from `raw`) may name the committed state on a machine
    /// whose boot id is `boot`. A weak meta: only since the same boot. A one-sync meta
    /// written since this boot: yes, its pages are in the page cache (a failed sync
    /// since is handled by the failed-sync flag and `recover_failed_sync`); from an
    /// earlier or unknown boot: only when its listed pages hold.
    fn trusts(
        &self,
        storage: &dyn Storage,
        meta: &Meta,
        raw: &[u8],
        boot: Option<[u8; 16]>,
    ) -> Result<bool> {
        if !meta.one_sync {
            return Ok(meta.trusted(boot));
        }
        if boot.is_some_and(|b| b == meta.boot_id) {
            return Ok(true);
        }
        if let Some(v) = self
            .verdicts
            .lock()
            .iter()
            .find(|v| (v.0, v.1) == (meta.slot, meta.txnid))
        {
            return Ok(v.2);
        }
        let holds = listed_pages_hold(storage, meta, raw)?;
        let mut verdicts = self.verdicts.lock();
        verdicts.retain(|v| v.0 != meta.slot);
        verdicts.push((meta.slot, meta.txnid, holds));
        Ok(holds)
    }
}

/// Write the two metas of an empty database.
pub(crate) fn init_file(storage: &dyn Storage, page_size: usize, growth_step: u64) -> Result<()> {
    let mut buf = vec![0u8; page_size * 2];
    for slot in 0..2u64 {
        let meta = Meta::empty(slot, page_size as u32, growth_step);
        let at = slot as usize * page_size;
        buf[at..at + META_LEN].copy_from_slice(&meta.encode());
    }
    storage.set_len(buf.len() as u64)?;
    storage.write_at(&buf, 0)?;
    storage.sync_data()?;
    Ok(())
}

/// Both meta slots as read from the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetaPair {
    /// The newest valid, trusted meta: the committed state.
    pub head: Meta,
    /// The other slot's meta, when valid and trusted.
    pub other: Option<Meta>,
    /// A meta written before the machine restarted whose pages may not have reached the
    /// disk: a weak one, or a one-sync one with a listed page that does not hold. It is
    /// ignored (and replaced by the next writable open).
    pub stale: Option<Meta>,
}

impl MetaPair {
    /// The newest steady meta that is certainly on stable storage, judged from the file
    /// alone: every commit syncs (or has synced) the steady meta it was built on before
    /// it overwrites the other slot, so the older of two steady metas, and the steady
    /// meta beside a weak head, are durable.
    pub fn durable_txnid(&self) -> u64 {
        match self.other {
            Some(o) if o.steady => o.txnid,
            _ => 0,
        }
    }
}

/// Read both meta slots and return the newest valid one.
pub(crate) fn read_metas(
    storage: &dyn Storage,
    len: u64,
    page_size: Option<usize>,
    trust: &MetaTrust,
) -> Result<Meta> {
    read_meta_pair(storage, len, page_size, trust).map(|p| p.head)
}

/// Read and classify both meta slots.
pub(crate) fn read_meta_pair(
    storage: &dyn Storage,
    len: u64,
    page_size: Option<usize>,
    trust: &MetaTrust,
) -> Result<MetaPair> {
    let read = |off: u64| -> Result<Option<Cow<'_, [u8]>>> {
        if off + META_LEN as u64 > len {
            return Ok(None);
        }
        let mut b = vec![0u8; (len - off).min(META_READ_LEN as u64) as usize];
        storage.read_at(&mut b, off)?;
        Ok(Some(Cow::Owned(b)))
    };
    classify_meta_pair(storage, len, page_size, trust, &read)
}

/// Classify both meta slots as `read(offset)` returns them (the bytes of a meta page
/// from `offset`, at most [`META_READ_LEN`], or `None` past the end of a file of `len`
/// bytes); `storage` serves the checks of one-sync metas from an earlier boot.
pub(crate) fn classify_meta_pair<'a>(
    storage: &dyn Storage,
    len: u64,
    page_size: Option<usize>,
    trust: &MetaTrust,
    read: &dyn Fn(u64) -> Result<Option<Cow<'a, [u8]>>>,
) -> Result<MetaPair> {
    let Some(m0) = read(0)? else {
        return Err(Error::NotADatabase(format!(
            "file of {len} bytes is too short to hold a meta page"
        )));
    };
    let first = Meta::decode(&m0, 0);
    let candidates: Vec<usize> = match (&first, page_size) {
        (Ok(m), _) => vec![m.page_size as usize],
        (Err(_), Some(ps)) => vec![ps],
        (Err(_), None) => (12..=16).map(|s| 1usize << s).collect(),
    };
    let mut second: std::result::Result<Meta, MetaProblem> = Err(MetaProblem::BadMagic);
    let mut m1 = Cow::Borrowed(&[][..]);
    for ps in candidates {
        if let Some(b) = read(ps as u64)? {
            match Meta::decode(&b, 1) {
                Ok(m) if m.page_size as usize == ps => {
                    second = Ok(m);
                    m1 = b;
                    break;
                }
                Ok(_) => second = Err(MetaProblem::Field("page size disagrees with slot".into())),
                Err(e) => {
                    if second == Err(MetaProblem::BadMagic) {
                        second = Err(e)
                    }
                }
            }
        }
    }
    if let (Ok(a), Ok(b)) = (&first, &second) {
        if a.page_size != b.page_size {
            second = Err(MetaProblem::Field("page size disagrees with slot 0".into()));
        }
    }
    let boot = storage.boot_id();
    let mut stale = None;
    let mut metas: Vec<(Meta, &[u8])> = [(&first, &m0[..]), (&second, &m1[..])]
        .into_iter()
        .filter_map(|(m, raw)| m.as_ref().ok().map(|m| (*m, raw)))
        .collect();
    metas.sort_by_key(|m| std::cmp::Reverse(m.0.txnid));
    let mut valid: Vec<Meta> = Vec::with_capacity(2);
    for (m, raw) in metas {
        // Only the newest trusted meta needs its pages: one beside it is older, and
        // the commits after it may have reused the pages it lists.
        let check_pages = valid.is_empty();
        let trusted = if m.one_sync && !check_pages {
            true
        } else {
            trust.trusts(storage, &m, raw, boot)?
        };
        if trusted {
            valid.push(m);
        } else {
            stale = Some(m);
        }
    }
    if let Some(&head) = valid.first() {
        return Ok(MetaPair {
            head,
            other: valid.get(1).copied(),
            stale,
        });
    }
    if stale.is_some() {
        return Err(Error::Corrupted {
            page: 0,
            kind: Corruption::Meta,
            what: "the only valid meta is one from before a restart whose pages may be \
                   missing (weak, or one-sync with a page that does not hold)"
                .into(),
        });
    }
    let (Err(e0), Err(e1)) = (first, second) else {
        return Err(Error::corrupted(Corruption::Meta, 0, "no usable meta"));
    };
    for e in [&e0, &e1] {
        if let MetaProblem::Version(v) = e {
            return Err(Error::VersionMismatch {
                found: *v,
                supported: FORMAT_VERSION,
            });
        }
    }
    if e0 == MetaProblem::BadMagic && e1 == MetaProblem::BadMagic {
        // LMDB's meta page: a 16-byte page header, then the magic 0xBEEFC0DE.
        let lmdb = m0.get(16..20) == Some(&0xBEEF_C0DEu32.to_le_bytes()[..]);
        Err(Error::NotADatabase(if lmdb {
            format!("an LMDB database file; {LMDB_HINT}")
        } else {
            "no mdbx-lite meta page (bad magic)".into()
        }))
    } else {
        Err(Error::Corrupted {
            page: 0,
            kind: Corruption::Meta,
            what: format!("both meta pages are invalid (page 0: {e0}; page 1: {e1})"),
        })
    }
}

/// The file must hold every page the meta says is allocated.
pub(crate) fn check_length(meta: &Meta, len: u64) -> Result<()> {
    let need = meta.high_water.saturating_mul(meta.page_size as u64);
    if need > len {
        let have = len / meta.page_size as u64;
        return Err(Error::corrupted(
            Corruption::Bounds,
            have,
            format!(
                "file is truncated: {} pages allocated, only {have} present ({len} bytes)",
                meta.high_water
            ),
        ));
    }
    Ok(())
}
