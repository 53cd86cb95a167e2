//! `ci-notify`: tell a person when the pipeline escalates to a human. One message per run and
//! category, to a Slack, Discord or generic JSON webhook whose URL never prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use ci_remedy::artifact::{
    read_artifact, write_json_atomic, Artifact, Context, FixMetadata, HealReport, RunInfo,
    SmokeReport, ToolInfo,
};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::github::commands::{quote_untrusted, ActionsEnv};
use ci_remedy::net::{ClientConfig, HttpClient, NetError, Resend, RetryPolicy};
use ci_remedy::notify::{
    dedup_key, escalation_reasons, smoke_escalation, Message, NotifyOutcome, NotifyStatus, Reason,
    SentEntry, SentState, WebhookKind, NOTIFY_STATUS_SCHEMA,
};
use ci_remedy::policy::parse_duration;

const AFTER_HELP: &str = "\
Configuration (environment):
  CI_NOTIFY_WEBHOOK_URL  the webhook (a secret: never printed nor written). Without it the
                         status is `skipped`.
  GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID   the run link

When it sends: when an enabled reason applies (--on), read from the artifacts:
  self-heal-exhausted  the self-heal report escalates to a human without healing (the message
                       says what stopped it: a failed gate, a failing action or rerun, an error)
  patch-rejected       the fix metadata's guardrails.decision is rejected
  validation-failed    the fix metadata's validation.status is failed or timed_out
  smoke-max-iterations the smoke report (--smoke-report) failed max-iterations validations
                       of the same deployment sha
  --reason forces one. At most one message per run and category: the state file (--state)
  records what was sent; keep it across jobs (e.g. with actions/cache) for cross-job dedup.

Delivery: one retry, after --retry-delay (or the webhook's Retry-After, up to 10s), when the
webhook refused the message (HTTP 429 or 5xx) or could not be connected to. No retry after a
timeout waiting for the answer: the message may have been posted, and a retry could post it
twice.

The message: the run link, the category, the top evidence (from the context) and what was
tried (self-heal actions, rerun, patch). Slack gets mrkdwn with <, >, & escaped; Discord gets
mentions disabled; a generic webhook gets JSON (schema ci-remedy/notification/v1).

Outputs: <out>/notify/notify-status.json (status sent | duplicate | not_escalated | skipped |
failed); with GITHUB_OUTPUT set, output status.

Exit codes:
  0  the status artifact was written, whatever happened to the message
  1  an input artifact or the state file could not be read, or the status not written
  2  usage error";

/// Send one escalation message to a human (Slack, Discord or a generic JSON webhook).
#[derive(Parser, Debug)]
#[command(name = "ci-notify", version, after_help = AFTER_HELP)]
struct Args {
    /// self-heal/context.json (category, evidence).
    #[arg(long, value_name = "PATH")]
    context: Option<PathBuf>,
    /// The self-heal report (self-heal/report-<run_id>.json).
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// The fix-agent metadata (fix-agent/metadata-<run_id>.json).
    #[arg(long, value_name = "PATH")]
    fix_metadata: Option<PathBuf>,
    /// A ci-smoke report (smoke/report-<run_id>.json): escalates after max-iterations failed
    /// validations of one deployment sha; its failures are the evidence without a context.
    #[arg(long, value_name = "PATH")]
    smoke_report: Option<PathBuf>,
    /// Reasons that send a message (comma-separated).
    #[arg(
        long,
        value_name = "REASONS",
        default_value = "self-heal-exhausted,patch-rejected,validation-failed,smoke-max-iterations"
    )]
    on: String,
    /// Send for this reason regardless of the artifacts.
    #[arg(long, value_name = "REASON")]
    reason: Option<String>,
    /// The webhook's kind.
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = ["auto", "slack", "discord", "generic"])]
    kind: String,
    /// The state file [default: <out>/notify/sent.json].
    #[arg(long, value_name = "PATH")]
    state: Option<PathBuf>,
    /// The output directory; the status goes to <DIR>/notify/notify-status.json.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Time allowed for one request.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    timeout: String,
    /// Wait before the one retry (see Delivery below).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    retry_delay: String,
}

fn load<T: Artifact>(p: Option<&Path>) -> Result<Option<T>, String> {
    match p {
        Some(p) => read_artifact(p).map(Some).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut enabled = Vec::new();
    for name in args.on.split(',').filter(|s| !s.trim().is_empty()) {
        match Reason::parse(name) {
            Some(r) => enabled.push(r),
            None => {
                cli::print_error(
                    &format!("--on: unknown reason {:?}", name.trim()),
                    Some("reasons: self-heal-exhausted, patch-rejected, validation-failed, smoke-max-iterations"),
                );
                return cli::exit(EXIT_USAGE);
            }
        }
    }
    let forced = match args.reason.as_deref().map(|r| (r, Reason::parse(r))) {
        None => None,
        Some((_, Some(r))) => Some(r),
        Some((r, None)) => {
            cli::print_error(
                &format!("--reason: unknown reason {r:?}"),
                Some("reasons: self-heal-exhausted, patch-rejected, validation-failed, smoke-max-iterations"),
            );
            return cli::exit(EXIT_USAGE);
        }
    };
    let (timeout, retry_delay) = match (
        parse_duration(&args.timeout),
        parse_duration(&args.retry_delay),
    ) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => {
            cli::print_error(&e, Some("durations look like 500ms, 5s or 1m"));
            return cli::exit(EXIT_USAGE);
        }
    };
    let inputs = (|| -> Result<_, String> {
        Ok((
            load::<Context>(args.context.as_deref())?,
            load::<HealReport>(args.report.as_deref())?,
            load::<FixMetadata>(args.fix_metadata.as_deref())?,
            load::<SmokeReport>(args.smoke_report.as_deref())?,
        ))
    })();
    let (context, report, metadata, smoke) = match inputs {
        Ok(i) => i,
        Err(e) => {
            cli::print_error(&e, Some("pass artifacts written by ci-remedy"));
            return cli::exit(EXIT_FAILED);
        }
    };
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| args.out.join("notify").join("sent.json"));
    let mut state = match SentState::load(&state_path) {
        Ok(s) => s,
        Err(e) => {
            cli::print_error(&e, Some("fix or remove the state file"));
            return cli::exit(EXIT_FAILED);
        }
    };

    let run = RunInfo::from_env();
    let server_url = std::env::var("GITHUB_SERVER_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "https://github.com".into());
    let reason = forced.or_else(|| {
        escalation_reasons(report.as_ref(), metadata.as_ref())
            .into_iter()
            .chain(smoke.as_ref().and_then(smoke_escalation))
            .find(|r| enabled.contains(r))
    });
    let webhook = std::env::var("CI_NOTIFY_WEBHOOK_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let kind = webhook.as_deref().map(|u| match args.kind.as_str() {
        "slack" => WebhookKind::Slack,
        "discord" => WebhookKind::Discord,
        "generic" => WebhookKind::Generic,
        _ => WebhookKind::detect(u),
    });

    let mut status = NotifyStatus {
        schema: NOTIFY_STATUS_SCHEMA.into(),
        tool: ToolInfo::new("ci-notify"),
        run: run.clone(),
        status: NotifyOutcome::NotEscalated,
        reason,
        category: "unknown".into(),
        webhook: kind,
        attempts: 0,
        http_status: None,
        detail: "no enabled escalation reason applies".into(),
    };
    if let Some(reason) = reason {
        let mut msg = Message::build(
            reason,
            &run,
            &server_url,
            context.as_ref(),
            report.as_ref(),
            metadata.as_ref(),
        );
        if let Some(s) = &smoke {
            msg.add_smoke(s);
        }
        status.category = msg.category.clone();
        let key = dedup_key(&run, &msg.category);
        match (&webhook, kind) {
            (Some(url), Some(kind)) if !state.contains(&key) => {
                let body = serde_json::to_vec(&msg.render(kind)).unwrap_or_default();
                let cfg = ClientConfig {
                    connect_timeout: timeout.min(Duration::from_secs(5)),
                    timeout,
                    retry: RetryPolicy {
                        max_attempts: 2,
                        base_delay: retry_delay,
                        max_delay: retry_delay,
                        max_retry_after: Duration::from_secs(10),
                        budget: None,
                    },
                    max_response_bytes: 64 * 1024,
                };
                // A chat message must not be posted twice: the one retry only follows a
                // refusal (429, 5xx) or a connection that could not be opened, never a
                // timeout waiting for the answer (the message may have been posted).
                let sent = HttpClient::new(cfg)
                    .map_err(|reason| NetError::Unreachable {
                        target: "the webhook".into(),
                        attempts: 0,
                        reason,
                    })
                    .and_then(|c| c.post_json(url, None, &body, "the webhook", Resend::IfRefused));
                match sent {
                    Ok(resp) => {
                        status.status = NotifyOutcome::Sent;
                        status.attempts = resp.attempts;
                        status.http_status = Some(resp.status);
                        status.detail = format!("sent to the {} webhook", kind.as_str());
                        state.sent.push(SentEntry {
                            key,
                            reason,
                            at_unix: std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map(|d| d.as_secs())
                                .unwrap_or(0),
                        });
                        if let Err(e) = write_json_atomic(&state_path, &state) {
                            cli::print_warning(&e);
                        }
                    }
                    Err(e) => {
                        status.status = NotifyOutcome::Failed;
                        status.attempts = e.attempts();
                        status.http_status = e.status();
                        // NetError never contains the URL.
                        status.detail = cli::one_line(&e.to_string());
                    }
                }
            }
            (Some(_), Some(_)) => {
                status.status = NotifyOutcome::Duplicate;
                status.detail = format!(
                    "already notified for this run and category ({})",
                    msg.category
                );
            }
            _ => {
                status.status = NotifyOutcome::Skipped;
                status.detail = "CI_NOTIFY_WEBHOOK_URL is not set: nothing was sent".into();
            }
        }
    }

    let path = args.out.join("notify").join("notify-status.json");
    if let Err(e) = write_json_atomic(&path, &status) {
        cli::print_error(&e, Some("check that --out is a writable directory"));
        return cli::exit(EXIT_FAILED);
    }
    let name = serde_json::to_value(status.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    ci_remedy::outln!("ci-notify: {name}");
    ci_remedy::out!("{}", quote_untrusted(&status.detail, "  "));
    ci_remedy::outln!("wrote {}", path.display());
    if let Err(e) = ActionsEnv::from_env().set_outputs(&[("status", name)]) {
        cli::print_warning(&format!("cannot write GITHUB_OUTPUT: {e}"));
    }
    cli::exit(EXIT_OK)
}
