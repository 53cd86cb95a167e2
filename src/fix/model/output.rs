//! The model's structured output: the JSON Schema it is asked to follow (the
//! `fix-instructions` schema wrapped in an object, since both APIs want an object at the top)
//! and the parser that validates an answer against the instruction limits.

use serde_json::{json, Value};

use crate::artifact::{validate_instructions, Instruction};

/// The name of the Anthropic tool the model is forced to call, and of the OpenAI JSON schema.
pub const TOOL_NAME: &str = "propose_fix";

/// The most bytes of model output parsed (1 MiB); a longer answer is invalid.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// A parsed, validated answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The proposed instructions (validated with [`validate_instructions`]; `source` unset).
    pub instructions: Vec<Instruction>,
    /// The model's reason when it proposes nothing.
    pub no_fix_reason: Option<String>,
}

/// The answer schema: `{"instructions": [Instruction…], "no_fix_reason": string}` with the
/// `$defs` of the `fix-instructions` schema (`schemas/fix-instructions.schema.json`).
pub fn answer_schema() -> Value {
    let mut list = serde_json::to_value(crate::fix::instructions_schema()).unwrap_or(Value::Null);
    let defs = list
        .as_object_mut()
        .and_then(|o| o.remove("$defs"))
        .unwrap_or_else(|| json!({}));
    json!({
        "type": "object",
        "properties": {
            "instructions": {
                "description": "The fix: a list of instructions, each a one-line summary and its edits. Empty when you cannot propose a safe fix.",
                "type": "array",
                "items": {"$ref": "#/$defs/Instruction"}
            },
            "no_fix_reason": {
                "description": "Why no fix is proposed, one sentence (only with an empty list).",
                "type": "string"
            }
        },
        "required": ["instructions"],
        "additionalProperties": false,
        "$defs": defs,
    })
}

/// Removes a Markdown code fence around the JSON (models in JSON mode sometimes add one).
fn unfence(text: &str) -> &str {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// Parses and validates model output. Accepts the answer object, or (tolerantly) a bare list
/// of instructions. Errors: one sentence saying what is wrong (quoted to the model in the
/// repair request), e.g. `not JSON: expected value at line 1 column 1`.
pub fn parse(text: &str) -> Result<Answer, String> {
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(format!(
            "the answer is {} bytes, more than the {MAX_OUTPUT_BYTES} read",
            text.len()
        ));
    }
    let value: Value = serde_json::from_str(unfence(text)).map_err(|e| format!("not JSON: {e}"))?;
    let (list, reason) = match value {
        Value::Array(_) => (value, None),
        Value::Object(mut o) => {
            let reason = o
                .remove("no_fix_reason")
                .and_then(|v| v.as_str().map(crate::text::one_line));
            let list = o
                .remove("instructions")
                .ok_or("the object has no `instructions` list")?;
            (list, reason)
        }
        _ => return Err("the answer is neither an object nor a list".into()),
    };
    let mut instructions: Vec<Instruction> = serde_json::from_value(list)
        .map_err(|e| format!("`instructions` does not follow the fix-instructions schema: {e}"))?;
    validate_instructions(&instructions)?;
    for i in &mut instructions {
        i.source = None;
        if crate::fix::has_redacted_text(i) {
            return Err(
                "an edit contains a `[REDACTED:` marker: write real code, never redacted text"
                    .into(),
            );
        }
    }
    Ok(Answer {
        instructions,
        no_fix_reason: reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_fenced_and_bad_answers() {
        let good = r#"{"instructions":[{"summary":"s","edits":[{"op":"replace","path":"a.py","find":"x","replace":"y"}]}]}"#;
        assert_eq!(parse(good).expect("good").instructions.len(), 1);
        assert_eq!(
            parse(&format!("```json\n{good}\n```"))
                .expect("fenced")
                .instructions
                .len(),
            1
        );
        let none = parse(r#"{"instructions":[],"no_fix_reason":"needs a human"}"#).expect("none");
        assert_eq!(none.no_fix_reason.as_deref(), Some("needs a human"));
        assert!(parse("{not json").expect_err("bad").starts_with("not JSON"));
        assert!(parse(r#"{"fix": 1}"#)
            .expect_err("shape")
            .contains("instructions"));
        let err =
            parse(r#"{"instructions":[{"summary":"s","edits":[{"op":"chmod","path":"a"}]}]}"#)
                .expect_err("unknown op");
        assert!(err.contains("fix-instructions schema"), "{err}");
        assert!(parse("\u{0}\u{ff}").is_err());
    }

    #[test]
    fn the_schema_is_an_object_with_the_instruction_defs() {
        let s = answer_schema();
        assert_eq!(s["type"], "object");
        assert!(s["$defs"]["Instruction"].is_object());
        assert!(s["$defs"]["Edit"].is_object());
    }
}
