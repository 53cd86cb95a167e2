//! `ci-remedy-schemas`: writes the JSON Schemas of every artifact and of the policy file, or
//! checks that the committed ones are current.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use ci_remedy::artifact::{schema, write_atomic};
use ci_remedy::cli::{self, EXIT_FAILED, EXIT_OK};

/// Write (or check) the JSON Schemas generated from the artifact and policy types.
#[derive(Parser, Debug)]
#[command(
    name = "ci-remedy-schemas",
    version,
    after_help = "Exit codes:\n  0  written, or (with --check) every file is current\n  1  a file could not be written, or (with --check) a file is missing or stale"
)]
struct Args {
    /// The directory holding the schemas.
    #[arg(long, value_name = "DIR", default_value = "schemas")]
    dir: PathBuf,
    /// Only compare; change nothing.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut stale = Vec::new();
    for (name, value) in schema::all() {
        let path = args.dir.join(name);
        let bytes = schema::render(&value);
        if args.check {
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                stale.push(path.display().to_string());
            }
        } else if let Err(e) = write_atomic(&path, &bytes) {
            cli::print_error(&e, None);
            return cli::exit(EXIT_FAILED);
        } else {
            ci_remedy::outln!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        cli::print_error(
            &format!("JSON Schemas out of date: {}", stale.join(", ")),
            Some("run `cargo run --bin ci-remedy-schemas` and commit the result"),
        );
        return cli::exit(EXIT_FAILED);
    }
    cli::exit(EXIT_OK)
}
