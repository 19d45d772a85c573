//! The namespace checks and the knobs that allow user namespaces.

use crate::common::Lab;
use crate::kit::{Doctor, TestUser};
use crate::require_root;

const KINDS: [&str; 7] = ["user", "uts", "ipc", "mnt", "pid", "net", "cgroup"];

#[test]
fn every_namespace_can_be_made_here_by_root_and_by_an_ordinary_user() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    for ran in [Doctor::new().run(&lab), Doctor::new().by(&user).run(&lab)] {
        for kind in KINDS {
            let id = format!("ns.{kind}");
            assert_eq!(ran.verdict(&id), "ok", "{}", ran.show(&id));
        }
    }
}

#[test]
fn a_kernel_without_namespaces_fails_each_kind_and_names_its_option() {
    require_root!();
    let lab = Lab::new();
    // An empty /proc/PID/ns for the shell, which doctor then replaces.
    let ran = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /proc/$$/ns")
        .run(&lab);
    assert_eq!(ran.code(), Some(1));
    for kind in KINDS {
        let id = format!("ns.{kind}");
        assert_eq!(ran.verdict(&id), "fail", "{}", ran.show(&id));
        assert!(ran.found(&id).contains(&format!("/proc/self/ns/{kind}")));
        assert!(ran.fix(&id).contains("CONFIG_"), "{}", ran.show(&id));
    }
    assert!(ran.breaks("ns.uts").contains("diyc learn --step uts"));
}

#[test]
fn a_refused_unshare_fails_each_namespace_and_the_overlay_probe_is_not_tried() {
    require_root!();
    let lab = Lab::new();
    let ran = Doctor::new()
        .refusing(libc::SYS_unshare, libc::EPERM)
        .run(&lab);
    assert_eq!(ran.code(), Some(1));
    for kind in KINDS {
        let id = format!("ns.{kind}");
        assert_eq!(ran.verdict(&id), "fail", "{}", ran.show(&id));
        assert!(ran.found(&id).contains("EPERM"), "{}", ran.show(&id));
        assert!(
            ran.fix(&id).contains("inside a container?"),
            "{}",
            ran.show(&id)
        );
    }
    assert!(ran.found("ns.net").contains("unshare(CLONE_NEWNET)"));
    assert_eq!(ran.verdict("overlay.userns"), "info");
    assert!(ran.found("overlay.userns").starts_with("not tried"));
}

#[test]
fn with_no_user_namespace_left_the_user_namespace_checks_fail() {
    require_root!();
    let lab = Lab::new();
    let allowed = Doctor::new().under(&["unshare", "-U", "-r"]).run(&lab);
    assert_eq!(
        allowed.verdict("userns.max"),
        "ok",
        "{}",
        allowed.show("userns.max")
    );
    assert_eq!(
        allowed.verdict("ns.user"),
        "ok",
        "{}",
        allowed.show("ns.user")
    );
    // The limit is the user namespace's own: 0 there stops only its children.
    let none = Doctor::new()
        .under(&["unshare", "-U", "-r"])
        .setup("echo 0 > /proc/sys/user/max_user_namespaces")
        .run(&lab);
    assert_eq!(none.code(), Some(1));
    assert_eq!(
        none.verdict("userns.max"),
        "fail",
        "{}",
        none.show("userns.max")
    );
    assert!(none.found("userns.max").contains("= 0"));
    assert!(
        none.fix("userns.max")
            .contains("sysctl -w user.max_user_namespaces=")
    );
    assert!(none.breaks("userns.max").contains("diyc learn --step user"));
    assert_eq!(none.verdict("ns.user"), "fail", "{}", none.show("ns.user"));
    assert!(none.found("ns.user").contains("ENOSPC"));
    assert!(none.fix("ns.user").contains("user.max_user_namespaces"));
}

/// Doctor with a private /proc/sys/kernel holding only `knob` = `value`.
fn with_kernel_knob(knob: &str, value: &str) -> Doctor {
    Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /proc/sys/kernel")
        .setup(format!("echo {value} > /proc/sys/kernel/{knob}"))
}

#[test]
fn apparmors_restriction_fails_an_ordinary_user_and_only_informs_root() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let knob = "apparmor_restrict_unprivileged_userns";
    let id = "userns.apparmor";
    let theirs = with_kernel_knob(knob, "1").by(&user).run(&lab);
    assert_eq!(theirs.verdict(id), "fail", "{}", theirs.show(id));
    assert_eq!(theirs.code(), Some(1));
    assert!(
        theirs.fix(id).contains("AppArmor profile"),
        "{}",
        theirs.show(id)
    );
    assert!(theirs.breaks(id).contains("without root"));
    let roots = with_kernel_knob(knob, "1").run(&lab);
    assert_eq!(roots.verdict(id), "info", "{}", roots.show(id));
    let lifted = with_kernel_knob(knob, "0").by(&user).run(&lab);
    assert_eq!(lifted.verdict(id), "ok", "{}", lifted.show(id));
    let absent = Doctor::new().by(&user).run(&lab);
    assert_eq!(absent.verdict(id), "ok", "{}", absent.show(id));
}

#[test]
fn unprivileged_userns_clone_0_fails_an_ordinary_user_and_only_informs_root() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let knob = "unprivileged_userns_clone";
    let id = "userns.unprivileged";
    let theirs = with_kernel_knob(knob, "0").by(&user).run(&lab);
    assert_eq!(theirs.verdict(id), "fail", "{}", theirs.show(id));
    assert!(
        theirs
            .fix(id)
            .contains("kernel.unprivileged_userns_clone=1")
    );
    let roots = with_kernel_knob(knob, "0").run(&lab);
    assert_eq!(roots.verdict(id), "info", "{}", roots.show(id));
    let allowed = with_kernel_knob(knob, "1").by(&user).run(&lab);
    assert_eq!(allowed.verdict(id), "ok", "{}", allowed.show(id));
}
