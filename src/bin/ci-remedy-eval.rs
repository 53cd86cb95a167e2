//! `ci-remedy-eval DIR [--baseline] [--top N] [--explain] [--json]`: precision/recall of failure
//! evidence on a folder of breakages, in the CiDiff layout (`DIR/<case>/fail.log`) or the
//! ecosystem layout (`DIR/<ecosystem>/<case>/fail.log`, figures per ecosystem).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ci_remedy::classify::eval::{
    discover, evaluate_case_explained, is_dev_half, CaseReport, CaseScore, EcosystemSummary,
    Halves, Layout, Summary,
};
use ci_remedy::classify::RulePack;
use ci_remedy::cli::{self, exit, one_line, print_error, EXIT_FAILED, EXIT_OK};
use clap::Parser;

/// Measures how well the evidence (findings ranked ≤ N) covers human ground truth.
///
/// DIR holds one folder per breakage with `fail.log`, `groundtruth` (first line the format, then
/// `E a-b` error lines and `C n` context lines, numbered like Java's String.lines()) and
/// optionally `pass.log` (the last passing log, used with --baseline). Prints, per case,
/// precision (flagged lines that are E or C), recall (E lines flagged) and whether every E line
/// was found; then macro means over all cases and over the two halves of the deterministic
/// split (dev = even index in name order, check = odd).
///
/// When DIR's folders hold no fail.log but their folders do (DIR/<ecosystem>/<case>/, the
/// layout of fixtures/ecosystems), prints per ecosystem and for all: cases, top-1 (every E line
/// inside the finding ranked 1), top-N (every E line inside the findings ranked 1..=N), mean
/// recall and precision of the top N, and the share classified `unknown`; for all cases and for
/// the dev and check halves, split by name order within each ecosystem.
#[derive(Parser, Debug)]
#[command(version, after_help = ci_remedy::cli::EXIT_CODES_HELP)]
struct Args {
    /// The folder of breakages (or of ecosystems holding breakages).
    dir: PathBuf,
    /// Use each case's pass.log as the baseline (--baseline-log).
    #[arg(long)]
    baseline: bool,
    /// Union of the findings ranked 1..=N.
    #[arg(long, default_value_t = 3)]
    top: u32,
    /// Also print each case's ground truth and its top findings (ground-truth line numbers).
    #[arg(long)]
    explain: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// DIR holds fix cases (fixtures/fix-cases): report the fix-agent's fix rate, tokens and
    /// time per case (ci_remedy::fix::eval; docs/fix-agent-models.md).
    #[arg(long)]
    fix: bool,
    /// With --fix: the recorded answers' API shape, `openai` or `anthropic`.
    #[arg(long, default_value = "openai", requires = "fix")]
    shape: String,
    /// With --fix: ask the live provider of this policy file's fix-agent.model instead.
    #[arg(long, requires = "fix")]
    live: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = match cli::parse_args() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let pack = match RulePack::builtin() {
        Ok(p) => p,
        Err(e) => {
            print_error(&e, None);
            return exit(EXIT_FAILED);
        }
    };
    if args.fix {
        return fix_mode(&args, &pack);
    }
    let layout = match discover(&args.dir) {
        Ok(Layout::Cases(d)) if d.is_empty() => {
            print_error(
                &format!("no case folders in {}", args.dir.display()),
                Some("each case is a folder holding fail.log and groundtruth (DIR/<case>/ or DIR/<ecosystem>/<case>/)"),
            );
            return exit(EXIT_FAILED);
        }
        Ok(l) => l,
        Err(e) => {
            print_error(&e, None);
            return exit(EXIT_FAILED);
        }
    };
    match layout {
        Layout::Cases(dirs) => match evaluate_all(&dirs, &pack, &args, "") {
            Ok(scores) => cases_output(&scores, &args),
            Err(code) => return code,
        },
        Layout::Ecosystems(groups) => {
            let mut scored = Vec::new();
            for (name, dirs) in groups {
                match evaluate_all(&dirs, &pack, &args, &name) {
                    Ok(s) => scored.push((name, s)),
                    Err(code) => return code,
                }
            }
            ecosystems_output(&scored, &args);
        }
    }
    exit(EXIT_OK)
}

/// Scores each case folder in turn; `prefix` (an ecosystem name or nothing) goes in front of
/// the case name in `--explain` lines.
fn evaluate_all(
    dirs: &[PathBuf],
    pack: &RulePack,
    args: &Args,
    prefix: &str,
) -> Result<Vec<CaseScore>, ExitCode> {
    let mut scores = Vec::new();
    for d in dirs {
        match evaluate_case_explained(d, pack, args.baseline, args.top) {
            Ok(CaseReport {
                score: s,
                findings: ex,
                truth: gt,
            }) => {
                if args.explain {
                    let name = if prefix.is_empty() {
                        s.name.clone()
                    } else {
                        format!("{prefix}/{}", s.name)
                    };
                    ci_remedy::outln!(
                        "{} P {:.2} R {:.2}  E {:?} C {:?} missed {:?}",
                        one_line(&name),
                        s.precision,
                        s.recall,
                        gt.errors,
                        gt.context,
                        s.missed
                    );
                    for e in ex.iter().take(6) {
                        ci_remedy::outln!(
                            "   #{} {:<32} {:>6}-{:<6} {:.3}",
                            e.rank,
                            e.rule,
                            e.start,
                            e.end,
                            e.score
                        );
                    }
                }
                scores.push(s)
            }
            Err(e) => {
                print_error(&e, Some(&help_for(d)));
                return Err(exit(EXIT_FAILED));
            }
        }
    }
    Ok(scores)
}

fn help_for(case: &Path) -> String {
    format!(
        "fix or remove the case folder {} (fixtures/cidiff/FORMAT.md gives the groundtruth format)",
        case.display()
    )
}

fn half(i: usize) -> &'static str {
    if is_dev_half(i) {
        "dev"
    } else {
        "check"
    }
}

/// One case as JSON; `ecosystem` is given in the ecosystem layout.
fn case_json(ecosystem: Option<&str>, i: usize, s: &CaseScore) -> serde_json::Value {
    let mut v = serde_json::json!({
        "name": s.name, "half": half(i),
        "precision": s.precision, "recall": s.recall, "full": s.full,
        "flagged": s.flagged, "error_lines": s.error_lines,
        "top1": s.top1, "category": s.category.as_str(),
    });
    if let (Some(eco), Some(o)) = (ecosystem, v.as_object_mut()) {
        o.insert("ecosystem".into(), eco.into());
    }
    v
}

/// The CiDiff-layout output (its text form is relied on by docs/evidence.md and tests: keep it).
fn cases_output(scores: &[CaseScore], args: &Args) {
    let h = Halves::of(scores);
    if args.json {
        let v = serde_json::json!({
            "layout": "cases",
            "baseline": args.baseline,
            "top": args.top,
            "cases": scores.iter().enumerate().map(|(i, s)| case_json(None, i, s)).collect::<Vec<_>>(),
            "all": h.all.to_json(), "dev": h.dev.to_json(), "check": h.check.to_json(),
        });
        ci_remedy::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    ci_remedy::outln!(
        "evidence = union of findings ranked <= {}; baseline: {}",
        args.top,
        if args.baseline { "pass.log" } else { "none" }
    );
    ci_remedy::outln!(
        "{:<30} {:>5} {:>9} {:>6} {:>4} {:>7} {:>6}",
        "case",
        "half",
        "precision",
        "recall",
        "full",
        "flagged",
        "E"
    );
    for (i, s) in scores.iter().enumerate() {
        ci_remedy::outln!(
            "{:<30} {:>5} {:>9.2} {:>6.2} {:>4} {:>7} {:>6}",
            // Case names are folder names; print them tamely.
            one_line(&s.name),
            half(i),
            s.precision,
            s.recall,
            if s.full { "yes" } else { "no" },
            s.flagged,
            s.error_lines
        );
    }
    for (label, s) in [("all", h.all), ("dev half", h.dev), ("check half", h.check)] {
        ci_remedy::outln!(
            "{label:<11} cases {:>2}  precision {:.3}  recall {:.3}  full {}/{} ({:.0}%)",
            s.cases,
            s.precision,
            s.recall,
            s.full,
            s.cases,
            100.0 * s.full_share()
        );
    }
}

/// The ecosystem-layout output: one row per ecosystem and half, then the totals.
fn ecosystems_output(groups: &[(String, Vec<CaseScore>)], args: &Args) {
    let sum = EcosystemSummary::of(groups);
    if args.json {
        let mut cases = Vec::new();
        for (eco, scores) in groups {
            for (i, s) in scores.iter().enumerate() {
                cases.push(case_json(Some(eco), i, s));
            }
        }
        let ecosystems: serde_json::Map<String, serde_json::Value> = sum
            .ecosystems
            .iter()
            .map(|(name, h)| (name.clone(), h.to_json()))
            .collect();
        let v = serde_json::json!({
            "layout": "ecosystems",
            "baseline": args.baseline,
            "top": args.top,
            "cases": cases,
            "ecosystems": ecosystems,
            "all": sum.total.all.to_json(),
            "dev": sum.total.dev.to_json(),
            "check": sum.total.check.to_json(),
        });
        ci_remedy::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let top_n = format!("top-{}", args.top);
    ci_remedy::outln!(
        "top-1 = every E line inside the finding ranked 1; {top_n} = every E line inside the findings ranked <= {}; recall and precision of the {top_n}; baseline: {}",
        args.top,
        if args.baseline { "pass.log" } else { "none" }
    );
    ci_remedy::outln!(
        "{:<20} {:<5} {:>5} {:>11} {:>11} {:>6} {:>9} {:>7}",
        "ecosystem",
        "half",
        "cases",
        "top-1",
        top_n,
        "recall",
        "precision",
        "unknown"
    );
    let row = |name: &str, label: &str, s: &Summary| {
        ci_remedy::outln!(
            "{:<20} {:<5} {:>5} {:>11} {:>11} {:>6.2} {:>9.2} {:>6.0}%",
            one_line(name),
            label,
            s.cases,
            format!("{}/{} {:>3.0}%", s.top1, s.cases, 100.0 * s.top1_share()),
            format!("{}/{} {:>3.0}%", s.full, s.cases, 100.0 * s.full_share()),
            s.recall,
            s.precision,
            100.0 * s.unknown_share()
        );
    };
    for (name, h) in &sum.ecosystems {
        row(name, "all", &h.all);
    }
    for (label, s) in [
        ("all", &sum.total.all),
        ("dev", &sum.total.dev),
        ("check", &sum.total.check),
    ] {
        row("ALL", label, s);
    }
    for (half_label, pick) in [("dev", 0usize), ("check", 1)] {
        ci_remedy::outln!();
        ci_remedy::outln!(
            "{half_label} half (by name order within each ecosystem; even index = dev):"
        );
        for (name, h) in &sum.ecosystems {
            let s = if pick == 0 { &h.dev } else { &h.check };
            row(name, half_label, s);
        }
    }
}

/// `--fix`: the fix rate on DIR's fix cases ([`ci_remedy::fix::eval`]); contexts come from
/// the self-heal-prepare library.
fn fix_mode(args: &Args, pack: &RulePack) -> ExitCode {
    use ci_remedy::fix::eval::{evaluate, render, Answers};
    use ci_remedy::policy::fix_agent::Provider;
    let answers = match (&args.live, args.shape.as_str()) {
        (Some(p), _) => {
            match cli::load_policy(Some(p), "--live names a policy file with fix-agent.model") {
                Ok(policy) => match policy.fix_agent.model {
                    Some(m) => Answers::Live(m),
                    None => {
                        print_error(
                            &format!("no fix-agent.model in {}", p.display()),
                            Some("add the model section; see docs/fix-agent-models.md"),
                        );
                        return exit(cli::EXIT_USAGE);
                    }
                },
                Err(code) => return code,
            }
        }
        (None, "openai") => Answers::Recorded(Provider::Openai),
        (None, "anthropic") => Answers::Recorded(Provider::Anthropic),
        (None, other) => {
            print_error(
                &format!("unknown --shape {other:?}"),
                Some("use openai or anthropic"),
            );
            return exit(cli::EXIT_USAGE);
        }
    };
    let make_context = |log: &Path, repo: &Path| {
        let input = ci_remedy::prepare::PrepareInput {
            logs: vec![log.display().to_string()],
            repo_root: Some(repo.to_path_buf()),
            ..Default::default()
        };
        let run = ci_remedy::artifact::RunInfo::from_lookup(|_| None);
        ci_remedy::prepare::prepare(&input, pack, run, "ci-remedy-eval")
    };
    match evaluate(&args.dir, &answers, &make_context) {
        Ok(report) if args.json => match serde_json::to_string_pretty(&report) {
            Ok(j) => ci_remedy::outln!("{j}"),
            Err(e) => {
                print_error(&e, None);
                return exit(EXIT_FAILED);
            }
        },
        Ok(report) => ci_remedy::out!("{}", render(&report)),
        Err(e) => {
            print_error(
                &e,
                Some("DIR holds one folder per case with repo/, fail.log, policy.yml and answers/"),
            );
            return exit(EXIT_FAILED);
        }
    }
    exit(EXIT_OK)
}
