//! Secret redaction: one test per credential format of `secret-formats.md`, with tokens made up
//! here from random characters of the right alphabet and length (never real ones), plus the
//! things that must stay readable.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use ci_remedy::artifact::Redactions;
use ci_remedy::logs::redact::Redactor;
use rand::Rng;

const ALNUM: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOWER_ALNUM: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
const URLSAFE: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-";
const WORD: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const HEX: &str = "0123456789abcdef";
const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn gen(alphabet: &str, n: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut rng = rand::rng();
    loop {
        let s: String = (0..n)
            .map(|_| chars[rng.random_range(0..chars.len())])
            .collect();
        // Random tokens of mixed alphabets look random; make sure the rare degenerate draw
        // (e.g. all letters where digits are possible) does not make a test flaky.
        let classes = [
            s.bytes().any(|b| b.is_ascii_lowercase()),
            s.bytes().any(|b| b.is_ascii_uppercase()),
            s.bytes().any(|b| b.is_ascii_digit()),
        ];
        let possible = [
            alphabet.bytes().any(|b| b.is_ascii_lowercase()),
            alphabet.bytes().any(|b| b.is_ascii_uppercase()),
            alphabet.bytes().any(|b| b.is_ascii_digit()),
        ];
        if n < 8 || classes == possible {
            return s;
        }
    }
}

fn redact(text: &str) -> (String, Redactions) {
    let mut counts = Redactions::default();
    let out = Redactor::builtin().redact(text, &mut counts);
    assert_eq!(
        out.matches('\n').count(),
        text.matches('\n').count(),
        "line count changed:\n{text}\n---\n{out}"
    );
    (out, counts)
}

/// `secret` inside `line` (at `{}`) is replaced by `[REDACTED:rule]`, counted once.
fn assert_redacted(line_template: &str, secret: &str, rule: &str) {
    let text = line_template.replace("{}", secret);
    let (out, counts) = redact(&text);
    assert!(!out.contains(secret), "{rule}: secret survived: {out}");
    let expected = line_template.replace("{}", &format!("[REDACTED:{rule}]"));
    assert_eq!(out, expected, "{rule}");
    assert_eq!(counts.by_rule.get(rule), Some(&1), "{rule}: {counts:?}");
    assert_eq!(counts.total, 1, "{rule}: {counts:?}");
    // Idempotent: redacting again changes nothing and counts nothing.
    let (again, counts2) = redact(&out);
    assert_eq!(again, out);
    assert_eq!(counts2.total, 0);
}

#[test]
fn github_tokens() {
    assert_redacted(
        "remote: using {} to clone",
        &format!("ghp_{}", gen(ALNUM, 36)),
        "github-pat",
    );
    assert_redacted(
        "GH: {}",
        &format!("github_pat_{}", gen(WORD, 82)),
        "github-fine-grained-pat",
    );
    for p in ["ghs_", "ghu_"] {
        assert_redacted(
            "token {} expires",
            &format!("{p}{}", gen(ALNUM, 36)),
            "github-app-token",
        );
    }
    for p in ["gho_", "ghr_"] {
        assert_redacted(
            "(oauth {})",
            &format!("{p}{}", gen(ALNUM, 36)),
            "github-oauth",
        );
    }
}

#[test]
fn aws_access_key_ids_including_documentation_samples() {
    for p in ["AKIA", "ASIA", "ABIA", "ACCA", "A3TX"] {
        assert_redacted(
            "aws_access_key_id {} loaded",
            &format!("{p}{}", gen(UPPER_DIGITS, 16)),
            "aws-access-key-id",
        );
    }
    // Documentation sample ids are redacted too (decision documented in the module).
    assert_redacted("key {}", "AKIAIOSFODNN7EXAMPLE", "aws-access-key-id");
}

#[test]
fn slack_tokens_and_webhooks() {
    assert_redacted(
        "SLACK {} ok",
        &format!(
            "xoxb-{}-{}-{}",
            gen(DIGITS, 11),
            gen(DIGITS, 12),
            gen(ALNUM, 24)
        ),
        "slack-bot-token",
    );
    for p in ["xoxp", "xoxe", "xoxo", "xoxs"] {
        assert_redacted(
            "user {} ok",
            &format!(
                "{p}-{}-{}-{}-{}",
                gen(DIGITS, 11),
                gen(DIGITS, 12),
                gen(DIGITS, 12),
                gen(HEX, 32)
            ),
            "slack-user-token",
        );
    }
    assert_redacted(
        "app {} ok",
        &format!(
            "xapp-1-A{}-{}-{}",
            gen("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
            gen(DIGITS, 13),
            gen(HEX, 64)
        ),
        "slack-app-token",
    );
    let path = format!(
        "T{}/B{}/{}",
        gen("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
        gen("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
        gen(ALNUM, 24)
    );
    assert_redacted(
        "POST https://hooks.slack.com/services/{} 200",
        &path,
        "slack-webhook-url",
    );
}

#[test]
fn vendor_api_keys() {
    for p in ["sk_live_", "sk_test_", "rk_live_", "rk_prod_"] {
        assert_redacted(
            "stripe {} ok",
            &format!("{p}{}", gen(ALNUM, 24)),
            "stripe-key",
        );
    }
    assert_redacted(
        "maps key={}&q=x",
        &format!("AIza{}", gen(URLSAFE, 35)),
        "google-api-key",
    );
    assert_redacted(
        "//registry.npmjs.org/:_authToken={}",
        &format!("npm_{}", gen(LOWER_ALNUM, 36)),
        "npm-token",
    );
    assert_redacted(
        "TWINE_PASSWORD set to {} ok",
        &format!("pypi-AgEIcHlwaS5vcmc{}", gen(URLSAFE, 60)),
        "pypi-token",
    );
    assert_redacted(
        "PRIVATE-TOKEN: {}",
        &format!("glpat-{}", gen(URLSAFE, 20)),
        "gitlab-pat",
    );
    assert_redacted(
        "OPENAI {} ok",
        &format!("sk-proj-{}T3BlbkFJ{}", gen(URLSAFE, 20), gen(URLSAFE, 20)),
        "openai-key",
    );
    assert_redacted(
        "ANTHROPIC {} ok",
        &format!("sk-ant-api03-{}AA", gen(URLSAFE, 93)),
        "anthropic-key",
    );
    assert_redacted(
        "SENDGRID {} ok",
        &format!("SG.{}.{}", gen(URLSAFE, 22), gen(URLSAFE, 43)),
        "sendgrid-key",
    );
    assert_redacted(
        "HF {} ok",
        &format!("hf_{}", gen(LETTERS, 34)),
        "huggingface-token",
    );
}

#[test]
fn jwt() {
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
        gen(URLSAFE, 40),
        gen(URLSAFE, 43)
    );
    assert_redacted("cookie session={}; Path=/", &jwt, "jwt");
}

#[test]
fn private_key_blocks_keep_their_lines() {
    let body: Vec<String> = (0..5).map(|_| gen(BASE64, 64)).collect();
    let text = format!(
        "writing key\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\ndone\n",
        body.join("\n")
    );
    let (out, counts) = redact(&text);
    let expected = format!(
        "writing key\n-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\ndone\n",
        ["[REDACTED:private-key]"; 5].join("\n")
    );
    assert_eq!(out, expected);
    assert_eq!(counts.by_rule.get("private-key"), Some(&1));
    assert_eq!(counts.total, 1);

    // Raw GitHub log lines: the timestamp prefix stays, CRLF stays.
    let ts = "2024-05-14T09:12:33.4829150Z ";
    let text = format!(
        "{ts}-----BEGIN OPENSSH PRIVATE KEY-----\r\n{ts}{}\r\n{ts}{}\r\n{ts}-----END OPENSSH PRIVATE KEY-----\r\n",
        body[0], body[1]
    );
    let (out, counts) = redact(&text);
    assert_eq!(
        out,
        format!(
            "{ts}-----BEGIN OPENSSH PRIVATE KEY-----\r\n{ts}[REDACTED:private-key]\r\n{ts}[REDACTED:private-key]\r\n{ts}-----END OPENSSH PRIVATE KEY-----\r\n"
        )
    );
    assert_eq!(counts.total, 1);

    // A JSON service-account file printed on one line.
    let json = format!(
        r#"{{"private_key": "-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n", "client_email": "ci@x.iam.gserviceaccount.com"}}"#,
        body[0], body[1]
    );
    let (out, counts) = redact(&json);
    assert_eq!(
        out,
        r#"{"private_key": "-----BEGIN PRIVATE KEY-----[REDACTED:private-key]-----END PRIVATE KEY-----\n", "client_email": "ci@x.iam.gserviceaccount.com"}"#
    );
    assert_eq!(counts.by_rule.get("private-key"), Some(&1));
}

#[test]
fn cut_private_key_blocks_are_still_redacted() {
    let body: Vec<String> = (0..3).map(|_| gen(BASE64, 64)).collect();
    // An excerpt that ends inside the block.
    let text = format!("-----BEGIN EC PRIVATE KEY-----\n{}\n{}", body[0], body[1]);
    let (out, counts) = redact(&text);
    assert_eq!(
        out,
        "-----BEGIN EC PRIVATE KEY-----\n[REDACTED:private-key]\n[REDACTED:private-key]"
    );
    assert_eq!(counts.total, 1);
    // An excerpt that starts inside the block.
    let text = format!(
        "error: bad key\n{}\n{}\n-----END EC PRIVATE KEY-----\n",
        body[1], body[2]
    );
    let (out, counts) = redact(&text);
    assert_eq!(
        out,
        "error: bad key\n[REDACTED:private-key]\n[REDACTED:private-key]\n-----END EC PRIVATE KEY-----\n"
    );
    assert_eq!(counts.total, 1);
}

#[test]
fn generic_assignments_need_entropy() {
    let value = gen(ALNUM, 20);
    assert_redacted("DB_PASSWORD={}", &value, "generic-secret");
    assert_redacted("  api_key: \"{}\"", &value, "generic-secret");
    assert_redacted("{\"client_secret\": \"{}\"}", &value, "generic-secret");
    assert_redacted("export AUTH_TOKEN='{}'", &value, "generic-secret");
    for keep in [
        "password: required-for-login",
        "token = undefined",
        "secret: not-configured-here",
        "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "NPM_TOKEN=$NODE_AUTH_TOKEN_VALUE",
        "password=***",
        "author: Jane Q. Developer1234",
        "tokens: 1234567890123",
    ] {
        let (out, counts) = redact(keep);
        assert_eq!(out, keep);
        assert_eq!(counts.total, 0, "{keep}");
    }
}

#[test]
fn url_credentials_keep_scheme_and_host() {
    let pw = gen(ALNUM, 18);
    let (out, counts) = redact(&format!(
        "connecting to postgres://app:{pw}@db.internal:5432/shop"
    ));
    assert_eq!(
        out,
        "connecting to postgres://[REDACTED:url-credentials]@db.internal:5432/shop"
    );
    assert_eq!(counts.by_rule.get("url-credentials"), Some(&1));
    let (out, _) = redact(&format!("git clone https://bot:{pw}@example.com/o/r.git"));
    assert_eq!(
        out,
        "git clone https://[REDACTED:url-credentials]@example.com/o/r.git"
    );
    // The runner's mask stays.
    let masked = "git clone https://x-access-token:***@github.com/o/r.git";
    assert_eq!(redact(masked).0, masked);
}

#[test]
fn authorization_headers_keep_the_scheme() {
    let tok = gen(URLSAFE, 40);
    assert_redacted("> Authorization: Bearer {}", &tok, "authorization-header");
    assert_redacted(
        "curl -H \"Authorization: Basic {}\" https://x",
        &format!("{}==", gen(BASE64, 30)),
        "authorization-header",
    );
    assert_redacted("authorization: token {}", &tok, "authorization-header");
    assert_redacted("Authorization: {}", &tok, "authorization-header");
    let masked = "Authorization: Bearer ***";
    assert_eq!(redact(masked).0, masked);
}

#[test]
fn ordinary_ci_text_is_untouched() {
    let text = "\
2024-05-14T09:12:33.4829150Z ##[group]Run actions/checkout@v4
HEAD is now at 3f786850e387550fdab836ed7e6dc881de23001b Merge pull request #42 from org/feature
request id 123e4567-e89b-12d3-a456-426614174000 failed
digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 size: 1234
npm ERR! code ETIMEDOUT
npm ERR! network request to https://registry.npmjs.org/left-pad failed, reason: connect ETIMEDOUT
Error: Authorization header missing for the request
The key they gave was wrong; the password prompt timed out. Token refresh skipped.
FAILED tests/test_orders.py::test_total_includes_tax[DE-0.19] - assert 119.0 == 121.0
  at com.example.shop.CartServiceTest.appliesDiscount(CartServiceTest.java:48)
git@github.com:org/repo.git
https://github.com/org/repo/actions/runs/9087654321/job/24987654321
the runner masked it: ***
";
    let (out, counts) = redact(text);
    assert_eq!(out, text);
    assert_eq!(counts.total, 0);
}

#[test]
fn line_structure_is_kept_with_many_secrets() {
    let mut text = String::new();
    for i in 0..200 {
        match i % 4 {
            0 => text.push_str(&format!("line {i} ghp_{}\r\n", gen(ALNUM, 36))),
            1 => text.push_str(&format!(
                "line {i} Authorization: Bearer {} and AKIA{}\n",
                gen(URLSAFE, 30),
                gen(UPPER_DIGITS, 16)
            )),
            2 => text.push('\n'),
            _ => text.push_str(&format!("line {i} nothing here\n")),
        }
    }
    let (out, counts) = redact(&text);
    assert_eq!(out.lines().count(), text.lines().count());
    for (a, b) in text.lines().zip(out.lines()) {
        assert_eq!(a.split(' ').next(), b.split(' ').next());
        assert_eq!(a.ends_with('\r'), b.ends_with('\r'));
    }
    assert_eq!(counts.by_rule.get("github-pat"), Some(&50));
    assert_eq!(counts.by_rule.get("authorization-header"), Some(&50));
    assert_eq!(counts.by_rule.get("aws-access-key-id"), Some(&50));
    assert_eq!(counts.total, 150);
}

#[test]
fn big_hostile_text_is_fast() {
    // Near misses for every prefix, repeated: must stay linear (a few MB well under a second
    // in release, a few seconds at most in debug).
    let unit = "ghp_short xoxb-1 AIza sk-T3Blbk eyJ.eyJ token= password: https://a:b c ";
    let text = unit.repeat(2_000_000 / unit.len());
    let start = std::time::Instant::now();
    let (out, _) = redact(&text);
    assert_eq!(out.len(), text.len());
    assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
}

/// Issue 15 #9: a token glued to a word character before it, or `_x` after it, is still
/// redacted (the old rules required a word boundary on both sides).
#[test]
fn prefixed_tokens_glued_to_words_are_redacted() {
    let tokens = [
        ("github-pat", format!("ghp_{}", gen(ALNUM, 36))),
        ("github-oauth", format!("gho_{}", gen(ALNUM, 36))),
        ("github-app-token", format!("ghs_{}", gen(ALNUM, 36))),
        (
            "aws-access-key-id",
            format!("AKIA{}", gen(UPPER_DIGITS, 16)),
        ),
        ("npm-token", format!("npm_{}", gen(LOWER_ALNUM, 36))),
        ("gitlab-pat", format!("glpat-{}", gen(ALNUM, 20))),
        ("stripe-key", format!("sk_live_{}", gen(ALNUM, 24))),
    ];
    for (rule, token) in &tokens {
        for template in ["value_{}", "x{}", "1{}", "t_{}", "test t_{} ... FAILED"] {
            assert_redacted(template, token, rule);
        }
        // `_x` right after: the token goes, `_x` stays (or is taken with it where the
        // format's alphabet has `_`).
        let (out, counts) = redact(&format!("{token}_x"));
        assert!(!out.contains(token.as_str()), "{rule}: {out}");
        assert_eq!(counts.total, 1, "{rule}: {out}");
    }
}

/// Issue 15 #10: passwords on command lines, tokens as URL user names, cookies and
/// presigned URL signatures.
#[test]
fn command_line_passwords_cookies_and_signatures_are_redacted() {
    let rule = "command-line-password";
    for pw in ["hunter2hunter2", "Summer2024!", "pa55"] {
        assert_redacted("mysqladmin --password {} status", pw, rule);
        assert_redacted("mysql --password={} -h db", pw, rule);
        assert_redacted("docker login -u ci -p {} registry.example.com", pw, rule);
        assert_redacted("mysql -uroot -p{} -h 127.0.0.1", pw, rule);
    }
    let token = gen(ALNUM, 40);
    assert_redacted(
        "git clone https://{}@github.com/o/r.git",
        &token,
        "url-credentials",
    );
    assert_redacted(
        "Cookie: {}",
        &format!("session={}; theme=dark", gen(ALNUM, 32)),
        "cookie",
    );
    assert_redacted(
        "< Set-Cookie: {}",
        &format!("sid={}; Path=/; HttpOnly", gen(URLSAFE, 40)),
        "cookie",
    );
    for template in [
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240101T000000Z&X-Amz-Signature={}",
        "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig={}&se=2025",
        "https://storage.googleapis.com/b/o?X-Goog-Signature={}",
    ] {
        assert_redacted(template, &gen(HEX, 64), "presigned-url-signature");
    }
    // References and flags without a value stay.
    for line in [
        "--password $DB_PASSWORD",
        "mysql --password=\"${{ secrets.DB }}\"",
        "docker login ghcr.io -u ci --password-stdin",
        "mysql -uroot -p -h db",
        "git clone ssh://git@github.com/o/r.git",
        "Set-Cookie header missing",
    ] {
        assert_eq!(redact(line).0, line);
    }
}

/// Issue 15 #12: the corpus in `fixtures/redaction/` (fixtures/redaction/README.md). Every
/// must-redact line loses its secret and every must-keep line comes out unchanged; the
/// counts of misses and false positives are reported and must both be zero.
#[test]
fn redaction_corpus_has_no_misses_and_no_false_positives() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/redaction");
    let lines = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    let must_redact = lines("must-redact.tsv");
    let must_keep = lines("must-keep.txt");
    assert!(must_redact.len() >= 200, "{}", must_redact.len());
    assert!(must_keep.len() >= 200, "{}", must_keep.len());
    let mut misses = Vec::new();
    for row in &must_redact {
        let (secret, line) = row.split_once('\t').unwrap();
        let (out, counts) = redact(line);
        if out.contains(secret) || counts.total == 0 {
            misses.push(format!("{line}\n    -> {out}"));
        }
    }
    let mut false_positives = Vec::new();
    for line in &must_keep {
        let (out, _) = redact(line);
        if &out != line {
            false_positives.push(format!("{line}\n    -> {out}"));
        }
    }
    eprintln!(
        "redaction corpus: {} must-redact lines, {} missed; {} must-keep lines, {} false positives",
        must_redact.len(),
        misses.len(),
        must_keep.len(),
        false_positives.len()
    );
    assert!(
        misses.is_empty() && false_positives.is_empty(),
        "{} misses:\n{}\n{} false positives:\n{}",
        misses.len(),
        misses.join("\n"),
        false_positives.len(),
        false_positives.join("\n")
    );
}

mod properties {
    use super::redact;
    use proptest::prelude::*;

    /// A token of a strong-prefix format (prefix + body from the documented alphabet).
    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9A-Za-z]{36}".prop_map(|b| format!("ghp_{b}")),
            "[0-9A-Za-z]{36}".prop_map(|b| format!("ghs_{b}")),
            "[A-Z2-7]{16}".prop_map(|b| format!("AKIA{b}")),
            "[a-z0-9]{36}".prop_map(|b| format!("npm_{b}")),
            "[0-9A-Za-z_-]{20,40}".prop_map(|b| format!("glpat-{b}")),
            "[0-9A-Za-z_]{82}".prop_map(|b| format!("github_pat_{b}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever word or punctuation surrounds it, a token never survives.
        #[test]
        fn a_token_never_survives_its_neighbours(
            before in "[ -~]{0,12}",
            after in "[ -~]{0,12}",
            t in token(),
        ) {
            // An AWS id has an exact length: one more character of its alphabet makes it
            // something else (documented in the redactor).
            prop_assume!(!(t.starts_with("AKIA")
                && after.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())));
            let line = format!("{before}{t}{after}");
            let (out, counts) = redact(&line);
            prop_assert!(!out.contains(&t), "{line} -> {out}");
            prop_assert!(counts.total >= 1);
        }

        /// Any text keeps its lines, and redacting the result again changes nothing.
        #[test]
        fn any_text_keeps_its_lines_and_is_stable(text in "(?s).{0,300}", t in token()) {
            let text = format!("{text}\n{t}\r\n{text}");
            let (out, _) = redact(&text);
            prop_assert_eq!(out.lines().count(), text.lines().count());
            prop_assert!(!out.contains(&t));
            let (again, counts) = redact(&out);
            prop_assert_eq!(&again, &out);
            prop_assert_eq!(counts.total, 0);
        }

        /// Ordinary CI text is never touched: hex digests and SHAs, UUIDs, versions,
        /// snake_case identifiers (with prefixes like `ghp_`, `sk_test_`, `hf_` in them).
        #[test]
        fn ordinary_text_is_untouched(
            sha in "[0-9a-f]{40}",
            uuid in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            version in "v?[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-rc\\.[0-9])?",
            ident in "[a-z]{1,8}(_(ghp|sk_test|hf|npm|ey)?[a-z]{1,8}){0,4}",
        ) {
            let line = format!("commit {sha} run {uuid} version {version} in {ident}()");
            let (out, counts) = redact(&line);
            prop_assert_eq!(&out, &line);
            prop_assert_eq!(counts.total, 0);
        }
    }
}
