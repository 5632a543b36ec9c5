//! Whole-database tools on top of the API: the consistency checker (`check`), page
//! inspection (`inspect`), gauges (`stat`), hot backup (`copy`) and LMDB's dump text
//! format (`dump`).

pub mod check;
pub(crate) mod copy;
pub mod dump;
pub mod inspect;
pub(crate) mod stat;
