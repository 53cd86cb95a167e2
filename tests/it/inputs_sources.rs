//! `--log` specs: files, directories, globs and GitHub run-log zips, on real files in temp
//! directories, including hostile ones.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ci_remedy::logs::source::{resolve, LogError, LogSource, Origin};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

fn read_all(s: &LogSource) -> Vec<u8> {
    let mut out = Vec::new();
    s.open().unwrap().read_to_end(&mut out).unwrap();
    out
}

fn spec(p: &Path) -> String {
    p.display().to_string()
}

fn touch(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes a zip with `(name, content, method)` entries.
fn make_zip(path: &Path, entries: &[(&str, &[u8], CompressionMethod)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, content, method) in entries {
        w.start_file(
            *name,
            SimpleFileOptions::default().compression_method(*method),
        )
        .unwrap();
        w.write_all(content).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn a_file_is_one_source() {
    let dir = tempfile::tempdir().unwrap();
    let p = touch(dir.path(), "build.log", "line 1\nline 2\n");
    let sources = resolve(&[spec(&p)]).unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].name, spec(&p));
    assert_eq!(sources[0].origin, Origin::File(p.clone()));
    assert_eq!(sources[0].job, None);
    assert_eq!(read_all(&sources[0]), b"line 1\nline 2\n");
}

#[test]
fn a_directory_is_walked_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    touch(dir.path(), "b.log", "b");
    touch(dir.path(), "a/z.txt", "az");
    touch(dir.path(), "a/b/c.txt", "abc");
    touch(dir.path(), "c.bin", "\0\u{1}\u{2}binary");
    let sources = resolve(&[spec(dir.path())]).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| {
            Path::new(&s.name)
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["a/b/c.txt", "a/z.txt", "b.log", "c.bin"]);
    assert_eq!(read_all(&sources[3]), b"\0\x01\x02binary");
}

#[test]
fn globs_do_not_cross_directories_unless_double_star() {
    let dir = tempfile::tempdir().unwrap();
    touch(dir.path(), "logs/1.txt", "1");
    touch(dir.path(), "logs/2.log", "2");
    touch(dir.path(), "logs/deep/3.txt", "3");
    let one = resolve(&[format!("{}/logs/*.txt", dir.path().display())]).unwrap();
    assert_eq!(one.len(), 1);
    assert!(one[0].name.ends_with("logs/1.txt"));
    let all = resolve(&[format!("{}/logs/**/*.txt", dir.path().display())]).unwrap();
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("logs/1.txt") && names[1].ends_with("logs/deep/3.txt"));
    // The same file named by two specs is read once.
    let both = resolve(&[
        format!("{}/logs/*.txt", dir.path().display()),
        format!("{}/logs/1.txt", dir.path().display()),
    ])
    .unwrap();
    assert_eq!(both.len(), 1);
}

#[test]
fn resolve_all_goes_on_past_a_bad_spec_and_reads_each_log_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = touch(dir.path(), "logs/a.log", "a\n");
    let z = dir.path().join("run.zip");
    github_zip(&z);
    let dotted = |p: &Path| {
        format!(
            "{}/./{}",
            p.parent().unwrap().display(),
            p.file_name().unwrap().to_string_lossy()
        )
    };
    let specs = [
        spec(&a),
        format!("{}/missing.log", dir.path().display()),
        dotted(&a),
        format!("{}/logs/../logs/a.log", dir.path().display()),
        spec(&z),
        dotted(&z),
    ];
    let (sources, errors) = ci_remedy::logs::source::resolve_all(&specs);
    assert!(
        matches!(errors.as_slice(), [LogError::NotFound { spec }] if spec.ends_with("missing.log")),
        "{errors:?}"
    );
    let single = resolve(&[spec(&z)]).unwrap();
    // a.log once (named by its first spelling), then the zip's entries once.
    assert_eq!(sources.len(), 1 + single.len(), "{sources:#?}");
    assert_eq!(sources[0].name, spec(&a));
    assert_eq!(&sources[1..], &single[..]);
}

#[test]
fn nothing_matched_is_not_found_naming_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("{}/nope.log", dir.path().display());
    let glob = format!("{}/*.nothing", dir.path().display());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for s in [missing, glob, spec(&empty)] {
        match resolve(std::slice::from_ref(&s)) {
            Err(LogError::NotFound { spec }) => assert_eq!(spec, s),
            other => panic!("{s}: expected NotFound, got {other:?}"),
        }
    }
    let bad = format!("{}/[z-a].log", dir.path().display());
    assert!(matches!(
        resolve(&[bad]),
        Err(LogError::Glob { .. } | LogError::NotFound { .. })
    ));
}

fn github_zip(path: &Path) {
    make_zip(
        path,
        &[
            (
                "2_test.txt",
                b"test job whole\n",
                CompressionMethod::Deflated,
            ),
            ("test/", b"", CompressionMethod::Stored),
            (
                "test/1_Set up job.txt",
                b"test step 1\n",
                CompressionMethod::Deflated,
            ),
            (
                "test/2_Run npm test.txt",
                b"test step 2\n",
                CompressionMethod::Stored,
            ),
            (
                "lint/1_Set up job.txt",
                b"lint step 1\n",
                CompressionMethod::Stored,
            ),
            (
                "lint/10_Run eslint.txt",
                b"lint step 10\n",
                CompressionMethod::Deflated,
            ),
            (
                "lint/2_Checkout.txt",
                b"lint step 2\n",
                CompressionMethod::Deflated,
            ),
            (
                "1_build.txt",
                b"build job whole\n",
                CompressionMethod::Deflated,
            ),
            (
                "build/1_Set up job.txt",
                b"build step 1\n",
                CompressionMethod::Stored,
            ),
            (
                "../../escape.txt",
                b"just a name\n",
                CompressionMethod::Stored,
            ),
        ],
    );
}

#[test]
fn github_zip_prefers_job_files_and_never_reads_both() {
    let dir = tempfile::tempdir().unwrap();
    // No .zip extension: detected by its magic bytes.
    let z = dir.path().join("logs_9087654321.download");
    github_zip(&z);
    let sources = resolve(&[spec(&z)]).unwrap();
    let got: Vec<(String, Option<&str>, Option<&str>, String)> = sources
        .iter()
        .map(|s| {
            (
                s.name.strip_prefix(&spec(&z)).unwrap().to_string(),
                s.job.as_deref(),
                s.step.as_deref(),
                String::from_utf8(read_all(s)).unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, Option<&str>, Option<&str>, String)> = vec![
        (
            "!1_build.txt".into(),
            Some("build"),
            None,
            "build job whole\n".into(),
        ),
        (
            "!2_test.txt".into(),
            Some("test"),
            None,
            "test job whole\n".into(),
        ),
        (
            "!lint/1_Set up job.txt".into(),
            Some("lint"),
            Some("Set up job"),
            "lint step 1\n".into(),
        ),
        (
            "!lint/2_Checkout.txt".into(),
            Some("lint"),
            Some("Checkout"),
            "lint step 2\n".into(),
        ),
        (
            "!lint/10_Run eslint.txt".into(),
            Some("lint"),
            Some("Run eslint"),
            "lint step 10\n".into(),
        ),
        (
            "!../../escape.txt".into(),
            None,
            None,
            "just a name\n".into(),
        ),
    ];
    assert_eq!(got, want);
    match &sources[0].origin {
        Origin::ZipEntry {
            archive,
            entry,
            data,
        } => {
            assert_eq!(archive, &z);
            assert_eq!(entry, "1_build.txt");
            // Located once, when the archive was listed.
            assert!(data.is_some_and(|d| d.size > 0), "{data:?}");
        }
        o => panic!("{o:?}"),
    }
    // Nothing was extracted anywhere.
    assert!(!dir.path().join("../../escape.txt").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn zips_found_in_a_directory_walk_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    touch(dir.path(), "a.log", "plain\n");
    github_zip(&dir.path().join("run.zip"));
    let sources = resolve(&[spec(dir.path())]).unwrap();
    assert_eq!(sources.len(), 7);
    assert!(sources[0].name.ends_with("a.log"));
    assert!(sources[1].name.ends_with("run.zip!1_build.txt"));
}

#[test]
fn big_entries_stream() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("big.zip");
    let line = b"2024-05-14T09:12:33.4829150Z npm info run ok\n";
    let big: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 400_000)
        .collect();
    make_zip(&z, &[("1_build.txt", &big, CompressionMethod::Deflated)]);
    let s = &resolve(&[spec(&z)]).unwrap()[0];
    let mut r = s.open().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut newlines) = (0usize, 0usize);
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    assert_eq!(total, big.len());
    assert_eq!(newlines, 400_000);
}

#[test]
fn truncated_zip_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("run.zip");
    github_zip(&z);
    let bytes = std::fs::read(&z).unwrap();
    std::fs::write(&z, &bytes[..bytes.len() / 2]).unwrap();
    match resolve(&[spec(&z)]) {
        Err(e @ LogError::Zip { .. }) => assert!(e.to_string().contains("run.zip"), "{e}"),
        other => panic!("expected a zip error, got {other:?}"),
    }
}

#[test]
fn corrupted_entry_data_fails_the_read_not_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("run.zip");
    let content = b"important log line that will be corrupted\n".repeat(100);
    make_zip(&z, &[("1_build.txt", &content, CompressionMethod::Stored)]);
    let mut bytes = std::fs::read(&z).unwrap();
    // Flip a byte in the stored data (after the 30-byte local header and the 11-byte name).
    bytes[30 + 11 + 10] ^= 0x20;
    std::fs::write(&z, &bytes).unwrap();
    let s = &resolve(&[spec(&z)]).unwrap()[0];
    let mut out = Vec::new();
    let err = s.open().unwrap().read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("1_build.txt"), "{err}");
}

#[test]
fn an_empty_zip_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("empty.zip");
    make_zip(&z, &[]);
    assert!(matches!(
        resolve(&[spec(&z)]),
        Err(LogError::NotFound { .. })
    ));
}

#[test]
fn a_file_that_vanished_after_resolve_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = touch(dir.path(), "x.log", "x");
    let s = resolve(&[spec(&p)]).unwrap().remove(0);
    std::fs::remove_file(&p).unwrap();
    assert!(matches!(s.open(), Err(LogError::Io { .. })));
    let z = dir.path().join("run.zip");
    github_zip(&z);
    let s = resolve(&[spec(&z)]).unwrap().remove(0);
    std::fs::write(&z, b"PK\x03\x04 no longer a zip").unwrap();
    // The entry was located when the archive was listed: the changed archive fails when the
    // entry is read (a broken stream, or the size and CRC-32 checks), naming the entry.
    let mut r = s.open().expect("opens at the recorded offset");
    let e = std::io::copy(&mut r, &mut std::io::sink()).expect_err("the changed archive fails");
    assert!(
        e.to_string().contains("zip entry") && e.to_string().contains("1_build.txt"),
        "{e}"
    );
    // An entry never located (as a caller may build it) is looked up when opened.
    let Origin::ZipEntry { archive, entry, .. } = s.origin.clone() else {
        panic!("{:?}", s.origin)
    };
    let unlocated = LogSource {
        origin: Origin::ZipEntry {
            archive,
            entry,
            data: None,
        },
        ..s
    };
    assert!(matches!(unlocated.open(), Err(LogError::Zip { .. })));
}

#[test]
fn relative_globs_walk_from_their_literal_prefix() {
    // `cargo test` runs in the package root.
    let sources = resolve(&["fixtures/reports/*.json".to_string()]).unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fixtures/reports/playwright-report.json"]);
    let sources = resolve(&["fixtures/**/playwright-*.xml".to_string()]).unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fixtures/reports/playwright-junit.xml"]);
}

#[test]
fn unsupported_compression_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("run.zip");
    make_zip(
        &z,
        &[("1_build.txt", b"hello\n", CompressionMethod::Stored)],
    );
    let mut bytes = std::fs::read(&z).unwrap();
    // Method 12 (bzip2) in the local header (offset 8) and the central directory entry (10).
    bytes[8] = 12;
    let cd = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[cd + 10] = 12;
    std::fs::write(&z, &bytes).unwrap();
    let s = &resolve(&[spec(&z)]).unwrap()[0];
    match s.open() {
        Err(e @ LogError::ZipEntry { .. }) => {
            assert!(e.to_string().contains("run.zip!1_build.txt"), "{e}")
        }
        Err(e) => panic!("expected a zip entry error, got {e:?}"),
        Ok(_) => panic!("expected a zip entry error, got a reader"),
    }
}

#[test]
fn zip_bombs_are_refused_before_anything_is_inflated() {
    use ci_remedy::logs::source::{resolve_with, ZipLimits};
    let dir = tempfile::tempdir().unwrap();
    // 8 MiB of zeros deflate to ~8 KiB: a ratio near deflate's maximum.
    let zeros = vec![0u8; 8 << 20];
    let bomb = dir.path().join("bomb.zip");
    make_zip(
        &bomb,
        &[("1_build.txt", zeros.as_slice(), CompressionMethod::Deflated)],
    );
    let err = resolve(&[spec(&bomb)]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, LogError::ZipLimit { .. }), "{msg}");
    assert!(
        msg.contains("bomb.zip") && msg.contains("--max-zip-ratio") && msg.contains("200:1"),
        "{msg}"
    );
    // Raised, it is read (and yields exactly its bytes).
    let raised = ZipLimits {
        max_ratio: 2000,
        ..ZipLimits::default()
    };
    let found = resolve_with(&[spec(&bomb)], &raised).unwrap();
    assert_eq!(read_all(&found[0]).len(), zeros.len());

    // The total cap counts every entry read: two ordinary 600 KiB logs over a 1 MiB cap.
    let text: Vec<u8> = (0..60_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .take(600 << 10)
        .collect();
    let two = dir.path().join("two.zip");
    make_zip(
        &two,
        &[
            ("1_a.txt", text.as_slice(), CompressionMethod::Deflated),
            ("2_b.txt", text.as_slice(), CompressionMethod::Stored),
        ],
    );
    let small = ZipLimits {
        max_unpacked_bytes: 1 << 20,
        ..ZipLimits::default()
    };
    let msg = resolve_with(&[spec(&two)], &small).unwrap_err().to_string();
    assert!(
        msg.contains("more than 1048576 bytes") && msg.contains("--max-zip-bytes"),
        "{msg}"
    );
    assert_eq!(resolve(&[spec(&two)]).unwrap().len(), 2);
}
