//! `ci-quarantine`: lists, adds and expires entries of `.github/ci-remedy-quarantine.yml`.
//! `add` and `expire` never write the file: they write a patch artifact made by the fix-agent's
//! guard (`<out>/quarantine/patch-quarantine.diff`) for a person to review and apply.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use ci_remedy::artifact::{write_atomic, Context, Edit, GuardDecision, Instruction};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use ci_remedy::heal::quarantine::{Entry, QuarantineFile, DEFAULT_QUARANTINE_PATH};

/// Lists, adds and expires quarantined tests (add and expire write a patch, never the file).
#[derive(Debug, Parser)]
#[command(name = "ci-quarantine", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The repository root.
    #[arg(long, value_name = "DIR", default_value = ".", global = true)]
    repo: PathBuf,
    /// The date entries expire against (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE", global = true)]
    today: Option<NaiveDate>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Prints each entry with `active` or `expired`.
    List,
    /// Writes a patch that adds an entry (--test), or one per flaky test of a context
    /// (--from-context).
    Add {
        /// The test id, as the context's tests.failed[] has it.
        #[arg(
            long,
            required_unless_present = "from_context",
            conflicts_with = "from_context"
        )]
        test: Option<String>,
        /// Why (with --from-context: put before the runs the test failed and passed in).
        #[arg(long, required_unless_present = "from_context")]
        reason: Option<String>,
        /// Who looks after it.
        #[arg(long)]
        owner: String,
        /// The last day it counts (YYYY-MM-DD) [with --from-context, default: --days after
        /// --today].
        #[arg(long, required_unless_present = "from_context")]
        expires: Option<NaiveDate>,
        /// A self-heal context (self-heal/context.json) whose tests.flaky[] (self-heal-prepare
        /// --attempt-reports) each get an entry: the test's id, else its name; the reason names
        /// the runs and attempts it failed and passed in. Tests already quarantined are skipped.
        #[arg(long, value_name = "CONTEXT")]
        from_context: Option<PathBuf>,
        /// With --from-context and no --expires: the entries expire this many days after today.
        #[arg(
            long,
            value_name = "DAYS",
            default_value_t = 30,
            requires = "from_context"
        )]
        days: u32,
        /// The output directory; the patch goes to <OUT>/quarantine/patch-quarantine.diff.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Writes a patch that removes the expired entries.
    Expire {
        /// The output directory; the patch goes to <OUT>/quarantine/patch-quarantine.diff.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let path = args.repo.join(DEFAULT_QUARANTINE_PATH);
    let old_text = std::fs::read_to_string(&path).ok();
    let mut file = match &old_text {
        None => QuarantineFile::default(),
        Some(_) => match QuarantineFile::load(&path) {
            Ok(f) => f,
            Err(e) => {
                cli::print_error(&e, Some("fix the quarantine file by hand first"));
                return cli::exit(EXIT_USAGE);
            }
        },
    };
    let out = match args.command {
        Cmd::List => {
            for e in &file.quarantine {
                ci_remedy::outln!(
                    "{} {} (owner {}, added {}, expires {}): {}",
                    if e.active(today) {
                        "active "
                    } else {
                        "expired"
                    },
                    cli::one_line(&e.test),
                    cli::one_line(&e.owner),
                    e.added,
                    e.expires,
                    cli::one_line(&e.reason)
                );
            }
            return cli::exit(EXIT_OK);
        }
        Cmd::Add {
            test: None,
            reason,
            owner,
            expires,
            from_context: Some(ctx_path),
            days,
            out,
        } => {
            let expires =
                expires.unwrap_or_else(|| today + chrono::Duration::days(i64::from(days)));
            match add_from_context(
                &mut file,
                &ctx_path,
                reason.as_deref(),
                &owner,
                today,
                expires,
            ) {
                Ok(0) => {
                    ci_remedy::outln!("no flaky test to add; no patch written");
                    return cli::exit(EXIT_OK);
                }
                Ok(n) => ci_remedy::outln!("{n} flaky test(s) added"),
                Err(code) => return code,
            }
            out
        }
        Cmd::Add {
            test,
            reason,
            owner,
            expires,
            out,
            ..
        } => {
            let (Some(test), Some(reason), Some(expires)) = (test, reason, expires) else {
                cli::print_error(
                    &"add needs --test, --reason and --expires, or --from-context",
                    None,
                );
                return cli::exit(EXIT_USAGE);
            };
            if file.quarantine.iter().any(|e| e.test == test) {
                cli::print_error(
                    &format!(
                        "{:?} is already quarantined ({})",
                        cli::one_line(&test),
                        path.display()
                    ),
                    Some("edit its entry instead"),
                );
                return cli::exit(EXIT_USAGE);
            }
            file.quarantine.push(Entry {
                test,
                reason,
                owner,
                added: today,
                expires,
            });
            out
        }
        Cmd::Expire { out } => {
            let gone = file.remove_expired(today);
            ci_remedy::outln!("{} expired entr(ies) removed", gone.len());
            if gone.is_empty() {
                return cli::exit(EXIT_OK);
            }
            out
        }
    };
    // The new text must read back as the same file.
    let new_text = file.to_yaml();
    if QuarantineFile::parse(&new_text, &path).ok().as_ref() != Some(&file) {
        cli::print_error(
            &format!(
                "the new quarantine entries do not read back ({})",
                path.display()
            ),
            Some("check --test, --reason and --owner for unusual characters"),
        );
        return cli::exit(EXIT_USAGE);
    }
    patch(&args.repo, old_text, new_text, &out)
}

/// `add --from-context`: an entry per flaky test of the context not yet in `file` (its id,
/// else its name; the reason names the runs). Returns how many were added; the error is the
/// exit code after the message.
fn add_from_context(
    file: &mut QuarantineFile,
    ctx_path: &Path,
    reason: Option<&str>,
    owner: &str,
    today: NaiveDate,
    expires: NaiveDate,
) -> Result<usize, ExitCode> {
    let ctx = match ci_remedy::artifact::read_artifact::<Context>(ctx_path) {
        Ok(c) => c,
        Err(e) => {
            cli::print_error(&e, Some("pass the context.json self-heal-prepare wrote"));
            return Err(cli::exit(EXIT_USAGE));
        }
    };
    if expires < today {
        cli::print_error(
            &format!("the entries would expire ({expires}) before today ({today})"),
            Some("pass a later --expires or a positive --days"),
        );
        return Err(cli::exit(EXIT_USAGE));
    }
    if ctx.tests.flaky.is_empty() {
        ci_remedy::outln!(
            "the context lists no flaky tests (tests.flaky[]: self-heal-prepare --attempt-reports)"
        );
        return Ok(0);
    }
    let mut added = 0;
    for t in &ctx.tests.flaky {
        let test = t.id.clone().unwrap_or_else(|| t.name.clone());
        if file.quarantine.iter().any(|e| e.test == test) {
            ci_remedy::outln!("already quarantined, skipped: {}", cli::one_line(&test));
            continue;
        }
        let runs = ci_remedy::reports::attempts::runs_line(t);
        let why = format!(
            "flaky across attempts of {}: failed {} time(s), passed {} ({runs})",
            short_sha(&ctx.run.sha),
            t.failures,
            t.passes
        );
        let reason = match reason {
            Some(r) if !r.trim().is_empty() => format!("{}; {why}", cli::one_line(r)),
            _ => why,
        };
        ci_remedy::outln!("add: {}", cli::one_line(&test));
        file.quarantine.push(Entry {
            test,
            reason: cli::one_line(&reason),
            owner: owner.to_string(),
            added: today,
            expires,
        });
        added += 1;
    }
    Ok(added)
}

/// The first 12 characters of a commit sha (`local` and other words as they are).
fn short_sha(sha: &str) -> String {
    let one = cli::one_line(sha);
    if one.len() == 40 && one.bytes().all(|b| b.is_ascii_hexdigit()) {
        one[..12].to_string()
    } else {
        format!("commit {one}")
    }
}

/// Makes the patch with the fix-agent's guard (the policy's fix-agent scope and caps) and
/// writes it atomically.
fn patch(repo: &Path, old: Option<String>, new: String, out: &Path) -> ExitCode {
    let policy = match cli::load_policy_in(repo, None, "fix the policy file") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let edit = match old {
        Some(old) if !old.is_empty() => Edit::Replace {
            path: DEFAULT_QUARANTINE_PATH.into(),
            find: old,
            replace: new,
            count: 1,
        },
        _ => Edit::Create {
            path: DEFAULT_QUARANTINE_PATH.into(),
            content: new,
        },
    };
    let instr = Instruction {
        summary: "update the test quarantine".into(),
        source: Some("ci-quarantine".into()),
        edits: vec![edit],
    };
    let plan = ci_remedy::fix::apply::plan(&[instr], repo, &policy.fix_agent);
    if plan.decision != GuardDecision::Accepted {
        for r in &plan.refused {
            cli::print_warning(&format!("refused: {r:?}"));
        }
        cli::print_error(
            &format!(
                "the guard did not accept the quarantine patch ({})",
                plan.decision.as_str()
            ),
            Some("allow .github/ci-remedy-quarantine.yml in fix-agent.allow"),
        );
        return cli::exit(EXIT_FAILED);
    }
    let target = out.join("quarantine").join("patch-quarantine.diff");
    if let Err(e) = write_atomic(&target, plan.patch.as_bytes()) {
        cli::print_error(&e, Some("check that --out is writable"));
        return cli::exit(EXIT_FAILED);
    }
    ci_remedy::outln!("patch: {}", target.display());
    cli::exit(EXIT_OK)
}
