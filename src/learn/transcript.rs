//! The handout `--transcript FILE` writes: Markdown a teacher can give
//! out. A title block says where it was made; each launch's calls go in
//! a fenced block as `--explain --verbose` prints them, without colour;
//! tables are Markdown tables.

use crate::event::Event;
use crate::explain;

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

/// A launch's events, one fenced block.
pub fn calls(events: &[Event]) -> String {
    // Four backticks: a line of three in a call or an output stays text.
    let mut out = String::from("````text\n");
    for event in events {
        let text = explain::render_text(event);
        let plain = dialoguer::console::strip_ansi_codes(&text);
        out.push_str(plain.trim_start_matches('\n'));
    }
    out.push_str("````");
    out
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
