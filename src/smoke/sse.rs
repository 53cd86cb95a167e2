//! A server-sent events parser: the HTML living standard, §9.2.6 "Interpreting an event
//! stream" (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//!
//! Lines end with CRLF, LF or CR; a leading BOM is dropped; a line starting with `:` is a
//! comment; `field:value` (one space after the colon removed) or a bare `field`; `data` lines
//! are joined with `\n`; `event` sets the type (default `message`); `id` sets the last event id
//! (ignored when it contains NUL); `retry` takes ASCII digits only; other fields are ignored; a
//! blank line dispatches the event, unless its data buffer is empty; an incomplete event at
//! the end of the stream is discarded.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The type (`message` unless an `event` field set it).
    pub event: String,
    /// The data lines joined with `\n` (the final `\n` removed, as the standard says).
    pub data: String,
    /// The last event id when this event was dispatched.
    pub id: String,
    /// The last `retry` value seen, in ms.
    pub retry: Option<u64>,
}

/// Parses a whole event stream (already read, at most the body cap).
pub fn parse(text: &str) -> Vec<Event> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut events = Vec::new();
    let (mut data, mut event_type, mut last_id) = (String::new(), String::new(), String::new());
    let mut retry = None;
    // Split on CRLF, LF or CR; whether the last piece ended with a line break matters.
    let mut lines: Vec<(&str, bool)> = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' => {
                lines.push((&text[start..i], true));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            b'\n' => {
                lines.push((&text[start..i], true));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push((&text[start..], false));
    }
    for (line, terminated) in lines {
        if !terminated {
            // Not a complete line: the stream ended inside it; nothing to dispatch.
            break;
        }
        if line.is_empty() {
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            if data.ends_with('\n') {
                data.pop();
            }
            events.push(Event {
                event: if event_type.is_empty() {
                    "message".into()
                } else {
                    std::mem::take(&mut event_type)
                },
                data: std::mem::take(&mut data),
                id: last_id.clone(),
                retry,
            });
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event_type = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => last_id = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                retry = value.parse().ok();
            }
            _ => {}
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        // The standard's examples: multi-line data, ids, comments, a bare `data` field.
        let ev = parse(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n");
        assert_eq!(ev.len(), 2, "the third is not terminated by a blank line");
        assert_eq!(ev[0].data, "first event");
        assert_eq!(ev[0].id, "1");
        assert_eq!(ev[1].data, "second event");
        assert_eq!(ev[1].id, "");
        let ev = parse("data\n\ndata\ndata\n\ndata:\n");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "");
        assert_eq!(ev[1].data, "\n");
        let ev = parse("data:test\n\ndata: test\n\n");
        assert_eq!(ev[0].data, ev[1].data);
    }

    #[test]
    fn line_endings_types_and_retry() {
        let ev = parse("\u{feff}event: delta\r\ndata: a\r\ndata: b\r\n\r\nretry: 500\rdata: c\r\revent: done\ndata: x\n\n");
        assert_eq!(ev.len(), 3);
        assert_eq!(
            (ev[0].event.as_str(), ev[0].data.as_str()),
            ("delta", "a\nb")
        );
        assert_eq!((ev[1].event.as_str(), ev[1].retry), ("message", Some(500)));
        assert_eq!(ev[2].event, "done");
        assert_eq!(parse("retry: 5x\ndata: y\n\n")[0].retry, None);
        // An event type without data is not dispatched and does not leak into the next.
        let ev = parse("event: ping\n\ndata: z\n\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event, "message");
    }

    use proptest::prelude::*;

    proptest! {
        /// Any bytes parse without a panic; events written with any of the three line
        /// endings, multi-line data split into `data` lines, come back as they were.
        #[test]
        fn round_trip_and_no_panic(
            datas in proptest::collection::vec(proptest::collection::vec("[^\r\n]{0,12}", 1..4), 0..6),
            ending in prop::sample::select(vec!["\n", "\r", "\r\n"]),
            noise in ".{0,200}",
        ) {
            let _ = parse(&noise);
            let mut text = String::new();
            for lines in &datas {
                for l in lines {
                    text.push_str("data: ");
                    text.push_str(l);
                    text.push_str(ending);
                }
                text.push_str(ending);
            }
            let got: Vec<String> = parse(&text).into_iter().map(|e| e.data).collect();
            let want: Vec<String> = datas.iter().map(|l| l.join("\n")).collect();
            prop_assert_eq!(got, want);
        }
    }
}
