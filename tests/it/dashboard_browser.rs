//! The site in a real headless Chromium (Debian's `chromium`, driven by `playwright-core` from
//! `tests/browser/`): no console errors, no network requests, evidence and diff present, the
//! `<script>` log line shown as text. Needs `node`, `/usr/bin/chromium` and
//! `npm ci --prefix tests/browser`; without them the test FAILS and says what to install.

use crate::dashboard_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use dashboard_support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check(index: &Path) -> std::process::Output {
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        node_ok,
        "node is missing: install Node.js 20+ (apt-get install -y nodejs npm)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium (apt-get install -y chromium)"
    );
    assert!(
        root()
            .join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is missing: run `npm ci --prefix tests/browser`"
    );
    let mut c = Command::new("node");
    c.arg(root().join("tests/browser/check.mjs")).arg(index);
    if let Some(shot) = std::env::var_os("DASHBOARD_SCREENSHOT") {
        c.arg("--screenshot").arg(shot);
    }
    c.output().expect("node runs")
}

#[test]
fn fixture_site_loads_offline_in_chromium_and_shows_log_html_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = build(dir.path(), &fixtures());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let o = check(&dir.path().join("site/index.html"));
    assert!(
        o.status.success(),
        "browser check failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_browser_check_catches_scripts_and_requests() {
    // A page that would break every rule: a script that opens a dialog, an external image,
    // and the marker as live markup. The checker must fail on it.
    let dir = tempfile::tempdir().expect("tempdir");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("runs/1")).expect("mkdir");
    std::fs::write(
        site.join("index.html"),
        "<!DOCTYPE html><title>x</title><svg></svg><a href=\"runs/1/index.html\">1</a>",
    )
    .expect("write");
    std::fs::write(
        site.join("runs/1/index.html"),
        "<!DOCTYPE html><title>x</title><pre class=\"evidence\"><span class=\"ln\"><script>alert(1)</script></span></pre><img src=\"http://127.0.0.1:9/x.png\">",
    )
    .expect("write");
    let o = check(&site.join("index.html"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("a dialog opened"), "{err}");
    assert!(err.contains("request to http://127.0.0.1:9/x.png"), "{err}");
    assert!(err.contains("<script> element"), "{err}");
}
