//! The two meta pages on disk: reading and classifying them, writing one, creating an
//! empty database, replacing a weak meta left by a previous boot, and marking an older
//! format's metas with the current version.

use crate::error::{Corruption, Error, Result};
use crate::format::meta::{next_txnid, Meta, MetaProblem, FORMAT_VERSION, MAX_PAGE_SIZE, META_LEN};
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

/// Replace a weak meta left by a previous boot (its pages may be missing) with a steady
/// copy of the state it was built on, under a newer transaction id so ids stay
/// monotonic. Called with the file lock held; returns the pair as it is afterwards.
pub(crate) fn roll_back_weak_meta(storage: &dyn Storage, len: u64) -> Result<MetaPair> {
    let pair = read_meta_pair(storage, len, None)?;
    let Some(weak) = pair.stale_weak else {
        return Ok(pair); // another process got here first
    };
    let head = pair.head;
    let txnid = next_txnid(weak.txnid.max(head.txnid), weak.slot)?;
    let copy = Meta {
        txnid,
        slot: weak.slot,
        steady: true,
        boot_id: storage.boot_id().unwrap_or_default(),
        ..head
    };
    write_meta(storage, &copy)?;
    storage.sync_data()?;
    read_meta_pair(storage, len, None)
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
pub(crate) fn upgrade_metas(storage: &dyn Storage, len: u64) -> Result<MetaPair> {
    let mut pair = read_meta_pair(storage, len, None)?;
    while needs_upgrade(&pair) {
        let head = pair.head;
        let copy = Meta {
            txnid: next_txnid(head.txnid, head.slot)?,
            slot: 1 - head.slot,
            steady: true,
            boot_id: storage.boot_id().unwrap_or_default(),
            ..head
        };
        write_meta(storage, &copy)?;
        storage.sync_data()?;
        pair = read_meta_pair(storage, len, None)?;
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
    let ps = meta.page_size as usize;
    let mut page = vec![0u8; ps];
    page[..META_LEN].copy_from_slice(&meta.encode());
    storage.write_at(&page, meta.slot * ps as u64)?;
    Ok(())
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
    /// A weak meta written before the machine restarted: its pages may not have reached
    /// the disk, so it is ignored (and replaced by the next writable open).
    pub stale_weak: Option<Meta>,
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
) -> Result<Meta> {
    read_meta_pair(storage, len, page_size).map(|p| p.head)
}

/// Read and classify both meta slots.
pub(crate) fn read_meta_pair(
    storage: &dyn Storage,
    len: u64,
    page_size: Option<usize>,
) -> Result<MetaPair> {
    let read = |off: u64| -> Result<Option<Vec<u8>>> {
        if off + META_LEN as u64 > len {
            return Ok(None);
        }
        let mut b = vec![0u8; META_LEN];
        storage.read_at(&mut b, off)?;
        Ok(Some(b))
    };
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
    for ps in candidates {
        if let Some(b) = read(ps as u64)? {
            match Meta::decode(&b, 1) {
                Ok(m) if m.page_size as usize == ps => {
                    second = Ok(m);
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
    let mut stale_weak = None;
    let mut valid: Vec<Meta> = Vec::with_capacity(2);
    for m in [&first, &second].into_iter().flatten() {
        if m.trusted(boot) {
            valid.push(*m);
        } else {
            stale_weak = Some(*m);
        }
    }
    valid.sort_by_key(|m| std::cmp::Reverse(m.txnid));
    if let Some(&head) = valid.first() {
        return Ok(MetaPair {
            head,
            other: valid.get(1).copied(),
            stale_weak,
        });
    }
    if stale_weak.is_some() {
        return Err(Error::Corrupted {
            page: 0,
            kind: Corruption::Meta,
            what: "the only valid meta is a weak one from before a restart".into(),
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
