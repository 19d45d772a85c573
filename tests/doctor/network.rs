//! Networking: iptables where diyc looks for it, its backend, FORWARD's
//! policy, ip_forward, and the user-mode helper rootless diyc needs.
//! Every iptables command runs in a network namespace of the test's own.

use crate::common::Lab;
use crate::kit::{Doctor, TestUser};
use crate::require_root;

#[test]
fn without_iptables_where_diyc_looks_the_bridge_fails_and_the_package_is_named() {
    require_root!();
    let lab = Lab::new();
    let id = "net.iptables";
    let path = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let on_path = path.path().display().to_string();
    // PATH alone changes nothing: helpers run with a PATH of diyc's own.
    let here = Doctor::new().path(&on_path).run(&lab);
    assert_eq!(here.verdict(id), "ok", "{}", here.show(id));
    let fake = path.path().join("iptables");
    std::fs::write(&fake, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    std::process::Command::new("chmod")
        .args(["755", &fake.display().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    let ran = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /usr/sbin")
        .path(&on_path)
        .run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(
        ran.fix(id).contains("apt-get install iptables"),
        "{}",
        ran.show(id)
    );
    assert!(ran.breaks(id).contains("diyc setup"));
    assert!(
        ran.found(id).contains("is not where diyc looks"),
        "{}",
        ran.show(id)
    );
    assert_eq!(ran.code(), Some(1));
    assert_eq!(ran.verdict("net.iptables_backend"), "info");
    // Rootless diyc makes no iptables rules.
    let user = TestUser::new(false);
    let theirs = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /usr/sbin")
        .by(&user)
        .run(&lab);
    assert_eq!(theirs.verdict(id), "info", "{}", theirs.show(id));
}

#[test]
fn the_iptables_backend_is_named() {
    require_root!();
    let lab = Lab::new();
    let id = "net.iptables_backend";
    let here = Doctor::new().run(&lab);
    assert!(here.found(id).contains("(nf_tables)"), "{}", here.show(id));
    let legacy = std::fs::canonicalize("/usr/sbin/iptables-legacy")
        .unwrap_or_else(|e| panic!("iptables-legacy (package iptables): {e}"));
    // Over the binary /usr/sbin/iptables leads to, in this namespace only.
    let ran = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(format!(
            "mount --bind {} /usr/sbin/iptables",
            legacy.display()
        ))
        .run(&lab);
    assert_eq!(ran.verdict(id), "info", "{}", ran.show(id));
    assert!(ran.found(id).starts_with("legacy"), "{}", ran.show(id));
}

#[test]
fn a_forward_policy_of_drop_is_told_and_harmless() {
    require_root!();
    let lab = Lab::new();
    let id = "net.forward_policy";
    let accept = Doctor::new().under(&["unshare", "--net"]).run(&lab);
    assert_eq!(accept.verdict(id), "ok", "{}", accept.show(id));
    assert_eq!(accept.found(id), "-P FORWARD ACCEPT");
    let drop = Doctor::new()
        .under(&["unshare", "--net"])
        .setup("iptables -w -P FORWARD DROP")
        .run(&lab);
    assert_eq!(drop.verdict(id), "info", "{}", drop.show(id));
    assert!(drop.found(id).starts_with("policy DROP"));
    let user = TestUser::new(false);
    let theirs = Doctor::new().by(&user).run(&lab);
    assert!(
        theirs.found(id).contains("needs root"),
        "{}",
        theirs.show(id)
    );
}

#[test]
fn ip_forward_off_is_a_warning_that_diyc_setup_fixes() {
    require_root!();
    let lab = Lab::new();
    let id = "net.ip_forward";
    // A new network namespace starts with forwarding off.
    let off = Doctor::new().under(&["unshare", "--net"]).run(&lab);
    assert_eq!(off.verdict(id), "warn", "{}", off.show(id));
    assert!(off.fix(id).contains("sudo diyc setup"), "{}", off.show(id));
    assert!(off.breaks(id).contains("--net bridge"));
    let on = Doctor::new()
        .under(&["unshare", "--net"])
        .setup("echo 1 > /proc/sys/net/ipv4/ip_forward")
        .run(&lab);
    assert_eq!(on.verdict(id), "ok", "{}", on.show(id));
    let user = TestUser::new(false);
    let theirs = Doctor::new()
        .under(&["unshare", "--net"])
        .by(&user)
        .run(&lab);
    assert_eq!(theirs.verdict(id), "info", "{}", theirs.show(id));
}

#[test]
fn without_pasta_an_ordinary_user_is_told_to_install_passt() {
    require_root!();
    let lab = Lab::new();
    let id = "net.user_helper";
    let user = TestUser::new(true);
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let none = empty.path().display().to_string();
    let theirs = Doctor::new().by(&user).path(&none).run(&lab);
    assert_eq!(theirs.verdict(id), "warn", "{}", theirs.show(id));
    assert!(
        theirs.fix(id).contains("apt-get install passt"),
        "{}",
        theirs.show(id)
    );
    assert!(theirs.breaks(id).contains("-p without root"));
    let found = Doctor::new().by(&user).path("/usr/bin:/bin").run(&lab);
    assert_eq!(found.verdict(id), "ok", "{}", found.show(id));
    assert!(found.found(id).contains("pasta at"), "{}", found.show(id));
    // Root does not need it, and is told what ordinary users would.
    let roots = Doctor::new().path(&none).run(&lab);
    assert_eq!(roots.verdict(id), "info", "{}", roots.show(id));
    assert!(roots.fix(id).contains("passt"));
}
