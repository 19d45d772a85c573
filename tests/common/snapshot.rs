//! What the explain, learn and snapshot tests share besides strace: the
//! filters that hide what differs from run to run (pids, inodes, paths)
//! in snapshots, and the JSON schema check.

use super::Lab;

pub fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Filters for insta that hide what changes between runs and machines:
/// the lab's paths, pids, namespace inodes, counters, random names.
pub fn snapshot_filters(lab: &Lab) -> Vec<(String, String)> {
    let root = regex_escape(lab.root().to_str().expect("utf-8"));
    // The lab's cgroup parent sits below this test's own cgroup, which
    // differs from machine to machine: keep the tree, hide the way down.
    let cgroup = format!(
        r#"(/sys/fs/cgroup/[^/\s"]+)/(?:[^\s"]*/)?{}"#,
        regex_escape(&lab.cgroup_parent)
    );
    // The same way down in a process's /proc/PID/cgroup lines.
    let membership = format!(
        r"(\d+:[\w=,]*:)/(?:\S*/)?{}",
        regex_escape(&lab.cgroup_parent)
    );
    [
        // A group's labels name paths and pids, and where they wrap
        // depends on how long those are: one token for all of them.
        (r"\n {8}\S[^\n]*", ""),
        (
            r"(?m)^(\s*\[pid \d+\] \d+ x [^:\n]*:)(?: [^\n]*)?$",
            "$1 [LABELS]",
        ),
        (r" x echo \d+ > ", " x echo [PID] > "),
        (r"\[pids [0-9,-]+\]", "[pids N]"),
        (root.as_str(), "[ROOT]"),
        (cgroup.as_str(), "$1/[PARENT]"),
        (membership.as_str(), "$1/[PARENT]"),
        (r"echo \d+ > (\S+/cgroup\.procs)", "echo [PID] > $1"),
        (
            r"(usage\S* = |usage_usec |current = |peak = )\d+(?:\.\d+)?(?: (?:bytes|KiB|MiB|GiB))?",
            "${1}[N]",
        ),
        (
            r"(?m)^(\s*(?:\| )?\s*(?:nat|filter):)\s+\d+\s+\d+ ",
            "$1 [pkts] [bytes] ",
        ),
        (r"netns \d+", "netns [PID]"),
        (r"\bd(\w+)-[0-9a-f]{6}\b", "d$1-[RANDOM]"),
        (r"(?m)^(\s+)\d+: (\S+ (?:UP|DOWN))", "${1}N: $2"),
        (r"\[pid \d+\]", "[pid N]"),
        // What overlayfs leaves in its work directory has a name of its own.
        (r"/work/work/#[0-9a-f]+", "/work/work/#[N]"),
        // Which descriptor number a file gets depends on what else is open.
        (r"(openat\(AT_FDCWD, .*\)) = \d+", "$1 = [FD]"),
        (
            r"\b(write|close|setns|fcntl|execveat|fchdir)\(\d+",
            "$1([FD]",
        ),
        (r"(openat2|memfd_create)(\(.*\)) = \d+", "$1$2 = [FD]"),
        // The trampoline's bytes depend on the compiler that built it.
        (
            r#"write\(\[FD\], "\\177ELF.*"\.\.\., \d+\) = \d+"#,
            "write([FD], [TRAMPOLINE]) = [SIZE]",
        ),
        // How many cgroup trees the host has.
        (r"in each of its \d+ lines", "in each of its [N] lines"),
        // The filter's length depends on libseccomp's version.
        (r"\{len=\d+, filter=", "{len=[N], filter="),
        (r"(\d+) system calls allowed", "[N] system calls allowed"),
        // The descriptors closed around the ones kept, and how many gaps
        // the kept ones leave: that follows what else the parent had open
        // when it cloned (the network code's sockets, the lock files).
        (r"close_range\(\d+, \d+, 0\)", "close_range([FDS], 0)"),
        (r"\d+ x close_range\(", "[N] x close_range("),
        (r"(clone3?\(.*\)) = \d+", "$1 = [PID]"),
        // A new keyring's serial number.
        (r"(KEYCTL_JOIN_SESSION_KEYRING, NULL\)) = \d+", "$1 = [KEY]"),
        (r"\b\d{10}\b", "[INODE]"),
        (r"\bpid (?:[02-9]\d*|1\d+)\b", "pid N"),
        (r"/proc/\d+/", "/proc/N/"),
        (r"NSpid: \d+ 1", "NSpid: N 1"),
        (r"\d+ mounts", "N mounts"),
        (r"host's hostname: \S+", "host's hostname: [HOST]"),
        (r"host's / is [^\n]*", "host's / is [PROPAGATION]"),
        // Whether the kernel has a /proc/kcore at all is its build's choice.
        (r"/proc/kcore: [^\n|]*?( *\|)", "/proc/kcore: [KCORE]$1"),
        (r"(?m)/proc/kcore: [^\n|]*$", "/proc/kcore: [KCORE]"),
        (r"(?m)^(      /\S*\s+\S+\s+)\S+$", "${1}[OPTIONS]"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Every line of `--explain=json` output is one JSON object that
/// docs/explain.schema.json accepts; the events, in order.
pub fn assert_json_events(stderr: &str) -> Vec<serde_json::Value> {
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/explain.schema.json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(schema_path).expect("docs/explain.schema.json"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"))
        })
        .collect();
    assert!(!events.is_empty(), "no events");
    for event in &events {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event} breaks the schema: {errors:?}");
    }
    events
}
