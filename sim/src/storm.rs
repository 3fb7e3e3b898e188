//! The retry storm: a fleet of clients calling a server that is overloaded
//! for a while, with four client policies side by side, driven by the
//! core's `resilience` state machines ([`Retry`], [`Budget`],
//! [`CircuitBreaker`]).
//!
//! This is a load model, not a network simulation: time moves in steps of
//! [`STEP_MS`], each client makes new calls at random (open loop, a
//! Poisson stream), and the server answers each attempt within the step it
//! is sent in. The server serves up to its capacity per step; under
//! overload every attempt of the step fails with probability `1 − capacity
//! / offered` (the excess fails, and the more is offered, the more fails).
//! During the outage the capacity drops to [`OUTAGE_CAPACITY`] of normal.
//! What is measured per second: the calls the clients mean to make
//! (original load), the attempts they send (offered load), and the calls
//! that succeed. The ratio offered / original is the amplification: what
//! retries add to an overloaded server.
//!
//! The policies:
//!
//! - **none**: one attempt per call;
//! - **plain**: up to 3 attempts, exponential backoff with no jitter and no
//!   budget (the textbook `sleep(2**n)`, scaled to 100 ms);
//! - **budget**: up to 3 attempts, full jitter, one gRPC retry throttle per
//!   client (10 tokens, ratio 0.1);
//! - **breaker**: the same with a circuit breaker per client in front
//!   (the last 20 calls, 5 at least, 50%, OPEN for 1 s, 3 trials): an open
//!   breaker fails calls at once without sending them.
//!
//! `consensio storm` prints the table and writes the plot; the test
//! `storm_bounds` holds the figures the docs quote.

use std::fmt::Write as _;

use consensio::resilience::Budget;
use consensio::resilience::breaker::{
    CircuitBreaker, Config as BreakerConfig, OpenWait, Outcome, Permit, Window,
};
use consensio::resilience::retry::{
    Backoff, Decision, FailureKind, Jitter, Policy, Pushback, Retry,
};
use consensio::{Instant, Rng};

/// One step of the model, ms.
pub const STEP_MS: u64 = 10;
/// The clients.
pub const CLIENTS: usize = 200;
/// Each client's new calls per second (so 2,000 per second in all).
pub const CALLS_PER_CLIENT_PER_S: f64 = 10.0;
/// The server's capacity, attempts per second: 1.5 times the calls, so
/// that the clients' bursts (per step) rarely exceed it.
pub const CAPACITY_PER_S: f64 = 3_000.0;
/// The capacity left during the outage, as a share of normal.
pub const OUTAGE_CAPACITY: f64 = 0.5;
/// The outage, ms.
pub const OUTAGE_MS: (u64, u64) = (10_000, 30_000);
/// The whole run, ms.
pub const DURATION_MS: u64 = 50_000;

/// A client policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// One attempt per call.
    None,
    /// Three attempts, exponential backoff, no jitter, no budget.
    Plain,
    /// Three attempts, full jitter, a gRPC retry throttle per client.
    Budget,
    /// The same behind a circuit breaker per client.
    Breaker,
}

impl Strategy {
    /// Every policy, in the table's order.
    pub const ALL: [Strategy; 4] = [
        Strategy::None,
        Strategy::Plain,
        Strategy::Budget,
        Strategy::Breaker,
    ];

    /// Its name in the table.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Plain => "plain",
            Strategy::Budget => "budget",
            Strategy::Breaker => "breaker",
        }
    }
}

/// One second of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Second {
    /// Calls the clients meant to make.
    pub original: u64,
    /// Attempts sent to the server.
    pub offered: u64,
    /// Calls that succeeded.
    pub succeeded: u64,
    /// Calls a breaker failed without sending.
    pub shed: u64,
}

/// A run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The policy.
    pub strategy: Strategy,
    /// Per second.
    pub seconds: Vec<Second>,
}

impl Report {
    fn during_outage(&self) -> impl Iterator<Item = &Second> {
        let (from, to) = (OUTAGE_MS.0 / 1_000, OUTAGE_MS.1 / 1_000);
        self.seconds
            .iter()
            .enumerate()
            .filter(move |(s, _)| (from..to).contains(&(*s as u64)))
            .map(|(_, s)| s)
    }

    /// Offered / original load over the outage.
    #[must_use]
    pub fn outage_amplification(&self) -> f64 {
        let (offered, original) = self
            .during_outage()
            .fold((0, 0), |(a, b), s| (a + s.offered, b + s.original));
        offered as f64 / original.max(1) as f64
    }

    /// The highest one-second offered / original load.
    #[must_use]
    pub fn peak_amplification(&self) -> f64 {
        self.seconds
            .iter()
            .map(|s| s.offered as f64 / s.original.max(1) as f64)
            .fold(0.0, f64::max)
    }

    /// Calls that succeeded during the outage, as a share of those made.
    #[must_use]
    pub fn outage_success(&self) -> f64 {
        let (ok, original) = self
            .during_outage()
            .fold((0, 0), |(a, b), s| (a + s.succeeded, b + s.original));
        ok as f64 / original.max(1) as f64
    }

    /// Seconds after the outage until a second in which at least 95% of
    /// the calls succeeded (as many as before it, with the clients' bursts);
    /// `None` if none did.
    #[must_use]
    pub fn recovery_s(&self) -> Option<u64> {
        let end = OUTAGE_MS.1 / 1_000;
        self.seconds
            .iter()
            .enumerate()
            .skip(end as usize)
            .find(|(_, s)| s.succeeded as f64 >= 0.95 * s.original as f64)
            .map(|(i, _)| i as u64 - end)
    }
}

/// A call in progress: its retry state and when its next attempt is due.
struct Call {
    retry: Retry,
    due: u64,
}

struct Client {
    budget: Option<Budget>,
    breaker: Option<CircuitBreaker>,
    calls: Vec<Call>,
}

fn policy(strategy: Strategy) -> Policy {
    let jitter = if strategy == Strategy::Plain {
        Jitter::None
    } else {
        Jitter::Full
    };
    Policy {
        max_attempts: if strategy == Strategy::None { 1 } else { 3 },
        backoff: Backoff {
            initial_ms: 100,
            max_ms: 1_000,
            multiplier: 2.0,
            jitter,
        },
    }
}

/// Runs the model for `strategy` with `seed`.
#[must_use]
pub fn run(strategy: Strategy, seed: u64) -> Report {
    let mut rng = Rng::seed_from_u64(seed);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client {
            budget: matches!(strategy, Strategy::Budget | Strategy::Breaker)
                .then(|| Budget::grpc(10, 0.1).expect("a valid budget")),
            breaker: (strategy == Strategy::Breaker).then(|| {
                CircuitBreaker::new(BreakerConfig {
                    window: Window::Count(20),
                    minimum_calls: 5,
                    permitted_calls_in_half_open: 3,
                    open_wait: OpenWait::Fixed(1_000),
                    ..BreakerConfig::default()
                })
                .expect("a valid breaker")
            }),
            calls: Vec::new(),
        })
        .collect();
    let mut seconds = vec![Second::default(); (DURATION_MS / 1_000) as usize];
    let p_call = CALLS_PER_CLIENT_PER_S * STEP_MS as f64 / 1_000.0;
    let mut sends: Vec<(usize, usize, Option<Permit>)> = Vec::new();
    let mut next_call_seed = 0u64;
    for step in 0..DURATION_MS / STEP_MS {
        let now = step * STEP_MS;
        let second = &mut seconds[(now / 1_000) as usize];
        // New calls.
        for client in &mut clients {
            if rng.chance(p_call) {
                second.original += 1;
                next_call_seed += 1;
                client.calls.push(Call {
                    retry: Retry::new(policy(strategy), seed ^ next_call_seed)
                        .expect("a valid policy"),
                    due: now,
                });
            }
        }
        // Attempts due now, through each client's breaker.
        sends.clear();
        for (c, client) in clients.iter_mut().enumerate() {
            let mut i = 0;
            while i < client.calls.len() {
                if client.calls[i].due > now {
                    i += 1;
                    continue;
                }
                let permit = match client.breaker.as_mut() {
                    Some(b) => match b.try_acquire(Instant::from_millis(now)) {
                        Ok(p) => Some(p),
                        Err(_) => {
                            // Failed fast, not sent: the call fails.
                            second.shed += 1;
                            client.calls.swap_remove(i);
                            continue;
                        }
                    },
                    None => None,
                };
                sends.push((c, i, permit));
                i += 1;
            }
        }
        second.offered += sends.len() as u64;
        let capacity = CAPACITY_PER_S * STEP_MS as f64 / 1_000.0
            * if (OUTAGE_MS.0..OUTAGE_MS.1).contains(&now) {
                OUTAGE_CAPACITY
            } else {
                1.0
            };
        // Overload costs more than the excess: every attempt takes its share
        // of the server's time whether it succeeds or not, so goodput falls
        // as the offered load grows past capacity (capacity² / offered).
        let share = (capacity / sends.len().max(1) as f64).min(1.0);
        let p_ok = share * share;
        // Answers, in reverse so that removing a call keeps the indexes of
        // the earlier ones.
        for (c, i, permit) in sends.drain(..).rev() {
            let client = &mut clients[c];
            let ok = rng.chance(p_ok);
            if let (Some(b), Some(p)) = (client.breaker.as_mut(), permit) {
                let outcome = if ok {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
                // A permit this breaker issued, reported once.
                let _ = b.on_result(Instant::from_millis(now + 5), p, outcome);
            }
            let call = &mut client.calls[i];
            if ok {
                call.retry.on_success(client.budget.as_mut());
                second.succeeded += 1;
                client.calls.swap_remove(i);
                continue;
            }
            match call.retry.on_failure(
                FailureKind::Transient,
                Pushback::None,
                client.budget.as_mut(),
            ) {
                Decision::RetryAfter(ms) => call.due = now + ms.max(STEP_MS),
                Decision::GiveUp(_) => {
                    client.calls.swap_remove(i);
                }
            }
        }
    }
    Report { strategy, seconds }
}

/// The table of every policy, as Markdown.
#[must_use]
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| policy | amplification in the outage | peak (1 s) | calls that succeeded in the outage | recovery after it |\n|---|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let recovery = r
            .recovery_s()
            .map_or_else(|| "never".to_owned(), |s| format!("{s} s"));
        let _ = writeln!(
            out,
            "| {} | {:.2}× | {:.2}× | {:.1}% | {} |",
            r.strategy.name(),
            r.outage_amplification(),
            r.peak_amplification(),
            r.outage_success() * 100.0,
            recovery
        );
    }
    out
}

/// A plot of the offered load per second of every policy, as SVG.
#[must_use]
pub fn plot(reports: &[Report]) -> String {
    let (w, h, left, bottom) = (720.0, 300.0, 50.0, 30.0);
    let max = reports
        .iter()
        .flat_map(|r| r.seconds.iter().map(|s| s.offered))
        .max()
        .unwrap_or(1) as f64;
    let n = DURATION_MS / 1_000;
    let x = |s: f64| left + s * (w - left - 10.0) / n as f64;
    let y = |v: f64| h - bottom - v * (h - bottom - 10.0) / max;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    // The outage.
    let _ = writeln!(
        svg,
        "<rect x=\"{:.1}\" y=\"10\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f3e0e0\"/><text x=\"{:.1}\" y=\"22\">outage: capacity halved</text>",
        x(OUTAGE_MS.0 as f64 / 1_000.0),
        x(OUTAGE_MS.1 as f64 / 1_000.0) - x(OUTAGE_MS.0 as f64 / 1_000.0),
        h - bottom - 10.0,
        x(OUTAGE_MS.0 as f64 / 1_000.0) + 4.0
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{0}\" stroke=\"black\"/>",
        h - bottom,
        w - 10.0
    );
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\">time, s (0–{n})</text><text x=\"4\" y=\"14\">attempts/s (max {max})</text>",
        w / 2.0 - 40.0,
        h - 8.0
    );
    let colors = ["#888888", "#d62728", "#1f77b4", "#2ca02c"];
    for (k, r) in reports.iter().enumerate() {
        let points: Vec<String> = r
            .seconds
            .iter()
            .enumerate()
            .map(|(s, sec)| format!("{:.1},{:.1}", x(s as f64 + 0.5), y(sec.offered as f64)))
            .collect();
        let color = colors[k % colors.len()];
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            points.join(" "),
            w - 120.0,
            40.0 + 14.0 * k as f64,
            r.strategy.name()
        );
    }
    svg.push_str("</svg>\n");
    svg
}
