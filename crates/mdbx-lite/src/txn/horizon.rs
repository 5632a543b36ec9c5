//! The reuse horizon: which freed pages a writer may hand out again.
//!
//! Group `T` of the free tree lists pages freed by transaction `T`, each with its birth
//! `B` (the transaction that wrote it): snapshots `B..T` can see it. The whole group is
//! reusable when `T <= limit` (no protected snapshot is older than `T`); a page of a
//! younger group is reusable when no protected snapshot lies in `B..T` (bbolt's
//! "release range"). The environment computes the horizon once per write transaction
//! (`EnvInner::reuse_horizon`) and `stat` reads the same value.

/// Which freed pages a writer may hand out again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReuseHorizon {
    /// Groups freed at or before this transaction are reusable whole.
    pub limit: u64,
    /// The snapshots that must stay intact, sorted and distinct: every live reader's and
    /// the durable meta's (the state a crash falls back to).
    pub protected: Vec<u64>,
}

impl ReuseHorizon {
    /// Whether the page born in `birth` and freed by `freed` may be handed out again.
    pub fn reusable(&self, birth: u64, freed: u64) -> bool {
        freed <= self.limit || unseen_by(&self.protected, birth, freed)
    }
}

/// Whether a page born in `birth` and freed by transaction `freed` is invisible to every
/// snapshot in `protected` (sorted): none of them lies in `birth..freed`.
pub(crate) fn unseen_by(protected: &[u64], birth: u64, freed: u64) -> bool {
    let i = protected.partition_point(|&p| p < birth);
    protected.get(i).is_none_or(|&p| p >= freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_seen_by_the_snapshots_from_its_birth_to_before_its_freeing() {
        // Born in 5, freed by 9: snapshots 5..=8 see it.
        for s in 5..9 {
            assert!(!unseen_by(&[s], 5, 9), "snapshot {s}");
        }
        assert!(unseen_by(&[4], 5, 9));
        assert!(unseen_by(&[9], 5, 9));
        assert!(unseen_by(&[], 5, 9));
        assert!(unseen_by(&[1, 2, 9, 12], 5, 9));
        assert!(!unseen_by(&[1, 2, 7, 12], 5, 9));
        // Born and freed by the same transaction: no snapshot ever saw it.
        assert!(unseen_by(&[3, 4, 5, 6], 5, 5));
    }

    #[test]
    fn whole_groups_up_to_the_limit_are_reusable_and_younger_pages_when_unseen() {
        let h = ReuseHorizon {
            limit: 10,
            protected: vec![10, 20],
        };
        // Group 10 and older: reusable whatever the births.
        assert!(h.reusable(1, 10));
        assert!(h.reusable(9, 3));
        // Group 15: pages born at 11 or later are unseen by 10 and 20.
        assert!(h.reusable(11, 15));
        assert!(!h.reusable(10, 15));
        // Group 25: snapshot 20 sees pages born up to 20.
        assert!(!h.reusable(20, 25));
        assert!(h.reusable(21, 25));
    }
}
