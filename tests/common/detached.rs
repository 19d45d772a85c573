//! Containers run with `-d`, for the tests of the verbs that act on one
//! running on its own: each is removed (`rm -f`) when dropped, so a test
//! that fails half way leaves nothing running.

use super::{Lab, Running, text};

pub struct Detached<'a> {
    lab: &'a Lab,
    pub name: String,
}

impl Lab {
    /// `diyc run -d --name NAME WORDS sh -c SCRIPT`, which must print the
    /// name and succeed.
    pub fn detach(&self, name: &str, words: &str, script: &str) -> Detached<'_> {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend(words.split_whitespace());
        args.extend(["busybox", "sh", "-c", script]);
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(0), "run -d: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout),
            format!("{name}\n"),
            "run -d prints the name"
        );
        Detached {
            lab: self,
            name: name.to_string(),
        }
    }
}

impl<'a> Detached<'a> {
    /// A container started some other way, removed when dropped.
    pub fn adopt(lab: &'a Lab, name: &str) -> Detached<'a> {
        Detached {
            lab,
            name: name.to_string(),
        }
    }

    /// `diyc logs -f NAME` in the background: its lines as they come.
    pub fn follow(&self) -> Running {
        self.lab.spawn(&["logs", "-f", &self.name])
    }

    /// Block until the container has written `line`.
    pub fn wait_for(&self, line: &str) {
        self.follow().wait_for_line(line);
    }

    /// Until the container has ended and its supervisor cleaned up:
    /// `logs -f` returns then.
    pub fn wait_for_end(&self) -> String {
        let out = self.follow().finish();
        assert_eq!(out.status.code(), Some(0), "logs -f: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// The JSON `diyc inspect NAME` prints for it.
    pub fn inspect(&self) -> serde_json::Value {
        let out = self.lab.ok(&["inspect", &self.name]);
        let all: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
        all[0].clone()
    }

    /// Its row of `diyc ps -a`, split at spaces.
    pub fn ps_row(&self) -> Vec<String> {
        let listing = self.lab.ok(&["ps", "-a"]);
        let row = listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(self.name.as_str()))
            .unwrap_or_else(|| panic!("no row for {} in:\n{listing}", self.name));
        row.split_whitespace().map(String::from).collect()
    }
}

impl Detached<'_> {
    /// Once it has stopped: no run record, no cgroup, no address lease
    /// and no veth pair of its own is left, and its first process (when
    /// known) is gone.
    pub fn assert_nothing_left(&self, init: Option<i32>) {
        let dir = self.lab.container_dir(&self.name);
        for record in ["run.json", "init.json"] {
            assert!(!dir.join(record).exists(), "{record} left behind");
        }
        for parent in self.lab.cgroup_parent_dirs() {
            assert!(
                !parent.join(&self.name).exists(),
                "cgroup left in {}",
                parent.display()
            );
        }
        let leases = self.lab.root().join("net/leases");
        for lease in std::fs::read_dir(leases).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(lease.path()).unwrap_or_default();
            assert!(
                !text.contains(&format!("\"{}\"", self.name)),
                "lease left: {text}"
            );
        }
        super::wait_until("its veth pair is gone", || {
            !super::sh(&["ip", "-o", "link"]).contains(&format!("d{}-", self.name))
        });
        if let Some(init) = init {
            let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap_or_default();
            assert!(stat.is_empty(), "its first process is still there: {stat}");
        }
    }
}

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        let _ = self.lab.run(&["rm", "-f", &self.name]);
    }
}
