//! Whole-database tools on top of the API: the consistency checker (`check`), page
//! inspection (`inspect`), gauges (`stat`), hot backup (`copy`) and LMDB's dump text
//! format (`dump`). `check` and `inspect` see the trees through one page walker (`walk`).

pub mod check;
pub(crate) mod copy;
pub mod dump;
pub mod inspect;
pub(crate) mod stat;
pub(crate) mod walk;
