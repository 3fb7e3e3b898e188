//! `consensio._native`: the compiled half of the Python package `consensio`.
//!
//! Each protocol family adds a submodule here (`python/src/<family>.rs`),
//! re-exported by `python/consensio/<family>.py` with type stubs.

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("WIRE_VERSION", consensio::wire::WIRE_VERSION)?;
    Ok(())
}
