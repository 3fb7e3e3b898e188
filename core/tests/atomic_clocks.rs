//! The shared clocks under real threads (loom explores the interleavings in
//! tests/loom.rs; this runs many more operations on real cores).
#![cfg(not(loom))]

use std::sync::Arc;
use std::thread;

use consensio::clock::{AtomicHybridClock, AtomicLamportClock};
use consensio::{Instant, NodeId};

#[test]
fn threads_never_get_the_same_lamport_stamp_and_each_sees_its_own_increase() {
    let clock = Arc::new(AtomicLamportClock::new(NodeId(1)));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = clock.clone();
            thread::spawn(move || {
                (0..2_000)
                    .map(|_| c.tick().unwrap().time)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let per_thread: Vec<Vec<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for stamps in &per_thread {
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    }
    let mut all: Vec<u64> = per_thread.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 8_000);
}

#[test]
fn threads_never_get_the_same_hybrid_timestamp() {
    let clock = Arc::new(AtomicHybridClock::new(1_000));
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            let c = clock.clone();
            thread::spawn(move || {
                (0..2_000u64)
                    .map(|i| c.now(Instant::from_millis(1_000 + i / 100 + t)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let per_thread: Vec<Vec<_>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for stamps in &per_thread {
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    }
    let mut all: Vec<_> = per_thread.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 8_000);
}
