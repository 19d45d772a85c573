//! Command-line conventions: docker's spellings where they don't clash,
//! a bad option never taken for success, a typo answered with what was
//! meant, and every usage error one line that names the subcommand's help.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, text};

#[test]
fn usage_errors_are_one_line_with_a_suggestion_and_the_subcommands_help() {
    let lab = Lab::new();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["stpo", "x"],
            &["did you mean `stop`?", "(see `diyc --help`)"],
        ),
        (
            &["run", "--nmae", "x", "busybox"],
            &["did you mean `--name`?", "`diyc run --help`"],
        ),
        (
            &["run", "--net", "bogus", "busybox"],
            &["one of: bridge, none, host", "`diyc run --help`"],
        ),
        // -h is the hostname, as in docker: without a value it is an
        // error, never help and status 0.
        (
            &["run", "-h"],
            &["a value is required for '--hostname", "`diyc run --help`"],
        ),
        (
            &["stop", "-t", "soon", "x"],
            &["invalid value 'soon'", "`diyc stop --help`"],
        ),
        (&["exec"], &["required", "`diyc exec --help`"]),
    ];
    for (args, needles) in cases {
        let out = lab.run(args);
        for needle in *needles {
            assert_one_line_error(&out, needle);
        }
    }
}

#[test]
fn explain_with_a_space_before_its_format_gets_a_hint() {
    let lab = Lab::new();
    let out = lab.run(&["run", "--explain", "json", "busybox", "true"]);
    assert_one_line_error(&out, "write `--explain=json`");
    assert!(!lab.root().join("containers").exists(), "nothing made");
}

#[test]
fn help_is_long_only_for_run_and_exits_0() {
    let lab = Lab::new();
    let out = lab.run(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("-h, --hostname"), "{help}");
    assert!(
        help.contains("neither -i nor -t, diyc acts as with -it"),
        "{help}"
    );
}

#[test]
fn dockers_spellings_of_hostname_memory_and_network_work() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = lab.run(&[
        "run",
        "--name",
        "spelled",
        "-h",
        "myhost",
        "-m",
        "64m",
        "--network",
        "none",
        "busybox",
        "hostname",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "myhost\n");
    let out = lab.ok(&[
        "run",
        "--name",
        "spelled",
        "--memory",
        "32m",
        "--hostname",
        "h2",
        "--net",
        "none",
        "busybox",
        "true",
    ]);
    assert_eq!(out, "");
    let inspect: serde_json::Value =
        serde_json::from_str(&lab.ok(&["inspect", "spelled"])).expect("JSON");
    let config = &inspect[0]["config"];
    assert_eq!(config["memory"], 32 << 20);
    assert_eq!(config["hostname"], "h2");
    assert_eq!(config["net"], "none");
}
