//! Property tests: decoding any bytes is total, and every valid frame
//! round-trips exactly.

use consensio::clock::{DenseVectorClock, HlcTimestamp, LamportStamp, VectorClock};
use consensio::merkle::anti_entropy;
use consensio::wire::{self, WireError};
use proptest::prelude::*;

fn decode_is_total<M: wire::WireMessage + PartialEq + core::fmt::Debug>(bytes: &[u8]) {
    // Whatever decodes re-encodes to a frame that decodes to the same value
    // and is no longer than the input (postcard also accepts over-long
    // varints, so the bytes themselves may differ; see the wire docs).
    if let Ok(message) = wire::decode::<M>(bytes) {
        let again = wire::encode_to_vec(&message).unwrap();
        assert!(again.len() <= bytes.len());
        assert_eq!(wire::decode::<M>(&again).unwrap(), message);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn random_frames_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64), kind in 0u8..18) {
        let mut frame = vec![wire::WIRE_VERSION, kind];
        frame.extend_from_slice(&body);
        decode_is_total::<VectorClock>(&frame);
        decode_is_total::<DenseVectorClock<4>>(&frame);
        decode_is_total::<HlcTimestamp>(&frame);
        decode_is_total::<LamportStamp>(&frame);
        decode_is_total::<anti_entropy::Message>(&frame);
        decode_is_total::<VectorClock>(&body);
    }

    #[test]
    fn hlc_timestamps_round_trip_and_reject_every_truncation(wall_ms: u64, logical: u32) {
        let ts = HlcTimestamp { wall_ms, logical };
        let frame = wire::encode_to_vec(&ts).unwrap();
        prop_assert_eq!(wire::decode::<HlcTimestamp>(&frame), Ok(ts));
        for cut in 0..frame.len() {
            prop_assert_eq!(wire::decode::<HlcTimestamp>(&frame[..cut]), Err(WireError::Truncated));
        }
        let mut buf = [0u8; 32];
        let n = wire::encode_to_slice(&ts, &mut buf).unwrap();
        prop_assert_eq!(&buf[..n], &frame[..]);
    }
}
