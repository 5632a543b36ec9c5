//! Everything specific to the operating system, behind one module: the memory mappings
//! and every other call that needs `unsafe` (`map`), the file I/O seam (`io`), file-system
//! details (`files`) and process liveness (`process`). Linux today; a port to another
//! system changes this folder.

pub(crate) mod files;
pub mod io;
#[allow(unsafe_code)] // the one module allowed `unsafe`; each block says why it is sound
pub(crate) mod map;
pub(crate) mod process;
