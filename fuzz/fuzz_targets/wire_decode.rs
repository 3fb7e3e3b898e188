//! Decodes arbitrary bytes as every wire type of the foundation; whatever
//! decodes must survive encode → decode unchanged.

#![no_main]

use consensio::clock::{DenseVectorClock, HlcTimestamp, LamportStamp, VectorClock};
use consensio::merkle::AntiEntropyMessage;
use consensio::wire::{self, WireMessage};
use libfuzzer_sys::fuzz_target;

fn check<M: WireMessage + PartialEq + core::fmt::Debug>(data: &[u8]) {
    if let Ok(message) = wire::decode::<M>(data) {
        let frame = wire::encode_to_vec(&message).expect("a decoded message re-encodes");
        assert!(frame.len() <= data.len());
        assert_eq!(wire::decode::<M>(&frame).expect("re-decodes"), message);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<VectorClock>(data);
    check::<DenseVectorClock<8>>(data);
    check::<HlcTimestamp>(data);
    check::<LamportStamp>(data);
    check::<AntiEntropyMessage>(data);
});
