//! API misuse gets a clear error, never a hang.

use mdbx_lite::{Env, Error};

/// Two handles on one file in one thread: waiting for the writer lock the thread holds
/// itself, through the other handle, would never end.
#[test]
fn a_second_handle_on_the_writing_thread_gets_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = Env::open(&path).unwrap();
    let second = Env::open(&path).unwrap();
    let w = first.begin_write().unwrap();
    match second.begin_write() {
        Err(Error::Invalid(why)) => assert!(why.contains("another Env"), "{why}"),
        other => panic!("expected an error naming the other handle, got {:?}", other.err()),
    }
    assert!(matches!(second.try_begin_write(), Err(Error::Busy)));
    assert!(matches!(second.sync(), Err(Error::Invalid(_))));
    // Another thread simply waits its turn, as before.
    let waiter = {
        let second = second.clone();
        std::thread::spawn(move || {
            let mut w = second.begin_write().unwrap();
            w.main_table().put(b"b", b"2").unwrap();
            w.commit().unwrap();
        })
    };
    drop(w);
    waiter.join().unwrap();
    // Once the first handle's transaction ended, this thread may write through either.
    let mut w = second.begin_write().unwrap();
    w.main_table().put(b"c", b"3").unwrap();
    w.commit().unwrap();
    second.sync().unwrap();
    let r = first.begin_read().unwrap();
    assert_eq!(r.main_table().get(b"c").unwrap(), Some(&b"3"[..]));
    assert_eq!(r.main_table().get(b"b").unwrap(), Some(&b"2"[..]));
}
