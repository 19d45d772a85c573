//! The image lesson's pictures, from what the runs showed: the stack of
//! layers with what each holds and what the container sees on top, the
//! importer turning layer 2's marks into a whiteout and an opaque
//! directory, and the same stack with the marks left as plain files.

use super::look::BASE;
use crate::event::{Outcome, StageId};
use crate::learn::draw::{self, Frame, Style, UNSEEN, WIDTH};
use crate::learn::session::Observed;
use crate::sys::Call;

/// The layers the host saw, top first: (label, directory, entries).
fn layers(seen: &Observed) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
    for line in seen.lines(StageId::Image, false) {
        if let Some(entry) = line.strip_prefix("  ") {
            if let Some(last) = out.last_mut() {
                last.2.push(entry.to_string());
            }
        } else if let Some((label, dir)) = line
            .split_once(": ")
            .filter(|(label, _)| label.starts_with("layer "))
        {
            out.push((label.to_string(), dir.to_string(), Vec::new()));
        }
    }
    out
}

fn base(seen: &Observed) -> Option<String> {
    seen.after(StageId::Image, false, &format!("{BASE}: "))
}

/// The overlay's lowerdir in this run's mount, each directory named as
/// the lesson names it.
fn lowerdir(seen: &Observed, layers: &[(String, String, Vec<String>)]) -> String {
    let base = base(seen);
    let options = seen.calls().find_map(|(stage, _, call, _)| match call {
        Call::Mount {
            fstype: Some(t),
            data: Some(data),
            ..
        } if stage == StageId::Rootfs && t == "overlay" => Some(data.clone()),
        _ => None,
    });
    let Some(lower) = options.as_deref().and_then(|o| {
        o.split(',')
            .find_map(|part| part.strip_prefix("lowerdir="))
            .map(str::to_string)
    }) else {
        return format!("lowerdir: {UNSEEN}");
    };
    let named: Vec<String> = lower
        .split(':')
        .map(|dir| {
            layers
                .iter()
                .find(|(_, d, _)| d == dir)
                .map(|(label, _, _)| label.trim_end_matches(" (top)").to_string())
                .or_else(|| (base.as_deref() == Some(dir)).then(|| BASE.to_string()))
                .unwrap_or_else(|| dir.to_string())
        })
        .collect();
    format!(
        "lowerdir={}, as this run mounted it: the top first",
        named.join(":")
    )
}

/// The stack, top to bottom: what the container sees, then the overlay's
/// lowerdir, each layer and the base; or, unless `all`, only what the
/// container sees and the top layer.
fn stack(seen: &Observed, all: bool, style: Style) -> Vec<String> {
    let found = layers(seen);
    let inside = seen.lines(StageId::Image, true);
    let mut lines = Frame::new("merged: what the container sees")
        .lines(if inside.is_empty() {
            vec![UNSEEN.to_string()]
        } else {
            inside
        })
        .draw_exactly(WIDTH, style);
    if all {
        lines.extend(draw::step_down(4, &lowerdir(seen, &found), style));
    }
    if found.is_empty() {
        lines.extend(
            Frame::new("the layers")
                .line(UNSEEN)
                .draw_exactly(WIDTH, style),
        );
    }
    let shown = if all { found.len() } else { 1 };
    for (label, dir, entries) in found.iter().take(shown) {
        lines.extend(
            Frame::new(label.as_str())
                .line(dir.as_str())
                .lines(entries.iter().map(|e| format!("  {e}")))
                .draw_exactly(WIDTH, style),
        );
    }
    if all {
        let base = base(seen).unwrap_or_else(|| UNSEEN.into());
        lines.extend(
            Frame::new("base: the busybox image, below the image's layers")
                .line(base)
                .draw_exactly(WIDTH, style),
        );
    }
    lines
}

/// Where a call of the import made its mark, inside the layer's files.
fn in_layer(path: &str) -> &str {
    path.split_once("/fs/").map_or(path, |(_, rel)| rel)
}

fn result(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(v) => format!("= {v}"),
        other => other.to_string(),
    }
}

/// Layer 2's marks in its tar, and the calls that made them overlayfs's.
fn marks(seen: &Observed, style: Style) -> Vec<String> {
    let mut made = Vec::new();
    for (stage, _, call, outcome) in seen.calls() {
        if stage != StageId::Image {
            continue;
        }
        match call {
            Call::Mknodat {
                path, major, minor, ..
            } => made.push(format!(
                "mknodat(\"{}\", S_IFCHR, {major}:{minor}) {}: a whiteout",
                in_layer(path),
                result(outcome)
            )),
            Call::Lsetxattr { path, name, value } => made.push(format!(
                "lsetxattr(\"{}\", \"{name}\", \"{}\") {}: opaque",
                in_layer(path),
                String::from_utf8_lossy(value),
                result(outcome)
            )),
            _ => {}
        }
    }
    if made.is_empty() {
        made.push(UNSEEN.into());
    }
    let mut lines = Frame::new("in layer 2's tar: two empty files, the OCI image spec's marks")
        .line(".wh.motd-old in etc: delete motd-old from the layers below")
        .line(".wh..wh..opq in srv/site: hide all that is below in srv/site")
        .draw_exactly(WIDTH, style);
    lines.extend(draw::step_down(
        4,
        "diyc's importer makes each mark what overlayfs reads (this run's calls)",
        style,
    ));
    lines.extend(
        Frame::new("in diyc's layer store: layer 2's files")
            .lines(made)
            .draw_exactly(WIDTH, style),
    );
    lines
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    vec![
        draw::picture(
            "The image's layers on the busybox base, stacked by this run's overlay",
            stack(live, true, style),
        ),
        draw::picture(
            "Importing layer 2: its marks become a whiteout and an opaque directory",
            marks(live, style),
        ),
        draw::picture(
            "The marks left as plain files: the deleted file and the old pages are back",
            stack(broken, false, style),
        ),
    ]
}
