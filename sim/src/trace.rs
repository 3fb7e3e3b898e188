//! Traces of a run: JSON lines for tools, and an SVG space-time diagram for
//! people (a lane per node, time flowing down, arrows for messages).

use std::fmt::Write as _;

use consensio::NodeId;
use serde::Serialize;

/// One thing that happened in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceEvent {
    /// Simulated time, ms.
    pub time_ms: u64,
    /// The node it happened at (the sender, for sends and drops).
    pub node: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: TraceKind,
}

/// The kinds of trace events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceKind {
    /// A message left `node` for `to`.
    Send {
        /// Destination.
        to: u64,
        /// Message number (unique in the run).
        msg: u64,
        /// Its kind (`AppendEntries`).
        message: String,
        /// One line in the protocol's words.
        summary: String,
        /// Heartbeat traffic, which a diagram folds.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        routine: bool,
        /// Encoded size.
        bytes: usize,
        /// When it arrives, if it does (first copy).
        arrives_ms: Option<u64>,
        /// Why it will not arrive, if it does not.
        dropped: Option<&'static str>,
    },
    /// A message from `from` was delivered to `node`.
    Deliver {
        /// Sender.
        from: u64,
        /// Message number.
        msg: u64,
        /// Its kind, as sent.
        message: String,
        /// Its summary, as sent.
        summary: String,
        /// When it was sent.
        sent_ms: u64,
    },
    /// A message arrived at a crashed node and was lost.
    DeliverToCrashed {
        /// Sender.
        from: u64,
        /// Message number.
        msg: u64,
    },
    /// A protocol event at `node`.
    Event {
        /// Its description.
        what: String,
        /// Too frequent to label in a diagram (drawn as a dot).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        routine: bool,
    },
    /// A client command given to `node`.
    Command {
        /// Its description.
        what: String,
        /// Whether the node accepted it.
        accepted: bool,
    },
    /// `node` made a record durable.
    Persist,
    /// `node` crashed (volatile state lost). The fields are there only for
    /// the crash modes that use them.
    Crash {
        /// A torn crash: how many of the input's outputs were acted on.
        #[serde(skip_serializing_if = "Option::is_none")]
        outputs_acted: Option<u64>,
        /// A torn crash: how many were never acted on.
        #[serde(skip_serializing_if = "Option::is_none")]
        outputs_dropped: Option<u64>,
        /// With unsynced writes lost at crashes: how many records were.
        #[serde(skip_serializing_if = "Option::is_none")]
        records_lost: Option<u64>,
    },
    /// `node` restarted from what it had persisted.
    Restart,
    /// `node`'s state changed (for protocols with roles).
    State {
        /// Its role, in the protocol's words.
        role: String,
        /// Its term, epoch or view.
        term: u64,
        /// Its commit index, where the protocol has one.
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<u64>,
    },
    /// The network was partitioned.
    Partition {
        /// A description of the cut.
        what: String,
    },
    /// Every link was restored.
    Heal,
    /// An invariant was violated here (the run stops).
    Violation {
        /// The checker's name.
        checker: String,
        /// What was violated.
        message: String,
    },
}

/// The version of the JSON-lines trace format (`docs/sim.md`, "Traces"):
/// 2 added message kinds and summaries, node states and violations.
pub const TRACE_SCHEMA_VERSION: u32 = 2;

impl TraceEvent {
    /// The event as one line of JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// What a diagram covers: a stretch of the run, from the start and to
/// the end where unset (`--from-ms`, `--to-ms`), and whether heartbeat
/// traffic is drawn as the other messages are (`--heartbeats`) or folded
/// into faint lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// The first moment drawn.
    pub from_ms: Option<u64>,
    /// The last moment drawn.
    pub to_ms: Option<u64>,
    /// Draw heartbeats and their replies as full arrows.
    pub heartbeats: bool,
}

impl Window {
    /// The whole run, heartbeats folded.
    pub const ALL: Window = Window {
        from_ms: None,
        to_ms: None,
        heartbeats: false,
    };
}

/// Simulated time to height on the page: linear between the moments
/// something happened, except that a quiet stretch longer than `cap` ms
/// takes only as much room as `cap` ms would.
#[derive(Debug)]
struct Timeline {
    /// (time, y), in order.
    stops: Vec<(u64, f64)>,
    /// Quiet stretches drawn shorter than they were: (from, to) ms.
    quiet: Vec<(u64, u64)>,
}

impl Timeline {
    fn new(times: &[u64], (from, to): (u64, u64), top: f64, height: f64) -> Self {
        let mut moments: Vec<u64> = times
            .iter()
            .copied()
            .filter(|t| (from..=to).contains(t))
            .chain([from, to])
            .collect();
        moments.sort_unstable();
        moments.dedup();
        let cap = ((to - from) / 50).max(20);
        let mut quiet = Vec::new();
        let mut weight = vec![0.0];
        for pair in moments.windows(2) {
            let gap = pair[1] - pair[0];
            if gap > cap {
                quiet.push((pair[0], pair[1]));
            }
            let last = weight.last().copied().unwrap_or(0.0);
            weight.push(last + gap.min(cap) as f64);
        }
        let total = weight.last().copied().unwrap_or(0.0).max(1.0);
        let stops = moments
            .iter()
            .zip(&weight)
            .map(|(&t, &w)| (t, top + w / total * height))
            .collect();
        Timeline { stops, quiet }
    }

    /// The height of moment `t` (clamped to the window).
    fn y(&self, t: u64) -> f64 {
        let at = self.stops.partition_point(|&(s, _)| s <= t);
        match (
            at.checked_sub(1).and_then(|k| self.stops.get(k)),
            self.stops.get(at),
        ) {
            (Some(&(t0, y0)), Some(&(t1, y1))) => {
                y0 + (t - t0) as f64 / (t1 - t0).max(1) as f64 * (y1 - y0)
            }
            (Some(&(_, y0)), None) => y0,
            (None, Some(&(_, y1))) => y1,
            (None, None) => 0.0,
        }
    }
}

/// Renders `events` (for nodes `members`) as an SVG space-time diagram of
/// `window`.
///
/// Time flows downward; each node has a vertical lane, with its role (for
/// protocols that report one) as a coloured band. Delivered messages are
/// arrows from the sender's lane at the send time to the receiver's at the
/// delivery time, with the message's summary as their tooltip; lost ones
/// end in a cross halfway; routine traffic (heartbeats and their replies)
/// is a faint line. Crashes are red crosses, restarts green rings,
/// protocol events labelled dots, partitions shaded bands. Every message
/// sent in the window is drawn; a quiet stretch is drawn short, and
/// marked. Labels never overlap (see [`Labels`]).
#[must_use]
pub fn render_svg(
    title: &str,
    members: &[NodeId],
    events: &[TraceEvent],
    window: Window,
) -> String {
    const LANE: f64 = 140.0;
    const TOP: f64 = 90.0;
    const LEFT: f64 = 80.0;
    let last_ms = events.iter().map(|e| e.time_ms).max().unwrap_or(0).max(1);
    let from_ms = window.from_ms.unwrap_or(0).min(last_ms);
    let end_ms = window.to_ms.unwrap_or(last_ms).max(from_ms + 1);
    let inside = |t: u64| (from_ms..=end_ms).contains(&t);
    let shown = events.iter().filter(|e| inside(e.time_ms)).count();
    let height_px = 900.0_f64.max(shown.min(2_000) as f64 * 2.0);
    let times: Vec<u64> = events.iter().map(|e| e.time_ms).collect();
    let timeline = Timeline::new(&times, (from_ms, end_ms), TOP, height_px);
    let y = |t: u64| timeline.y(t);
    let lane = |n: u64| {
        let i = members.iter().position(|m| m.0 == n).unwrap_or(0);
        LEFT + i as f64 * LANE
    };
    let width = LEFT * 2.0 + (members.len().max(1) - 1) as f64 * LANE + 320.0;
    let total_height = TOP + height_px + 60.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{total_height:.0}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(
        svg,
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4a6fa5"/></marker></defs>"##
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let mut labels = Labels {
        taken: Vec::new(),
        floor: TOP + height_px + 16.0,
    };
    labels.put(
        &mut svg,
        (10.0, 20.0),
        title,
        Anchor::Start,
        14.0,
        "black",
        None,
        0,
    );
    draw_legend(&mut svg, &mut labels);

    // Time ticks, so that a reader can tell when things happened (a tick
    // whose label would cover another's, in a compressed stretch, is left
    // unlabelled), and the quiet stretches drawn short.
    let step_ms = tick_step(end_ms - from_ms);
    let mut t = from_ms.div_ceil(step_ms) * step_ms;
    while t <= end_ms {
        let _ = writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{width:.0}" y2="{:.1}" stroke="#eee"/>"##,
            LEFT - 20.0,
            y(t),
            y(t),
        );
        let tick = format!("{t} ms");
        labels.put(
            &mut svg,
            (4.0, y(t) + 4.0),
            &tick,
            Anchor::Start,
            11.0,
            "#888",
            None,
            1,
        );
        t += step_ms;
    }
    for &(a, b) in &timeline.quiet {
        let (ya, yb) = (y(a), y(b));
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{ya:.1}" width="5" height="{:.1}" fill="#ccc"><title>{} ms with nothing happening, drawn short</title></rect>"##,
            LEFT - 14.0,
            (yb - ya).max(1.0),
            b - a
        );
    }

    // Partition bands: from the first cut to the next heal (or the end);
    // cuts made while one is in force stack on the same band.
    let mut open: Option<u64> = None;
    let mut bands = Vec::new();
    for e in events {
        match &e.kind {
            TraceKind::Partition { .. } => {
                open.get_or_insert(e.time_ms);
            }
            TraceKind::Heal => {
                if let Some(start) = open.take() {
                    bands.push((start, e.time_ms));
                }
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        bands.push((start, end_ms));
    }
    for (start, stop) in &bands {
        let _ = writeln!(
            svg,
            r##"<rect x="0" y="{:.1}" width="{width:.0}" height="{:.1}" fill="#f6d6d6" opacity="0.5"/>"##,
            y(*start),
            (y(*stop) - y(*start)).max(1.0),
        );
    }
    let right = width - 215.0;
    for m in members {
        let name = format!("n{}", m.0);
        labels.put(
            &mut svg,
            (lane(m.0), TOP - 12.0),
            &name,
            Anchor::Middle,
            13.0,
            "black",
            None,
            0,
        );
    }
    for e in events.iter().filter(|e| inside(e.time_ms)) {
        if let TraceKind::Partition { what } = &e.kind {
            let text = shorten(&format!("✂ {what}"), 32);
            let at = (right, y(e.time_ms) + 12.0);
            labels.put(
                &mut svg,
                at,
                &text,
                Anchor::Start,
                11.0,
                "#a33",
                Some(what),
                3,
            );
        } else if let TraceKind::Heal = e.kind {
            let at = (right, y(e.time_ms) + 4.0);
            labels.put(&mut svg, at, "healed", Anchor::Start, 11.0, "#393", None, 3);
        }
    }

    // Down time of each node: from a crash to its restart (or the end).
    let mut down: Vec<(u64, u64, u64)> = Vec::new();
    let mut crashed_at: Vec<(u64, u64)> = Vec::new();
    for e in events {
        match e.kind {
            TraceKind::Crash { .. } => crashed_at.push((e.node, e.time_ms)),
            TraceKind::Restart => {
                if let Some(i) = crashed_at.iter().position(|c| c.0 == e.node) {
                    let (node, start) = crashed_at.swap_remove(i);
                    down.push((node, start, e.time_ms));
                }
            }
            _ => {}
        }
    }
    down.extend(
        crashed_at
            .into_iter()
            .map(|(node, start)| (node, start, end_ms)),
    );
    for (node, start, stop) in down {
        let x = lane(node);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e99" stroke-width="6" opacity="0.6"/>"##,
            y(start),
            y(stop)
        );
    }

    for m in members {
        let x = lane(m.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#999"/>"##,
            TOP + height_px,
        );
    }
    draw_roles(
        &mut svg,
        &mut labels,
        events,
        (from_ms, end_ms),
        (&lane, &y),
        right,
    );
    // Room for an event's label: up to the next lane (the last has the
    // margin).
    let room = |n: u64| {
        let last = members.last().is_some_and(|m| m.0 == n);
        let px = if last { 300.0 } else { LANE - 12.0 };
        (px / (11.0 * 0.6)) as usize
    };

    let (mut drawn, mut faint) = (0usize, 0usize);
    for e in events.iter().filter(|e| inside(e.time_ms)) {
        let x = lane(e.node);
        let yy = y(e.time_ms);
        match &e.kind {
            TraceKind::Send {
                to,
                arrives_ms,
                dropped,
                summary,
                routine,
                ..
            } => {
                let x2 = lane(*to);
                if *routine && !window.heartbeats {
                    // Heartbeat traffic: a faint line.
                    faint += 1;
                    if let Some(at) = arrives_ms {
                        let _ = writeln!(
                            svg,
                            r##"<line x1="{x:.1}" y1="{yy:.1}" x2="{x2:.1}" y2="{:.1}" stroke="#c8d3e3" stroke-width="0.5"><title>{}</title></line>"##,
                            y(*at),
                            escape(summary)
                        );
                    }
                    continue;
                }
                drawn += 1;
                match (arrives_ms, dropped) {
                    (Some(at), _) => {
                        let _ = writeln!(
                            svg,
                            r##"<line x1="{x:.1}" y1="{yy:.1}" x2="{x2:.1}" y2="{:.1}" stroke="#4a6fa5" stroke-width="0.8" marker-end="url(#arrow)"><title>{}</title></line>"##,
                            y(*at),
                            escape(summary)
                        );
                    }
                    (None, reason) => {
                        let (mx, my) = ((x + x2) / 2.0, yy + 6.0);
                        let _ = writeln!(
                            svg,
                            r##"<line x1="{x:.1}" y1="{yy:.1}" x2="{mx:.1}" y2="{my:.1}" stroke="#c66" stroke-width="0.8" stroke-dasharray="3,2"/><path d="M {:.1} {:.1} l 6 6 m 0 -6 l -6 6" stroke="#c33"><title>{} ({})</title></path>"##,
                            mx - 3.0,
                            my - 3.0,
                            escape(summary),
                            reason.unwrap_or("dropped")
                        );
                    }
                }
            }
            TraceKind::Crash {
                outputs_dropped,
                records_lost,
                ..
            } => {
                let mut label = String::from(if outputs_dropped.is_some() {
                    "torn crash"
                } else {
                    "crash"
                });
                if let Some(lost) = records_lost.filter(|&n| n > 0) {
                    let _ = write!(label, ", {lost} records lost");
                }
                let _ = writeln!(
                    svg,
                    r##"<path d="M {:.1} {:.1} l 10 10 m 0 -10 l -10 10" stroke="#d00" stroke-width="2.5"><title>n{} {label} at {} ms</title></path>"##,
                    x - 5.0,
                    yy - 5.0,
                    e.node,
                    e.time_ms
                );
                labels.put(
                    &mut svg,
                    (x + 10.0, yy + 4.0),
                    &label,
                    Anchor::Start,
                    11.0,
                    "#d00",
                    None,
                    3,
                );
            }
            TraceKind::Restart => {
                let _ = writeln!(
                    svg,
                    r##"<circle cx="{x:.1}" cy="{yy:.1}" r="6" fill="none" stroke="#090" stroke-width="2"><title>n{} restarted at {} ms</title></circle>"##,
                    e.node, e.time_ms
                );
                labels.put(
                    &mut svg,
                    (x + 10.0, yy + 4.0),
                    "restart",
                    Anchor::Start,
                    11.0,
                    "#090",
                    None,
                    3,
                );
            }
            TraceKind::Event { routine: true, .. } => {
                let _ = writeln!(
                    svg,
                    r##"<circle cx="{x:.1}" cy="{yy:.1}" r="2" fill="#e08a00"/>"##
                );
            }
            TraceKind::Event { what, .. } => {
                let _ = writeln!(
                    svg,
                    r##"<circle cx="{x:.1}" cy="{yy:.1}" r="4" fill="#e08a00"><title>n{} {} at {} ms</title></circle>"##,
                    e.node,
                    escape(what),
                    e.time_ms
                );
                let text = shorten(what, room(e.node));
                let full = (text != *what).then_some(what.as_str());
                labels.put(
                    &mut svg,
                    (x + 8.0, yy + 4.0),
                    &text,
                    Anchor::Start,
                    11.0,
                    "#8a5200",
                    full,
                    3,
                );
            }
            TraceKind::Command { what, .. } => {
                let _ = writeln!(
                    svg,
                    r##"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="#6a3d9a"/><title>{}</title>"##,
                    x - 4.0,
                    yy - 4.0,
                    escape(what)
                );
            }
            _ => {}
        }
    }
    let compressed = if timeline.quiet.is_empty() {
        ""
    } else {
        " (grey bars at the left: quiet stretches drawn short)"
    };
    let caption =
        format!("{drawn} messages and {faint} heartbeats, time {from_ms}–{end_ms} ms{compressed}");
    let at = (10.0, TOP + height_px + 30.0);
    labels.put(
        &mut svg,
        at,
        &caption,
        Anchor::Start,
        11.0,
        "black",
        None,
        0,
    );
    svg.push_str("</svg>\n");
    svg
}

/// What the marks mean, in three rows under the title.
fn draw_legend(svg: &mut String, labels: &mut Labels) {
    let marks: [(&str, &str); 7] = [
        (
            "message",
            r##"<line x1="0" y1="-4" x2="18" y2="-4" stroke="#4a6fa5" marker-end="url(#arrow)"/>"##,
        ),
        (
            "heartbeat",
            r##"<line x1="0" y1="-4" x2="18" y2="-4" stroke="#c8d3e3"/>"##,
        ),
        (
            "lost",
            r##"<line x1="0" y1="-4" x2="10" y2="-4" stroke="#c66" stroke-dasharray="3,2"/><path d="M 11 -7 l 6 6 m 0 -6 l -6 6" stroke="#c33"/>"##,
        ),
        (
            "event",
            r##"<circle cx="9" cy="-4" r="4" fill="#e08a00"/>"##,
        ),
        (
            "crash",
            r##"<path d="M 4 -9 l 10 10 m 0 -10 l -10 10" stroke="#d00" stroke-width="2.5"/>"##,
        ),
        (
            "restart",
            r##"<circle cx="9" cy="-4" r="5" fill="none" stroke="#090" stroke-width="2"/>"##,
        ),
        (
            "partition",
            r##"<rect x="0" y="-9" width="18" height="10" fill="#f6d6d6"/>"##,
        ),
    ];
    for (k, (name, mark)) in marks.iter().enumerate() {
        let x = 10.0 + (k % 3) as f64 * 120.0;
        let y = 36.0 + (k / 3) as f64 * 13.0;
        let _ = writeln!(svg, r#"<g transform="translate({x:.1},{y:.1})">{mark}</g>"#);
        labels.put(
            svg,
            (x + 24.0, y),
            name,
            Anchor::Start,
            11.0,
            "#444",
            None,
            0,
        );
    }
}

/// The colour of a role's band: leaders green, nodes between leaders
/// (candidates, electing) amber, followers pale blue.
fn role_colour(role: &str) -> &'static str {
    match role {
        "leader" => "#3a9d5d",
        "follower" => "#c9d6e8",
        _ => "#f0b040",
    }
}

/// Each node's role over time as a band along its lane (from each
/// reported change to the next, a crash or the end), the term or epoch
/// in its tooltip, a label at the left of the lane where a node starts to
/// lead, and a legend of the roles drawn.
fn draw_roles(
    svg: &mut String,
    labels: &mut Labels,
    events: &[TraceEvent],
    (from_ms, end_ms): (u64, u64),
    (lane, y): (&dyn Fn(u64) -> f64, &dyn Fn(u64) -> f64),
    right: f64,
) {
    // The segment in progress per node: (node, since, role, term).
    let mut open: Vec<(u64, u64, &str, u64)> = Vec::new();
    // Finished ones: (node, since, until, role, term).
    let mut segments: Vec<(u64, u64, u64, &str, u64)> = Vec::new();
    for e in events {
        let ends = matches!(e.kind, TraceKind::State { .. } | TraceKind::Crash { .. });
        if ends && let Some(k) = open.iter().position(|s| s.0 == e.node) {
            let (node, since, role, term) = open.swap_remove(k);
            segments.push((node, since, e.time_ms, role, term));
        }
        if let TraceKind::State { role, term, .. } = &e.kind {
            open.push((e.node, e.time_ms, role.as_str(), *term));
        }
    }
    for (node, since, role, term) in open {
        segments.push((node, since, end_ms, role, term));
    }
    // Only what the window shows, cut to it.
    segments.retain(|s| s.2 >= from_ms && s.1 <= end_ms);
    for s in &mut segments {
        s.1 = s.1.max(from_ms);
        s.2 = s.2.min(end_ms);
    }
    if segments.is_empty() {
        return;
    }
    let mut roles: Vec<&str> = Vec::new();
    for &(_, _, _, role, _) in &segments {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    for (k, role) in roles.iter().enumerate() {
        let lx = right + (k % 2) as f64 * 100.0;
        let ly = 36.0 + (k / 2) as f64 * 13.0;
        let _ = writeln!(
            svg,
            r##"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/>"##,
            ly - 9.0,
            role_colour(role),
        );
        labels.put(
            svg,
            (lx + 14.0, ly),
            role,
            Anchor::Start,
            11.0,
            "black",
            None,
            0,
        );
    }
    // A commit index that moves starts a new segment of the same role;
    // a leader is labelled once per term.
    let mut labelled: Vec<(u64, u64)> = Vec::new();
    segments.sort_by_key(|s| (s.1, s.0));
    for &(node, since, until, role, term) in &segments {
        let x = lane(node);
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="6" height="{:.1}" fill="{}" opacity="0.8"><title>n{node} {role}, term {term}, {since}–{until} ms</title></rect>"##,
            x - 3.0,
            y(since),
            (y(until) - y(since)).max(0.5),
            role_colour(role)
        );
        if role == "leader" && !labelled.contains(&(node, term)) {
            labelled.push((node, term));
            let text = format!("leader t{term}");
            let at = (x - 6.0, y(since) + 4.0);
            labels.put(svg, at, &text, Anchor::End, 10.0, "#2a7d45", None, 3);
        }
    }
}

/// Where a label's `x` is: its start, middle or end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    Start,
    Middle,
    End,
}

/// The labels of a diagram, placed so that no two overlap: a label that
/// would cover another moves down a line at a time, a few times, and is
/// left out (its mark keeps the full text as a tooltip) if it still would.
#[derive(Debug)]
struct Labels {
    /// Boxes taken: (left, top, right, bottom).
    taken: Vec<(f64, f64, f64, f64)>,
    /// No moved label goes below this baseline (the caption is under it).
    floor: f64,
}

impl Labels {
    /// The box of `text` at baseline `(x, y)` in a monospace font of
    /// `size` px (a character is 0.6 em wide; ascent 0.8 em, descent 0.2).
    fn bbox(x: f64, y: f64, text: &str, anchor: Anchor, size: f64) -> (f64, f64, f64, f64) {
        let w = text.chars().count() as f64 * size * 0.6;
        let left = match anchor {
            Anchor::Start => x,
            Anchor::Middle => x - w / 2.0,
            Anchor::End => x - w,
        };
        (left, y - size * 0.8, left + w, y + size * 0.2)
    }

    fn free(&self, b: (f64, f64, f64, f64)) -> bool {
        self.taken
            .iter()
            .all(|t| b.2 <= t.0 || t.2 <= b.0 || b.3 <= t.1 || t.3 <= b.1)
    }

    /// Writes `text` at `(x, y)` or up to `tries` lines below, whichever is
    /// free first (with `tries` 0, wherever it falls: for the labels placed
    /// first, which nothing can displace); `title` becomes its tooltip.
    /// Returns whether it was written.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        svg: &mut String,
        (x, y): (f64, f64),
        text: &str,
        anchor: Anchor,
        size: f64,
        fill: &str,
        title: Option<&str>,
        tries: u32,
    ) -> bool {
        let line = size + 2.0;
        let spot = (0..=tries).map(|k| y + f64::from(k) * line).find(|&yy| {
            tries == 0 || (yy <= self.floor && self.free(Self::bbox(x, yy, text, anchor, size)))
        });
        let Some(yy) = spot else {
            return false;
        };
        self.taken.push(Self::bbox(x, yy, text, anchor, size));
        let anchor = match anchor {
            Anchor::Start => "",
            Anchor::Middle => r#" text-anchor="middle""#,
            Anchor::End => r#" text-anchor="end""#,
        };
        let title = title.map_or(String::new(), |t| format!("<title>{}</title>", escape(t)));
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{yy:.1}" fill="{fill}" font-size="{size}"{anchor}>{}{title}</text>"#,
            escape(text)
        );
        true
    }
}

/// A round tick interval giving about ten ticks over `end_ms`.
fn tick_step(end_ms: u64) -> u64 {
    let raw = (end_ms / 10).max(1);
    let magnitude = 10u64.pow(raw.ilog10());
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(raw)
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_stretch_takes_the_room_of_a_short_one_and_a_window_draws_only_its_moments() {
        let line = Timeline::new(&[0, 10, 5_000, 5_010], (0, 5_010), 0.0, 120.0);
        // Gaps of 10, 4,990 (drawn as 100) and 10 ms share 120 px.
        assert!((line.y(10) - 10.0).abs() < 1e-9);
        assert!((line.y(5_000) - 110.0).abs() < 1e-9);
        assert!((line.y(5_010) - 120.0).abs() < 1e-9);
        assert_eq!(line.quiet, [(10, 5_000)]);
        assert!((line.y(99_999) - 120.0).abs() < 1e-9, "clamped");
        let event = |time_ms, what: &str| TraceEvent {
            time_ms,
            node: 1,
            kind: TraceKind::Event {
                what: what.into(),
                routine: false,
            },
        };
        let events = [
            event(100, "early"),
            event(2_000, "middle"),
            event(9_000, "late"),
        ];
        let window = Window {
            from_ms: Some(1_000),
            to_ms: Some(3_000),
            heartbeats: false,
        };
        let svg = render_svg("t", &[NodeId(1)], &events, window);
        assert!(svg.contains(">middle<") && !svg.contains(">early<") && !svg.contains(">late<"));
        assert!(svg.contains("time 1000–3000 ms"));
        let whole = render_svg("t", &[NodeId(1)], &events, Window::ALL);
        assert!(whole.contains(">early<") && whole.contains(">late<"));
        assert!(whole.contains("quiet stretches drawn short"));
    }

    #[test]
    fn a_label_that_would_cover_another_moves_down_or_is_left_out() {
        let mut labels = Labels {
            taken: Vec::new(),
            floor: 1_000.0,
        };
        let mut svg = String::new();
        let put = |labels: &mut Labels, svg: &mut String| {
            labels.put(
                svg,
                (10.0, 100.0),
                "Leader of term 3",
                Anchor::Start,
                11.0,
                "#000",
                None,
                2,
            )
        };
        assert!(put(&mut labels, &mut svg));
        assert!(put(&mut labels, &mut svg), "moved a line down");
        assert!(put(&mut labels, &mut svg), "and another");
        assert!(!put(&mut labels, &mut svg), "no room left within two lines");
        assert_eq!(svg.matches("<text").count(), 3);
        assert!(
            svg.contains(r#"y="100.0""#)
                && svg.contains(r#"y="113.0""#)
                && svg.contains(r#"y="126.0""#)
        );
        // Beside it, there is room.
        assert!(labels.put(
            &mut svg,
            (200.0, 100.0),
            "x",
            Anchor::Start,
            11.0,
            "#000",
            None,
            0
        ));
    }

    #[test]
    fn roles_are_bands_that_end_at_a_crash_with_a_legend_and_one_label_per_leader_term() {
        let state = |time_ms, node, role: &str, commit| TraceEvent {
            time_ms,
            node,
            kind: TraceKind::State {
                role: role.into(),
                term: 2,
                commit: Some(commit),
            },
        };
        let events = vec![
            state(0, 1, "follower", 0),
            state(10, 1, "leader", 0),
            state(20, 1, "leader", 1),
            TraceEvent {
                time_ms: 30,
                node: 1,
                kind: TraceKind::Crash {
                    outputs_acted: None,
                    outputs_dropped: None,
                    records_lost: None,
                },
            },
            state(40, 2, "candidate", 0),
        ];
        let svg = render_svg("t", &[NodeId(1), NodeId(2)], &events, Window::ALL);
        assert!(svg.contains("<title>n1 follower, term 2, 0–10 ms</title>"));
        assert!(svg.contains("<title>n1 leader, term 2, 10–20 ms</title>"));
        assert!(
            svg.contains("<title>n1 leader, term 2, 20–30 ms</title>"),
            "ends at the crash"
        );
        assert!(svg.contains("<title>n2 candidate, term 2, 40–40 ms</title>"));
        assert_eq!(svg.matches(">leader t2<").count(), 1);
        for role in ["follower", "leader", "candidate"] {
            assert!(svg.contains(&format!(">{role}</text>")), "legend: {role}");
        }
        assert_eq!(
            events[0].to_json(),
            r#"{"time_ms":0,"node":1,"kind":"state","role":"follower","term":2,"commit":0}"#
        );
    }

    #[test]
    fn svg_has_a_lane_per_node_and_an_arrow_per_message() {
        let members = [NodeId(1), NodeId(2)];
        let events = vec![
            TraceEvent {
                time_ms: 0,
                node: 1,
                kind: TraceKind::Send {
                    to: 2,
                    msg: 0,
                    message: "Ping".into(),
                    summary: "Ping <1>".into(),
                    routine: false,
                    bytes: 4,
                    arrives_ms: Some(5),
                    dropped: None,
                },
            },
            TraceEvent {
                time_ms: 6,
                node: 2,
                kind: TraceKind::Event {
                    routine: false,
                    what: "Elected <n2>".into(),
                },
            },
            TraceEvent {
                time_ms: 7,
                node: 1,
                kind: TraceKind::Crash {
                    outputs_acted: None,
                    outputs_dropped: None,
                    records_lost: None,
                },
            },
            TraceEvent {
                time_ms: 8,
                node: 2,
                kind: TraceKind::Crash {
                    outputs_acted: Some(1),
                    outputs_dropped: Some(2),
                    records_lost: Some(3),
                },
            },
        ];
        let svg = render_svg("t", &members, &events, Window::ALL);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // One arrow for the message, one in the legend.
        assert_eq!(svg.matches("marker-end").count(), 2);
        // Heartbeats are faint lines unless asked for.
        let mut beat = events[0].clone();
        if let TraceKind::Send { routine, .. } = &mut beat.kind {
            *routine = true;
        }
        let arrows = |heartbeats| {
            let window = Window {
                heartbeats,
                ..Window::ALL
            };
            render_svg("t", &members, std::slice::from_ref(&beat), window)
                .matches("marker-end")
                .count()
        };
        assert_eq!((arrows(false), arrows(true)), (1, 2));
        assert!(
            svg.contains(">message</text>") && svg.contains(">crash</text>"),
            "legend"
        );
        assert!(
            svg.contains("<title>Ping &lt;1&gt;</title>"),
            "the summary is the arrow's tooltip"
        );
        assert!(svg.contains(">n1<") && svg.contains(">n2<"));
        assert!(svg.contains("Elected &lt;n2&gt;"), "labels are escaped");
        assert!(svg.contains("crash"));
        let json = events[0].to_json();
        assert!(
            json.contains(r#""kind":"send""#)
                && json.contains(r#""to":2"#)
                && json.contains(r#""message":"Ping""#)
                && json.contains(r#""summary":"Ping <1>""#)
                && !json.contains("routine"),
            "{json}"
        );
        // A plain crash is what it always was; the crash modes add fields.
        assert_eq!(
            events[2].to_json(),
            r#"{"time_ms":7,"node":1,"kind":"crash"}"#
        );
        assert!(svg.contains("torn crash, 3 records lost"));
        assert_eq!(
            events[3].to_json(),
            r#"{"time_ms":8,"node":2,"kind":"crash","outputs_acted":1,"outputs_dropped":2,"records_lost":3}"#
        );
    }
}
