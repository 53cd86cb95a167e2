//! Evaluating a check's expectations on an answer: status, JSON paths, contains / not
//! contains, regex, non-empty, server-sent events (single answer, chunks), latency, baseline.

use serde_json::Value;
use serde_json_path::JsonPath;

use super::checks::{Baseline, Expect, PathExpect, Sse};
use super::sse::{self, Event};
use crate::artifact::{ExpectationResult, SseSummary, Timings};

/// The answer an expectation looks at.
#[derive(Debug)]
pub struct Answer<'a> {
    /// The status.
    pub status: u16,
    /// The body as read (at most the cap; lossy UTF-8).
    pub body: &'a str,
    /// True when the body is an event stream.
    pub event_stream: bool,
    /// Timings.
    pub timings: Timings,
    /// True when the body hit the cap.
    pub truncated: bool,
    /// The cap, bytes.
    pub cap: u64,
}

fn result(kind: &str, expected: String, actual: String, passed: bool) -> ExpectationResult {
    ExpectationResult {
        kind: kind.into(),
        expected,
        actual,
        passed,
        diff: None,
    }
}

/// The assembled answer of an event stream: each non-final event's chunk (its data, or the
/// `data-json-path` string of its JSON data) concatenated; returns (answer, summary counts).
pub fn assemble(events: &[Event], sse: Option<&Sse>) -> (String, SseSummary) {
    let (final_event, final_data) = match sse {
        Some(s) => (s.final_event.as_str(), s.final_data.as_str()),
        None => ("done", "[DONE]"),
    };
    let mut answer = String::new();
    let mut summary = SseSummary {
        events: u32::try_from(events.len()).unwrap_or(u32::MAX),
        ..SseSummary::default()
    };
    for e in events {
        if e.event == final_event || e.data == final_data {
            summary.final_events += 1;
            continue;
        }
        let chunk = match sse.and_then(|s| s.data_json_path.as_ref()) {
            Some(p) => match serde_json::from_str::<Value>(&e.data) {
                Ok(v) => match p.query(&v).first() {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => continue,
                },
                Err(_) => e.data.clone(),
            },
            None => e.data.clone(),
        };
        summary.chunks += 1;
        answer.push_str(&chunk);
    }
    summary.answer_bytes = answer.len() as u64;
    (answer, summary)
}

/// The smallest `k >= 2` such that `text` is one non-empty string repeated `k` times (after
/// trimming whitespace), e.g. the same answer streamed twice.
fn repetitions(text: &str) -> Option<(usize, &str)> {
    let t = text.trim();
    let n = t.len();
    if n == 0 {
        return None;
    }
    for k in (2..=n.min(8)).rev() {
        if n % k != 0 || !t.is_char_boundary(n / k) {
            continue;
        }
        let unit = &t[..n / k];
        if unit.trim().is_empty() {
            continue;
        }
        if unit.repeat(k) == t {
            return Some((k, unit));
        }
    }
    None
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Evaluates every expectation of `e` on `a`; `excerpt` caps and redacts what is quoted.
/// Returns the results and the event-stream summary (for `text/event-stream` answers).
pub fn evaluate(
    e: &Expect,
    a: &Answer<'_>,
    excerpt: &dyn Fn(&str) -> String,
) -> (Vec<ExpectationResult>, Option<SseSummary>) {
    let mut out = Vec::new();
    if a.truncated {
        out.push(result(
            "body-size",
            format!("<= {} bytes", a.cap),
            format!("more than {} bytes; reading stopped at the cap", a.cap),
            false,
        ));
    }
    match e.status {
        Some(s) => out.push(result(
            "status",
            s.to_string(),
            a.status.to_string(),
            a.status == s,
        )),
        None => out.push(result(
            "status",
            "2xx".into(),
            a.status.to_string(),
            (200..300).contains(&a.status),
        )),
    }
    let mut summary = None;
    let events;
    let assembled;
    let text: &str = if a.event_stream || e.sse.is_some() {
        events = sse::parse(a.body);
        let (answer, s) = assemble(&events, e.sse.as_ref());
        if let Some(sse) = &e.sse {
            if !a.event_stream {
                out.push(result(
                    "event-stream",
                    "content-type text/event-stream".into(),
                    "another content type".into(),
                    false,
                ));
            }
            if sse.single_answer {
                let rep = repetitions(&answer);
                let mut ids: Vec<&str> = events
                    .iter()
                    .filter(|ev| !ev.id.is_empty())
                    .map(|ev| ev.id.as_str())
                    .collect();
                let with_id = ids.len();
                ids.sort_unstable();
                ids.dedup();
                let dup_ids = with_id - ids.len();
                let passed = s.final_events <= 1 && rep.is_none() && dup_ids == 0;
                let mut actual = format!("{} final event(s)", s.final_events);
                if let Some((k, unit)) = rep {
                    actual.push_str(&format!(
                        "; the answer is the same text {k} times: {}",
                        excerpt(unit)
                    ));
                }
                if dup_ids > 0 {
                    actual.push_str(&format!("; {dup_ids} event id(s) repeated"));
                }
                out.push(result(
                    "single-answer",
                    "the answer and its final event arrive once".into(),
                    actual,
                    passed,
                ));
            }
            if let Some(min) = sse.min_chunks {
                out.push(result(
                    "min-chunks",
                    format!(">= {min}"),
                    s.chunks.to_string(),
                    s.chunks >= min,
                ));
            }
        }
        summary = Some(SseSummary {
            answer: excerpt(&answer),
            ..s
        });
        assembled = answer;
        &assembled
    } else {
        a.body
    };
    if !e.json_path.is_empty() {
        let parsed = serde_json::from_str::<Value>(text);
        for (path_text, path, exp) in &e.json_path {
            let (expected, actual, passed) = match &parsed {
                Err(err) => (describe(exp), format!("the body is not JSON: {err}"), false),
                Ok(v) => {
                    let nodes = path.query(v).all();
                    let first = nodes.first().copied();
                    let shown = first.map(render).unwrap_or_else(|| "(no node)".into());
                    let passed = match exp {
                        PathExpect::Equals(want) => first == Some(want),
                        PathExpect::Contains(want) => {
                            first.is_some_and(|n| render(n).contains(want.as_str()))
                        }
                        PathExpect::Exists(want) => nodes.is_empty() != *want,
                    };
                    (describe(exp), excerpt(&shown), passed)
                }
            };
            out.push(result(
                "json-path",
                format!("{path_text} {expected}"),
                actual,
                passed,
            ));
        }
    }
    for c in &e.contains {
        out.push(result(
            "body-contains",
            c.clone(),
            excerpt(text),
            text.contains(c.as_str()),
        ));
    }
    for c in &e.not_contains {
        let found = text.find(c.as_str());
        let actual = match found {
            Some(i) => excerpt(&text[floor(text, i.saturating_sub(80))..]),
            None => "not found".into(),
        };
        out.push(result(
            "body-not-contains",
            c.clone(),
            actual,
            found.is_none(),
        ));
    }
    if let Some(re) = &e.regex {
        let m = re.find(text);
        out.push(result(
            "regex",
            re.as_str().to_string(),
            match m {
                Some(m) => excerpt(m.as_str()),
                None => excerpt(text),
            },
            m.is_some(),
        ));
    }
    if e.non_empty {
        out.push(result(
            "non-empty",
            "a non-empty answer".into(),
            format!("{} bytes: {}", text.len(), excerpt(text)),
            !text.trim().is_empty(),
        ));
    }
    if let Some(ms) = e.first_byte_ms {
        out.push(result(
            "first-byte-ms",
            format!("<= {ms}"),
            a.timings.first_byte_ms.to_string(),
            a.timings.first_byte_ms <= ms,
        ));
    }
    if let Some(ms) = e.total_ms {
        out.push(result(
            "total-ms",
            format!("<= {ms}"),
            a.timings.total_ms.to_string(),
            a.timings.total_ms <= ms,
        ));
    }
    if let Some(b) = &e.baseline {
        out.push(baseline(b, text, excerpt));
    }
    (out, summary)
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn describe(e: &PathExpect) -> String {
    match e {
        PathExpect::Equals(v) => format!("equals {v}"),
        PathExpect::Contains(s) => format!("contains {s:?}"),
        PathExpect::Exists(true) => "exists".into(),
        PathExpect::Exists(false) => "does not exist".into(),
    }
}

/// Removes the nodes `paths` select from `v` (object members and array elements).
fn drop_paths(v: &mut Value, paths: &[JsonPath]) {
    for p in paths {
        let locations: Vec<String> = p
            .query_located(v)
            .locations()
            .map(|l| l.to_json_pointer())
            .collect();
        // Deepest and last first, so removing one never shifts another's index.
        for ptr in locations.iter().rev() {
            let Some((parent, key)) = ptr.rsplit_once('/') else {
                continue;
            };
            let key = key.replace("~1", "/").replace("~0", "~");
            match v.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The comparable form of a response: JSON pretty-printed after dropping volatile paths,
/// else the text; then volatile regex spans replaced by `<ignored>`; CRLF normalised.
pub fn normalise(text: &str, b: &Baseline) -> String {
    let mut t = match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            drop_paths(&mut v, &b.ignore_json_paths);
            serde_json::to_string_pretty(&v).unwrap_or_default()
        }
        Err(_) => text.replace("\r\n", "\n"),
    };
    for re in &b.ignore_regex {
        t = re.replace_all(&t, "<ignored>").into_owned();
    }
    if !t.ends_with('\n') {
        t.push('\n');
    }
    t
}

fn baseline(b: &Baseline, text: &str, excerpt: &dyn Fn(&str) -> String) -> ExpectationResult {
    let approved = normalise(&b.approved, b);
    let actual = normalise(text, b);
    let passed = approved == actual;
    let diff = (!passed).then(|| {
        let d = similar::TextDiff::configure()
            .timeout(std::time::Duration::from_secs(2))
            .diff_lines(&approved, &actual);
        let u = d
            .unified_diff()
            .context_radius(3)
            .header(&format!("{} (approved)", b.file), "actual")
            .to_string();
        excerpt(&u)
    });
    ExpectationResult {
        kind: "baseline".into(),
        expected: b.file.clone(),
        actual: if passed {
            "same as the approved response".into()
        } else {
            "differs from the approved response (see diff)".into()
        },
        passed,
        diff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_answers_are_found() {
        assert_eq!(
            repetitions("Hello world.Hello world."),
            Some((2, "Hello world."))
        );
        assert_eq!(repetitions("abcabcabc").map(|r| r.0), Some(3));
        assert_eq!(repetitions("Hello world."), None);
        assert_eq!(repetitions(""), None);
    }

    #[test]
    fn baseline_drops_volatile_paths_and_spans() {
        let b = Baseline {
            file: "b.json".into(),
            approved: r#"{"id":"a1","at":"2020-01-01T00:00:00Z","price":"26.000.000 IDR","items":[{"id":1,"n":"x"}]}"#.into(),
            ignore_json_paths: vec![
                JsonPath::parse("$.id").expect("path"),
                JsonPath::parse("$.items[*].id").expect("path"),
            ],
            ignore_regex: vec![regex::Regex::new(r"\d{4}-\d\d-\d\dT[0-9:]+Z").expect("re")],
        };
        let same = r#"{"id":"zz","at":"2026-12-07T10:00:00Z","price":"26.000.000 IDR","items":[{"id":9,"n":"x"}]}"#;
        assert_eq!(normalise(same, &b), normalise(&b.approved, &b));
        let r = baseline(
            &b,
            r#"{"id":"q","at":"2026-12-07T10:00:00Z","price":null,"items":[{"id":9,"n":"x"}]}"#,
            &|s| s.to_string(),
        );
        assert!(!r.passed);
        let diff = r.diff.expect("diff");
        assert!(diff.contains("-  \"price\": \"26.000.000 IDR\""), "{diff}");
        assert!(diff.contains("+  \"price\": null"), "{diff}");
    }
}
