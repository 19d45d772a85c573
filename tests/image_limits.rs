//! An import can be stopped and bounded: a FIFO with no writer and a
//! stalled stdin end on a signal, a killed import's leftovers go with the
//! next `image rm`, which keeps a layer an import reuses meanwhile; bombs
//! stop at --max-size (big files, many empty ones), at 64 KiB of headers
//! and at 4 MiB after a tar's end. Nothing is left behind.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};

use common::archives::*;
use common::{Lab, assert_one_line_error, made::utf8 as path, text, wait_until};

#[test]
fn a_fifo_that_sends_garbage_is_refused_in_one_line() {
    require_root!();
    let lab = Lab::new();
    let fifo = mkfifo(&lab);
    let diyc = import_in_background(&lab, path(&fifo), Stdio::null());
    // A writer can open a FIFO without waiting only once its reader has.
    let mut writer = None;
    wait_until("diyc opens the FIFO", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok();
        writer.is_some()
    });
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 151 % 251) as u8 | 0x80).collect();
    let mut writer = writer.expect("opened");
    // diyc may stop reading before the end: a broken pipe is its answer.
    let _ = writer.write_all(&garbage);
    drop(writer);
    let out = diyc.output();
    assert_one_line_error(&out, "it is unknown binary data, not a tar");
    no_raw_control_bytes(&out.stderr);
    nothing_left(&lab);
}

/// Started on a `source` that never sends a byte, diyc is stopped by
/// each stop signal: one line, 128+N, nothing left.
fn stops_while_nothing_comes(lab: &Lab, source: &str, stdin: impl Fn() -> Stdio) {
    use nix::sys::signal::Signal;
    for (signal, status) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let mut diyc = import_in_background(lab, source, stdin());
        // Its staging directory is made after the source is opened: a diyc
        // stuck in open() never makes one.
        wait_until("diyc waits for the first byte", || {
            diyc.must_run();
            lab.stored()
                .iter()
                .any(|n| n.starts_with("layers/.layer-stream-"))
        });
        nix::sys::signal::kill(diyc.pid(), signal).expect("kill");
        let out = diyc.output();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{signal}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("diyc: ") && err.contains(signal.as_str()),
            "{err}"
        );
        nothing_left(lab);
    }
}

#[test]
fn what_a_killed_import_left_goes_with_the_next_image_rm() {
    require_root!();
    let lab = Lab::new();
    let flat = lab.root().join("flat.tar");
    busybox_tar(&flat);
    lab.ok(&["image", "import", "kept", path(&flat)]);
    let fifo = mkfifo(&lab);
    let mut diyc = import_in_background(&lab, path(&fifo), Stdio::null());
    wait_until("diyc waits for the first byte", || {
        diyc.must_run();
        lab.stored()
            .iter()
            .any(|n| n.starts_with("layers/.layer-stream-"))
    });
    // No chance to clean up: its staging directory stays.
    nix::sys::signal::kill(diyc.pid(), nix::sys::signal::Signal::SIGKILL).expect("kill");
    diyc.output();
    assert!(lab.stored().iter().any(|n| n.starts_with("layers/.layer-")));
    lab.ok(&["image", "rm", "kept"]);
    nothing_left(&lab);
}

#[test]
fn image_rm_keeps_a_layer_that_an_import_reuses_meanwhile() {
    require_root!();
    let lab = Lab::new();
    let flat = lab.root().join("flat.tar");
    busybox_tar(&flat);
    lab.ok(&["image", "import", "first", path(&flat)]);
    // An import that will reuse first's layer, holding the store while
    // it waits for its bytes.
    let fifo = mkfifo(&lab);
    let mut import = import_in_background(&lab, path(&fifo), Stdio::null());
    wait_until("the import waits for its first byte", || {
        import.must_run();
        lab.stored()
            .iter()
            .any(|n| n.starts_with("layers/.layer-stream-"))
    });
    // The removal of first, which waits for that import to finish.
    let rm = Background(Some(
        lab.cmd(&["image", "rm", "first"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diyc image rm"),
    ));
    let wchan = format!("/proc/{}/wchan", rm.pid());
    wait_until("image rm waits for the layer store's lock", || {
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("lock"))
    });
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("fifo");
    std::io::copy(&mut std::fs::File::open(&flat).expect("flat"), &mut writer).expect("feed");
    drop(writer);
    assert_eq!(import.output().status.code(), Some(0));
    assert_eq!(rm.output().status.code(), Some(0));
    let out = lab.ok(&["run", "--rm", "--net", "none", "fifo", "cat", "/marker"]);
    assert_eq!(out, "marker\n");
}

#[test]
fn a_fifo_with_no_writer_is_stopped_by_a_signal_and_leaves_nothing() {
    require_root!();
    let lab = Lab::new();
    let fifo = mkfifo(&lab);
    stops_while_nothing_comes(&lab, path(&fifo), Stdio::null);
}

#[test]
fn a_stalled_stdin_is_stopped_by_a_signal_and_leaves_nothing() {
    require_root!();
    let lab = Lab::new();
    // A pipe whose write end this test holds and never writes to.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("a pipe");
    stops_while_nothing_comes(&lab, "-", || {
        Stdio::from(read.try_clone().expect("read end"))
    });
    drop(write);
}

#[test]
fn a_gzip_bomb_is_stopped_at_max_size() {
    require_root!();
    let lab = Lab::new();
    let bomb = lab.root().join("bomb.tar.gz");
    let mut gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&bomb).expect("bomb"))
        .spawn()
        .expect("gzip");
    let mut builder = tar::Builder::new(gzip.stdin.take().expect("stdin"));
    let size = 64 << 20;
    let mut zeros = header(tar::EntryType::Regular, size, 0o644);
    builder
        .append_data(&mut zeros, "zeros", std::io::repeat(0).take(size))
        .expect("64 MiB of zeros");
    drop(builder.into_inner().expect("tar"));
    assert!(gzip.wait().expect("gzip").success());
    let packed = std::fs::metadata(&bomb).expect("bomb").len();
    assert!(packed < 1 << 20, "{packed} bytes: not a bomb");
    refused(
        &lab,
        &["bomb", path(&bomb), "--max-size", "1M"],
        "--max-size",
    );
}

#[test]
fn a_long_name_bigger_than_any_header_is_refused_unread() {
    require_root!();
    let lab = Lab::new();
    let bomb = lab.root().join("longname.tar.gz");
    // A GNU long name of 4 MiB: the tar reader would keep it whole in memory.
    let size = 4 << 20;
    let mut long = header(tar::EntryType::GNULongName, size, 0o644);
    long.as_gnu_mut().expect("gnu").name[..13].copy_from_slice(b"././@LongLink");
    long.set_cksum();
    let next = raw_header("x", tar::EntryType::Regular, 0);
    let raw = long
        .as_bytes()
        .as_slice()
        .chain(std::io::repeat(b'a').take(size))
        .chain(next.as_slice())
        .chain(std::io::repeat(0).take(1024));
    gzipped(&bomb, raw);
    refused(&lab, &["longname", path(&bomb)], "take more than 64 KiB");
}

#[test]
fn zeros_after_the_tar_s_end_are_not_read_without_end() {
    require_root!();
    let lab = Lab::new();
    let tail = lab.root().join("tail.tar.gz");
    let end = raw_header("x", tar::EntryType::Regular, 0);
    let raw = end.as_slice().chain(std::io::repeat(0).take(64 << 20));
    gzipped(&tail, raw);
    refused(&lab, &["tail", path(&tail)], "after the tar's end");
}

#[test]
fn many_empty_files_count_against_max_size() {
    require_root!();
    let lab = Lab::new();
    let many = lab.root().join("many.tar");
    let names: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    tar_of(&many, &files);
    refused(
        &lab,
        &["many", path(&many), "--max-size", "100K"],
        "--max-size",
    );
}
