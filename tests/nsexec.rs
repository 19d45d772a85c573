//! `diyc nsexec`: host commands in the namespaces asked for, each stage
//! running alone.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, text};

fn ns_inode(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .expect("ns link")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn uts_alone_renames_only_the_new_namespace() {
    require_root!();
    let lab = Lab::new();
    let before = nix::unistd::gethostname().expect("hostname");
    let stdout = lab.ok(&["nsexec", "-u", "lesson-host", "hostname"]);
    assert_eq!(stdout.trim(), "lesson-host");
    assert_eq!(nix::unistd::gethostname().expect("hostname"), before);
}

/// Under `nsexec FLAGS`: the shell's own pid, how many processes /proc
/// lists, and what diyc printed on stderr.
fn pid_and_process_count(lab: &Lab, flags: &[&str]) -> (String, u32, String) {
    let mut args = vec!["nsexec"];
    args.extend_from_slice(flags);
    args.extend(["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]);
    let out = lab.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    let pid = lines.next().unwrap_or_default().to_string();
    let count = lines.next().and_then(|c| c.parse().ok()).expect("a count");
    (pid, count, text(&out.stderr))
}

#[test]
fn pid_with_mount_shows_only_the_new_namespace_in_proc() {
    require_root!();
    let lab = Lab::new();
    let (pid, visible, _) = pid_and_process_count(&lab, &["-p", "-m"]);
    assert_eq!(pid, "1", "the shell is PID 1");
    assert!(
        visible <= 3,
        "only the namespace's own processes, saw {visible}"
    );
}

#[test]
fn pid_without_mount_still_sees_the_hosts_proc() {
    require_root!();
    let lab = Lab::new();
    let (pid, visible, explain) = pid_and_process_count(&lab, &["-v", "-p"]);
    assert_eq!(pid, "1");
    assert!(visible > 3, "the host's /proc lists the host's processes");
    assert!(explain.contains("/proc is still the host's"), "{explain}");
}

#[test]
fn mount_alone_keeps_a_mount_off_the_host() {
    require_root!();
    let lab = Lab::new();
    let point = lab.root().join("mnt");
    std::fs::create_dir(&point).expect("mount point");
    let script = format!(
        "mount -t tmpfs nsexec-marker {} && grep -c nsexec-marker /proc/self/mountinfo",
        point.display()
    );
    let stdout = lab.ok(&["nsexec", "-m", "sh", "-c", &script]);
    assert_eq!(stdout.trim(), "1");
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!host.contains("nsexec-marker"));
}

#[test]
fn net_and_ipc_get_namespaces_of_their_own() {
    require_root!();
    let lab = Lab::new();
    let out = lab.run_sh(
        "nsexec -n -i",
        "readlink /proc/self/ns/net /proc/self/ns/ipc",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_ne!(lines[0], ns_inode("self", "net"));
    assert_ne!(lines[1], ns_inode("self", "ipc"));
}

#[test]
fn verbose_shows_the_calls_of_the_stages_asked_for() {
    require_root!();
    let lab = Lab::new();
    let out = lab.line("nsexec -v -m -u shown true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let explain = text(&out.stderr);
    assert!(
        explain.contains("clone3({flags=CLONE_NEWNS|CLONE_NEWUTS, exit_signal=SIGCHLD"),
        "{explain}"
    );
    assert!(explain.contains(r#"mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL) = 0"#));
    assert!(explain.contains(r#"sethostname("shown", 5) = 0"#));
    assert!(
        !explain.contains("pivot_root"),
        "no rootfs stage was asked for"
    );
}

#[test]
fn nsexec_reports_the_commands_exit_status() {
    require_root!();
    let lab = Lab::new();
    assert_eq!(lab.run_sh("nsexec -p", "exit 3").status.code(), Some(3));
    assert_eq!(
        lab.run(&["nsexec", "no-such-command-here"]).status.code(),
        Some(127)
    );
}
