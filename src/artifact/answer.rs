//! Reading and strictly validating a Developer-Agent answer (untrusted).

use std::path::Path;

use super::{DeveloperAgent, DeveloperAgentAnswer, DeveloperAgentStatus, Edit};

/// The largest answer file read: 4 MiB.
pub const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;
/// At most this many plan actions.
pub const MAX_PLAN_ACTIONS: usize = 16;

/// Reads `path` and validates it as a Developer-Agent answer. Never fails: an unreadable or
/// invalid answer yields a status that says why (the pipeline then goes on rules-only).
///
/// A Cloud-Agent envelope `{"status": "received", "upstream": {...}}` is unwrapped.
pub fn read_developer_agent_answer(path: Option<&Path>) -> DeveloperAgent {
    let Some(path) = path else {
        return DeveloperAgent {
            status: DeveloperAgentStatus::NotProvided,
            detail: None,
            answer: None,
        };
    };
    let shown = path.display();
    let fail = |status, detail: String| DeveloperAgent {
        status,
        detail: Some(detail),
        answer: None,
    };
    let bytes = match super::read_capped(path, MAX_ANSWER_BYTES) {
        Ok(b) => b,
        Err(e @ super::ArtifactError::TooLarge { .. }) => {
            return fail(DeveloperAgentStatus::Invalid, e.to_string())
        }
        Err(e) => return fail(DeveloperAgentStatus::Unreadable, e.to_string()),
    };
    match parse_answer(&bytes) {
        Ok(answer) => DeveloperAgent {
            status: DeveloperAgentStatus::Valid,
            detail: None,
            answer: Some(answer),
        },
        Err(e) => fail(DeveloperAgentStatus::Invalid, format!("{shown}: {e}")),
    }
}

/// Parses and validates an answer (or a Cloud-Agent envelope around one).
pub fn parse_answer(bytes: &[u8]) -> Result<DeveloperAgentAnswer, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let value = match value {
        serde_json::Value::Object(mut map) if map.contains_key("upstream") => {
            match map.get("status").and_then(|s| s.as_str()) {
                Some("received") => {}
                other => {
                    return Err(format!(
                        "Cloud-Agent envelope has status {other:?}, expected \"received\""
                    ))
                }
            }
            map.remove("upstream").unwrap_or_default()
        }
        v => v,
    };
    let answer: DeveloperAgentAnswer =
        serde_json::from_value(value).map_err(|e| format!("not a valid answer: {e}"))?;
    validate_answer(&answer)?;
    Ok(answer)
}

fn validate_answer(a: &DeveloperAgentAnswer) -> Result<(), String> {
    let c = &a.classification;
    if !(0.0..=1.0).contains(&c.confidence) || c.confidence.is_nan() {
        return Err(format!(
            "classification.confidence {} is not in 0..1",
            c.confidence
        ));
    }
    if c.summary.as_ref().is_some_and(|s| s.len() > 1024) {
        return Err("classification.summary is longer than 1024 bytes".into());
    }
    if a.self_heal_plan.actions.len() > MAX_PLAN_ACTIONS {
        return Err(format!(
            "self_heal_plan.actions has {} entries, at most {MAX_PLAN_ACTIONS} are accepted",
            a.self_heal_plan.actions.len()
        ));
    }
    for name in &a.self_heal_plan.actions {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(format!(
                "self_heal_plan.actions has an invalid action name {:?} (expected [A-Za-z0-9_-], at most 64 bytes)",
                name.chars().take(80).collect::<String>()
            ));
        }
    }
    super::validate_instructions(&a.fix_agent_instructions)
        .map_err(|e| format!("fix_agent_instructions: {e}"))?;
    for (i, ins) in a.fix_agent_instructions.iter().enumerate() {
        for e in &ins.edits {
            if let Edit::ReplaceLines {
                start_line,
                end_line,
                ..
            } = e
            {
                if *start_line == 0 || end_line < start_line {
                    return Err(format!(
                        "fix_agent_instructions[{i}] has a replace_lines edit with lines {start_line}..{end_line}"
                    ));
                }
            }
        }
    }
    if a.triggers.len() > 32 {
        return Err("triggers has more than 32 entries".into());
    }
    if let Some(m) = &a.model {
        validate_model(m).map_err(|e| format!("model: {e}"))?;
    }
    Ok(())
}

/// Most candidates in an answer's model record.
pub const MAX_ANSWER_MODEL_CANDIDATES: usize = 10;

/// The answer's `model` record: short one-line names, a sha256 (or empty), a finite cost,
/// bounded text.
fn validate_model(m: &super::ModelRun) -> Result<(), String> {
    let name_ok =
        |s: &str, max: usize| !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control);
    if !name_ok(m.provider.as_str(), 64) {
        return Err("provider must be 1 to 64 printable characters".into());
    }
    if !name_ok(m.model.as_str(), 200) {
        return Err("model must be 1 to 200 printable characters".into());
    }
    if !(m.prompt_sha256.is_empty()
        || (m.prompt_sha256.len() == 64
            && m.prompt_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))))
    {
        return Err("prompt_sha256 is not a lowercase sha256".into());
    }
    if m.cost_estimate.is_some_and(|c| !c.is_finite() || c < 0.0) {
        return Err("cost_estimate must be finite and not negative".into());
    }
    if m.reason.as_ref().is_some_and(|r| r.len() > 2048) {
        return Err("reason is longer than 2048 bytes".into());
    }
    if m.asked_by.as_deref().is_some_and(|s| !name_ok(s, 64)) {
        return Err("asked_by must be 1 to 64 printable characters".into());
    }
    if m.candidates.len() > MAX_ANSWER_MODEL_CANDIDATES {
        return Err(format!(
            "{} candidates, at most {MAX_ANSWER_MODEL_CANDIDATES} are accepted",
            m.candidates.len()
        ));
    }
    for c in &m.candidates {
        if c.summary.len() > 1024
            || c.guard.len() > 64
            || c.validation.len() > 64
            || c.refused.len() > 64
            || c.refused.iter().any(|r| r.len() > 64)
        {
            return Err(format!("candidate {} has an oversized field", c.index));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_unwrapped_and_answer_validated() {
        let ok = br#"{"status":"received","upstream":{"classification":{"category":"network","confidence":0.9},"self_heal_plan":{"actions":["reseed-db"]}}}"#;
        let a = parse_answer(ok).expect("valid");
        assert_eq!(a.self_heal_plan.actions, vec!["reseed-db"]);
    }

    #[test]
    fn invalid_answers_say_why() {
        for (bad, why) in [
            (&br#"{"classification":{"category":"nope","confidence":0.5}}"#[..], "unknown variant"),
            (br#"{"classification":{"category":"network","confidence":7}}"#, "not in 0..1"),
            (br#"{"classification":{"category":"network","confidence":0.5},"extra":1}"#, "unknown field"),
            (br#"{"classification":{"category":"network","confidence":0.5},"self_heal_plan":{"actions":["rm -rf /"]}}"#, "invalid action name"),
            (br#"{"classif"#, "not valid JSON"),
            (br#"{"classification":{"category":"network","confidence":0.5},"model":{"provider":"openai","model":"m","status":"no_fix","requests":1,"tokens_in":1,"tokens_out":1,"prompt_sha256":"nope","duration_ms":1}}"#, "prompt_sha256"),
            (br#"{"classification":{"category":"network","confidence":0.5},"model":{"provider":"openai","model":"m","status":"maybe","requests":1,"tokens_in":1,"tokens_out":1,"prompt_sha256":"","duration_ms":1}}"#, "unknown variant"),
        ] {
            let err = parse_answer(bad).expect_err("invalid");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn a_model_record_is_accepted_and_absent_by_default() {
        let plain = br#"{"classification":{"category":"network","confidence":0.9}}"#;
        let a = parse_answer(plain).expect("valid");
        assert!(a.model.is_none());
        assert!(!serde_json::to_string(&a).expect("json").contains("model"));
        let with = format!(
            r#"{{"classification":{{"category":"unknown","confidence":0.2}},"model":{{"provider":"anthropic","model":"claude-x","status":"proposed","requests":2,"tokens_in":1200,"tokens_out":60,"cost_estimate":0.0013,"prompt_sha256":"{}","duration_ms":12,"asked_by":"developer-agent"}}}}"#,
            "a".repeat(64)
        );
        let a = parse_answer(with.as_bytes()).expect("valid");
        let m = a.model.expect("model");
        assert_eq!((m.tokens_in, m.tokens_out, m.requests), (1200, 60, 2));
        assert_eq!(m.asked_by.as_deref(), Some("developer-agent"));
    }

    #[test]
    fn missing_file_is_unreadable_not_a_failure() {
        let da = read_developer_agent_answer(Some(Path::new("/nonexistent/answer.json")));
        assert_eq!(da.status, DeveloperAgentStatus::Unreadable);
        assert!(da
            .detail
            .expect("detail")
            .contains("/nonexistent/answer.json"));
    }
}
