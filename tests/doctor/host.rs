//! The host: busybox for the built-in image, and where diyc runs.

use crate::common::Lab;
use crate::kit::Doctor;
use crate::require_root;

#[test]
fn without_busybox_the_built_in_image_fails_with_the_install_hint() {
    require_root!();
    let lab = Lab::new();
    let id = "image.busybox";
    let here = Doctor::new().run(&lab);
    assert_eq!(here.verdict(id), "ok", "{}", here.show(id));
    let named = Doctor::new()
        .env("DIYC_BUSYBOX", "/nonexistent/busybox")
        .run(&lab);
    assert_eq!(named.verdict(id), "fail", "{}", named.show(id));
    assert!(
        named
            .found(id)
            .contains("/nonexistent/busybox (from DIYC_BUSYBOX)")
    );
    assert!(named.fix(id).contains("DIYC_BUSYBOX"));
    // Nowhere the recipe looks: /bin and /sbin lead into /usr here.
    let gone = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /usr/sbin")
        .setup("mount -t tmpfs diyc-doc-test /usr/bin")
        .run(&lab);
    assert_eq!(gone.verdict(id), "fail", "{}", gone.show(id));
    assert!(
        gone.fix(id).contains("apt-get install busybox-static"),
        "{}",
        gone.show(id)
    );
    assert!(gone.breaks(id).contains("every lesson"));
    assert_eq!(gone.code(), Some(1));
}

#[test]
fn a_container_is_recognised_by_its_runtimes_marks() {
    require_root!();
    let lab = Lab::new();
    let id = "host.container";
    let podman = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /run && touch /run/.containerenv")
        .run(&lab);
    assert_eq!(podman.verdict(id), "info", "{}", podman.show(id));
    assert!(
        podman.found(id).contains("/run/.containerenv"),
        "{}",
        podman.show(id)
    );
    let unmarked = Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /run")
        .run(&lab);
    assert!(
        !unmarked.found(id).contains("/run/.containerenv"),
        "{}",
        unmarked.show(id)
    );
}

/// Doctor with a /proc/sys/kernel of the test's whose osrelease says `release`.
fn with_release(lab: &Lab, release: &str) -> crate::kit::Ran {
    Doctor::new()
        .under(&["unshare", "-m"])
        .setup("mount -t tmpfs diyc-doc-test /proc/sys/kernel")
        .setup(format!("echo {release} > /proc/sys/kernel/osrelease"))
        .run(lab)
}

#[test]
fn wsl2_is_recognised_by_its_kernel_release() {
    require_root!();
    let lab = Lab::new();
    let id = "host.wsl";
    let wsl = with_release(&lab, "5.15.153.1-microsoft-standard-WSL2");
    assert_eq!(wsl.verdict(id), "info", "{}", wsl.show(id));
    assert!(wsl.found(id).starts_with("WSL2"));
    let debian = with_release(&lab, "6.1.0-18-amd64");
    assert_eq!(debian.verdict(id), "ok", "{}", debian.show(id));
}

#[test]
fn a_virtual_machine_without_kvm_gets_a_note_for_the_vm_tests() {
    require_root!();
    let lab = Lab::new();
    let id = "host.vm";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let cpuinfo = |name: &str, flags: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("processor\t: 0\nflags\t\t: {flags}\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        format!("mount --bind {} /proc/cpuinfo", path.display())
    };
    let guest = cpuinfo("guest", "fpu vme hypervisor");
    let no_kvm = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(&guest)
        .setup("mount -t tmpfs diyc-doc-test /dev")
        .run(&lab);
    assert_eq!(no_kvm.verdict(id), "info", "{}", no_kvm.show(id));
    assert!(
        no_kvm.found(id).contains("without /dev/kvm"),
        "{}",
        no_kvm.show(id)
    );
    assert!(no_kvm.found(id).contains("tests/vm/run"));
    let metal = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(cpuinfo("metal", "fpu vme"))
        .run(&lab);
    assert_eq!(metal.verdict(id), "ok", "{}", metal.show(id));
    let kvm = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(&guest)
        .setup("mount -t tmpfs diyc-doc-test /dev && touch /dev/kvm")
        .run(&lab);
    assert!(kvm.found(id).contains("with /dev/kvm"), "{}", kvm.show(id));
}
