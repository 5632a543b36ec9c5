//! A large commit asks the kernel to start writing its pages as it goes
//! (`Storage::start_writeback`), and only over bytes it has already written; a small
//! commit never does. The hint carries no durability: the data must still be there
//! after reopening, and the checker must pass.

mod common;
use common::{layer, pseudo_random_bytes, Hooks};

use std::io;
use std::sync::{Arc, Mutex};

use mdbx_lite::io::Storage;
use mdbx_lite::Env;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Event {
    Write { offset: u64, len: u64 },
    Hint { offset: u64, len: u64 },
    Sync,
}

/// Passes everything to the real file and records the order of writes, hints, syncs.
struct Recorder {
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    fn log(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }
}

impl Hooks for Recorder {
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.log(Event::Write {
            offset,
            len: buf.len() as u64,
        });
        inner.write_at(buf, offset)
    }
    fn sync_data(&self, inner: &dyn Storage) -> io::Result<()> {
        self.log(Event::Sync);
        inner.sync_data()
    }
    fn start_writeback(&self, inner: &dyn Storage, offset: u64, len: u64) {
        self.log(Event::Hint { offset, len });
        inner.start_writeback(offset, len);
    }
}

fn open(path: &std::path::Path) -> (Env, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let env = Env::builder()
        .storage_layer(layer(Recorder { events: ev }))
        .open(path)
        .unwrap();
    (env, events)
}

fn key(i: u64) -> [u8; 8] {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

/// The hints among `events`, each checked against the writes recorded before it.
fn checked_hints(events: &[Event]) -> Vec<(u64, u64)> {
    let mut hints = Vec::new();
    let mut written_end = 0u64;
    let mut first_write = u64::MAX;
    let mut synced = false;
    for e in events {
        match *e {
            Event::Write { offset, len } => {
                first_write = first_write.min(offset);
                written_end = written_end.max(offset + len);
            }
            Event::Hint { offset, len } => {
                assert!(!synced, "hint after the commit's first sync");
                assert!(len > 0);
                assert!(offset >= first_write, "hint before the first write");
                assert!(offset + len <= written_end, "hint past the bytes written");
                if let Some(&(o, l)) = hints.last() {
                    assert!(offset >= o + l, "hints overlap or go backwards");
                }
                hints.push((offset, len));
            }
            Event::Sync => synced = true,
        }
    }
    hints
}

#[test]
fn large_commits_hint_writeback_small_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let n = 40_000u64; // ~40 MB of leaves: several 8 MiB steps
    {
        let (env, events) = open(&path);
        events.lock().unwrap().clear();
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in 0..n {
                t.put(&key(i), &pseudo_random_bytes(i, 900)).unwrap();
            }
        }
        w.commit().unwrap();
        let big = checked_hints(&events.lock().unwrap());
        assert!(big.len() >= 3, "a ~40 MB commit gave {} hints", big.len());

        events.lock().unwrap().clear();
        let mut w = env.begin_write().unwrap();
        for i in 0..10 {
            w.main_table().put(&key(n + i), b"small").unwrap();
        }
        w.commit().unwrap();
        assert!(checked_hints(&events.lock().unwrap()).is_empty());
    }
    let env = Env::open(&path).unwrap();
    assert!(env.check().unwrap().is_ok());
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    assert_eq!(t.len(), n + 10);
    for i in (0..n).step_by(997) {
        assert_eq!(
            t.get(&key(i)).unwrap(),
            Some(&pseudo_random_bytes(i, 900)[..])
        );
    }
}
