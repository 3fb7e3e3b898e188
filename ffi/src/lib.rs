//! The C surface of consensio: `libconsensio.a`, `libconsensio.so` and
//! `include/consensio.h`.
//!
//! This crate is the seed of the C library; each protocol family adds its
//! functions here as `ffi/src/<family>.rs`, following DESIGN.md §"The C
//! surface" (opaque handles, a status code from every call, NULL and bad
//! lengths rejected, panics caught at the boundary).

use core::ffi::c_char;

/// The library version as a NUL-terminated string, e.g. `"0.1.0"`. The
/// pointer is static; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn consensio_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The wire-format version this library speaks.
#[unsafe(no_mangle)]
pub extern "C" fn consensio_wire_version() -> u8 {
    consensio_core::wire::WIRE_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;

    #[test]
    fn version_is_a_nul_terminated_crate_version() {
        // SAFETY: the pointer refers to a static, NUL-terminated string.
        let version = unsafe { CStr::from_ptr(consensio_version()) };
        assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(consensio_wire_version(), 1);
    }
}
