//! Log structure that every CI service prints around a job's commands: where a command starts
//! (its echo line), where its output ends, and the line that says it failed. The scanner
//! ([`super::scan`]) turns these marks into failing-command regions; ranking weighs evidence
//! inside them above evidence elsewhere, and the failing command's own name gives a category
//! when no rule names one ([`command_category`]).
//!
//! Formats (each service's documented or source-defined output; shown after the line is
//! cleaned: timestamp prefix and ANSI codes removed):
//! - GitHub Actions (actions/runner): `##[group]Run <first script line>` opens a `run:` step;
//!   `##[error]Process completed with exit code N.` ends a failing one.
//! - Travis CI (travis-build's bash templates): `$ <command>` echoes each command, often after
//!   `travis_time:start:<id>\r` or `travis_fold:start:<name>\r`; `travis_time:end:<id>:…` ends
//!   its output; `The command "<command>" exited with N.` (script phase) or `The command
//!   "<command>" failed and exited with N during <phase>.` says how it ended; `Done. Your build
//!   exited with N.` closes the job.
//! - GitLab CI (gitlab-runner): `$ <command>` echoes each script line inside
//!   `section_start:<ts>:step_script` … `section_end:<ts>:step_script`; `after_script` lines
//!   come in their own section; `ERROR: Job failed: exit code N` (or `… command terminated with
//!   exit code N`) ends a failing job.
//! - Jenkins: `[Pipeline] sh` (also `bat`, `powershell`, `pwsh`) opens a shell step, the next
//!   `[Pipeline]` line ends its output, `ERROR: script returned exit code N` fails it; a
//!   freestyle job echoes `[<job>] $ /bin/sh -xe /tmp/jenkins….sh` and ends with `Build step
//!   '…' marked build as failure`.
//! - CircleCI: a step's output ends with `Exited with code exit status N` (older: `Exited with
//!   code N`).
//! - Buildkite (agent): `~~~ `/`+++ ` group headers, `$ <command>` echoes, and `🚨 Error: The
//!   command exited with status N`.

use crate::artifact::Category;

/// The longest command text kept for a region, in bytes.
pub const MAX_COMMAND_BYTES: usize = 256;

/// What a cleaned line says about the structure of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark<'a> {
    /// A command starts on this line; its text, when the line names it (may be empty).
    Start(&'a [u8]),
    /// The current command's output ended before this line (`travis_time:end`, a section end,
    /// the next `[Pipeline]` line).
    OutputEnd,
    /// Lines from here on are not the job's own commands (GitLab's `after_script` and cleanup
    /// sections).
    AfterScript,
    /// A command failed with a non-zero exit status; the command's text when the line names
    /// it (Travis).
    Failed(Option<&'a [u8]>),
    /// The job as a whole failed (`Done. Your build exited with 1.`): a failure only if no
    /// command was seen failing.
    JobFailed,
}

/// The literals the prefilter must find for [`mark`] to see its lines (structural keywords,
/// searched on the raw bytes; see `rules::STRUCTURAL_KEYWORDS`). Every line [`mark`] returns a
/// mark for holds one of them, case-insensitively.
pub(crate) const KEYWORDS: &[&str] = &[
    "$ ",
    "exited with",
    "travis_",
    "section_",
    "[pipeline] ",
    "job failed",
    "returned exit code",
    "marked build as failure",
    "process completed with exit code",
    "##[group]run ",
    "~~~ ",
    "+++ ",
];

/// The segment of a line after its last `\r` (Travis and GitLab put `\r\x1b[0K` between a
/// marker and the text the viewer shows).
pub(crate) fn shown(t: &[u8]) -> &[u8] {
    match memchr::memrchr(b'\r', t) {
        Some(i) => &t[i + 1..],
        None => t,
    }
}

/// Parses a non-zero decimal exit status at the start of `s` (`1`, `137.`); `None` for 0 or
/// no number.
fn nonzero_status(s: &[u8]) -> Option<bool> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    Some(s[..digits].iter().any(|b| *b != b'0'))
}

/// The structural mark of one cleaned line, if any. Cheap on lines that hold none: every test
/// is a prefix or literal check.
pub(crate) fn mark(t: &[u8]) -> Option<Mark<'_>> {
    let first = *t.first()?;
    // Markers that sit at the start of the line, before any `\r`.
    if first == b't' {
        if t.starts_with(b"travis_time:end:") || t.starts_with(b"travis_fold:end:") {
            return Some(Mark::OutputEnd);
        }
    } else if first == b's' {
        if let Some(rest) = t.strip_prefix(b"section_end:") {
            let name = rest.splitn(3, |b| *b == b':').nth(1).unwrap_or_default();
            let name = shown_name(name);
            if name.starts_with(b"step_") || name == b"build_script" {
                return Some(Mark::OutputEnd);
            }
            return None;
        }
        if let Some(rest) = t.strip_prefix(b"section_start:") {
            let name = rest.splitn(3, |b| *b == b':').nth(1).unwrap_or_default();
            let name = shown_name(name);
            if name == b"after_script"
                || name.starts_with(b"cleanup")
                || name.starts_with(b"upload_artifacts")
                || name.starts_with(b"archive_cache")
            {
                return Some(Mark::AfterScript);
            }
            return None;
        }
    } else if first == b'#' {
        if let Some(rest) = t.strip_prefix(b"##[group]Run ") {
            return Some(Mark::Start(rest));
        }
        if let Some(rest) = t.strip_prefix(b"##[error]Process completed with exit code ") {
            return nonzero_status(rest)
                .filter(|x| *x)
                .map(|_| Mark::Failed(None));
        }
        return None;
    } else if first == b'[' {
        if let Some(rest) = t.strip_prefix(b"[Pipeline] ") {
            let step = rest.split(|b| *b == b' ').next().unwrap_or_default();
            return Some(match step {
                b"sh" | b"bat" | b"powershell" | b"pwsh" => Mark::Start(b""),
                _ => Mark::OutputEnd,
            });
        }
        // Jenkins freestyle: `[job] $ /bin/sh -xe /tmp/jenkins….sh`.
        if let Some(close) = memchr::memchr(b']', &t[..t.len().min(200)]) {
            if let Some(cmd) = t[close + 1..].strip_prefix(b" $ ") {
                return Some(Mark::Start(cmd));
            }
        }
        return None;
    }
    let s = shown(t);
    if let Some(cmd) = s.strip_prefix(b"$ ") {
        return Some(Mark::Start(cmd));
    }
    if let Some(rest) = s.strip_prefix(b"The command \"") {
        // `The command "<cmd>" exited with N.` / `… failed and exited with N during <phase>.`
        let at = memchr::memmem::rfind(rest, b"\" exited with ")
            .map(|i| (i, i + b"\" exited with ".len()))
            .or_else(|| {
                memchr::memmem::rfind(rest, b"\" failed and exited with ")
                    .map(|i| (i, i + b"\" failed and exited with ".len()))
            });
        if let Some((end, status)) = at {
            return match nonzero_status(&rest[status..]) {
                Some(true) => Some(Mark::Failed(Some(&rest[..end]))),
                _ => Some(Mark::OutputEnd),
            };
        }
        return None;
    }
    if let Some(rest) = s.strip_prefix(b"Done. Your build exited with ") {
        return nonzero_status(rest).filter(|x| *x).map(|_| Mark::JobFailed);
    }
    if let Some(rest) = s.strip_prefix(b"ERROR: Job failed: ") {
        return (rest.starts_with(b"exit code ")
            || rest.starts_with(b"command terminated with exit code "))
        .then_some(Mark::Failed(None));
    }
    if s.starts_with(b"ERROR: script returned exit code ") {
        return Some(Mark::Failed(None));
    }
    if s.starts_with(b"Build step '") && s.ends_with(b"' marked build as failure") {
        return Some(Mark::Failed(None));
    }
    if let Some(rest) = s
        .strip_prefix(b"Exited with code exit status ")
        .or_else(|| s.strip_prefix(b"Exited with code "))
    {
        return nonzero_status(rest)
            .filter(|x| *x)
            .map(|_| Mark::Failed(None));
    }
    if let Some(rest) = s.strip_prefix("🚨 Error: The command exited with status ".as_bytes()) {
        return nonzero_status(rest)
            .filter(|x| *x)
            .map(|_| Mark::Failed(None));
    }
    if let Some(rest) = s.strip_prefix(b"~~~ ").or_else(|| s.strip_prefix(b"+++ ")) {
        // Buildkite group headers; not a unified diff's `+++ b/file` header.
        let diff = rest.starts_with(b"a/")
            || rest.starts_with(b"b/")
            || rest.starts_with(b"/")
            || rest.starts_with(b"\"")
            || rest.contains(&b'\t');
        if !diff && !rest.is_empty() {
            return Some(Mark::Start(b""));
        }
    }
    None
}

/// A GitLab section name, without the `[collapsed=true]`-style options and what follows `\r`.
fn shown_name(name: &[u8]) -> &[u8] {
    let end = name
        .iter()
        .position(|b| matches!(b, b'\r' | b'[' | b' '))
        .unwrap_or(name.len());
    &name[..end]
}

/// The category a failing command points at when no rule names one, from the tools it runs:
/// a test runner → `test_assertion`, a compiler or build system → `compile_error`, a package
/// manager installing → `dependency_resolution`, a linter or formatter check → `lint`; `None`
/// when the command names no tool we know (`./ci.sh`, `make` with an unknown target is
/// `compile_error`). For `a && b` or `a; b` the last segment that names a tool wins (the job
/// stops at the first failure, and a later segment only runs when the earlier ones passed).
pub fn command_category(command: &str) -> Option<Category> {
    let lower = command.to_ascii_lowercase();
    let mut found = None;
    for segment in lower.split(['&', ';', '|', '(', ')', '`', '\n']) {
        if let Some(c) = segment_category(segment) {
            found = Some(c);
        }
    }
    found
}

/// Words that run the next word (`bundle exec rspec`, `sudo make`, `python -m pytest`).
const WRAPPERS: &[&str] = &[
    "sudo",
    "env",
    "time",
    "exec",
    "bundle",
    "npx",
    "pnpx",
    "bunx",
    "run",
    "poetry",
    "pipenv",
    "uv",
    "uvx",
    "hatch",
    "pdm",
    "conda",
    "travis_retry",
    "travis_wait",
    "stamp",
    "xvfb-run",
    "-a",
    "-m",
    "-c",
    "-e",
    "python",
    "python2",
    "python3",
    "php",
    "ruby",
    "perl",
    "node",
    "sh",
    "bash",
    "pwsh",
    "powershell",
    "-command",
    "-x",
    "-ex",
    "-xe",
    "nice",
    "timeout",
    "docker-compose",
    "--",
];

fn segment_category(segment: &str) -> Option<Category> {
    use Category::*;
    let words: Vec<&str> = segment
        .split_whitespace()
        .filter(|w| !w.contains('=') || w.starts_with('-'))
        .map(|w| {
            let w = w.trim_matches(|c| c == '"' || c == '\'');
            w.rsplit('/').next().unwrap_or(w)
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut i = 0;
    while i < words.len() && (WRAPPERS.contains(&words[i]) || words[i].starts_with("python3.")) {
        // `timeout 10m`, `nice -n 10`: skip the wrapper's own argument.
        if matches!(words[i], "timeout" | "travis_wait") && i + 1 < words.len() {
            i += 1;
        }
        i += 1;
    }
    let tool = *words.get(i)?;
    let rest: Vec<&str> = words[i + 1..]
        .iter()
        .copied()
        .filter(|w| !w.starts_with('-'))
        .collect();
    let sub = rest.first().copied().unwrap_or("");
    let tool = tool.strip_suffix(".exe").unwrap_or(tool);
    let tool = tool.strip_suffix(".bat").unwrap_or(tool);
    let has = |names: &[&str]| rest.iter().any(|w| names.iter().any(|n| w.starts_with(n)));
    let c = match tool {
        // Test runners.
        "pytest" | "py.test" | "nosetests" | "nose2" | "tox" | "nox" | "unittest" | "jest"
        | "vitest" | "mocha" | "karma" | "ava" | "rspec" | "phpunit" | "paratest" | "pest"
        | "prove" | "busted" | "ctest" | "invoke-pester" | "pester" | "trial" | "runtests"
        | "runtests.py" | "bats" | "testem" | "cucumber" | "behave" | "codecept" | "kaocha"
        | "midje" | "xctest" | "ginkgo" | "gotestsum" | "tap" | "jasmine" | "ng" => {
            if tool == "ng" && !matches!(sub, "test" | "e2e") {
                return (sub == "lint").then_some(Lint).or(Some(CompileError));
            }
            TestAssertion
        }
        "rake" => match sub {
            "" | "test" | "spec" | "default" | "ci" | "cucumber" | "features" => TestAssertion,
            s if s.starts_with("test") || s.starts_with("spec") => TestAssertion,
            "rubocop" | "lint" => Lint,
            "compile" | "build" => CompileError,
            _ => return None,
        },
        "rails" => match sub {
            "test" | "spec" => TestAssertion,
            _ => return None,
        },
        "mix" => match sub {
            "test" | "coveralls" | "coveralls.json" => TestAssertion,
            "credo" | "format" | "dialyzer" => Lint,
            "compile" => CompileError,
            s if s.starts_with("deps") => DependencyResolution,
            _ => return None,
        },
        "rebar3" | "rebar" => match sub {
            "eunit" | "ct" | "proper" | "cover" => TestAssertion,
            "dialyzer" | "xref" | "lint" | "fmt" => Lint,
            "compile" | "escriptize" | "release" => CompileError,
            "get-deps" | "upgrade" => DependencyResolution,
            _ => return None,
        },
        "erl" | "ct_run" => TestAssertion,
        "cabal" | "stack" => match sub {
            "test" => TestAssertion,
            "build" | "install" if has(&["--only-dependencies", "--dependencies-only"]) => {
                DependencyResolution
            }
            "build" | "install" | "haddock" | "v2-build" | "new-build" => CompileError,
            "update" | "setup" | "v2-update" => DependencyResolution,
            _ => return None,
        },
        "swift" => match sub {
            "test" => TestAssertion,
            "build" => CompileError,
            "package" => DependencyResolution,
            _ => return None,
        },
        "xcodebuild" | "xctool" => {
            if has(&["test"]) {
                TestAssertion
            } else {
                CompileError
            }
        }
        "dotnet" => match sub {
            "test" | "vstest" => TestAssertion,
            "build" | "publish" | "pack" | "msbuild" => CompileError,
            "restore" => DependencyResolution,
            "format" => Lint,
            _ => return None,
        },
        "go" => match sub {
            "test" => TestAssertion,
            "build" | "install" | "generate" => CompileError,
            "vet" | "fmt" => Lint,
            "get" | "mod" => DependencyResolution,
            _ => return None,
        },
        "cargo" => match sub {
            "test" | "nextest" | "tarpaulin" | "miri" => TestAssertion,
            "build" | "check" | "doc" | "run" | "bench" => CompileError,
            "clippy" | "fmt" | "deny" | "audit" => Lint,
            "fetch" | "update" | "generate-lockfile" => DependencyResolution,
            _ => return None,
        },
        "mvn" | "mvnw" | "maven" => {
            if has(&[
                "checkstyle",
                "spotless",
                "pmd",
                "spotbugs",
                "findbugs",
                "rat",
                "enforcer",
            ]) {
                Lint
            } else if has(&["test", "verify", "integration-test", "surefire"]) {
                TestAssertion
            } else if has(&["dependency:"]) {
                DependencyResolution
            } else if has(&["compile"]) {
                CompileError
            } else {
                return None;
            }
        }
        "gradle" | "gradlew" => {
            if has(&[
                "checkstyle",
                "spotless",
                "ktlint",
                "detekt",
                "lint",
                "pmd",
                "spotbugs",
            ]) {
                Lint
            } else if has(&["test", "check", "connectedcheck", "integrationtest"]) {
                TestAssertion
            } else if has(&["compile", "assemble"]) {
                CompileError
            } else {
                return None;
            }
        }
        "sbt" => {
            if has(&["scalafmt", "scalastyle", "scalafix"]) {
                Lint
            } else if has(&["test", "+test", "it:test", "testonly"]) {
                TestAssertion
            } else if has(&["compile", "+compile", "package", "assembly"]) {
                CompileError
            } else {
                return None;
            }
        }
        "lein" | "clojure" | "clj" => match sub {
            "test" | "midje" | "kaocha" => TestAssertion,
            "deps" => DependencyResolution,
            "compile" | "uberjar" | "cljsbuild" => CompileError,
            "kibit" | "eastwood" | "cljfmt" | "bikeshed" => Lint,
            _ if has(&["test"]) => TestAssertion,
            _ => return None,
        },
        "r" | "rscript" => {
            if has(&["check", "test", "testthat", "rcmdcheck"]) {
                TestAssertion
            } else if has(&["lint"]) {
                Lint
            } else if has(&["install"]) {
                DependencyResolution
            } else {
                return None;
            }
        }
        "make" | "gmake" | "nmake" | "mingw32-make" | "ninja" => match sub {
            s if s.starts_with("test") || s.starts_with("check") || s == "spec" => TestAssertion,
            s if s.starts_with("lint") || s == "format" || s == "fmt" || s == "style" => Lint,
            "install" | "deps" | "dependencies" | "bootstrap" => return None,
            _ => CompileError,
        },
        "cmake" | "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++" | "javac" | "tsc"
        | "rustc" | "ghc" | "scons" | "meson" | "msbuild" | "latexmk" | "pdflatex" | "xelatex"
        | "lualatex" | "latex" | "bibtex" | "biber" | "webpack" | "rollup" | "esbuild"
        | "parcel" | "babel" | "elm" | "kotlinc" | "scalac" | "swiftc" | "ocamlfind" | "dune"
        | "nim" | "zig" | "crystal" | "erlc" | "elixirc" | "autoreconf" | "configure"
        | "./configure" | "bazel" | "buck" | "qmake" | "premake" | "xmake" | "pod" => {
            if tool == "pod" {
                return (sub == "install" || sub == "update").then_some(DependencyResolution);
            }
            if (matches!(tool, "bazel" | "dune") && sub == "test")
                || (tool == "zig" && has(&["test"]))
            {
                TestAssertion
            } else {
                CompileError
            }
        }
        "docker" | "podman" | "buildah" | "kaniko" | "terraform" | "packer" | "helm"
        | "kubectl" => match (tool, sub) {
            (_, "build" | "buildx" | "compose") => BuildConfig,
            ("terraform", "fmt" | "validate") => Lint,
            ("terraform" | "packer", "plan" | "apply" | "init" | "validate") => BuildConfig,
            ("helm", "lint") => Lint,
            _ => return None,
        },
        "npm" | "yarn" | "pnpm" | "bun" | "cnpm" => {
            // `npm test`, `npm run lint`, `yarn install`, `yarn` (installs).
            let script = if sub == "run" || sub == "run-script" {
                rest.get(1).copied().unwrap_or("")
            } else {
                sub
            };
            match script {
                "" if tool == "yarn" => DependencyResolution,
                "install" | "ci" | "i" | "add" | "update" | "upgrade" | "rebuild" | "dedupe"
                | "audit" => DependencyResolution,
                s if s.starts_with("test") || s == "t" || s.starts_with("spec") => TestAssertion,
                s if s.starts_with("e2e") || s.starts_with("karma") || s.starts_with("jest") => {
                    TestAssertion
                }
                s if s.starts_with("lint")
                    || s.starts_with("eslint")
                    || s.starts_with("stylelint")
                    || s.starts_with("format")
                    || s.starts_with("prettier")
                    || s.starts_with("style") =>
                {
                    Lint
                }
                s if s.starts_with("build")
                    || s.starts_with("compile")
                    || s.starts_with("tsc")
                    || s.starts_with("typecheck")
                    || s.starts_with("type-check") =>
                {
                    CompileError
                }
                _ => return None,
            }
        }
        "pip" | "pip3" | "pipx" | "easy_install" | "conda" | "mamba" | "micromamba"
        | "composer" | "gem" | "cpanm" | "cpan" | "carton" | "apt-get" | "apt" | "yum" | "dnf"
        | "apk" | "brew" | "choco" | "install.packages" | "luarocks" | "opam" | "nuget"
        | "paket" | "carthage" | "mint" | "bower" | "jspm" | "sync" | "lock" | "install"
        | "add" => match (tool, sub) {
            ("composer", "test" | "phpunit") => TestAssertion,
            ("composer", "lint" | "cs" | "phpcs" | "phpstan" | "psalm" | "cs-check") => Lint,
            ("luarocks", "test") => TestAssertion,
            ("opam", "exec") => return None,
            _ => DependencyResolution,
        },
        "setup.py" => match sub {
            "test" | "nosetests" | "pytest" => TestAssertion,
            "build" | "build_ext" | "bdist_wheel" | "sdist" | "install" | "develop" => CompileError,
            "flake8" | "lint" | "check" => Lint,
            _ => return None,
        },
        "eslint"
        | "stylelint"
        | "rubocop"
        | "ruff"
        | "flake8"
        | "pylint"
        | "pycodestyle"
        | "pydocstyle"
        | "pyflakes"
        | "mypy"
        | "pyright"
        | "black"
        | "isort"
        | "yapf"
        | "golangci-lint"
        | "golint"
        | "gofmt"
        | "goimports"
        | "staticcheck"
        | "revive"
        | "shellcheck"
        | "shfmt"
        | "vint"
        | "phpcs"
        | "php-cs-fixer"
        | "phpstan"
        | "psalm"
        | "phpmd"
        | "prettier"
        | "standard"
        | "semistandard"
        | "jshint"
        | "jscs"
        | "tslint"
        | "xo"
        | "markdownlint"
        | "markdownlint-cli2"
        | "remark"
        | "yamllint"
        | "hadolint"
        | "checkstyle"
        | "ktlint"
        | "detekt"
        | "scalafmt"
        | "swiftlint"
        | "swiftformat"
        | "clang-format"
        | "clang-tidy"
        | "cppcheck"
        | "cpplint"
        | "lintr"
        | "luacheck"
        | "perlcritic"
        | "perltidy"
        | "invoke-scriptanalyzer"
        | "vale"
        | "codespell"
        | "editorconfig-checker"
        | "actionlint"
        | "pre-commit"
        | "rustfmt"
        | "clippy"
        | "stylua"
        | "selene"
        | "ameba"
        | "credo"
        | "reek"
        | "erb_lint"
        | "haml-lint"
        | "scss-lint"
        | "sass-lint"
        | "csslint"
        | "htmlhint"
        | "jsonlint"
        | "tflint"
        | "ansible-lint"
        | "cfn-lint"
        | "buf"
        | "sqlfluff"
        | "typos"
        | "write-good" => Lint,
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_of_each_service() {
        let cases: &[(&[u8], Option<Mark<'_>>)] = &[
            (
                b"$ bundle exec rspec",
                Some(Mark::Start(b"bundle exec rspec")),
            ),
            (
                b"travis_time:start:0b1c\r$ make test",
                Some(Mark::Start(b"make test")),
            ),
            (
                b"travis_time:end:0b1c:start=1,finish=2,duration=1\r",
                Some(Mark::OutputEnd),
            ),
            (
                b"The command \"bundle exec rake\" exited with 1.",
                Some(Mark::Failed(Some(b"bundle exec rake"))),
            ),
            (
                b"The command \"npm test\" exited with 0.",
                Some(Mark::OutputEnd),
            ),
            (
                b"The command \"sh -c \"x\"\" failed and exited with 2 during .",
                Some(Mark::Failed(Some(b"sh -c \"x\""))),
            ),
            (b"Done. Your build exited with 1.", Some(Mark::JobFailed)),
            (b"Done. Your build exited with 0.", None),
            (b"ERROR: Job failed: exit code 1", Some(Mark::Failed(None))),
            (
                b"section_end:1700000000:step_script\r",
                Some(Mark::OutputEnd),
            ),
            (
                b"section_start:1700000000:after_script\rRunning after_script",
                Some(Mark::AfterScript),
            ),
            (b"[Pipeline] sh", Some(Mark::Start(b""))),
            (b"[Pipeline] }", Some(Mark::OutputEnd)),
            (
                b"ERROR: script returned exit code 2",
                Some(Mark::Failed(None)),
            ),
            (
                b"[astor] $ /bin/sh -xe /tmp/jenkins1.sh",
                Some(Mark::Start(b"/bin/sh -xe /tmp/jenkins1.sh")),
            ),
            (
                b"Build step 'Execute shell' marked build as failure",
                Some(Mark::Failed(None)),
            ),
            (b"Exited with code exit status 1", Some(Mark::Failed(None))),
            (b"Exited with code 0", None),
            (
                "🚨 Error: The command exited with status 1".as_bytes(),
                Some(Mark::Failed(None)),
            ),
            (b"+++ :rspec: Run tests", Some(Mark::Start(b""))),
            (b"+++ b/src/lib.rs", None),
            (
                b"##[error]Process completed with exit code 1.",
                Some(Mark::Failed(None)),
            ),
            (b"##[group]Run cargo test", Some(Mark::Start(b"cargo test"))),
            (b"costs $ 5", None),
        ];
        for (line, want) in cases {
            assert_eq!(&mark(line), want, "{}", String::from_utf8_lossy(line));
            if want.is_some() {
                let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
                assert!(
                    KEYWORDS.iter().any(|k| lower.contains(k)),
                    "no structural keyword in {lower:?}"
                );
            }
        }
    }

    #[test]
    fn failing_commands_name_their_category() {
        use Category::*;
        let cases = [
            ("bundle exec rspec", Some(TestAssertion)),
            ("bundle exec rake", Some(TestAssertion)),
            ("RAILS_ENV=test bundle exec rake db:create", None),
            ("python -m pytest -x tests", Some(TestAssertion)),
            (
                "vendor/bin/phpunit --coverage-clover=x",
                Some(TestAssertion),
            ),
            ("./gradlew check", Some(TestAssertion)),
            ("mvn -B verify", Some(TestAssertion)),
            ("mvn -B checkstyle:check", Some(Lint)),
            ("make", Some(CompileError)),
            ("make -j4 && make check", Some(TestAssertion)),
            ("npm install", Some(DependencyResolution)),
            ("yarn", Some(DependencyResolution)),
            ("npm run lint", Some(Lint)),
            ("yarn test --coverage", Some(TestAssertion)),
            (
                "pip install -r requirements.txt",
                Some(DependencyResolution),
            ),
            (
                "bundle install --jobs=3 --retry=3",
                Some(DependencyResolution),
            ),
            (
                "composer install --no-interaction",
                Some(DependencyResolution),
            ),
            ("rebar3 eunit", Some(TestAssertion)),
            ("prove -lr t", Some(TestAssertion)),
            ("latexmk -pdf paper.tex", Some(CompileError)),
            (
                "xcodebuild -scheme App -sdk iphonesimulator test",
                Some(TestAssertion),
            ),
            ("vint .", Some(Lint)),
            ("pwsh -c Invoke-Pester", Some(TestAssertion)),
            ("./ci/run.sh", None),
            ("docker build -t app .", Some(BuildConfig)),
            ("cargo clippy -- -D warnings", Some(Lint)),
            ("go test ./...", Some(TestAssertion)),
            ("stack --no-terminal test", Some(TestAssertion)),
            ("mix test", Some(TestAssertion)),
            ("R CMD check *tar.gz", Some(TestAssertion)),
        ];
        for (cmd, want) in cases {
            assert_eq!(command_category(cmd), want, "{cmd}");
        }
    }
}
