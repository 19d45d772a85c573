//! Builds the trampoline (src/runtime/trampoline.c), the few hundred
//! bytes diyc executes from a sealed memory file so that a container's
//! command never starts as diyc's own binary. It needs no C library, only
//! the C compiler every Rust build on Linux already links with.

// A build script runs the compiler; the kernel wall of clippy.toml is for
// diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let source = "src/runtime/trampoline.c";
    println!("cargo::rerun-if-changed={source}");
    println!("cargo::rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("trampoline");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args([
            "-static",
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
            "-o",
        ])
        .arg(&out)
        .arg(source)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{cc} could not build the trampoline ({s})"),
        Err(e) => panic!("cannot run {cc} to build the trampoline: {e} (install gcc)"),
    }
}
