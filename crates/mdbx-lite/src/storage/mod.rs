//! The database file below the tree: the two metas (`metas`), bounds-checked reads of
//! committed pages (`snapshot`), and the reader table shared through the lock file
//! (`readers`), which also holds the writer lock between processes (`writer_lock`) and
//! tells live environments from dead ones (`liveness`).

pub(crate) mod liveness;
pub(crate) mod metas;
pub(crate) mod readers;
pub(crate) mod snapshot;
pub(crate) mod writer_lock;
