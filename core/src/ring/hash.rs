//! The one stable hash behind every placement, and the bytes fed to it.
//!
//! All placements use XXH3-64 (Yann Collet's xxHash, format frozen since
//! release 0.8.0), through the `xxhash-rust` crate. It is fixed here rather
//! than taken from `core::hash`, whose hashers are free to change between
//! Rust releases and are often seeded at run time. Integers are encoded
//! little-endian. The layouts, which a reimplementation in another language
//! must follow byte for byte:
//!
//! | what | value |
//! | --- | --- |
//! | a key's position | `xxh3_64(key)` |
//! | token `i` of node `id` ([`HashRing`](super::HashRing)) | `xxh3_64(id as 8 bytes ‖ i as 4 bytes)` |
//! | rendezvous hash of a key for node `id` | `xxh3_64(position as 8 bytes ‖ id as 8 bytes)` |
//! | Maglev offset hash of node `id` | `xxh3_64_with_seed(id as 8 bytes, 1)` |
//! | Maglev skip hash of node `id` | `xxh3_64_with_seed(id as 8 bytes, 2)` |
//!
//! The rendezvous hash mixes the key's position instead of the key itself, so
//! a lookup hashes a long key once and each node only 16 bytes. The two
//! Maglev hashes use seeds so that a node's offset and skip are independent.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::id::NodeId;

/// Seed of the Maglev offset hash `h1`.
const MAGLEV_OFFSET_SEED: u64 = 1;
/// Seed of the Maglev skip hash `h2`.
const MAGLEV_SKIP_SEED: u64 = 2;

/// A key's position on the 64-bit hash space: `xxh3_64(key)`. Jump hash
/// takes this as its key.
///
/// ```
/// use consensio::ring::{hash, jump_hash};
/// assert_eq!(hash::key_position(b""), 0x2d06_8005_38d3_94c2);
/// let bucket = jump_hash(hash::key_position(b"user:42"), 10)?;
/// assert!(bucket < 10);
/// # Ok::<(), consensio::ring::Error>(())
/// ```
#[must_use]
pub fn key_position(key: &[u8]) -> u64 {
    xxh3_64(key)
}

/// The ring position of token `index` of `node`.
#[must_use]
pub fn vnode_token(node: NodeId, index: u32) -> u64 {
    let mut bytes = [0u8; 12];
    let (id, i) = bytes.split_at_mut(8);
    id.copy_from_slice(&node.0.to_le_bytes());
    i.copy_from_slice(&index.to_le_bytes());
    xxh3_64(&bytes)
}

/// The rendezvous hash of the key at `position` for `node`.
#[must_use]
pub fn rendezvous_hash(position: u64, node: NodeId) -> u64 {
    let mut bytes = [0u8; 16];
    let (key, id) = bytes.split_at_mut(8);
    key.copy_from_slice(&position.to_le_bytes());
    id.copy_from_slice(&node.0.to_le_bytes());
    xxh3_64(&bytes)
}

/// Maglev's `h1(name)` for `node`: where its permutation starts.
#[must_use]
pub fn maglev_offset_hash(node: NodeId) -> u64 {
    xxh3_64_with_seed(&node.0.to_le_bytes(), MAGLEV_OFFSET_SEED)
}

/// Maglev's `h2(name)` for `node`: the stride of its permutation.
#[must_use]
pub fn maglev_skip_hash(node: NodeId) -> u64 {
    xxh3_64_with_seed(&node.0.to_le_bytes(), MAGLEV_SKIP_SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_position_is_xxh3_64_of_the_reference_implementation() {
        // From the reference C library, libxxhash 0.8.1: XXH3_64bits().
        assert_eq!(key_position(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(key_position(b"a"), 0xe6c6_32b6_1e96_4e1f);
        assert_eq!(key_position(b"consensio"), 0x064b_6bf6_d324_2999);
        assert_eq!(
            key_position(b"The quick brown fox jumps over the lazy dog"),
            0xce7d_19a5_418f_b365
        );
        // Past 240 bytes XXH3 takes its striped (SIMD) path.
        let long: [u8; 1000] = core::array::from_fn(|i| i.to_le_bytes()[0]);
        assert_eq!(key_position(&long), 0xd33d_d80b_46f6_0e50);
    }

    #[test]
    fn byte_layouts_match_the_reference_implementation() {
        // XXH3_64bits over the documented little-endian layouts, and
        // XXH3_64bits_withSeed for the Maglev hashes.
        assert_eq!(vnode_token(NodeId(1), 0), 0x1ae5_c641_2588_0f18);
        assert_eq!(
            vnode_token(NodeId(u64::MAX), u32::MAX),
            0x18d0_81e8_e460_2ab0
        );
        assert_eq!(rendezvous_hash(0, NodeId(7)), 0xa19e_7070_8438_a272);
        assert_eq!(maglev_offset_hash(NodeId(3)), 0x77a5_9498_a006_c051);
        assert_eq!(maglev_skip_hash(NodeId(3)), 0xbfba_2b0b_d51c_f805);
    }
}
