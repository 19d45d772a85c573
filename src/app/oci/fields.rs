//! What diyc does with each field of a bundle's config.json: uses it,
//! ignores it with a note in the log, or refuses the bundle naming it.
//! One table, read by `create`'s check and printed in docs/oci.md (a test
//! keeps the two the same). A field the table does not know is refused:
//! oci-spec's parser drops keys it does not know without a word, so the
//! check (check.rs) walks the JSON as it was written.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treat {
    /// Used as the spec says; the text says how.
    Used(&'static str),
    /// Accepted and not acted on; the text goes to the log.
    Ignored(&'static str),
    /// `create` fails with this text.
    Refused(&'static str),
}

use Treat::{Ignored, Refused, Used};

/// Every field diyc knows, by its JSON path. An object whose fields are
/// listed is walked; anything below a listed field is that field's.
pub const FIELDS: &[(&str, Treat)] = &[
    ("ociVersion", Used("read; any 1.x")),
    (
        "root.path",
        Used(
            "the root: bind-mounted onto itself, then pivot_root (relative to the bundle if relative)",
        ),
    ),
    (
        "root.readonly",
        Used("remounted read-only once every mount is made"),
    ),
    (
        "mounts",
        Used("proc, sysfs, cgroup, tmpfs, bind and the /dev set; see the mounts table"),
    ),
    ("hostname", Used("sethostname in the new UTS namespace")),
    ("domainname", Used("setdomainname in the new UTS namespace")),
    (
        "annotations",
        Used(
            "kept for `state`; `diyc.explain=NAME` asks for the explanation in ROOT/.explain/NAME.json",
        ),
    ),
    (
        "process.args",
        Used("the command, found along the process's PATH"),
    ),
    ("process.env", Used("the command's whole environment")),
    (
        "process.cwd",
        Used("entered inside the root, never through a symlink out of it"),
    ),
    (
        "process.terminal",
        Used(
            "a pseudo-terminal of the container's own devpts; the master goes to --console-socket",
        ),
    ),
    (
        "process.consoleSize",
        Ignored("the engine sets the size on the master it receives"),
    ),
    ("process.user.uid", Used("setresuid")),
    ("process.user.gid", Used("setresgid")),
    (
        "process.user.umask",
        Used("umask before exec (022 when absent)"),
    ),
    ("process.user.additionalGids", Used("setgroups")),
    ("process.user.username", Ignored("Windows only")),
    (
        "process.capabilities.bounding",
        Used("every other capability is dropped from the bounding set"),
    ),
    (
        "process.capabilities.effective",
        Used("must equal the bounding set: diyc keeps one set"),
    ),
    (
        "process.capabilities.permitted",
        Used("must equal the bounding set: diyc keeps one set"),
    ),
    (
        "process.capabilities.inheritable",
        Ignored("diyc leaves the inheritable set empty, as podman asks"),
    ),
    (
        "process.capabilities.ambient",
        Ignored("diyc clears the ambient set: a process that is not root runs with no capability"),
    ),
    (
        "process.rlimits",
        Used("prlimit64 for each, in the container's first process"),
    ),
    (
        "process.noNewPrivileges",
        Ignored("diyc always sets no_new_privs, true or not"),
    ),
    (
        "process.apparmorProfile",
        Ignored("diyc loads no AppArmor profile"),
    ),
    (
        "process.selinuxLabel",
        Ignored("diyc sets no SELinux label"),
    ),
    (
        "process.oomScoreAdj",
        Refused("an OOM score is not supported"),
    ),
    ("process.commandLine", Refused("Windows only")),
    (
        "process.ioPriority",
        Refused("I/O priorities are not supported"),
    ),
    (
        "process.scheduler",
        Refused("scheduler policies are not supported"),
    ),
    (
        "process.execCPUAffinity",
        Refused("CPU affinity is not supported"),
    ),
    ("hooks", Refused("diyc runs no hooks")),
    (
        "linux.namespaces",
        Used("new ones in one clone; a network namespace may be joined by path"),
    ),
    (
        "linux.uidMappings",
        Refused("user namespace mappings are not supported through the OCI command line"),
    ),
    (
        "linux.gidMappings",
        Refused("user namespace mappings are not supported through the OCI command line"),
    ),
    (
        "linux.sysctl",
        Used("written under /proc/sys inside, for namespaced settings"),
    ),
    (
        "linux.cgroupsPath",
        Used("relative: below diyc's own cgroup in each tree; absolute: from each tree's root"),
    ),
    (
        "linux.resources.memory.limit",
        Used("memory.max, or memory.limit_in_bytes (and memsw) on v1"),
    ),
    (
        "linux.resources.memory.swap",
        Ignored("diyc gives a container no swap beyond its limit"),
    ),
    (
        "linux.resources.memory.reservation",
        Ignored("no soft limit is set"),
    ),
    (
        "linux.resources.memory.swappiness",
        Ignored("no swappiness is set"),
    ),
    (
        "linux.resources.memory.kernel",
        Ignored("kernel memory limits are gone from the kernel"),
    ),
    (
        "linux.resources.memory.kernelTCP",
        Ignored("kernel memory limits are gone from the kernel"),
    ),
    (
        "linux.resources.memory.useHierarchy",
        Ignored("always hierarchical"),
    ),
    (
        "linux.resources.memory.checkBeforeUpdate",
        Ignored("there is no update"),
    ),
    (
        "linux.resources.memory.disableOOMKiller",
        Refused("the OOM killer cannot be turned off"),
    ),
    (
        "linux.resources.cpu.quota",
        Used("with the period: cpu.max, or cfs_quota_us on v1"),
    ),
    ("linux.resources.cpu.period", Used("with the quota")),
    (
        "linux.resources.cpu.shares",
        Ignored("diyc sets no CPU weight"),
    ),
    (
        "linux.resources.cpu.cpus",
        Refused("cpusets are not supported"),
    ),
    (
        "linux.resources.cpu.mems",
        Refused("cpusets are not supported"),
    ),
    (
        "linux.resources.cpu.realtimeRuntime",
        Refused("real-time CPU time is not supported"),
    ),
    (
        "linux.resources.cpu.realtimePeriod",
        Refused("real-time CPU time is not supported"),
    ),
    (
        "linux.resources.cpu.idle",
        Refused("SCHED_IDLE cgroups are not supported"),
    ),
    (
        "linux.resources.cpu.burst",
        Refused("CPU burst is not supported"),
    ),
    ("linux.resources.pids.limit", Used("pids.max")),
    (
        "linux.resources.devices",
        Used("a deny-all first, then allow rules: diyc's device list plus those allowed"),
    ),
    (
        "linux.resources.blockIO",
        Refused("block I/O limits are not supported"),
    ),
    (
        "linux.resources.hugepageLimits",
        Refused("huge page limits are not supported"),
    ),
    (
        "linux.resources.network",
        Refused("network classes are not supported"),
    ),
    (
        "linux.resources.rdma",
        Refused("RDMA limits are not supported"),
    ),
    (
        "linux.resources.unified",
        Refused("raw cgroup v2 settings are not supported"),
    ),
    (
        "linux.devices",
        Refused("device nodes from the host are not supported here (diyc run --device is)"),
    ),
    (
        "linux.seccomp",
        Used("compiled by diyc's own compiler, the format its profiles use"),
    ),
    (
        "linux.maskedPaths",
        Used("files under /dev/null, directories under an empty read-only tmpfs"),
    ),
    (
        "linux.readonlyPaths",
        Used("bind-mounted onto themselves read-only"),
    ),
    (
        "linux.rootfsPropagation",
        Used("private only: the mount stage makes every mount private"),
    ),
    ("linux.mountLabel", Ignored("diyc sets no SELinux label")),
    ("linux.intelRdt", Refused("Intel RDT is not supported")),
    (
        "linux.memoryPolicy",
        Refused("NUMA memory policies are not supported"),
    ),
    (
        "linux.personality",
        Refused("personalities are not supported"),
    ),
    (
        "linux.timeOffsets",
        Refused("time namespaces are not supported"),
    ),
    (
        "linux.netDevices",
        Refused("moving network devices in is not supported"),
    ),
    ("solaris", Refused("not Linux")),
    ("windows", Refused("not Linux")),
    ("vm", Refused("virtual machines are not supported")),
    ("zos", Refused("not Linux")),
];

/// The field's row in docs/oci.md's table.
pub fn doc_row(path: &str, treat: Treat) -> String {
    let (word, text) = match treat {
        Used(t) => ("used", t),
        Ignored(t) => ("ignored, with a log line", t),
        Refused(t) => ("refused", t),
    };
    format!("| `{path}` | {word} | {text} |")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_table_lists_every_field_as_the_code_treats_it() {
        let doc = include_str!("../../../docs/oci.md");
        let rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
        for (path, treat) in FIELDS {
            let row = doc_row(path, *treat);
            assert!(rows.contains(&row.as_str()), "docs/oci.md lacks: {row}");
        }
        let fields = rows
            .iter()
            .filter(|r| {
                r.contains(" | used | ")
                    || r.contains(" | refused | ")
                    || r.contains(" | ignored, with a log line | ")
            })
            .count();
        assert_eq!(
            fields,
            FIELDS.len(),
            "docs/oci.md lists fields the code does not know"
        );
    }
}
