//! `ci-remedy-eval DIR [--baseline] [--top N] [--json]`: precision/recall of failure evidence on
//! a folder of breakages in the CiDiff layout.

use std::path::PathBuf;
use std::process::ExitCode;

use ci_remedy::classify::eval::{
    cases, evaluate_case_explained, is_dev_half, CaseReport, CaseScore, Summary,
};
use ci_remedy::classify::RulePack;
use ci_remedy::cli::{self, exit, print_error, EXIT_FAILED, EXIT_OK};
use clap::Parser;

/// Measures how well the evidence (findings ranked ≤ N) covers human ground truth.
///
/// DIR holds one folder per breakage with `fail.log`, `groundtruth` (first line the format, then
/// `E a-b` error lines and `C n` context lines, numbered like Java's String.lines()) and
/// optionally `pass.log` (the last passing log, used with --baseline). Prints, per case,
/// precision (flagged lines that are E or C), recall (E lines flagged) and whether every E line
/// was found; then macro means over all cases and over the two halves of the deterministic
/// split (dev = even index in name order, check = odd).
#[derive(Parser, Debug)]
#[command(version, after_help = ci_remedy::cli::EXIT_CODES_HELP)]
struct Args {
    /// The folder of breakages.
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
    let dirs = match cases(&args.dir) {
        Ok(d) if !d.is_empty() => d,
        Ok(_) => {
            print_error(
                &format!("no case folders in {}", args.dir.display()),
                Some("each case is a folder holding fail.log and groundtruth"),
            );
            return exit(EXIT_FAILED);
        }
        Err(e) => {
            print_error(&e, None);
            return exit(EXIT_FAILED);
        }
    };
    let mut scores: Vec<CaseScore> = Vec::new();
    for d in &dirs {
        match evaluate_case_explained(d, &pack, args.baseline, args.top) {
            Ok(CaseReport {
                score: s,
                findings: ex,
                truth: gt,
            }) => {
                if args.explain {
                    ci_remedy::outln!(
                        "{} P {:.2} R {:.2}  E {:?} C {:?} missed {:?}",
                        ci_remedy::cli::one_line(&s.name),
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
                print_error(&e, None);
                return exit(EXIT_FAILED);
            }
        }
    }
    let all = Summary::of(&scores);
    let dev = Summary::of(
        scores
            .iter()
            .enumerate()
            .filter(|(i, _)| is_dev_half(*i))
            .map(|(_, s)| s),
    );
    let check = Summary::of(
        scores
            .iter()
            .enumerate()
            .filter(|(i, _)| !is_dev_half(*i))
            .map(|(_, s)| s),
    );
    if args.json {
        let sum = |s: &Summary| serde_json::json!({"cases": s.cases, "precision": s.precision, "recall": s.recall, "full": s.full});
        let v = serde_json::json!({
            "baseline": args.baseline,
            "top": args.top,
            "cases": scores.iter().enumerate().map(|(i, s)| serde_json::json!({
                "name": s.name, "half": if is_dev_half(i) {"dev"} else {"check"},
                "precision": s.precision, "recall": s.recall, "full": s.full,
                "flagged": s.flagged, "error_lines": s.error_lines,
            })).collect::<Vec<_>>(),
            "all": sum(&all), "dev": sum(&dev), "check": sum(&check),
        });
        ci_remedy::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return exit(EXIT_OK);
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
            ci_remedy::cli::one_line(&s.name),
            if is_dev_half(i) { "dev" } else { "check" },
            s.precision,
            s.recall,
            if s.full { "yes" } else { "no" },
            s.flagged,
            s.error_lines
        );
    }
    for (label, s) in [("all", all), ("dev half", dev), ("check half", check)] {
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
    exit(EXIT_OK)
}
