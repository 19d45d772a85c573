//! `diyc image import` shows its progress on a terminal (bytes, layers,
//! rate) on stderr, and nothing but its last line when piped.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::terminal::OnTerminal;
use common::{Lab, made, text};

#[test]
fn on_a_terminal_an_import_shows_its_layers_and_bytes_as_it_goes() {
    require_root!();
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = made::oci_layout(dir.path());
    let mut term = OnTerminal::start_as(
        &lab,
        "xterm",
        &["image", "import", "shown", layout.to_str().expect("utf-8")],
    );
    let (seen, status) = term.finish();
    assert_eq!(status, Some(0), "{seen}");
    assert!(seen.contains("importing"), "no progress drawn: {seen:?}");
    assert!(seen.contains("of 3 layers"), "no layer count: {seen:?}");
    assert!(seen.contains("/s"), "no rate: {seen:?}");
    assert!(seen.contains("imported image shown"), "{seen:?}");
}

#[test]
fn piped_an_import_prints_only_its_last_line() {
    require_root!();
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = made::oci_layout(dir.path());
    let out = lab.run(&["image", "import", "quiet", layout.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "stderr should be empty when piped");
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("imported image quiet (OCI image layout): 3 layers"),
        "{stdout}"
    );
}
