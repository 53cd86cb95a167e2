//! `developer-agent`: the self-hostable Cloud-Agent + Developer-Agent HTTP server.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use ci_remedy::agent::listen::{self, connection_bound, ConnectionLimits};
use ci_remedy::agent::model::ServerModel;
use ci_remedy::agent::server::{router, AppState, ServerConfig};
use ci_remedy::artifact::Category;
use ci_remedy::classify::RulePack;
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::net::{ClientConfig, RetryPolicy, Token};
use ci_remedy::policy::fix_agent::{ModelPolicy, ModelRaw, PriceRaw, Provider};
use ci_remedy::policy::parse_duration;

const AFTER_HELP: &str = "\
Endpoints:
  POST /api/ci/logs    Cloud-Agent role, bearer AGENT_TOKEN. Forwards to DEVELOPER_AGENT_URL with
                       DEVELOPER_AGENT_TOKEN when set, else handles locally. Answers
                       {\"status\":\"received\",\"upstream\":<answer>}.
  POST /process-logs   Developer-Agent role, bearer DEVELOPER_AGENT_TOKEN (AGENT_TOKEN when only
                       that is set). Stores the payload under <data-dir>/logs/<run_id>/, classifies
                       it and answers {classification, self_heal_plan, fix_agent_instructions,
                       triggers}. fix_agent_instructions come from the built-in fix recipes run
                       on the payload's repository section (rebuilt in a private temporary
                       directory under TMPDIR, removed afterwards); empty without that section.
                       When they propose nothing and a model is configured (--policy's
                       fix-agent.model, --model-*), the model is asked with the same prompt,
                       output checks and guard as fix-agent-prepare's; the answer's `model`
                       record says what it gave (absent when no model was asked).
  GET  /healthz        {\"status\":\"ok\"}
  Payload and answers: schemas/ci-logs-payload.schema.json, developer-agent-answer.schema.json,
  cloud-agent-answer.schema.json. Errors: {\"error\", \"fields\"} with
  400/401/404/405/408/413/415/429/500/502/503.

Connections: a request head must arrive within --header-timeout; a connection without a
request in progress and without traffic for --idle-timeout is closed; at most
--max-connections are open (lowered to the open-file limit minus 64): when all are taken the
quietest idle one is closed for the new one, and when all are busy the new one gets 503.
At most --max-in-flight requests read their body and are processed at once.

Environment:
  AGENT_TOKEN, DEVELOPER_AGENT_TOKEN   bearer tokens (never printed; at least one is required)
  DEVELOPER_AGENT_URL                  the upstream /process-logs URL for /api/ci/logs
  DEVELOPER_AGENT_BIND, DEVELOPER_AGENT_DATA_DIR   as --bind and --data-dir
  CI_REMEDY_MODEL_PROVIDER, CI_REMEDY_MODEL, CI_REMEDY_MODEL_BASE_URL, CI_REMEDY_MODEL_KEY_ENV,
  CI_REMEDY_MODEL_MAX_OUTPUT_TOKENS, CI_REMEDY_MODEL_MAX_TOTAL_TOKENS, CI_REMEDY_MODEL_TIMEOUT
                                       as the --model-* flags
  the variable --model-key-env names   the model's API key (never printed; when it is empty the
                                       server says so once at startup and answers with the
                                       recipes only)

On start it prints `listening on http://ADDR` (with the real port when --bind ends in :0).
SIGINT or SIGTERM stop it gracefully.

Exit codes:
  0  stopped by a signal
  1  the address could not be bound or the server failed
  2  usage or policy-file error (e.g. no token configured)";

/// Serve the Cloud-Agent and Developer-Agent endpoints.
#[derive(Parser, Debug)]
#[command(name = "developer-agent", version, after_help = AFTER_HELP)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, env = "DEVELOPER_AGENT_BIND", default_value = "127.0.0.1:8787")]
    bind: SocketAddr,
    /// Where payloads are stored (`<DIR>/logs/<run_id>/`).
    #[arg(
        long,
        env = "DEVELOPER_AGENT_DATA_DIR",
        value_name = "DIR",
        default_value = "developer-agent-data"
    )]
    data_dir: PathBuf,
    /// The policy whose `classify` rules are used, whose `fix-agent.playwright-timeout` opts
    /// the recipes in to the Playwright timeout fix, and whose `fix-agent.model` (with the
    /// `--model-*` flags over it) is asked when the recipes propose nothing.
    #[arg(long, value_name = "PATH")]
    policy: Option<PathBuf>,
    /// Payloads with a repository section processed at once (fix recipes); others wait.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    recipe_jobs: u16,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Requests per minute allowed per token.
    #[arg(long, value_name = "N", default_value_t = 600)]
    rate_limit: u32,
    /// Requests allowed in a burst per token.
    #[arg(long, value_name = "N", default_value_t = 60)]
    burst: u32,
    /// Time allowed for one request, end to end (e.g. 30s).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    request_timeout: String,
    /// Time allowed to send a complete request head (at most 10s by default).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    header_timeout: String,
    /// Time a connection may stay open with no request in progress and no traffic.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    idle_timeout: String,
    /// Connections open at once (lowered to the open-file limit minus 64).
    #[arg(long, value_name = "N", default_value_t = listen::DEFAULT_MAX_CONNECTIONS, value_parser = parse_positive)]
    max_connections: usize,
    /// Requests reading their body and processed at once (0: the number of cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_in_flight: usize,
    /// Time allowed for one forward to DEVELOPER_AGENT_URL.
    #[arg(long, value_name = "DURATION", default_value = "20s")]
    upstream_timeout: String,
    /// Self-heal action names to suggest for a category, e.g. `network=clear-npm-cache` or
    /// `service_unavailable=restart-db,reseed-db`. Use names your policy defines. Repeatable.
    #[arg(long = "plan-action", value_name = "CATEGORY=NAME[,NAME]")]
    plan_actions: Vec<String>,
    #[command(flatten)]
    model: ModelArgs,
}

/// The model asked when the recipes propose nothing. Each flag overrides the same key of the
/// `--policy` file's `fix-agent.model`; `--model-provider` and `--model` make a section of
/// their own when the policy has none. Off when neither configures one.
#[derive(clap::Args, Debug, Default)]
struct ModelArgs {
    /// The model API shape: openai, azure-openai or anthropic (fix-agent.model.provider).
    #[arg(long, env = "CI_REMEDY_MODEL_PROVIDER", value_name = "PROVIDER", value_parser = ["openai", "azure-openai", "anthropic"])]
    model_provider: Option<String>,
    /// The model name the API expects (fix-agent.model.model).
    #[arg(long, env = "CI_REMEDY_MODEL", value_name = "NAME")]
    model: Option<String>,
    /// The API base URL (fix-agent.model.base-url; required for azure-openai).
    #[arg(long, env = "CI_REMEDY_MODEL_BASE_URL", value_name = "URL")]
    model_base_url: Option<String>,
    /// The NAME of the environment variable holding the API key, never the key
    /// (fix-agent.model.api-key-env; default OPENAI_API_KEY, AZURE_OPENAI_API_KEY or
    /// ANTHROPIC_API_KEY).
    #[arg(long, env = "CI_REMEDY_MODEL_KEY_ENV", value_name = "VAR")]
    model_key_env: Option<String>,
    /// The most output tokens per model request (fix-agent.model.max-output-tokens).
    #[arg(long, env = "CI_REMEDY_MODEL_MAX_OUTPUT_TOKENS", value_name = "N")]
    model_max_output_tokens: Option<u32>,
    /// The most tokens per model run, all requests (fix-agent.model.max-total-tokens).
    #[arg(long, env = "CI_REMEDY_MODEL_MAX_TOTAL_TOKENS", value_name = "N")]
    model_max_total_tokens: Option<u64>,
    /// Time allowed for one model request (fix-agent.model.timeout); the server waits for the
    /// model at most until the request's --request-timeout (less a margin) in any case.
    #[arg(long, env = "CI_REMEDY_MODEL_TIMEOUT", value_name = "DURATION")]
    model_timeout: Option<String>,
}

impl ModelArgs {
    fn any(&self) -> bool {
        self.model_provider.is_some()
            || self.model.is_some()
            || self.model_base_url.is_some()
            || self.model_key_env.is_some()
            || self.model_max_output_tokens.is_some()
            || self.model_max_total_tokens.is_some()
            || self.model_timeout.is_some()
    }
}

/// The raw section of a validated model policy (to lay flags over it).
fn raw_of(m: &ModelPolicy) -> ModelRaw {
    ModelRaw {
        provider: m.provider,
        model: m.model.clone(),
        base_url: Some(m.base_url.clone()),
        api_key_env: Some(m.api_key_env.clone()),
        max_output_tokens: Some(m.max_output_tokens),
        max_total_tokens: Some(m.max_total_tokens),
        timeout: Some(format!("{}ms", m.timeout.as_millis())),
        temperature: Some(m.temperature),
        max_candidates: Some(m.max_candidates),
        price_per_mtok: m
            .price_per_mtok
            .map(|(input, output)| PriceRaw { input, output }),
    }
}

/// The model configuration: the policy's `fix-agent.model` with the flags laid over it.
/// `Ok(None)`: off. Errors: one sentence (never a key: a `--model-key-env` that is not a
/// variable name is not quoted).
fn model_config(
    from_policy: Option<&ModelPolicy>,
    a: &ModelArgs,
) -> Result<Option<ModelPolicy>, String> {
    if !a.any() {
        return Ok(from_policy.cloned());
    }
    let provider = match a.model_provider.as_deref() {
        Some("openai") => Some(Provider::Openai),
        Some("azure-openai") => Some(Provider::AzureOpenai),
        Some("anthropic") => Some(Provider::Anthropic),
        Some(other) => {
            return Err(format!(
                "--model-provider {other:?} is not openai, azure-openai or anthropic"
            ))
        }
        None => None,
    };
    let mut raw = match (from_policy, provider, &a.model) {
        (Some(m), _, _) => raw_of(m),
        (None, Some(p), Some(name)) => ModelRaw {
            provider: p,
            model: name.clone(),
            base_url: None,
            api_key_env: None,
            max_output_tokens: None,
            max_total_tokens: None,
            timeout: None,
            temperature: None,
            max_candidates: None,
            price_per_mtok: None,
        },
        (None, _, _) => {
            return Err("a model needs --model-provider and --model (or a fix-agent.model section in the --policy file)".into())
        }
    };
    if let Some(p) = provider {
        if p != raw.provider {
            // Another API shape: its own default URL and key variable, unless given.
            raw.base_url = None;
            raw.api_key_env = None;
        }
        raw.provider = p;
    }
    if let Some(v) = &a.model {
        raw.model = v.clone();
    }
    if let Some(v) = &a.model_base_url {
        raw.base_url = Some(v.clone());
    }
    if let Some(v) = &a.model_key_env {
        let name_ok = !v.is_empty()
            && !v.starts_with(|c: char| c.is_ascii_digit())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err("--model-key-env must be the NAME of the environment variable holding the key (letters, digits, `_`), never the key itself".into());
        }
        raw.api_key_env = Some(v.clone());
    }
    if let Some(v) = a.model_max_output_tokens {
        raw.max_output_tokens = Some(v);
    }
    if let Some(v) = a.model_max_total_tokens {
        raw.max_total_tokens = Some(v);
    }
    if let Some(v) = &a.model_timeout {
        raw.timeout = Some(v.clone());
    }
    raw.validate().map(Some).map_err(|e| {
        format!(
            "the model configuration (the --policy file's fix-agent.model and the --model-* flags): {} {}",
            e.key, e.message
        )
    })
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

fn parse_plan(items: &[String]) -> Result<HashMap<Category, Vec<String>>, String> {
    let mut map: HashMap<Category, Vec<String>> = HashMap::new();
    for item in items {
        let (cat, names) = item
            .split_once('=')
            .ok_or_else(|| format!("--plan-action {item:?}: expected CATEGORY=NAME[,NAME]"))?;
        let category = Category::parse(cat.trim())
            .ok_or_else(|| format!("--plan-action {item:?}: unknown category {cat:?}"))?;
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.len() > 64
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(format!(
                    "--plan-action {item:?}: invalid action name {name:?}"
                ));
            }
            map.entry(category).or_default().push(name.to_string());
        }
    }
    Ok(map)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let agent_token = Token::from_env("AGENT_TOKEN");
    let developer_agent_token = Token::from_env("DEVELOPER_AGENT_TOKEN");
    if agent_token.is_none() && developer_agent_token.is_none() {
        cli::print_error(
            &"no token configured (AGENT_TOKEN or DEVELOPER_AGENT_TOKEN)",
            Some("set AGENT_TOKEN (and DEVELOPER_AGENT_TOKEN for a separate /process-logs token) in the environment"),
        );
        return cli::exit(EXIT_USAGE);
    }
    let upstream_url = std::env::var("DEVELOPER_AGENT_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    if let Some(u) = &upstream_url {
        if let Err(e) = ci_remedy::net::parse_url(u, "DEVELOPER_AGENT_URL") {
            cli::print_error(&e, Some("give the full URL of the upstream /process-logs"));
            return cli::exit(EXIT_USAGE);
        }
    }
    let durations = (|| -> Result<[Duration; 4], String> {
        let d = |value: &str, flag: &str| parse_duration(value).map_err(|e| format!("{flag}: {e}"));
        Ok([
            d(&args.request_timeout, "--request-timeout")?,
            d(&args.upstream_timeout, "--upstream-timeout")?,
            d(&args.header_timeout, "--header-timeout")?,
            d(&args.idle_timeout, "--idle-timeout")?,
        ])
    })();
    let [request_timeout, upstream_timeout, header_timeout, idle_timeout] = match durations {
        Ok(d) => d,
        Err(e) => {
            cli::print_error(&e, Some("durations look like 500ms, 5s or 1m"));
            return cli::exit(EXIT_USAGE);
        }
    };
    let plan_actions = match parse_plan(&args.plan_actions) {
        Ok(p) => p,
        Err(e) => {
            cli::print_error(&e, None);
            return cli::exit(EXIT_USAGE);
        }
    };
    let policy = match cli::load_policy(
        args.policy.as_deref(),
        "fix the policy file or pass --policy PATH",
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let pack = match RulePack::new(&policy.classify) {
        Ok(p) => p,
        Err(e) => {
            cli::print_error(&e, Some("check the `classify.rules` section of the policy"));
            return cli::exit(EXIT_USAGE);
        }
    };
    let model = match model_config(policy.fix_agent.model.as_ref(), &args.model) {
        Ok(m) => m,
        Err(e) => {
            cli::print_error(
                &e,
                Some("see docs/developer-agent.md, \"A model for the answers\""),
            );
            return cli::exit(EXIT_USAGE);
        }
    };
    // Said once, here; only the variable's name is ever printed.
    let model = model.and_then(|m| match Token::from_env(&m.api_key_env) {
        Some(key) => {
            ci_remedy::errln!(
                "model: {}/{} at {} answers when the recipes propose nothing (key from {})",
                m.provider.as_str(),
                m.model,
                m.base_url,
                m.api_key_env
            );
            if m.timeout >= request_timeout {
                ci_remedy::errln!(
                    "note: the model's timeout ({} ms per request) is not shorter than --request-timeout ({} ms): a model that slow is cut off and the answer goes out without it",
                    m.timeout.as_millis(),
                    request_timeout.as_millis()
                );
            }
            Some(ServerModel { policy: m, key })
        }
        None => {
            ci_remedy::errln!(
                "warning: the model {}/{} is configured but the environment variable {} (its API key) is empty or unset; answering with the recipes only",
                m.provider.as_str(),
                m.model,
                m.api_key_env
            );
            None
        }
    });
    let nofile = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|&soft| soft != nix::sys::resource::RLIM_INFINITY);
    let max_connections = connection_bound(args.max_connections, nofile);
    if max_connections < args.max_connections {
        ci_remedy::errln!(
            "warning: --max-connections lowered from {} to {max_connections} to fit the open-file limit ({} descriptors)",
            args.max_connections,
            nofile.unwrap_or(0)
        );
    }
    let limits = ConnectionLimits {
        max_connections,
        header_timeout,
        idle_timeout,
        shutdown_grace: request_timeout,
    };
    let max_in_flight = match args.max_in_flight {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let cfg = ServerConfig {
        agent_token,
        developer_agent_token,
        upstream_url,
        upstream_client: ClientConfig {
            connect_timeout: Duration::from_secs(5).min(upstream_timeout),
            timeout: upstream_timeout,
            retry: RetryPolicy {
                max_attempts: 2,
                ..RetryPolicy::default()
            },
            max_response_bytes: ci_remedy::agent::ship::MAX_ANSWER_BYTES,
        },
        data_dir: args.data_dir,
        max_body_bytes: args.max_body_bytes,
        rate_per_minute: args.rate_limit,
        burst: args.burst,
        request_timeout,
        plan_actions,
        recipe_policy: policy.fix_agent.clone(),
        recipe_jobs: usize::from(args.recipe_jobs),
        max_in_flight,
        model,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            cli::print_error(&format!("cannot start the async runtime: {e}"), None);
            return cli::exit(EXIT_FAILED);
        }
    };
    let bind = args.bind;
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(bind).await {
            Ok(l) => l,
            Err(e) => {
                cli::print_error(
                    &format!("cannot listen on {bind}: {e}"),
                    Some("pick another --bind address or port"),
                );
                return cli::exit(EXIT_FAILED);
            }
        };
        let addr = listener.local_addr().unwrap_or(bind);
        ci_remedy::outln!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
        let app = router(AppState::new(cfg, pack));
        listen::serve(listener, app, limits, shutdown()).await;
        cli::exit(EXIT_OK)
    })
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: impl FnOnce(&mut ModelArgs)) -> ModelArgs {
        let mut a = ModelArgs::default();
        f(&mut a);
        a
    }

    fn policy_section(provider: Provider) -> ModelPolicy {
        ModelRaw {
            provider,
            model: "from-policy".into(),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            api_key_env: Some("POLICY_KEY".into()),
            max_output_tokens: Some(1000),
            max_total_tokens: None,
            timeout: Some("45s".into()),
            temperature: Some(0.5),
            max_candidates: None,
            price_per_mtok: Some(PriceRaw {
                input: 1.0,
                output: 2.0,
            }),
        }
        .validate()
        .expect("valid")
    }

    #[test]
    fn off_unless_configured_and_the_policy_alone_is_kept() {
        assert_eq!(model_config(None, &ModelArgs::default()), Ok(None));
        let p = policy_section(Provider::Openai);
        assert_eq!(
            model_config(Some(&p), &ModelArgs::default()),
            Ok(Some(p.clone()))
        );
        // Laid over the policy and validated again: the same settings.
        let same = model_config(Some(&p), &flags(|a| a.model_max_output_tokens = Some(1000)));
        assert_eq!(same, Ok(Some(p)));
    }

    #[test]
    fn flags_override_keys_and_a_new_provider_gets_its_own_defaults() {
        let p = policy_section(Provider::Openai);
        let m = model_config(
            Some(&p),
            &flags(|a| {
                a.model_timeout = Some("5s".into());
                a.model = Some("other".into());
            }),
        )
        .expect("valid")
        .expect("on");
        assert_eq!(m.timeout, Duration::from_secs(5));
        assert_eq!(m.model, "other");
        assert_eq!(m.api_key_env, "POLICY_KEY");
        assert_eq!(m.price_per_mtok, Some((1.0, 2.0)));
        let m = model_config(
            Some(&p),
            &flags(|a| a.model_provider = Some("anthropic".into())),
        )
        .expect("valid")
        .expect("on");
        assert_eq!(m.provider, Provider::Anthropic);
        assert_eq!(m.base_url, "https://api.anthropic.com");
        assert_eq!(m.api_key_env, "ANTHROPIC_API_KEY");
        assert_eq!(m.max_output_tokens, 1000);
    }

    #[test]
    fn flags_alone_need_a_provider_and_a_model() {
        let m = model_config(
            None,
            &flags(|a| {
                a.model_provider = Some("openai".into());
                a.model = Some("gpt-x".into());
            }),
        )
        .expect("valid")
        .expect("on");
        assert_eq!(m.base_url, "https://api.openai.com/v1");
        assert_eq!(m.api_key_env, "OPENAI_API_KEY");
        let err = model_config(None, &flags(|a| a.model = Some("gpt-x".into())))
            .expect_err("no provider");
        assert!(err.contains("--model-provider"), "{err}");
        let err = model_config(
            None,
            &flags(|a| {
                a.model_provider = Some("openai".into());
                a.model = Some("gpt-x".into());
                a.model_key_env = Some("sk-live-abc".into());
            }),
        )
        .expect_err("a key, not a name");
        assert!(!err.contains("sk-live-abc"), "{err}");
    }
}
