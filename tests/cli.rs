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
fn explain_times_says_where_a_recorded_runs_time_went() {
    let lab = Lab::new();
    let file = lab.root().join("run.json");
    let call = |stage: &str, pid: u32, at: u64, took: u64| {
        format!(
            r#"{{"event":"syscall","stage":"{stage}","pid":{pid},"call":{{"syscall":"chdir","path":"/"}},"text":"chdir(\"/\")","outcome":{{"ok":0}},"at_us":{at},"took_us":{took}}}"#
        )
    };
    let clone = r#"{"event":"syscall","stage":"clone","pid":40,"call":{"syscall":"clone3","flags":0,"exit_signal":17,"cgroup_fd":null},"text":"clone3(...)","outcome":{"ok":41},"at_us":1200,"took_us":300}"#;
    let lines = [
        r#"{"event":"stage","stage":"cgroups","at_us":1000}"#.to_string(),
        call("cgroups", 40, 1100, 3),
        clone.to_string(),
        call("rootfs", 41, 2500, 3),
        // The run ends where its last call did: 0.5 ms after this one began.
        call("cleanup", 40, 6000, 500),
    ];
    std::fs::create_dir_all(lab.root()).expect("the lab's root");
    std::fs::write(&file, lines.join("\n")).expect("the explanation file");
    let out = lab.run(&["explain", file.to_str().expect("utf-8"), "--times"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    let table: Vec<&str> = said
        .lines()
        .skip_while(|l| !l.starts_with("where the time went"))
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(
        table,
        [
            "cgroups (diyc)                               0.20 ms",
            "clone (diyc)                                 1.30 ms",
            "rootfs (container)                           3.50 ms",
            "cleanup (diyc)                               0.50 ms",
            "total                                        5.50 ms",
        ],
        "{said}"
    );
    // Without --times, the calls only.
    let out = lab.run(&["explain", file.to_str().expect("utf-8")]);
    assert!(!text(&out.stderr).contains("where the time went"));
    // An explanation from before diyc kept times still reads, and says so.
    let old: Vec<String> = lines
        .iter()
        .map(|l| {
            l.replace(r#","took_us":3"#, "")
                .replace(r#","took_us":500"#, "")
                .replace(r#","took_us":300"#, "")
        })
        .map(|l| {
            l.split(r#","at_us""#)
                .next()
                .map(|h| format!("{h}}}"))
                .unwrap_or_default()
        })
        .collect();
    std::fs::write(&file, old.join("\n")).expect("the old explanation file");
    let out = lab.run(&["explain", file.to_str().expect("utf-8"), "--times"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no times"),
        "{}",
        text(&out.stderr)
    );
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

/// Each subcommand's own help opens with the line `diyc --help` lists it
/// by: its arguments are built only when it is the one given, and a
/// shared group of arguments must not bring its own description along.
#[test]
fn each_subcommand_s_help_opens_with_its_own_summary() {
    let top = std::process::Command::new(common::DIYC)
        .arg("--help")
        .output()
        .expect("diyc --help");
    let top = String::from_utf8_lossy(&top.stdout).into_owned();
    let listed: Vec<(&str, &str)> = top
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split_once(char::is_whitespace))
        .map(|(name, about)| (name, about.trim()))
        .filter(|(name, _)| *name != "help")
        .collect();
    assert!(listed.len() > 10, "{top}");
    for (name, about) in listed {
        let own = std::process::Command::new(common::DIYC)
            .args(["help", name])
            .output()
            .expect("diyc help");
        let own = String::from_utf8_lossy(&own.stdout).into_owned();
        assert_eq!(own.lines().next(), Some(about), "diyc help {name}");
    }
}
