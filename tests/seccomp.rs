//! The seccomp filter: on by default, a call outside the profile refused
//! with EPERM and one newer than it with ENOSYS, `seccomp=unconfined`
//! turning it off, and a profile file in Docker's format obeyed.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, helpers};

/// keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0).
const KEYCTL: &str = "sysnr 250 0 -3 0";

/// lsm_get_self_attr (Linux 6.8), newer than any call the default
/// profile names that this machine's libseccomp knows.
const NEWER: &str = "sysnr 459 0 0 0 0";

fn inside(lab: &Lab, opts: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm", "--net", "none"];
    args.extend_from_slice(opts);
    args.extend(["busybox", "sh", "-c", script]);
    lab.ok(&args)
}

#[test]
fn the_default_filter_refuses_keyctl_and_new_user_namespaces() {
    require_root!();
    let lab = Lab::new().with_busybox();
    helpers::install(&lab, "sysnr");
    let seen = inside(
        &lab,
        &[],
        &format!(
            "grep '^Seccomp:' /proc/self/status; {KEYCTL}; \
             unshare -U true 2>/dev/null && echo userns=made || echo userns=refused"
        ),
    );
    assert!(seen.contains("Seccomp:\t2"), "{seen}");
    assert!(seen.contains("EPERM"), "keyctl: {seen}");
    assert!(seen.contains("userns=refused"), "{seen}");
}

#[test]
fn unconfined_turns_the_filter_off() {
    require_root!();
    let lab = Lab::new().with_busybox();
    helpers::install(&lab, "sysnr");
    let seen = inside(
        &lab,
        &["--security-opt", "seccomp=unconfined"],
        &format!(
            "grep '^Seccomp:' /proc/self/status; {KEYCTL}; \
             unshare -U true && echo userns=made || echo userns=refused"
        ),
    );
    assert!(seen.contains("Seccomp:\t0"), "{seen}");
    assert!(seen.contains("ok "), "keyctl: {seen}");
    assert!(seen.contains("userns=made"), "{seen}");
}

#[test]
fn a_call_newer_than_the_profile_gets_enosys_not_eperm() {
    require_root!();
    let lab = Lab::new().with_busybox();
    helpers::install(&lab, "sysnr");
    let filtered = inside(&lab, &[], NEWER);
    assert_eq!(filtered.trim(), "ENOSYS");
    // Without the filter the kernel answers for itself (on 6.8 and later
    // with something other than ENOSYS).
    let open = inside(&lab, &["--security-opt", "seccomp=unconfined"], NEWER);
    assert_ne!(open.trim(), "EPERM", "{open}");
}

#[test]
fn a_profile_in_dockers_format_is_obeyed() {
    require_root!();
    let lab = Lab::new().with_busybox();
    helpers::install(&lab, "sysnr");
    let profile = lab.root().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}
            ]
        }"#,
    )
    .expect("profile");
    let opt = format!("seccomp={}", profile.display());
    let seen = inside(
        &lab,
        &["--security-opt", &opt],
        &format!("mkdir /tmp/d 2>&1; {KEYCTL}"),
    );
    assert!(seen.contains("Permission denied"), "mkdir: {seen}");
    assert!(
        seen.contains("ok "),
        "keyctl allowed by this profile: {seen}"
    );
}

#[test]
fn a_bad_profile_or_option_is_one_line_and_changes_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let broken = lab.root().join("broken.json");
    std::fs::write(&broken, r#"{"defaultAction": "SCMP_ACT_FLY"}"#).expect("profile");
    let before = lab.host_state();
    let cases = [
        (format!("seccomp={}", broken.display()), "seccomp profile"),
        (
            "seccomp=/no/such/profile.json".to_string(),
            "cannot read seccomp profile",
        ),
        ("apparmor=unconfined".to_string(), "unknown --security-opt"),
    ];
    for (opt, needle) in &cases {
        let out = lab.run(&["run", "--rm", "--security-opt", opt, "busybox", "true"]);
        assert_one_line_error(&out, needle);
    }
    assert_eq!(lab.host_state(), before);
}

#[test]
fn explain_shows_the_filter_as_one_call_with_its_summary() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let err = lab.explained(&[]);
    assert_eq!(err.matches("] seccomp(").count(), 1, "{err}");
    assert!(
        err.contains("seccomp: diyc's default profile,"),
        "no summary: {err}"
    );
}

#[test]
fn a_profile_that_leaves_openat2_out_is_refused_not_walked_around() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let profile = lab.root().join("no-openat2.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
    )
    .expect("profile");
    let opt = format!("seccomp={}", profile.display());
    let before = lab.host_state();
    let out = lab.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--security-opt",
        &opt,
        "-w",
        "/tmp",
        "busybox",
        "true",
    ]);
    assert_one_line_error(&out, "openat2 was refused");
    assert_eq!(lab.host_state(), before);
}
