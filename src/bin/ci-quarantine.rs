//! `ci-quarantine`: lists, adds and expires entries of `.github/ci-remedy-quarantine.yml`.
//! `add` and `expire` never write the file: they write a patch artifact made by the fix-agent's
//! guard (`<out>/quarantine/patch-quarantine.diff`) for a person to review and apply.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use ci_remedy::artifact::{write_atomic, Edit, GuardDecision, Instruction};
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
    /// Writes a patch that adds an entry.
    Add {
        /// The test id, as the context's tests.failed[] has it.
        #[arg(long)]
        test: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who looks after it.
        #[arg(long)]
        owner: String,
        /// The last day it counts (YYYY-MM-DD).
        #[arg(long)]
        expires: NaiveDate,
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
            test,
            reason,
            owner,
            expires,
            out,
        } => {
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
