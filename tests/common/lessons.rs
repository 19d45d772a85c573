//! What the lesson tests share: the parts every lesson shows, the
//! sections of what it said, and the filters its snapshot goes through.

use super::snapshot::snapshot_filters;
use super::{LESSON_PARTS, Lab};

/// Every part of a lesson is there, in order.
pub fn assert_parts_in_order(err: &str) {
    let mut from = 0;
    for part in LESSON_PARTS {
        let at = err[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing (or out of order) in:\n{err}"));
        from += at + part.len();
    }
}

/// A part of what a lesson said: from its heading to the next one.
pub fn section<'a>(err: &'a str, heading: &str) -> &'a str {
    let from = err
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &err[from + heading.len()..];
    &rest[..rest.find("\n» ").unwrap_or(rest.len())]
}

/// The left column of a both-views table, its lines joined again.
pub fn inside_column(table: &str) -> String {
    table
        .lines()
        .filter_map(|l| l.split_once(" | ").map(|(left, _)| left.trim()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pid lesson's command counted /proc twice: with a /proc of its own
/// only the container's few processes, with the host's all of the host's.
pub fn assert_proc_counts(out: &str) {
    let counts: Vec<u32> = out
        .lines()
        .filter_map(|l| l.strip_prefix("I am pid 1; /proc lists "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{out}");
    assert!(
        counts[0] <= 5,
        "a new /proc lists only the container: {out}"
    );
    assert!(counts[1] > 5, "the host's /proc lists the host: {out}");
}

/// The filters a lesson's snapshot goes through: what changes from run to
/// run (numbers, names, pictures and tables with tests of their own).
pub fn lesson_filters(lab: &Lab) -> Vec<(String, String)> {
    let mut filters = snapshot_filters(lab);
    filters.extend(
        [
            // What the container's shell says about a kill races with
            // diyc's own lines.
            (r"(?m)^Killed\n", ""),
            (
                r"(?m)^(\s*)(?:\| )?\s*cpuacct\.usage = \d+",
                "${1}cpuacct.usage = [N]",
            ),
            (r"still \w+: \d+", "still [N]"),
            (r"(the (?:real )?host is still )\S+", "${1}[HOST]"),
            (r"(its /etc/hostname says )[^)\s]+", "${1}[HOST]"),
            (r"working directory: \S+", "working directory: [CWD]"),
            // The pictures have tests of their own (tests/pictures.rs),
            // and the table and the difference wrap and order numbers that
            // change from run to run: their shape is tested here.
            (
                r"(?s)(» Pictures of what the runs showed\n).*?(\n» Try it yourself)",
                "$1[PICTURES]\n$2",
            ),
            (
                r"(?s)(» Both views\n).*?(\n» What to look at)",
                "$1[TABLE]\n$2",
            ),
            (
                r"(?s)(against the working one \(- only the working run, \+ only this one\):\n).*?\n\n",
                "$1  [DIFFERENCE]\n\n",
            ),
            (r"diyc-test-[A-Za-z0-9]+-\d+", "[PARENT]"),
            // An import's staging directory has a random name of its own.
            (r"(\.layer-[0-9a-f]{12})-[0-9a-f]+", "$1-[RANDOM]"),
            (
                r"(\b(?:in|hog used|took) )\d+(?:\.\d+)? ?(ms|MiB|KiB)",
                "${1}[N] $2",
            ),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string())),
    );
    filters
}
