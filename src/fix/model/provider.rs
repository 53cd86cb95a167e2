//! The two API shapes, over the shared [`crate::net::HttpClient`] (timeouts, retries of
//! connection errors, 429 with `Retry-After` and 5xx; a timeout is not retried: the provider
//! may have charged for the request):
//!
//! - OpenAI-compatible Chat Completions: `POST {base}/chat/completions` with
//!   `Authorization: Bearer <key>`, `response_format: {type: json_schema, json_schema: {name,
//!   schema, strict: false}}`; a server that refuses that (HTTP 400 naming `response_format`
//!   or `json_schema`) is asked again with `{type: json_object}` and the schema in the system
//!   text. Answer: `choices[0].message.content` (or `.refusal`), `usage.prompt_tokens`,
//!   `usage.completion_tokens`
//!   (<https://platform.openai.com/docs/api-reference/chat/create>).
//! - Anthropic Messages: `POST {base}/v1/messages` with `x-api-key`, `anthropic-version:
//!   2023-06-01`, one tool whose `input_schema` is the answer schema and `tool_choice: {type:
//!   tool, name}`. Answer: the `tool_use` block's `input`, `stop_reason` (`refusal`,
//!   `max_tokens`), `usage.input_tokens`, `usage.output_tokens`
//!   (<https://docs.anthropic.com/en/api/messages>).

use std::cell::Cell;

use serde_json::{json, Value};

use crate::net::{Auth, HttpClient, NetError, Resend, Token};
use crate::policy::fix_agent::{ModelPolicy, Provider};

use super::output::{answer_schema, TOOL_NAME};
use super::ModelError;

/// One conversation turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// From us.
    User(String),
    /// An earlier model answer (quoted back in the repair request).
    Assistant(String),
}

/// What one request returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    /// The structured output as JSON text (the tool input, or the message content).
    pub text: Option<String>,
    /// The model's refusal, when it refused.
    pub refusal: Option<String>,
    /// Input tokens the provider counted.
    pub tokens_in: u64,
    /// Output tokens the provider counted.
    pub tokens_out: u64,
    /// The answer was cut off at the output token limit.
    pub truncated: bool,
}

/// A provider client for one run.
pub struct Client<'a> {
    http: HttpClient,
    policy: &'a ModelPolicy,
    key: &'a Token,
    /// The OpenAI server refused `json_schema`: use `json_object`.
    json_object: Cell<bool>,
}

impl<'a> Client<'a> {
    /// A client with the policy's timeout.
    ///
    /// Errors: the TLS backend could not be set up.
    pub fn new(policy: &'a ModelPolicy, key: &'a Token) -> Result<Client<'a>, ModelError> {
        let cfg = crate::net::ClientConfig {
            connect_timeout: std::time::Duration::from_secs(10).min(policy.timeout),
            timeout: policy.timeout,
            retry: crate::net::RetryPolicy {
                max_attempts: 3,
                base_delay: std::time::Duration::from_millis(500),
                max_delay: std::time::Duration::from_secs(4),
                max_retry_after: std::time::Duration::from_secs(60),
                budget: Some(policy.timeout.saturating_mul(3)),
            },
            max_response_bytes: 4 * 1024 * 1024,
        };
        let http = HttpClient::new(cfg).map_err(ModelError::Setup)?;
        Ok(Client {
            http,
            policy,
            key,
            json_object: Cell::new(false),
        })
    }

    fn label(&self) -> String {
        format!("the {} model provider", self.policy.provider.as_str())
    }

    /// Sends one request. Errors: [`ModelError::Net`] (no answer), [`ModelError::Answer`]
    /// (an answer that is not the API's shape).
    pub fn request(
        &self,
        system: &str,
        msgs: &[Msg],
        max_tokens: u32,
    ) -> Result<Exchange, ModelError> {
        match self.policy.provider {
            Provider::Openai | Provider::AzureOpenai => self.openai(system, msgs, max_tokens),
            Provider::Anthropic => self.anthropic(system, msgs, max_tokens),
        }
    }

    fn post(
        &self,
        url: &str,
        auth: Auth<'_>,
        extra: &[(&'static str, &'static str)],
        body: &Value,
    ) -> Result<Value, ModelError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ModelError::Answer(e.to_string()))?;
        let resp = self
            .http
            .post_json_auth(url, auth, extra, &bytes, &self.label(), Resend::IfRefused)
            .map_err(ModelError::Net)?;
        serde_json::from_slice(&resp.body).map_err(|e| {
            ModelError::Answer(format!(
                "{} answered something that is not JSON: {e}",
                self.label()
            ))
        })
    }

    fn openai(&self, system: &str, msgs: &[Msg], max_tokens: u32) -> Result<Exchange, ModelError> {
        let url = format!("{}/chat/completions", self.policy.base_url);
        let auth = match self.policy.provider {
            Provider::AzureOpenai => Auth::Header("api-key", self.key),
            _ => Auth::Bearer(self.key),
        };
        let body = |json_object: bool| {
            let mut sys = system.to_string();
            let format = if json_object {
                sys.push_str("\n\nThe JSON schema of the answer:\n");
                sys.push_str(&answer_schema().to_string());
                json!({"type": "json_object"})
            } else {
                json!({"type": "json_schema", "json_schema": {"name": TOOL_NAME, "schema": answer_schema(), "strict": false}})
            };
            let mut messages = vec![json!({"role": "system", "content": sys})];
            for m in msgs {
                messages.push(match m {
                    Msg::User(t) => json!({"role": "user", "content": t}),
                    Msg::Assistant(t) => json!({"role": "assistant", "content": t}),
                });
            }
            json!({
                "model": self.policy.model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": self.policy.temperature,
                "response_format": format,
            })
        };
        let answer = match self.post(&url, auth, &[], &body(self.json_object.get())) {
            Err(ModelError::Net(NetError::Status {
                status: 400,
                body_head,
                ..
            })) if !self.json_object.get()
                && (body_head.contains("response_format") || body_head.contains("json_schema")) =>
            {
                self.json_object.set(true);
                self.post(&url, auth, &[], &body(true))?
            }
            other => other?,
        };
        let choice = answer.pointer("/choices/0").ok_or_else(|| {
            ModelError::Answer(
                "the answer has no `choices[0]` (not a Chat Completions response)".into(),
            )
        })?;
        let message = &choice["message"];
        Ok(Exchange {
            text: message["content"].as_str().map(str::to_string),
            refusal: message["refusal"].as_str().map(str::to_string),
            tokens_in: answer
                .pointer("/usage/prompt_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            tokens_out: answer
                .pointer("/usage/completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            truncated: choice["finish_reason"] == "length",
        })
    }

    fn anthropic(
        &self,
        system: &str,
        msgs: &[Msg],
        max_tokens: u32,
    ) -> Result<Exchange, ModelError> {
        let url = format!("{}/v1/messages", self.policy.base_url);
        let messages: Vec<Value> = msgs
            .iter()
            .map(|m| match m {
                Msg::User(t) => json!({"role": "user", "content": t}),
                Msg::Assistant(t) => json!({"role": "assistant", "content": t}),
            })
            .collect();
        let body = json!({
            "model": self.policy.model,
            "max_tokens": max_tokens,
            "temperature": self.policy.temperature,
            "system": system,
            "messages": messages,
            "tools": [{
                "name": TOOL_NAME,
                "description": "Propose the fix as fix-agent instructions (or an empty list with a reason).",
                "input_schema": answer_schema(),
            }],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
        });
        let answer = self.post(
            &url,
            Auth::Header("x-api-key", self.key),
            &[("anthropic-version", "2023-06-01")],
            &body,
        )?;
        let content = answer["content"].as_array().ok_or_else(|| {
            ModelError::Answer("the answer has no `content` list (not a Messages response)".into())
        })?;
        let tool = content
            .iter()
            .find(|b| b["type"] == "tool_use" && b["name"] == TOOL_NAME)
            .map(|b| b["input"].to_string());
        let text: String = content
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let stop = answer["stop_reason"].as_str().unwrap_or("");
        Ok(Exchange {
            refusal: (stop == "refusal").then(|| {
                if text.is_empty() {
                    "(no text)".into()
                } else {
                    text.clone()
                }
            }),
            text: tool.or((!text.is_empty()).then_some(text)),
            tokens_in: answer
                .pointer("/usage/input_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            tokens_out: answer
                .pointer("/usage/output_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            truncated: stop == "max_tokens",
        })
    }
}
