//! Raft: log append, and proposal-to-commit throughput of a 3-node cluster,
//! beside tikv's `raft` 0.7 (raft-rs).
//!
//! **Log append** of 1 and 64 entries of 16 B, 256 B and 4 KiB. Each
//! iteration empties the log and appends the entries again, so the log's
//! buffers are warm and nothing grows (steady state):
//!
//! - `consensio`: [`ArenaLog::append`] of each payload (one copy into the
//!   arena), after `truncate_after(0)`;
//! - `memcpy_floor`: the same payloads copied into a `Vec` with room for
//!   them, after `clear()`: the least any log that owns its bytes can do;
//! - `raft-rs`: `RaftLog::append` (its unstable log, where a leader's and a
//!   follower's new entries go) of ready-made `Entry`s at index 1, which
//!   replaces the previous iteration's. raft-rs's payloads are `Bytes`:
//!   appending clones the `Entry` structs and shares the payloads by
//!   reference count, so no payload byte is copied;
//! - `raft-rs_copying`: the same after building each `Entry` from the
//!   payload's bytes (`Bytes::copy_from_slice`), which is what owning the
//!   bytes costs raft-rs;
//! - `raft-rs_memstorage`: `MemStorage::append` of the ready-made entries
//!   (where a raft-rs application persists them in memory; it takes a write
//!   lock).
//!
//! **Throughput**: proposals committed per second by a 3-node cluster in
//! memory (`consensio_benches::cluster`, which documents how both clusters
//! are driven and how both compact their logs every 1,000 entries), one
//! proposal per round and batches of 64, 64-byte payloads; beside them,
//! `consensio_paxos`: consensio's Multi-Paxos cluster driven alike, values
//! chosen per second (it does not compact yet).
//!
//! **Snapshot install**: bytes of snapshot per second that a follower cut
//! off behind the leader's compaction point receives and installs, from the
//! leader's heartbeat to its `ApplySnapshot` (chunks of 256 KiB, 1 MiB in
//! flight, messages passed in memory; the leader copies each chunk out of
//! its snapshot, the follower appends it and records the whole snapshot):
//!
//! - `consensio`: `ConsensioCluster::catch_up` on a clone of a cluster in
//!   that state (the clone is not timed);
//! - `memcpy_floor`: the snapshot's bytes copied once, chunk by chunk, into
//!   a buffer with room for them: the least a follower that owns the bytes
//!   it installs can do.
//!
//! raft-rs sends a snapshot in one message and leaves its transfer to the
//! application, so there is no like-for-like peer.

use std::hint::black_box;

use bytes::Bytes;
use consensio::raft::{ArenaLog, LogStorage};
use consensio_benches::cluster::{ConsensioCluster, PaxosCluster, RaftRsCluster, time_rounds};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use raft::RaftLog;
use raft::eraftpb::Entry;
use raft::storage::MemStorage;

const SIZES: [(&str, usize); 3] = [("16B", 16), ("256B", 256), ("4KiB", 4096)];

fn payloads(count: usize, size: usize) -> Vec<Vec<u8>> {
    let bytes = consensio_benches::leaves(count * size.div_ceil(32), 7).concat();
    bytes
        .chunks_exact(size)
        .take(count)
        .map(<[u8]>::to_vec)
        .collect()
}

fn entries(payloads: &[Vec<u8>]) -> Vec<Entry> {
    (1u64..)
        .zip(payloads)
        .map(|(index, data)| Entry {
            index,
            term: 1,
            data: Bytes::copy_from_slice(data),
            ..Entry::default()
        })
        .collect()
}

fn log_append(c: &mut Criterion) {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    for count in [1usize, 64] {
        for (label, size) in SIZES {
            let payloads = payloads(count, size);
            let ready = entries(&payloads);

            let mut ours = ArenaLog::new(count, count * size);
            let mut floor: Vec<u8> = Vec::with_capacity(count * size);
            let mut theirs = RaftLog::new(MemStorage::new(), logger.clone());
            let storage = MemStorage::new();
            // Each side ends with the same payloads at indexes 1..=count.
            for p in &payloads {
                ours.append(1, p).expect("room");
                floor.extend_from_slice(p);
            }
            theirs.append(&ready);
            storage.wl().append(&ready).expect("in order");
            for (i, p) in (1u64..).zip(&payloads) {
                assert_eq!(ours.entry(i).expect("held").data, &p[..]);
                let e = &theirs.unstable_entries()[usize::try_from(i - 1).expect("small")];
                assert_eq!((e.index, &e.data[..]), (i, &p[..]));
            }
            assert_eq!(floor, payloads.concat());

            let mut group = c.benchmark_group(format!("raft/log_append/{count}x{label}"));
            group.throughput(Throughput::Bytes((count * size) as u64));
            group.bench_function("consensio", |b| {
                b.iter(|| {
                    ours.truncate_after(0);
                    for p in &payloads {
                        ours.append(1, black_box(p)).expect("room");
                    }
                });
            });
            group.bench_function("memcpy_floor", |b| {
                b.iter(|| {
                    floor.clear();
                    for p in &payloads {
                        floor.extend_from_slice(black_box(p));
                    }
                    black_box(&floor);
                });
            });
            group.bench_function("raft-rs", |b| {
                b.iter(|| theirs.append(black_box(&ready)));
            });
            group.bench_function("raft-rs_copying", |b| {
                b.iter(|| theirs.append(&entries(black_box(&payloads))));
            });
            group.bench_function("raft-rs_memstorage", |b| {
                b.iter(|| storage.wl().append(black_box(&ready)));
            });
            group.finish();
        }
    }
}

fn throughput(c: &mut Criterion) {
    let payload = [0x5a_u8; 64];
    for batch in [1usize, 64] {
        let mut group = c.benchmark_group(format!("raft/propose_commit/3_nodes/batch_{batch}"));
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function("consensio", |b| {
            b.iter_custom(|rounds| time_rounds(ConsensioCluster::new, &payload, batch, rounds));
        });
        group.bench_function("raft-rs", |b| {
            b.iter_custom(|rounds| time_rounds(RaftRsCluster::new, &payload, batch, rounds));
        });
        group.bench_function("consensio_paxos", |b| {
            b.iter_custom(|rounds| time_rounds(PaxosCluster::new, &payload, batch, rounds));
        });
        group.finish();
    }
}

fn snapshot_install(c: &mut Criterion) {
    const BYTES: usize = 8 << 20;
    const CHUNK: usize = 256 << 10;
    let lagging = ConsensioCluster::lagging(BYTES);
    let source = vec![0x5a_u8; BYTES];
    let mut floor: Vec<u8> = Vec::with_capacity(BYTES);
    let mut group = c.benchmark_group("raft/snapshot_install/8MiB");
    group.throughput(Throughput::Bytes(BYTES as u64));
    group.sample_size(20);
    group.bench_function("consensio", |b| {
        b.iter_batched(
            || lagging.clone(),
            |mut cluster| assert_eq!(cluster.catch_up(), BYTES),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("memcpy_floor", |b| {
        b.iter(|| {
            floor.clear();
            for chunk in source.chunks(CHUNK) {
                floor.extend_from_slice(black_box(chunk));
            }
            black_box(&floor);
        });
    });
    group.finish();
}

criterion_group!(benches, log_append, throughput, snapshot_install);
criterion_main!(benches);
