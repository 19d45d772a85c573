//! What an ordinary user's diyc needs: subordinate id ranges and their
//! helpers, cgroup v2, a delegated cgroup; and the controllers root's
//! limits use.

use std::path::PathBuf;

use crate::common::{Lab, sh};
use crate::kit::{CgroupDir, Doctor, TestUser};
use crate::require_root;

#[test]
fn subordinate_ranges_are_found_by_name_and_a_missing_one_gets_a_usermod_fix() {
    require_root!();
    let lab = Lab::new();
    let without = TestUser::new(false);
    let ran = Doctor::new().by(&without).run(&lab);
    for id in ["idmap.subuid", "idmap.subgid"] {
        assert_eq!(ran.verdict(id), "warn", "{}", ran.show(id));
        assert!(
            ran.fix(id).contains("usermod --add-subuids"),
            "{}",
            ran.show(id)
        );
        assert!(ran.fix(id).contains(&without.name));
        assert!(ran.breaks(id).contains("only your own id"));
    }
    let with = TestUser::new(true);
    let ran = Doctor::new().by(&with).run(&lab);
    let first = u64::from(with.subid.unwrap_or_else(|| panic!("a range")));
    for id in ["idmap.subuid", "idmap.subgid"] {
        assert_eq!(ran.verdict(id), "ok", "{}", ran.show(id));
        assert!(
            ran.found(id)
                .contains(&format!("{first}-{}", first + 65_535))
        );
    }
    let roots = Doctor::new().run(&lab);
    assert_eq!(roots.verdict("idmap.subuid"), "info");
}

#[test]
fn a_subuid_range_given_by_uid_counts_too() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let fake = dir.path().join("subuid");
    std::fs::write(&fake, format!("{}:200000:65536\n", user.uid)).unwrap_or_else(|e| panic!("{e}"));
    let ran = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(format!("mount --bind {} /etc/subuid", fake.display()))
        .by(&user)
        .run(&lab);
    assert_eq!(
        ran.verdict("idmap.subuid"),
        "ok",
        "{}",
        ran.show("idmap.subuid")
    );
    assert!(ran.found("idmap.subuid").contains("200000-265535"));
    assert_eq!(ran.verdict("idmap.subgid"), "warn");
}

#[test]
fn newuidmap_missing_or_without_setuid_is_a_warning_with_the_package_named() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let id = "idmap.newuidmap";
    let found = Doctor::new().by(&user).run(&lab);
    assert_eq!(found.verdict(id), "ok", "{}", found.show(id));
    assert!(found.found(id).contains("setuid root"));
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let gone = Doctor::new()
        .by(&user)
        .path(empty.path().display().to_string())
        .run(&lab);
    for id in ["idmap.newuidmap", "idmap.newgidmap"] {
        assert_eq!(gone.verdict(id), "warn", "{}", gone.show(id));
        assert!(gone.fix(id).contains("apt-get install uidmap"));
    }
    // A plain copy, over the real one in a mount namespace of the test's.
    let copy = empty.path().join("newuidmap");
    std::fs::copy("/usr/bin/newuidmap", &copy).unwrap_or_else(|e| panic!("a copy: {e}"));
    // fs::copy keeps the mode, setuid bit and all.
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&copy, mode).unwrap_or_else(|e| panic!("chmod: {e}"));
    let plain = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(format!(
            "mount --bind {} /usr/bin/newuidmap",
            copy.display()
        ))
        .by(&user)
        .path("/usr/bin:/bin")
        .run(&lab);
    assert_eq!(plain.verdict(id), "warn", "{}", plain.show(id));
    assert!(plain.found(id).contains("neither setuid root nor"));
}

/// This process's own cgroup in the cgroup2 tree.
fn own_cgroup2() -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = mountinfo
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split(' ').nth(4))
        .unwrap_or_else(|| panic!("no cgroup2 mount"));
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/");
    PathBuf::from(mount).join(path.trim_start_matches('/'))
}

#[test]
fn an_ordinary_users_cgroup_is_delegated_when_they_own_it_with_the_controllers() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let id = "cgroup.delegation";
    let theirs = Doctor::new().by(&user).run(&lab);
    assert_eq!(theirs.verdict(id), "warn", "{}", theirs.show(id));
    assert!(
        theirs.found(id).starts_with("not delegated"),
        "{}",
        theirs.show(id)
    );
    assert!(theirs.fix(id).contains("systemd"));
    let dir = CgroupDir(own_cgroup2().join(format!("{}-doc", lab.cgroup_parent)));
    std::fs::create_dir(&dir.0).unwrap_or_else(|e| panic!("{}: {e}", dir.0.display()));
    let path = dir.0.display().to_string();
    sh(&["chown", "-R", &user.name, &path]);
    let enter = format!("echo $$ > {path}/cgroup.procs");
    let owned = Doctor::new().setup(&enter).by(&user).run(&lab);
    assert!(
        owned.found(id).contains(&format!("owns {path}")),
        "{}",
        owned.show(id)
    );
    // What the directory offers, told by a cgroup.controllers of the
    // test's own: the real one's depend on the host.
    let offered = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(&enter)
        .setup(format!("mount -t tmpfs diyc-doc-test {path}"))
        .setup(format!(
            "echo 'cpu memory pids' > {path}/cgroup.controllers"
        ))
        .setup(format!(
            "touch {path}/cgroup.procs && chown -R {} {path}",
            user.name
        ))
        .by(&user)
        .run(&lab);
    assert_eq!(offered.verdict(id), "ok", "{}", offered.show(id));
    assert_eq!(Doctor::new().run(&lab).verdict(id), "info");
}

/// The v1 trees mounted here, and what each carries.
fn v1_trees() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fields: Vec<&str> = right.split(' ').collect();
            (fields.first() == Some(&"cgroup")).then(|| {
                let point = left.split(' ').nth(4).unwrap_or_default().to_string();
                (
                    point,
                    fields.get(2).copied().unwrap_or_default().to_string(),
                )
            })
        })
        .collect()
}

#[test]
fn rootless_limits_need_cgroup_v2_alone() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let id = "cgroup.mode";
    let trees = v1_trees();
    let here = Doctor::new().by(&user).run(&lab);
    let expected = if trees.is_empty() { "ok" } else { "warn" };
    assert_eq!(here.verdict(id), expected, "{}", here.show(id));
    let mut v2_only = Doctor::new().under(&["unshare", "-m"]);
    for (point, _) in &trees {
        v2_only = v2_only.setup(format!("umount -l {point}"));
    }
    let ran = v2_only.by(&user).run(&lab);
    assert_eq!(ran.verdict(id), "ok", "{}", ran.show(id));
    assert!(ran.found(id).starts_with("unified"), "{}", ran.show(id));
    if !trees.is_empty() {
        assert!(here.fix(id).contains("systemd.unified_cgroup_hierarchy=1"));
        assert_eq!(Doctor::new().run(&lab).verdict(id), "ok", "root has v1");
    }
}

#[test]
fn without_a_memory_controller_roots_memory_limits_and_the_cgroups_lesson_fail() {
    require_root!();
    let lab = Lab::new();
    let id = "cgroup.controllers";
    let here = Doctor::new().run(&lab);
    assert_eq!(here.verdict(id), "ok", "{}", here.show(id));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let fake = dir.path().join("cgroup.controllers");
    std::fs::write(&fake, "cpu pids\n").unwrap_or_else(|e| panic!("{e}"));
    let root = own_cgroup2()
        .ancestors()
        .filter(|d| d.join("cgroup.controllers").exists())
        .last()
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no cgroup2 root"));
    let mut doctor = Doctor::new().under(&["unshare", "-m"]).setup(format!(
        "mount --bind {} {}/cgroup.controllers",
        fake.display(),
        root.display()
    ));
    for (point, options) in v1_trees() {
        if options.split(',').any(|o| o == "memory") {
            doctor = doctor.setup(format!("umount -l {point}"));
        }
    }
    let ran = doctor.run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(
        ran.found(id).contains("missing [memory]"),
        "{}",
        ran.show(id)
    );
    assert!(ran.breaks(id).contains("diyc learn --step cgroups"));
    assert_eq!(ran.code(), Some(1));
}

#[test]
fn without_any_cgroup_mounted_every_run_fails_as_root() {
    require_root!();
    let lab = Lab::new();
    let id = "cgroup.mode";
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.contains(" - cgroup ") || l.contains(" - cgroup2 "))
        .filter_map(|l| l.split(' ').nth(4))
        .collect();
    // The deepest first: a hybrid host's trees sit on one tmpfs.
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut doctor = Doctor::new().under(&["unshare", "-m"]);
    for point in points {
        doctor = doctor.setup(format!("umount -l {point}"));
    }
    let ran = doctor.run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(ran.breaks(id).contains("every container gets a cgroup"));
    assert!(ran.fix(id).contains("mount -t cgroup2"));
    assert_eq!(ran.code(), Some(1));
}
