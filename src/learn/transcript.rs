//! The handout `--transcript FILE` writes: Markdown a teacher can give
//! out. A title block says where it was made; each launch's calls go in
//! a fenced block as the screen shows them (`--verbose`: every call),
//! without colour; tables are Markdown tables.

use crate::event::Event;
use crate::explain::Explainer;
use crate::sys::Recorder;

/// The title block: when, on what kernel, with which cgroups, by which
/// diyc.
pub fn title(topics: &str, cgroups: &str) -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    format!(
        "# diyc lessons: {topics}\n\n- Made: {date}\n- Kernel: Linux {}\n- Cgroups: {cgroups}\n- diyc: {}\n",
        kernel.trim(),
        env!("CARGO_PKG_VERSION")
    )
}

/// A launch's events, one fenced block, as `shown` (an explainer that
/// keeps its text) shows them: the lesson's stages in full, the others
/// folded, as on the screen.
pub fn calls(events: &[Event], mut shown: Explainer) -> String {
    for event in events {
        shown.record(event.clone());
    }
    let text = shown.take_kept();
    let plain = dialoguer::console::strip_ansi_codes(&text);
    // Four backticks: a line of three in a call or an output stays text.
    format!("````text\n{}\n````", plain.trim_matches('\n'))
}

/// Text that stands in a table cell: no pipes or line breaks of its own.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table of `rows` under `header`.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", " --- |".repeat(header.len())));
    for row in rows {
        let cells: Vec<String> = (0..header.len())
            .map(|i| cell(row.get(i).map_or("", String::as_str)))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
