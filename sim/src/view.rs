//! The trace viewer: one self-contained HTML page (inline script and
//! style, no network) that replays a run: play, pause and step through
//! time, a time slider, filters by node, message kind and event kind,
//! the whole of a message or event on a click, and the invariant violation
//! marked where it happened. `consensio view TRACE.jsonl` writes it from a
//! trace file; `consensio run` and `check` write it with `--html`.
//!
//! The page reads a few settings from its URL's fragment, so that a link
//! (or a test) can open it in a given state: `t=MS` (the moment shown;
//! the end by default), `hide=KIND,...` (message kinds hidden),
//! `hide-nodes=1,2`, `hide-events=KIND,...`, and `heartbeats` (show the
//! routine traffic, hidden by default).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::trace::TraceEvent;

/// The page's template; `/*DATA*/null` is replaced by the run.
const TEMPLATE: &str = include_str!("view.html");

/// The page for `events` of a run titled `title`.
#[must_use]
pub fn render_html(title: &str, events: &[TraceEvent]) -> String {
    let values: Vec<Value> = events
        .iter()
        .filter_map(|e| serde_json::to_value(e).ok())
        .collect();
    page(title, &values)
}

/// The page for a JSON-lines trace (`consensio run --trace`).
///
/// # Errors
/// A line that is not a JSON object, with its number.
pub fn render_jsonl(title: &str, text: &str) -> Result<String, String> {
    let mut values = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        if !value.is_object() {
            return Err(format!("line {}: not a trace event", n + 1));
        }
        values.push(value);
    }
    Ok(page(title, &values))
}

fn page(title: &str, events: &[Value]) -> String {
    let number = |e: &Value, key: &str| e.get(key).and_then(Value::as_u64);
    let members: BTreeSet<u64> = events
        .iter()
        .flat_map(|e| [number(e, "node"), number(e, "to"), number(e, "from")])
        .flatten()
        .filter(|&n| n > 0)
        .collect();
    let violation = events
        .iter()
        .find(|e| e.get("kind").and_then(Value::as_str) == Some("violation"))
        .cloned();
    let data = serde_json::json!({
        "schema": crate::trace::TRACE_SCHEMA_VERSION,
        "title": title,
        "members": members,
        "events": events,
        "violation": violation,
    });
    // Inside a script element, "</" could end it: escape the slash.
    let json = data.to_string().replace("</", "<\\/");
    TEMPLATE.replacen("/*DATA*/null", &json, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceKind;

    #[test]
    fn the_page_holds_the_run_and_nothing_from_the_network() {
        let events = vec![
            TraceEvent {
                time_ms: 3,
                node: 2,
                kind: TraceKind::Event {
                    what: "</script><b>".into(),
                    routine: false,
                },
            },
            TraceEvent {
                time_ms: 9,
                node: 0,
                kind: TraceKind::Violation {
                    checker: "c".into(),
                    message: "two leaders".into(),
                },
            },
        ];
        let html = render_html("run", &events);
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("two leaders"));
        assert!(!html.contains("/*DATA*/"));
        assert!(
            !html.contains("</script><b>"),
            "a label cannot end the script"
        );
        assert!(html.contains(r#""members":[2]"#));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        assert!(!html.contains("<script src") && !html.contains("<link"));
        let lines: String = events.iter().map(|e| e.to_json() + "\n").collect();
        assert_eq!(render_jsonl("run", &lines).unwrap(), html);
        assert!(
            render_jsonl("run", "{\"time_ms\":1}\nnot json\n")
                .unwrap_err()
                .starts_with("line 2")
        );
    }
}
