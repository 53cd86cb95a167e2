//! The `fix-agent` section of the policy: scope (allow/deny globs and the built-in denylist),
//! size caps, test-weakening and refusal handling, the Playwright timeout recipe, validation
//! and the sensitive paths that raise a patch's risk.
//!
//! Every key has a default, so a repository without a policy file gets a working, strict
//! fix-agent: everything not built-in-denied is in scope, at most 10 files, 200 changed lines
//! and 64 KiB of patch, test weakening refused, any refusal rejects the whole patch, no
//! Playwright recipe and no validation.
//!
//! ```yaml
//! fix-agent:
//!   allow: ["src/**", "tests/**", ".dockerignore"]
//!   deny: ["src/generated/**"]
//!   lift-builtin-deny: [lockfiles]
//!   max-files: 5
//!   max-changed-lines: 100
//!   max-patch-bytes: 32768
//!   test-weakening: flag          # refuse (default) | flag
//!   on-refusal: drop-edit         # reject-patch (default) | drop-edit
//!   playwright-timeout: { enabled: true, max-ms: 60000 }
//!   validation:
//!     command: [npx, playwright, test]
//!     pass-failed-tests: true
//!     timeout: 10m
//!   sensitive-paths: ["**/auth/**", "**/payment*/**"]
//! ```

use std::time::Duration;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{validate_argv, validate_timeout, KeyError};

/// The built-in denylist: entries that always apply unless `lift-builtin-deny` names them.
/// Each is `(name, globs)`; globs match case-insensitively (a case-insensitive checkout would
/// alias `.GitHub/Workflows` to `.github/workflows`) and `*` never crosses `/`.
pub const BUILTIN_DENY: &[(&str, &[&str])] = &[
    ("workflows", &[".github/workflows/**"]),
    ("actions", &[".github/actions/**"]),
    ("action-metadata", &["**/action.yml", "**/action.yaml"]),
    ("codeowners", &["**/CODEOWNERS"]),
    (
        "lockfiles",
        &[
            "**/package-lock.json",
            "**/npm-shrinkwrap.json",
            "**/yarn.lock",
            "**/pnpm-lock.yaml",
            "**/bun.lockb",
            "**/bun.lock",
            "**/Cargo.lock",
            "**/poetry.lock",
            "**/Pipfile.lock",
            "**/uv.lock",
            "**/pdm.lock",
            "**/Gemfile.lock",
            "**/composer.lock",
            "**/go.sum",
            "**/packages.lock.json",
            "**/gradle.lockfile",
            "**/*.lock",
        ],
    ),
    ("env-files", &["**/.env", "**/.env*", "**/*.env"]),
    (
        "keys",
        &[
            "**/*.pem",
            "**/*.key",
            "**/*.crt",
            "**/*.cer",
            "**/*.der",
            "**/*.p12",
            "**/*.pfx",
            "**/*.jks",
            "**/*.keystore",
            "**/*.gpg",
            "**/*.asc",
            "**/id_rsa*",
            "**/id_dsa*",
            "**/id_ecdsa*",
            "**/id_ed25519*",
            "**/.ssh/**",
            "**/.npmrc",
            "**/.pypirc",
            "**/.netrc",
        ],
    ),
];

/// Default `max-files`.
pub const DEFAULT_MAX_FILES: u32 = 10;
/// Default `max-changed-lines` (added + removed).
pub const DEFAULT_MAX_CHANGED_LINES: u32 = 200;
/// Default `max-patch-bytes`: 64 KiB.
pub const DEFAULT_MAX_PATCH_BYTES: u64 = 64 * 1024;
/// Default `playwright-timeout.max-ms`: 60 s.
pub const DEFAULT_PLAYWRIGHT_MAX_MS: u64 = 60_000;
/// Default `validation.timeout`: 10 minutes.
pub const DEFAULT_VALIDATION_TIMEOUT: Duration = Duration::from_secs(600);
/// Default sensitive paths (risk class `sensitive`).
pub const DEFAULT_SENSITIVE: &[&str] = &[
    "**/auth/**",
    "**/*auth*",
    "**/security/**",
    "**/*security*",
    "**/payment*/**",
    "**/*payment*",
    "**/billing/**",
    "**/*crypto*",
    "**/*password*",
    "**/*secret*",
    "**/*token*",
    "**/*permission*",
];

/// What to do with an edit that adds a skip/only marker, deletes assertions or adds
/// `continue-on-error`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TestWeakening {
    /// Refuse the edit (default).
    #[default]
    Refuse,
    /// Apply it, but flag the patch `needs_manual_review`.
    Flag,
}

/// What a refused edit does to the patch.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnRefusal {
    /// Reject the whole patch: an empty `.diff` plus metadata that explains it (default).
    #[default]
    RejectPatch,
    /// Drop only the refused edit; the others still make the patch.
    DropEdit,
}

/// `fix-agent.playwright-timeout` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PlaywrightTimeoutRaw {
    /// Opt in to the recipe that raises one locator wait's timeout (default false).
    #[serde(default)]
    pub enabled: bool,
    /// The highest timeout the recipe may write, in milliseconds (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
}

/// `fix-agent.validation` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ValidationRaw {
    /// The command as an argv list (never a shell string), run in the patched repository.
    #[serde(default)]
    pub command: Vec<String>,
    /// Append the failed tests' ids as separate arguments (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_failed_tests: Option<bool>,
    /// A duration (`90s`, `10m`), at most 24h; the whole process group is killed after it
    /// (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Fix-agent settings as written (kebab-case keys, unknown keys are errors).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FixAgentRaw {
    /// Globs of paths the fix-agent may change (default: all). `*` never crosses `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// Globs it may never change, on top of the built-in denylist.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Names of built-in denylist entries to lift (`workflows`, `actions`, `action-metadata`,
    /// `codeowners`, `lockfiles`, `env-files`, `keys`).
    #[serde(default)]
    pub lift_builtin_deny: Vec<String>,
    /// The most files one patch may touch (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_files: Option<u32>,
    /// The most changed lines (added + removed) one patch may have (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_changed_lines: Option<u32>,
    /// The largest patch in bytes (default 65536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_patch_bytes: Option<u64>,
    /// `refuse` (default) or `flag`.
    #[serde(default)]
    pub test_weakening: TestWeakening,
    /// `reject-patch` (default) or `drop-edit`.
    #[serde(default)]
    pub on_refusal: OnRefusal,
    /// The Playwright timeout recipe (off by default).
    #[serde(default)]
    pub playwright_timeout: PlaywrightTimeoutRaw,
    /// The validation command (none by default: validation is `skipped`).
    #[serde(default)]
    pub validation: ValidationRaw,
    /// Globs of auth/security/payment paths; touching one makes the risk class `sensitive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitive_paths: Option<Vec<String>>,
    /// A language model asked for fix instructions (off when absent); see
    /// docs/fix-agent-models.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRaw>,
}

/// The API shape a model provider speaks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// OpenAI-compatible Chat Completions (`POST {base-url}/chat/completions`): OpenAI, Azure
    /// OpenAI, Ollama, llama.cpp's server, vLLM, OpenRouter.
    Openai,
    /// Azure OpenAI's v1 API: the Chat Completions shape at `{base-url}/chat/completions`
    /// (`https://RESOURCE.openai.azure.com/openai/v1`, required) with the key in an `api-key`
    /// header, as Azure's key authentication wants (Microsoft Learn, "Azure OpenAI v1 API").
    AzureOpenai,
    /// The Anthropic Messages API (`POST {base-url}/v1/messages`).
    Anthropic,
}

impl Provider {
    /// The kebab-case name (`openai`, `azure-openai`, `anthropic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Openai => "openai",
            Provider::AzureOpenai => "azure-openai",
            Provider::Anthropic => "anthropic",
        }
    }
}

/// Price per million tokens, for the metadata's cost estimate (any currency; USD by
/// convention).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PriceRaw {
    /// Per million input (prompt) tokens.
    #[serde(default)]
    pub input: f64,
    /// Per million output (completion) tokens.
    #[serde(default)]
    pub output: f64,
}

/// `fix-agent.model` as written. The API key is never in the policy: `api-key-env` names the
/// environment variable that holds it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ModelRaw {
    /// `openai` (Chat Completions and compatible servers) or `anthropic` (Messages API).
    pub provider: Provider,
    /// The model name the API expects (`gpt-4o-mini`, `claude-sonnet-4-5`, `qwen2.5-coder`).
    pub model: String,
    /// The API base URL (default `https://api.openai.com/v1` or `https://api.anthropic.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The environment variable holding the API key (default `OPENAI_API_KEY` or
    /// `ANTHROPIC_API_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The most output tokens per request (default 4096).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// The most tokens (input + output, all requests) per run; no request starts once the
    /// budget is spent (default 60000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_tokens: Option<u64>,
    /// Time allowed for one request, a duration (`60s`), at most 24h (default 120s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Sampling temperature, 0..=2 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The most proposals tried against the validation command; the first that validates is
    /// kept (default 2; without a validation command one proposal is asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_candidates: Option<u32>,
    /// Prices per million tokens for the cost estimate (none: no estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_mtok: Option<PriceRaw>,
}

/// Default `model.max-output-tokens`.
pub const DEFAULT_MODEL_MAX_OUTPUT_TOKENS: u32 = 4096;
/// Default `model.max-total-tokens`.
pub const DEFAULT_MODEL_MAX_TOTAL_TOKENS: u64 = 60_000;
/// Default `model.timeout`: 120 s.
pub const DEFAULT_MODEL_TIMEOUT: Duration = Duration::from_secs(120);
/// Default `model.max-candidates`.
pub const DEFAULT_MODEL_MAX_CANDIDATES: u32 = 2;

/// `fix-agent.model`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPolicy {
    /// The API shape.
    pub provider: Provider,
    /// The model name.
    pub model: String,
    /// The base URL (checked: `http`/`https` with a host; no trailing `/`).
    pub base_url: String,
    /// The environment variable holding the key (`[A-Za-z_][A-Za-z0-9_]*`).
    pub api_key_env: String,
    /// Output tokens per request.
    pub max_output_tokens: u32,
    /// Tokens (in + out) per run.
    pub max_total_tokens: u64,
    /// Time per request.
    pub timeout: Duration,
    /// Sampling temperature.
    pub temperature: f64,
    /// Proposals tried (at least 1).
    pub max_candidates: u32,
    /// Prices per million tokens (input, output), when given.
    pub price_per_mtok: Option<(f64, f64)>,
}

impl ModelRaw {
    /// Validates `fix-agent.model`. Errors name the dotted key.
    pub fn validate(&self) -> Result<ModelPolicy, KeyError> {
        let key = |k: &str| format!("fix-agent.model.{k}");
        let model = self.model.trim().to_string();
        if model.is_empty() || model.len() > 200 || model.chars().any(char::is_control) {
            return Err(KeyError::new(
                key("model"),
                "must be a model name of 1 to 200 printable characters",
            ));
        }
        let base_url = match (&self.base_url, self.provider) {
            (Some(u), _) => u.clone(),
            (None, Provider::Openai) => "https://api.openai.com/v1".into(),
            (None, Provider::Anthropic) => "https://api.anthropic.com".into(),
            (None, Provider::AzureOpenai) => {
                return Err(KeyError::new(
                    key("base-url"),
                    "is required for azure-openai: your resource's endpoint, e.g. https://RESOURCE.openai.azure.com/openai/v1",
                ))
            }
        };
        crate::net::parse_url(&base_url, "fix-agent.model.base-url")
            .map_err(|e| KeyError::new(key("base-url"), e.to_string()))?;
        let base_url = base_url.trim_end_matches('/').to_string();
        let api_key_env = self
            .api_key_env
            .clone()
            .unwrap_or_else(|| match self.provider {
                Provider::Openai => "OPENAI_API_KEY".into(),
                Provider::AzureOpenai => "AZURE_OPENAI_API_KEY".into(),
                Provider::Anthropic => "ANTHROPIC_API_KEY".into(),
            });
        let valid_name = !api_key_env.is_empty()
            && !api_key_env.starts_with(|c: char| c.is_ascii_digit())
            && api_key_env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(KeyError::new(
                key("api-key-env"),
                format!("{api_key_env:?} is not an environment variable name (letters, digits, `_`); it names the variable holding the key, never the key"),
            ));
        }
        let max_output_tokens = self
            .max_output_tokens
            .unwrap_or(DEFAULT_MODEL_MAX_OUTPUT_TOKENS);
        if max_output_tokens == 0 || max_output_tokens > 1_000_000 {
            return Err(KeyError::new(
                key("max-output-tokens"),
                "must be between 1 and 1000000",
            ));
        }
        let max_total_tokens = self
            .max_total_tokens
            .unwrap_or(DEFAULT_MODEL_MAX_TOTAL_TOKENS);
        if max_total_tokens == 0 {
            return Err(KeyError::new(key("max-total-tokens"), "must be at least 1"));
        }
        let timeout = validate_timeout(
            self.timeout.as_deref(),
            DEFAULT_MODEL_TIMEOUT,
            "fix-agent.model.timeout",
        )?;
        let temperature = self.temperature.unwrap_or(0.0);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(KeyError::new(key("temperature"), "must be between 0 and 2"));
        }
        let max_candidates = self.max_candidates.unwrap_or(DEFAULT_MODEL_MAX_CANDIDATES);
        if max_candidates == 0 || max_candidates > 10 {
            return Err(KeyError::new(
                key("max-candidates"),
                "must be between 1 and 10",
            ));
        }
        let price_per_mtok = match self.price_per_mtok {
            Some(p)
                if !(p.input >= 0.0
                    && p.output >= 0.0
                    && p.input.is_finite()
                    && p.output.is_finite()) =>
            {
                return Err(KeyError::new(
                    key("price-per-mtok"),
                    "prices must be finite and not negative",
                ))
            }
            Some(p) => Some((p.input, p.output)),
            None => None,
        };
        Ok(ModelPolicy {
            provider: self.provider,
            model,
            base_url,
            api_key_env,
            max_output_tokens,
            max_total_tokens,
            timeout,
            temperature,
            max_candidates,
            price_per_mtok,
        })
    }
}

/// A compiled glob list that remembers its patterns.
#[derive(Debug, Clone)]
pub struct GlobList {
    /// The patterns as written.
    pub patterns: Vec<String>,
    set: GlobSet,
}

impl GlobList {
    /// Compiles `patterns` with `literal_separator(true)`; `key` names the list in errors.
    pub fn new(patterns: &[String], key: &str, case_insensitive: bool) -> Result<Self, KeyError> {
        let mut b = GlobSetBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            b.add(compile(p, case_insensitive).map_err(|e| {
                KeyError::new(format!("{key}[{i}]"), format!("invalid glob {p:?}: {e}"))
            })?);
        }
        let set = b
            .build()
            .map_err(|e| KeyError::new(key, format!("invalid globs: {e}")))?;
        Ok(GlobList {
            patterns: patterns.to_vec(),
            set,
        })
    }

    /// The indices of the patterns that match `path` (a `/`-separated relative path).
    pub fn matches(&self, path: &str) -> Vec<usize> {
        self.set.matches(path)
    }

    /// True when any pattern matches `path`.
    pub fn is_match(&self, path: &str) -> bool {
        self.set.is_match(path)
    }
}

fn compile(pattern: &str, case_insensitive: bool) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .case_insensitive(case_insensitive)
        .backslash_escape(true)
        .build()
}

/// One built-in denylist entry, compiled.
#[derive(Debug, Clone)]
pub struct BuiltinDeny {
    /// Its name (what `lift-builtin-deny` refers to).
    pub name: &'static str,
    /// Its globs.
    pub globs: GlobList,
}

/// Fix-agent settings, validated.
#[derive(Debug, Clone)]
pub struct FixAgentPolicy {
    /// Allowed paths; `None` = everything not denied.
    pub allow: Option<GlobList>,
    /// Policy denylist (case-insensitive).
    pub deny: GlobList,
    /// The built-in denylist entries still in force.
    pub builtin_deny: Vec<BuiltinDeny>,
    /// Names of lifted built-in entries.
    pub lifted: Vec<String>,
    /// Most files per patch.
    pub max_files: u32,
    /// Most changed lines (added + removed) per patch.
    pub max_changed_lines: u32,
    /// Largest patch, bytes.
    pub max_patch_bytes: u64,
    /// Refuse or flag test weakening.
    pub test_weakening: TestWeakening,
    /// Drop the edit or reject the patch on a refusal.
    pub on_refusal: OnRefusal,
    /// The Playwright recipe's cap in ms, `None` when the recipe is off.
    pub playwright_max_ms: Option<u64>,
    /// The validation argv; empty = no validation.
    pub validation_command: Vec<String>,
    /// Append failed test ids as separate arguments.
    pub validation_pass_failed_tests: bool,
    /// The validation timeout.
    pub validation_timeout: Duration,
    /// Sensitive path globs.
    pub sensitive: GlobList,
    /// The model asked for instructions; `None` = off (the default).
    pub model: Option<ModelPolicy>,
}

impl Default for FixAgentPolicy {
    fn default() -> Self {
        // The defaults contain only constant, valid globs.
        match FixAgentRaw::default().validate() {
            Ok(p) => p,
            Err(e) => unreachable!("built-in fix-agent defaults are invalid: {e:?}"),
        }
    }
}

/// Why a path is out of scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeDenial {
    /// Not matched by any `allow` glob.
    NotAllowed,
    /// Matched by a policy `deny` glob (the pattern).
    Denied(String),
    /// Matched by a built-in denylist entry (its name and the pattern).
    Builtin(&'static str, String),
}

impl std::fmt::Display for ScopeDenial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeDenial::NotAllowed => write!(f, "not matched by fix-agent.allow"),
            ScopeDenial::Denied(p) => write!(f, "denied by fix-agent.deny glob {p:?}"),
            ScopeDenial::Builtin(n, p) => write!(
                f,
                "denied by the built-in denylist entry `{n}` ({p:?}); lift it with fix-agent.lift-builtin-deny"
            ),
        }
    }
}

impl FixAgentPolicy {
    /// The model's API key variable as a list (empty when the model is off), for
    /// `fix::validate::run_without`'s removals.
    pub fn model_key_env(&self) -> Vec<&str> {
        self.model.iter().map(|m| m.api_key_env.as_str()).collect()
    }

    /// Checks a normalised relative path against the built-in denylist, `deny` and `allow`
    /// (in that order).
    pub fn check_scope(&self, path: &str) -> Result<(), ScopeDenial> {
        for entry in &self.builtin_deny {
            if let Some(i) = entry.globs.matches(path).first() {
                return Err(ScopeDenial::Builtin(
                    entry.name,
                    entry.globs.patterns[*i].clone(),
                ));
            }
        }
        if let Some(i) = self.deny.matches(path).first() {
            return Err(ScopeDenial::Denied(self.deny.patterns[*i].clone()));
        }
        match &self.allow {
            Some(allow) if !allow.is_match(path) => Err(ScopeDenial::NotAllowed),
            _ => Ok(()),
        }
    }
}

impl FixAgentRaw {
    /// Validates this section. Errors name the dotted key (`fix-agent.max-files`).
    pub fn validate(self) -> Result<FixAgentPolicy, KeyError> {
        let allow = match &self.allow {
            Some(list) => Some(GlobList::new(list, "fix-agent.allow", false)?),
            None => None,
        };
        let deny = GlobList::new(&self.deny, "fix-agent.deny", true)?;
        for (i, name) in self.lift_builtin_deny.iter().enumerate() {
            if !BUILTIN_DENY.iter().any(|(n, _)| n == name) {
                let names: Vec<&str> = BUILTIN_DENY.iter().map(|(n, _)| *n).collect();
                return Err(KeyError::new(
                    format!("fix-agent.lift-builtin-deny[{i}]"),
                    format!(
                        "unknown built-in denylist entry {name:?}; known: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        let mut builtin_deny = Vec::new();
        for (name, globs) in BUILTIN_DENY {
            if self.lift_builtin_deny.iter().any(|n| n == name) {
                continue;
            }
            let patterns: Vec<String> = globs.iter().map(|g| g.to_string()).collect();
            builtin_deny.push(BuiltinDeny {
                name,
                globs: GlobList::new(&patterns, "fix-agent.builtin-deny", true)?,
            });
        }
        let max_files = self.max_files.unwrap_or(DEFAULT_MAX_FILES);
        if max_files == 0 {
            return Err(KeyError::new("fix-agent.max-files", "must be at least 1"));
        }
        let max_changed_lines = self.max_changed_lines.unwrap_or(DEFAULT_MAX_CHANGED_LINES);
        if max_changed_lines == 0 {
            return Err(KeyError::new(
                "fix-agent.max-changed-lines",
                "must be at least 1",
            ));
        }
        let max_patch_bytes = self.max_patch_bytes.unwrap_or(DEFAULT_MAX_PATCH_BYTES);
        if max_patch_bytes == 0 || max_patch_bytes > 16 * 1024 * 1024 {
            return Err(KeyError::new(
                "fix-agent.max-patch-bytes",
                "must be between 1 and 16777216 bytes",
            ));
        }
        let playwright_max_ms = if self.playwright_timeout.enabled {
            let cap = self
                .playwright_timeout
                .max_ms
                .unwrap_or(DEFAULT_PLAYWRIGHT_MAX_MS);
            if cap == 0 || cap > 3_600_000 {
                return Err(KeyError::new(
                    "fix-agent.playwright-timeout.max-ms",
                    "must be between 1 and 3600000 ms",
                ));
            }
            Some(cap)
        } else {
            None
        };
        let v = &self.validation;
        // An empty list means no validation; a written command is checked like every other.
        let validation_command = if v.command.is_empty() {
            Vec::new()
        } else {
            validate_argv(v.command.clone(), "fix-agent.validation.command")?
        };
        let validation_timeout = validate_timeout(
            v.timeout.as_deref(),
            DEFAULT_VALIDATION_TIMEOUT,
            "fix-agent.validation.timeout",
        )?;
        let sensitive_patterns: Vec<String> = match &self.sensitive_paths {
            Some(list) => list.clone(),
            None => DEFAULT_SENSITIVE.iter().map(|s| s.to_string()).collect(),
        };
        let sensitive = GlobList::new(&sensitive_patterns, "fix-agent.sensitive-paths", true)?;
        let model = match &self.model {
            Some(m) => Some(m.validate()?),
            None => None,
        };
        Ok(FixAgentPolicy {
            model,
            allow,
            deny,
            builtin_deny,
            lifted: self.lift_builtin_deny.clone(),
            max_files,
            max_changed_lines,
            max_patch_bytes,
            test_weakening: self.test_weakening,
            on_refusal: self.on_refusal,
            playwright_max_ms,
            validation_command,
            validation_pass_failed_tests: v.pass_failed_tests.unwrap_or(true),
            validation_timeout,
            sensitive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyError};
    use std::path::Path;

    fn parse(yaml: &str) -> Result<Policy, PolicyError> {
        Policy::parse(yaml.as_bytes(), Path::new("p.yml"))
    }

    #[test]
    fn defaults_deny_builtin_entries_case_insensitively() {
        let p = FixAgentPolicy::default();
        for path in [
            ".github/workflows/ci.yml",
            ".GitHub/Workflows/ci.yml",
            ".github/actions/x/action.yml",
            "action.yml",
            "sub/action.yaml",
            "CODEOWNERS",
            ".github/CODEOWNERS",
            "package-lock.json",
            "web/yarn.lock",
            "Cargo.lock",
            ".env",
            ".env.production",
            "config/prod.env",
            "certs/server.pem",
            "deploy/id_rsa",
        ] {
            assert!(
                matches!(p.check_scope(path), Err(ScopeDenial::Builtin(..))),
                "{path} should be denied"
            );
        }
        for path in [
            "src/app.ts",
            ".dockerignore",
            "tests/login.spec.ts",
            "README.md",
        ] {
            assert_eq!(p.check_scope(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn allow_star_does_not_cross_slash_and_lifting_works() {
        let p = parse(
            "fix-agent:\n  allow: [\"src/*.ts\", \"package-lock.json\"]\n  lift-builtin-deny: [lockfiles]\n",
        )
        .expect("valid")
        .fix_agent;
        assert_eq!(p.check_scope("src/a.ts"), Ok(()));
        assert_eq!(p.check_scope("src/x/a.ts"), Err(ScopeDenial::NotAllowed));
        assert_eq!(p.check_scope("package-lock.json"), Ok(()));
        assert!(matches!(
            p.check_scope(".env"),
            Err(ScopeDenial::Builtin("env-files", _))
        ));
    }

    #[test]
    fn invalid_values_name_the_dotted_key() {
        for (yaml, key) in [
            ("fix-agent:\n  max-files: 0\n", "fix-agent.max-files"),
            ("fix-agent:\n  allow: [\"src/[\"]\n", "fix-agent.allow[0]"),
            (
                "fix-agent:\n  lift-builtin-deny: [everything]\n",
                "fix-agent.lift-builtin-deny[0]",
            ),
            (
                "fix-agent:\n  validation:\n    command: [npm]\n    timeout: soon\n",
                "fix-agent.validation.timeout",
            ),
            (
                "fix-agent:\n  playwright-timeout:\n    enabled: true\n    max-ms: 0\n",
                "fix-agent.playwright-timeout.max-ms",
            ),
            // parse_duration saturates: this was u64::MAX seconds, and the deadline computed
            // from it overflowed (fix-agent-apply panicked). Same 24 h cap as self-heal.
            (
                "fix-agent:\n  validation:\n    command: [npm]\n    timeout: 99999999999999h\n",
                "fix-agent.validation.timeout",
            ),
            (
                "fix-agent:\n  validation:\n    command: [npm]\n    timeout: 25h\n",
                "fix-agent.validation.timeout",
            ),
            (
                "fix-agent:\n  validation:\n    command: [npm]\n    timeout: 0s\n",
                "fix-agent.validation.timeout",
            ),
            (
                "fix-agent:\n  validation:\n    command: [\" \", test]\n",
                "fix-agent.validation.command",
            ),
        ] {
            match parse(yaml) {
                Err(PolicyError::Invalid { key: k, .. }) => assert_eq!(k, key, "{yaml}"),
                other => panic!("{yaml}: {other:?}"),
            }
        }
        let err = parse("fix-agent:\n  on-refusal: ignore\n").expect_err("bad enum");
        assert!(err.to_string().contains("ignore"), "{err}");
        let err = parse("fix-agent:\n  max-file: 3\n").expect_err("unknown key");
        assert!(err.to_string().contains("max-file"), "{err}");
    }

    #[test]
    fn the_model_section_is_off_by_default_and_validated() {
        assert!(FixAgentPolicy::default().model.is_none());
        let p = parse("fix-agent:\n  model: {provider: anthropic, model: claude-x, timeout: 30s, max-candidates: 3}\n")
            .expect("valid")
            .fix_agent;
        let m = p.model.expect("model on");
        assert_eq!(m.provider, Provider::Anthropic);
        assert_eq!(m.base_url, "https://api.anthropic.com");
        assert_eq!(m.api_key_env, "ANTHROPIC_API_KEY");
        assert_eq!(m.timeout, Duration::from_secs(30));
        assert_eq!(m.max_candidates, 3);
        for (yaml, key) in [
            (
                "fix-agent:\n  model: {provider: openai, model: \" \"}\n",
                "fix-agent.model.model",
            ),
            (
                "fix-agent:\n  model: {provider: openai, model: m, base-url: \"file:///x\"}\n",
                "fix-agent.model.base-url",
            ),
            (
                "fix-agent:\n  model: {provider: openai, model: m, api-key-env: \"sk-live-123\"}\n",
                "fix-agent.model.api-key-env",
            ),
            (
                "fix-agent:\n  model: {provider: azure-openai, model: m}\n",
                "fix-agent.model.base-url",
            ),
            (
                "fix-agent:\n  model: {provider: openai, model: m, temperature: 3}\n",
                "fix-agent.model.temperature",
            ),
            (
                "fix-agent:\n  model: {provider: openai, model: m, max-candidates: 0}\n",
                "fix-agent.model.max-candidates",
            ),
            (
                "fix-agent:\n  model: {provider: openai, model: m, timeout: 25h}\n",
                "fix-agent.model.timeout",
            ),
        ] {
            match parse(yaml) {
                Err(PolicyError::Invalid { key: k, .. }) => assert_eq!(k, key, "{yaml}"),
                other => panic!("{yaml}: {other:?}"),
            }
        }
        let err = parse("fix-agent:\n  model: {provider: openai, model: m, api-key: sk}\n")
            .expect_err("unknown key");
        assert!(err.to_string().contains("api-key"), "{err}");
        let err =
            parse("fix-agent:\n  model: {provider: gemini, model: m}\n").expect_err("provider");
        assert!(err.to_string().contains("gemini"), "{err}");
    }

    #[test]
    fn values_are_read() {
        let p = parse(
            "fix-agent:\n  test-weakening: flag\n  on-refusal: drop-edit\n  playwright-timeout: {enabled: true, max-ms: 45000}\n  validation: {command: [npx, playwright, test], timeout: 90s, pass-failed-tests: false}\n",
        )
        .expect("valid")
        .fix_agent;
        assert_eq!(p.test_weakening, TestWeakening::Flag);
        assert_eq!(p.on_refusal, OnRefusal::DropEdit);
        assert_eq!(p.playwright_max_ms, Some(45000));
        assert_eq!(p.validation_command, vec!["npx", "playwright", "test"]);
        assert_eq!(p.validation_timeout, Duration::from_secs(90));
        assert!(!p.validation_pass_failed_tests);
    }
}
