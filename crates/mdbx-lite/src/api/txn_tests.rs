//! Unit tests of the write transaction's layers (`txn/`), driven through a real
//! environment: the free-tree save loop and the page buffers kept between transactions.
//! They live in the API layer because they open databases and begin transactions.

mod free_save {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::format::free::parse_free_entries;
    use crate::format::meta::FIRST_PAGE;
    use crate::format::page::{LeafValue, Node};
    use crate::tree::cursor::RawCursor;
    use crate::tree::pages::PageSource;
    use crate::txn::write_pages::WritePages;
    use crate::{Durability, Env};

    /// Every page the trees of the transaction's state reach (node pages and overflow
    /// runs), read through its own pages.
    fn reachable(pages: &WritePages, main: crate::format::meta::TableRecord) -> BTreeSet<u64> {
        fn walk(src: &WritePages, pg: u64, out: &mut BTreeSet<u64>) {
            assert!(out.insert(pg), "page {pg} reached twice");
            let node = Node::new(src.page(pg).unwrap(), pg).unwrap();
            for i in 0..node.count() {
                if node.is_leaf() {
                    if let LeafValue::Overflow { pgno, len } = node.leaf_value(i).unwrap() {
                        let n = crate::format::page::overflow_pages_needed(len, 4096);
                        for p in pgno..pgno + n {
                            assert!(out.insert(p), "overflow page {p} reached twice");
                        }
                    }
                } else {
                    walk(src, node.child(i).unwrap(), out);
                }
            }
        }
        let p = &pages.pager;
        let mut out = BTreeSet::new();
        for rec in [main, p.base.catalog, p.free] {
            if rec.root != 0 {
                walk(pages, rec.root, &mut out);
            }
        }
        out
    }

    /// The free tree's entries by page: (group, birth). Panics on a page listed twice.
    fn listed(pages: &WritePages) -> BTreeMap<u64, (u64, u64)> {
        let mut out = BTreeMap::new();
        let mut cur = RawCursor::new(pages, pages.pager.free);
        let mut item = cur.first().unwrap();
        while let Some((k, v)) = item {
            let (g, _) = crate::format::free::parse_free_key(k, 0).unwrap();
            for (p, birth) in parse_free_entries(v, 0).unwrap() {
                assert!(out.insert(p, (g, birth)).is_none(), "page {p} listed twice");
            }
            item = cur.next().unwrap();
        }
        out
    }

    /// After the save, before anything is written: every page below the high-water mark
    /// is either reached by the new state or listed free, never both, and the pages
    /// this transaction freed are listed under its own id.
    fn assert_saved_exactly(pages: &WritePages, main: crate::format::meta::TableRecord) {
        let reach = reachable(pages, main);
        let free = listed(pages);
        for p in FIRST_PAGE..pages.pager.space.high_water() {
            match (reach.contains(&p), free.contains_key(&p)) {
                (true, true) => panic!("page {p} both reached and listed free"),
                (false, false) => panic!("page {p} leaked: neither reached nor listed"),
                _ => {}
            }
        }
        let txnid = pages.pager.txnid;
        for &(p, birth) in pages.pager.space.freed() {
            assert_eq!(free.get(&p), Some(&(txnid, birth)), "freed page {p}");
        }
        assert!(pages
            .pager
            .space
            .pool()
            .iter()
            .all(|p| free.contains_key(p)));
    }

    fn put_range(env: &Env, keys: std::ops::Range<u32>, value_len: usize) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in keys {
                t.put(&i.to_be_bytes(), &vec![i as u8; value_len]).unwrap();
            }
        }
        w.commit().unwrap();
    }

    fn delete_every(env: &Env, keys: std::ops::Range<u32>, step: usize) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in keys.step_by(step) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
        }
        w.commit().unwrap();
    }

    /// Run `work` in a write transaction, save its free tree and check the result.
    fn save_and_check(env: &Env, work: impl FnOnce(&mut crate::TableMut<'_>)) {
        let mut w = env.begin_write().unwrap();
        work(&mut w.main_table());
        let main = {
            let t = w.main_table();
            t.txn_record()
        };
        let pages = w.pages_mut();
        pages.save_free_tree().unwrap();
        assert_saved_exactly(pages, main);
    }

    #[test]
    fn the_save_records_every_freed_and_unused_page_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .durability(Durability::NoSync)
            .open(dir.path().join("db"))
            .unwrap();
        put_range(&env, 0..20_000, 100);
        delete_every(&env, 0..20_000, 2);
        // Reuses the freed pages (whole groups), frees more, leaves some in the pool.
        save_and_check(&env, |t| {
            for i in (1..20_000u32).step_by(4) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
            for i in 30_000..31_000u32 {
                t.put(&i.to_be_bytes(), &[7; 300]).unwrap();
            }
        });
    }

    #[test]
    fn the_save_keeps_pages_a_reader_sees_and_frees_overflow_runs() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .durability(Durability::NoSync)
            .open(dir.path().join("db"))
            .unwrap();
        put_range(&env, 0..5_000, 3_000);
        // A reader pins this state; the groups freed after it are young groups.
        let reader = env.begin_read().unwrap();
        for round in 0..4u32 {
            delete_every(&env, round..5_000, 7);
            put_range(&env, 10_000 + round * 100..10_100 + round * 100, 50);
        }
        save_and_check(&env, |t| {
            for i in (3..5_000u32).step_by(5) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
            for i in 20_000..20_200u32 {
                t.put(&i.to_be_bytes(), &[1; 9_000]).unwrap();
            }
            // An overflow run written and freed again by the same transaction.
            t.delete(&20_000u32.to_be_bytes()).unwrap();
        });
        drop(reader);
    }

    #[test]
    fn a_transaction_that_only_frees_still_converges() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        put_range(&env, 0..50_000, 20);
        save_and_check(&env, |t| {
            for i in 0..50_000u32 {
                t.delete(&i.to_be_bytes()).unwrap();
            }
        });
    }
}

mod page_buffers {
    use crate::Env;

    fn spares(env: &Env) -> usize {
        env.inner.writer.lock().spare_pages.capacity()
    }

    fn fill(env: &Env, from: u32, n: u32) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in from..from + n {
                t.put(&i.to_be_bytes(), &[i as u8; 100]).unwrap();
            }
        }
        w.commit().unwrap();
    }

    #[test]
    fn page_buffers_are_kept_for_later_transactions_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .spare_buffer_limit(64 * 4096)
            .open(dir.path().join("db"))
            .unwrap();
        fill(&env, 0, 20_000);
        // The first chunks within the limit: 16 and 32 pages (the next has 64).
        assert_eq!(spares(&env), 48);
        // A small transaction takes its buffers from the spares and gives them back.
        fill(&env, 20_000, 10);
        assert_eq!(spares(&env), 48);
        // Pages built in recycled buffers read back exactly as written.
        fill(&env, 30_000, 5_000);
        let r = env.begin_read().unwrap();
        let t = r.main_table();
        assert_eq!(t.len(), 25_010);
        for i in (0..20_010u32).chain(30_000..35_000) {
            assert_eq!(t.get(&i.to_be_bytes()).unwrap(), Some(&[i as u8; 100][..]));
        }
        drop(r);
        assert!(env.check().unwrap().is_ok());

        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .spare_buffer_limit(0)
            .open(dir.path().join("db"))
            .unwrap();
        fill(&env, 0, 1_000);
        assert_eq!(spares(&env), 0);
    }
}
