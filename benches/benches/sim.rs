//! The simulator's throughput: delivered messages per second of wall time
//! for a 5-node all-to-all load through the real wire codec, with latency,
//! reordering and duplication on.

use std::collections::VecDeque;
use std::hint::black_box;

use consensio::{Input, Instant, NodeId, Output, Participant, Rng, wire};
use consensio_sim::protocols::run;
use consensio_sim::{Checker, NetworkConfig, Protocol, SimConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

/// Every 10 ms each node sends a small counter message to every peer.
#[derive(Debug, Serialize, Deserialize)]
struct Beat(u64);

impl wire::WireMessage for Beat {
    const KIND: u8 = wire::kind::EXAMPLE;
}

struct Flood {
    id: NodeId,
    peers: Vec<NodeId>,
    sent: u64,
    due: Instant,
    out: VecDeque<Output<Beat, (), ()>>,
}

impl Participant for Flood {
    type Message = Beat;
    type Command = ();
    type Persist = ();
    type Event = ();
    type Error = wire::WireError;
    fn id(&self) -> NodeId {
        self.id
    }
    fn handle_input(
        &mut self,
        now: Instant,
        input: Input<Beat, ()>,
    ) -> Result<(), wire::WireError> {
        if let Input::Tick = input
            && now >= self.due
        {
            self.due = now.saturating_add_millis(10);
            for &to in &self.peers {
                self.sent += 1;
                self.out.push_back(Output::Send {
                    to,
                    message: Beat(self.sent),
                });
            }
        }
        Ok(())
    }
    fn poll_output(&mut self) -> Option<Output<Beat, (), ()>> {
        self.out.pop_front()
    }
    fn next_deadline(&self) -> Option<Instant> {
        Some(self.due)
    }
}

struct FloodProtocol;
struct Nothing;
impl Checker<Flood> for Nothing {
    fn name(&self) -> &'static str {
        "none"
    }
}

impl Protocol for FloodProtocol {
    type Node = Flood;
    fn name(&self) -> &'static str {
        "flood"
    }
    fn create(&self, id: NodeId, members: &[NodeId], _: u64) -> Flood {
        Flood {
            id,
            peers: members.iter().copied().filter(|&m| m != id).collect(),
            sent: 0,
            due: Instant::ZERO,
            out: VecDeque::new(),
        }
    }
    fn restore(&self, id: NodeId, members: &[NodeId], seed: u64, _: &[()]) -> Flood {
        self.create(id, members, seed)
    }
    fn workload(&mut self, _: &mut Rng, _: u64, _: &[NodeId]) -> Vec<(NodeId, ())> {
        Vec::new()
    }
    fn checker(&self) -> Box<dyn Checker<Flood>> {
        Box::new(Nothing)
    }
    fn describe(&self, _: &()) -> String {
        String::new()
    }

    fn describe_message(&self, _: &Beat) -> consensio_sim::MessageLabel {
        consensio_sim::MessageLabel::routine("Beat", "Beat".into())
    }
}

fn config() -> SimConfig {
    SimConfig {
        seed: 1,
        nodes: 5,
        duration_ms: 10_000,
        network: NetworkConfig {
            latency_min_ms: 1,
            latency_max_ms: 20,
            duplicate: 0.01,
            reorder: 0.05,
            ..NetworkConfig::default()
        },
        ..SimConfig::default()
    }
}

fn throughput(c: &mut Criterion) {
    let delivered = run(FloodProtocol, config()).summary.delivered;
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(delivered));
    group.sample_size(10);
    group.bench_function("delivered_messages/5_nodes", |b| {
        b.iter(|| black_box(run(FloodProtocol, config()).summary.delivered))
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
