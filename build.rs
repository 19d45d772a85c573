//! Builds the small C programs diyc carries: the trampoline
//! (src/runtime/trampoline.c), the few hundred bytes diyc executes from a
//! sealed memory file so that a container's command never starts as
//! diyc's own binary; the built-in image's ping
//! (images/busybox/ping.c), which needs no raw socket; and the startup
//! benchmark's floor (benches/startup/floor.c). All are static;
//! they need only the C compiler and C library every Rust build on Linux
//! already links with.

// A build script runs the compiler; the kernel wall of clippy.toml is for
// diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::Command;

/// The trampoline has no C library at all: it is a few system calls.
const FREESTANDING: &[&str] = &[
    "-nostdlib",
    "-ffreestanding",
    // Without it, gcc turns the length loop into a call to strlen.
    "-fno-tree-loop-distribute-patterns",
    "-Os",
    "-fno-stack-protector",
    "-fno-asynchronous-unwind-tables",
    "-fno-pie",
    "-no-pie",
    "-Wl,--build-id=none",
    "-Wl,-z,norelro",
    "-Wl,-z,noseparate-code",
    "-s",
];

fn main() {
    println!("cargo::rerun-if-env-changed=CC");
    // What scripts/cargo-static links with: a new list must be linked in.
    println!("cargo::rerun-if-changed=scripts/startup-order.txt");
    println!("cargo::rerun-if-changed=scripts/link-ordered");
    build("src/runtime/trampoline.c", "trampoline", FREESTANDING);
    build("images/busybox/ping.c", "ping", &["-O2", "-s"]);
    // The startup benchmark's floor: the same kernel work with no runtime.
    build("benches/startup/floor.c", "floor", &["-O2", "-s"]);
}

fn build(source: &str, name: &str, flags: &[&str]) {
    println!("cargo::rerun-if-changed={source}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-static")
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{cc} could not build {source} ({s})"),
        Err(e) => panic!("cannot run {cc} to build {source}: {e} (install gcc and libc6-dev)"),
    }
}
