//! The wire format: postcard behind a two-byte versioned header.
//!
//! Every message that crosses the network is a serde type encoded with
//! [postcard](https://docs.rs/postcard) and prefixed by a header:
//!
//! ```text
//! +---------+---------+---------------------------+
//! | version |  kind   |  postcard body            |
//! |  1 byte | 1 byte  |  (the rest of the frame)  |
//! +---------+---------+---------------------------+
//! ```
//!
//! `version` is [`WIRE_VERSION`]; `kind` is the message type's
//! [`WireMessage::KIND`], unique across consensio (the registry is [`kind`]),
//! so bytes meant for one protocol are rejected by another instead of being
//! misread. A frame carries exactly one message: the body must be consumed to
//! the last byte.
//!
//! Decoding is total: any byte string yields a message or a [`WireError`],
//! never a panic. Frames longer than the type's
//! [`MAX_ENCODED_LEN`](WireMessage::MAX_ENCODED_LEN) are rejected before they
//! are parsed, and postcard never pre-allocates a sequence for more elements
//! than there are bytes left, so the memory a decoded message can take is
//! bounded by the frame size. Types whose fields carry invariants (a sorted
//! vector clock, say) check them while deserialising and fail with
//! [`WireError::Malformed`].
//!
//! Encoding is deterministic, but decoding is not injective: postcard accepts
//! over-long varints (`0xBA 0x00` decodes as 58, like `0x3A`). Never compare,
//! hash or sign frames as received; compare decoded values, or re-encode
//! them first.

use crate::error::{Classify, ErrorKind};
use core::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The wire-format version written into, and required of, every frame.
pub const WIRE_VERSION: u8 = 1;

/// Length of the header that precedes every postcard body.
pub const HEADER_LEN: usize = 2;

/// Default upper bound on an encoded frame (1 MiB).
pub const DEFAULT_MAX_ENCODED_LEN: usize = 1 << 20;

/// The registry of message kinds. Each wire type takes one number, once;
/// numbers are never reused, so old frames are never misread as new types.
pub mod kind {
    /// A sparse vector clock ([`crate::clock::VectorClock`]).
    pub const VECTOR_CLOCK: u8 = 1;
    /// A dense vector clock ([`crate::clock::DenseVectorClock`]).
    pub const DENSE_VECTOR_CLOCK: u8 = 2;
    /// A hybrid logical clock timestamp ([`crate::clock::HlcTimestamp`]).
    pub const HLC_TIMESTAMP: u8 = 3;
    /// A Lamport timestamp ([`crate::clock::LamportStamp`]).
    pub const LAMPORT_STAMP: u8 = 4;
    /// First kind number for protocol messages; families take numbers
    /// upwards from here as they land (Raft, Paxos, ...).
    pub const FIRST_PROTOCOL: u8 = 16;
    /// Merkle anti-entropy ([`crate::merkle::anti_entropy::Message`]).
    pub const ANTI_ENTROPY: u8 = 16;
    /// Bully election ([`crate::election::bully::Message`]).
    pub const BULLY: u8 = 17;
    /// Chang–Roberts ring election ([`crate::election::ring::Message`]).
    pub const RING_ELECTION: u8 = 18;
    /// Failure-detector heartbeats ([`crate::detector::Heartbeat`]).
    pub const HEARTBEAT: u8 = 19;
    /// Raft ([`crate::raft::Message`]).
    pub const RAFT: u8 = 20;
    /// A Raft node's durable record ([`crate::raft::Persist`]), for callers
    /// that store records as bytes (the C and Python surfaces do).
    pub const RAFT_RECORD: u8 = 21;
    /// The entries of Raft's key-value store ([`crate::raft::KvEntry`]).
    pub const RAFT_KV: u8 = 22;
    /// The key-value store's snapshot image ([`crate::raft::KvStore`]).
    pub const RAFT_KV_SNAPSHOT: u8 = 23;
    /// Multi-Paxos ([`crate::paxos::Message`]).
    pub const PAXOS: u8 = 24;
    /// A Paxos node's durable record ([`crate::paxos::Persist`]).
    pub const PAXOS_RECORD: u8 = 25;
    /// A read marker in the log of Paxos's key-value store
    /// ([`crate::paxos::ReadMarker`]).
    pub const PAXOS_KV_READ: u8 = 26;
    /// Single-decree Paxos ([`crate::paxos::single::Message`]).
    pub const PAXOS_SINGLE: u8 = 27;
    /// A single-decree Paxos node's durable record
    /// ([`crate::paxos::single::Persist`]).
    pub const PAXOS_SINGLE_RECORD: u8 = 28;
    /// Request-reply ([`crate::resilience::rpc::Message`]).
    pub const RPC: u8 = 29;
    /// A request-reply endpoint's durable record
    /// ([`crate::resilience::rpc::Persist`]).
    pub const RPC_RECORD: u8 = 30;
    /// A grow-only counter ([`crate::crdt::GCounter`]).
    pub const CRDT_G_COUNTER: u8 = 31;
    /// A positive-negative counter ([`crate::crdt::PnCounter`]).
    pub const CRDT_PN_COUNTER: u8 = 32;
    /// A last-writer-wins register of bytes ([`crate::crdt::LwwRegister`]).
    pub const CRDT_LWW_REGISTER: u8 = 33;
    /// A multi-value register of bytes ([`crate::crdt::MvRegister`]).
    pub const CRDT_MV_REGISTER: u8 = 34;
    /// An observed-remove set of byte strings ([`crate::crdt::OrSet`]).
    pub const CRDT_OR_SET: u8 = 35;
    /// A dotted version vector set of byte strings
    /// ([`crate::crdt::DvvSet`]).
    pub const CRDT_DVV_SET: u8 = 36;
    /// Reserved for documentation examples and tests; never used by a
    /// protocol of this crate.
    pub const EXAMPLE: u8 = 255;
}

/// A type that travels on the wire.
pub trait WireMessage: Serialize + DeserializeOwned {
    /// This type's number in the [`kind`] registry.
    const KIND: u8;
    /// Frames longer than this (header included) are rejected unread.
    const MAX_ENCODED_LEN: usize = DEFAULT_MAX_ENCODED_LEN;
}

/// Why a frame could not be encoded or decoded. Encoding and decoding never
/// change anything but the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The frame ended before the header or the message did.
    Truncated,
    /// The message ended before the frame did; `extra` bytes were left over.
    TrailingBytes {
        /// Number of unread bytes.
        extra: usize,
    },
    /// The frame's version byte is not [`WIRE_VERSION`].
    UnknownVersion {
        /// The version found.
        found: u8,
    },
    /// The frame holds a different message kind than the one asked for.
    WrongKind {
        /// The kind expected by the decoder.
        expected: u8,
        /// The kind found in the header.
        found: u8,
    },
    /// The body is not a valid encoding of the type: an unknown enum variant,
    /// a bool or option tag other than 0 or 1, an over-long varint, invalid
    /// UTF-8, or a value that breaks an invariant of the type (a vector clock
    /// whose actors are not sorted, say).
    Malformed,
    /// The frame is longer than the type's bound.
    TooLarge {
        /// Length of the frame offered.
        len: usize,
        /// The type's [`WireMessage::MAX_ENCODED_LEN`].
        max: usize,
    },
    /// The caller's output buffer is too small for the encoded frame.
    BufferTooSmall,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("frame is truncated"),
            WireError::TrailingBytes { extra } => {
                write!(f, "{extra} trailing bytes after the message")
            }
            WireError::UnknownVersion { found } => write!(
                f,
                "unknown wire version {found} (this build speaks {WIRE_VERSION})"
            ),
            WireError::WrongKind { expected, found } => {
                write!(f, "message kind {found} where kind {expected} was expected")
            }
            WireError::Malformed => f.write_str("message body is not a valid encoding of its type"),
            WireError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            WireError::BufferTooSmall => f.write_str("output buffer too small for the frame"),
        }
    }
}

impl core::error::Error for WireError {}

impl Classify for WireError {
    fn kind(&self) -> ErrorKind {
        match self {
            WireError::BufferTooSmall => ErrorKind::BufferTooSmall,
            // A frame beyond the type's bound is refused before it is read.
            WireError::TooLarge { .. } => ErrorKind::LimitExceeded,
            _ => ErrorKind::Malformed,
        }
    }
}

impl From<postcard::Error> for WireError {
    fn from(e: postcard::Error) -> Self {
        use postcard::Error as P;
        match e {
            P::DeserializeUnexpectedEnd => WireError::Truncated,
            P::SerializeBufferFull => WireError::BufferTooSmall,
            // Bad enum/option/bool tags, varints, chars and UTF-8, the
            // type's own validation (serde custom errors), and any variant
            // postcard adds later.
            _ => WireError::Malformed,
        }
    }
}

/// Encodes `message` into `buf` without allocating; returns the frame length.
///
/// # Errors
/// [`WireError::BufferTooSmall`] if the frame does not fit (the contents of
/// `buf` are then unspecified); [`WireError::TooLarge`] if it fits but exceeds
/// the type's bound, since no peer would accept it.
pub fn encode_to_slice<M: WireMessage>(message: &M, buf: &mut [u8]) -> Result<usize, WireError> {
    let (header, body) = buf
        .split_first_chunk_mut::<HEADER_LEN>()
        .ok_or(WireError::BufferTooSmall)?;
    *header = [WIRE_VERSION, M::KIND];
    let body_len = postcard::to_slice(message, body)?.len();
    let len = HEADER_LEN + body_len;
    check_len::<M>(len)?;
    Ok(len)
}

/// Encodes `message` into a new vector.
///
/// # Errors
/// [`WireError::TooLarge`] if the frame exceeds the type's bound.
#[cfg(feature = "alloc")]
pub fn encode_to_vec<M: WireMessage>(message: &M) -> Result<alloc::vec::Vec<u8>, WireError> {
    let mut frame = alloc::vec::Vec::with_capacity(64);
    frame.extend_from_slice(&[WIRE_VERSION, M::KIND]);
    let frame = postcard::to_extend(message, frame)?;
    check_len::<M>(frame.len())?;
    Ok(frame)
}

/// Decodes one frame holding exactly one `M`.
///
/// # Errors
/// Every malformed input maps to a [`WireError`]; see the variants.
pub fn decode<M: WireMessage>(frame: &[u8]) -> Result<M, WireError> {
    check_len::<M>(frame.len())?;
    let ([version, found], body) = frame
        .split_first_chunk::<HEADER_LEN>()
        .map(|(h, b)| (*h, b))
        .ok_or(WireError::Truncated)?;
    if version != WIRE_VERSION {
        return Err(WireError::UnknownVersion { found: version });
    }
    if found != M::KIND {
        return Err(WireError::WrongKind {
            expected: M::KIND,
            found,
        });
    }
    let (message, rest) = postcard::take_from_bytes::<M>(body)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes { extra: rest.len() });
    }
    Ok(message)
}

/// The kind byte of a frame, after checking its version: lets a host that
/// multiplexes several protocols on one transport route bytes before decoding.
///
/// # Errors
/// [`WireError::Truncated`] or [`WireError::UnknownVersion`].
pub fn peek_kind(frame: &[u8]) -> Result<u8, WireError> {
    match frame {
        [WIRE_VERSION, kind, ..] => Ok(*kind),
        [version, _, ..] => Err(WireError::UnknownVersion { found: *version }),
        _ => Err(WireError::Truncated),
    }
}

fn check_len<M: WireMessage>(len: usize) -> Result<(), WireError> {
    if len > M::MAX_ENCODED_LEN {
        return Err(WireError::TooLarge {
            len,
            max: M::MAX_ENCODED_LEN,
        });
    }
    Ok(())
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Sample {
        Ping {
            seq: u64,
        },
        Data {
            flag: bool,
            payload: Vec<u8>,
            note: String,
        },
    }

    impl WireMessage for Sample {
        const KIND: u8 = kind::EXAMPLE;
        const MAX_ENCODED_LEN: usize = 64;
    }

    fn data() -> Sample {
        Sample::Data {
            flag: true,
            payload: vec![1, 2, 3, 250],
            note: String::from("hé"),
        }
    }

    #[test]
    fn slice_and_vec_encodings_are_identical_and_round_trip() {
        let mut buf = [0u8; 64];
        let n = encode_to_slice(&data(), &mut buf).unwrap();
        let v = encode_to_vec(&data()).unwrap();
        assert_eq!(&buf[..n], &v[..]);
        assert_eq!(&v[..2], &[WIRE_VERSION, kind::EXAMPLE]);
        assert_eq!(decode::<Sample>(&v).unwrap(), data());
        assert_eq!(peek_kind(&v), Ok(kind::EXAMPLE));
    }

    #[test]
    fn every_strict_prefix_is_rejected_as_truncated() {
        let frame = encode_to_vec(&data()).unwrap();
        for cut in 0..frame.len() {
            assert_eq!(
                decode::<Sample>(&frame[..cut]),
                Err(WireError::Truncated),
                "prefix of {cut} bytes"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut frame = encode_to_vec(&Sample::Ping { seq: 9 }).unwrap();
        frame.extend_from_slice(&[0, 0]);
        assert_eq!(
            decode::<Sample>(&frame),
            Err(WireError::TrailingBytes { extra: 2 })
        );
    }

    #[test]
    fn unknown_versions_and_foreign_kinds_are_rejected() {
        let mut frame = encode_to_vec(&Sample::Ping { seq: 9 }).unwrap();
        frame[0] = WIRE_VERSION + 1;
        assert_eq!(
            decode::<Sample>(&frame),
            Err(WireError::UnknownVersion {
                found: WIRE_VERSION + 1
            })
        );
        assert_eq!(
            peek_kind(&frame),
            Err(WireError::UnknownVersion {
                found: WIRE_VERSION + 1
            })
        );
        frame[0] = WIRE_VERSION;
        frame[1] = kind::VECTOR_CLOCK;
        assert_eq!(
            decode::<Sample>(&frame),
            Err(WireError::WrongKind {
                expected: kind::EXAMPLE,
                found: kind::VECTOR_CLOCK
            })
        );
    }

    #[test]
    fn bad_enum_bool_and_utf8_tags_are_rejected() {
        let header = [WIRE_VERSION, kind::EXAMPLE];
        // Variant 7 does not exist.
        assert_eq!(
            decode::<Sample>(&[header[0], header[1], 7, 0]),
            Err(WireError::Malformed)
        );
        // Data with bool byte 2.
        assert_eq!(
            decode::<Sample>(&[header[0], header[1], 1, 2, 0, 0]),
            Err(WireError::Malformed)
        );
        // Data with an invalid UTF-8 note.
        assert_eq!(
            decode::<Sample>(&[header[0], header[1], 1, 1, 0, 1, 0xff]),
            Err(WireError::Malformed)
        );
        // A varint longer than ten bytes.
        let mut long = vec![header[0], header[1], 0];
        long.extend_from_slice(&[0xff; 11]);
        assert_eq!(decode::<Sample>(&long), Err(WireError::Malformed));
    }

    #[test]
    fn oversized_frames_are_rejected_unread_and_not_produced() {
        let big = vec![WIRE_VERSION; 65];
        assert_eq!(
            decode::<Sample>(&big),
            Err(WireError::TooLarge { len: 65, max: 64 })
        );
        let huge = Sample::Data {
            flag: false,
            payload: vec![0; 100],
            note: String::new(),
        };
        assert!(matches!(
            encode_to_vec(&huge),
            Err(WireError::TooLarge { .. })
        ));
        let mut buf = [0u8; 256];
        assert!(matches!(
            encode_to_slice(&huge, &mut buf),
            Err(WireError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_length_prefix_larger_than_the_frame_fails_without_allocating_it() {
        // Data { flag: true, payload: <claims u32::MAX bytes>, .. }
        let frame = [
            WIRE_VERSION,
            kind::EXAMPLE,
            1,
            1,
            0xff,
            0xff,
            0xff,
            0xff,
            0x0f,
            1,
        ];
        assert_eq!(decode::<Sample>(&frame), Err(WireError::Truncated));
    }

    #[test]
    fn small_buffers_are_reported() {
        let mut buf = [0u8; 4];
        assert_eq!(
            encode_to_slice(&data(), &mut buf),
            Err(WireError::BufferTooSmall)
        );
        assert_eq!(
            encode_to_slice(&data(), &mut buf[..1]),
            Err(WireError::BufferTooSmall)
        );
    }
}
