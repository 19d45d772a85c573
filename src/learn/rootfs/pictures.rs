//! The rootfs lesson's pictures: the overlay's three layers with where the
//! written and the deleted file landed, and pivot_root before and after
//! (with the chroot of the experiment beside it).

use super::layers::DELETED;
use crate::event::{Outcome, StageId};
use crate::learn::draw::{self, Frame, Style, UNSEEN, WIDTH};
use crate::learn::session::Observed;
use crate::sys::Call;

/// The overlay, top to bottom: what the container sees, its writes, the
/// image.
fn overlay(seen: &Observed, style: Style) -> Vec<String> {
    let host = seen.lines(StageId::Layers, false);
    let upper_path = seen
        .after(StageId::Rootfs, false, "upper (")
        .and_then(|rest| rest.split_once("): ").map(|(_, p)| p.to_string()))
        .unwrap_or_else(|| UNSEEN.into());
    let lower_path = seen
        .after(StageId::Rootfs, false, "lower (the image, read-only): ")
        .unwrap_or_else(|| UNSEEN.into());
    let upper: Vec<String> = host
        .iter()
        .filter_map(|l| l.trim_start().strip_prefix("upper/"))
        .map(str::to_string)
        .collect();
    let lower = seen
        .after(StageId::Layers, false, &format!("lower{DELETED}: "))
        .map(|rest| format!("{}: {rest}", &DELETED[1..]));
    let merged = seen
        .after(StageId::Layers, false, "merged, through ")
        .and_then(|rest| {
            rest.split_once(": ")
                .map(|(via, what)| (via.to_string(), what.to_string()))
        });
    let mut lines = Frame::new("merged: what the container sees as /")
        .lines(match &merged {
            Some((via, what)) => what
                .split("; ")
                .map(str::to_string)
                .chain([format!("(read by the host through {via})")])
                .collect::<Vec<_>>(),
            None => vec![UNSEEN.to_string()],
        })
        .draw_exactly(WIDTH, style);
    lines.extend(draw::step_down(
        4,
        "upper over lower: upper's entries win, a whiteout hides the one below",
        style,
    ));
    lines.extend(
        Frame::new("upper: the container's writes")
            .line(upper_path)
            .lines(if upper.is_empty() {
                vec![UNSEEN.to_string()]
            } else {
                upper.iter().map(|u| format!("  {u}")).collect()
            })
            .draw_exactly(WIDTH, style),
    );
    lines.extend(
        Frame::new("lower: the image, read-only")
            .line(lower_path)
            .line(format!("  {}", lower.unwrap_or_else(|| UNSEEN.into())))
            .draw_exactly(WIDTH, style),
    );
    lines
}

/// The outcome of the first call `pick` chooses, as the trace shows it.
fn outcome(seen: &Observed, pick: &dyn Fn(&Call) -> bool) -> Option<String> {
    seen.calls()
        .find(|(_, _, call, _)| pick(call))
        .map(|(_, _, _, outcome)| match outcome {
            Outcome::Ok(v) => format!("= {v}"),
            other => other.to_string(),
        })
}

/// Where the process's root was before the switch and what it is after.
fn switch(seen: &Observed, chroot: bool, style: Style) -> Vec<String> {
    let new_root = seen
        .calls()
        .filter_map(|(stage, _, call, _)| match call {
            Call::Chdir { path } if stage == StageId::Rootfs && path.starts_with('/') => {
                Some(path.clone())
            }
            _ => None,
        })
        .find(|p| p != "/")
        .unwrap_or_else(|| UNSEEN.into());
    let escape = seen
        .lines(StageId::Escape, true)
        .first()
        .cloned()
        .unwrap_or_else(|| UNSEEN.into());
    let before = Frame::new("before: / is the host's")
        .line("the overlay is mounted at")
        .line(new_root);
    // A call the run did not show is said to be unseen, with no claim
    // of what it would have done.
    let said = |call: &str, pick: &dyn Fn(&Call) -> bool, then: &str| match outcome(seen, pick) {
        Some(result) => format!("{call} {result}: {then}"),
        None => format!("{call}: {UNSEEN}"),
    };
    let after = if chroot {
        Frame::new("after chroot")
            .line(said(
                "chroot(\".\")",
                &|c| matches!(c, Call::Chroot { path } if path == "."),
                "/ is the overlay",
            ))
            .line("the old root is still there, out of sight")
            .line(format!("the climb: {escape}"))
    } else {
        Frame::new("after pivot_root")
            .line(said(
                "pivot_root(\".\", \".\")",
                &|c| matches!(c, Call::PivotRoot { .. }),
                "/ is the overlay",
            ))
            .line(said(
                "umount2(\".\", MNT_DETACH)",
                &|c| matches!(c, Call::Umount2 { target, .. } if target == "."),
                "the old root, stacked on it, is gone",
            ))
            .line(
                seen.after(StageId::Rootfs, true, "ls /: ")
                    .map_or_else(|| format!("ls /: {UNSEEN}"), |ls| format!("ls /: {ls}")),
            )
            .line(format!("the climb: {escape}"))
    };
    draw::pair(&before, &["", "", style.arrow()], &after, style)
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    vec![
        draw::picture(
            "The overlay of this run: where the written and the deleted file landed",
            overlay(live, style),
        ),
        draw::picture(
            "pivot_root: the overlay becomes / and the old root is let go",
            switch(live, false, style),
        ),
        draw::picture(
            "chroot instead: the old root stays, and the climb reaches it",
            switch(broken, true, style),
        ),
    ]
}
