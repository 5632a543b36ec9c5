//! The write transaction's machinery below the API: dirty pages, allocation, free space
//! and the commit's page I/O (`pager`).

pub(crate) mod pager;
