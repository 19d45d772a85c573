use super::*;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|l| l.to_string()).collect()
}

#[test]
fn unicode_only_on_a_utf8_terminal_that_is_not_dumb() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    let utf8 = env(&[("LANG", "en_GB.UTF-8"), ("TERM", "xterm")]);
    assert_eq!(Style::choose(true, utf8), Style::Unicode);
    assert_eq!(Style::choose(false, utf8), Style::Ascii);
    assert_eq!(
        Style::choose(true, env(&[("LANG", "en_US.utf8")])),
        Style::Unicode
    );
    // LC_ALL wins over LANG, and an empty one does not count.
    let c = env(&[("LC_ALL", "C"), ("LANG", "en_GB.UTF-8")]);
    assert_eq!(Style::choose(true, c), Style::Ascii);
    let empty = env(&[("LC_ALL", ""), ("LC_CTYPE", "C.UTF-8"), ("LANG", "C")]);
    assert_eq!(Style::choose(true, empty), Style::Unicode);
    let dumb = env(&[("LANG", "C.UTF-8"), ("TERM", "dumb")]);
    assert_eq!(Style::choose(true, dumb), Style::Ascii);
    assert_eq!(Style::choose(true, env(&[])), Style::Ascii);
}

#[test]
fn wrapping_breaks_at_spaces_and_never_inside_a_word() {
    let text = "the quick brown fox jumps over the lazy dog";
    let lines = wrap(text, 10);
    assert!(lines.iter().all(|l| width(l) <= 10), "{lines:?}");
    assert_eq!(lines.join(" "), text);
    assert_eq!(
        wrap("  indented text that wraps", 12),
        ["  indented", "  text that", "  wraps"]
    );
    assert_eq!(wrap("", 10), [""]);
}

#[test]
fn a_path_too_long_for_a_line_breaks_after_a_slash() {
    let lines = wrap("upper: /tmp/diyc-test-abc/lessons/lesson-rootfs/upper", 20);
    assert!(lines.iter().all(|l| width(l) <= 20), "{lines:?}");
    assert_eq!(
        lines,
        [
            "upper:",
            "/tmp/diyc-test-abc/",
            "lessons/",
            "lesson-rootfs/upper"
        ]
    );
    // Only a name longer than the whole line is cut.
    assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
}

#[test]
fn a_box_is_as_wide_as_its_widest_line_and_no_wider_than_asked() {
    let drawn = Frame::new("title")
        .line("one")
        .line("a longer line")
        .draw(80, Style::Ascii);
    assert_eq!(
        drawn,
        strings(&[
            "+- title -------+",
            "| one           |",
            "| a longer line |",
            "+---------------+",
        ])
    );
    let narrow = Frame::new("t")
        .line("a b c d e f g h i j k l")
        .draw(12, Style::Unicode);
    assert!(narrow.iter().all(|l| width(l) == 12), "{narrow:#?}");
    assert_eq!(narrow[0], "┌─ t ──────┐");
    assert_eq!(narrow.last().map(String::as_str), Some("└──────────┘"));
}

#[test]
fn a_title_too_long_for_the_border_goes_inside_uncut() {
    let drawn = Frame::new("the container, pid 25457")
        .line("x")
        .draw_exactly(20, Style::Ascii);
    assert!(drawn.iter().all(|l| width(l) == 20), "{drawn:#?}");
    assert_eq!(drawn[0], "+------------------+");
    assert!(drawn.join("\n").contains("25457"), "{drawn:#?}");
}

#[test]
fn a_box_inside_a_box_keeps_its_own_borders() {
    let inner = Frame::new("in").line("x").draw_exactly(10, Style::Ascii);
    let outer = Frame::new("out").drawn(inner).draw(80, Style::Ascii);
    assert_eq!(
        outer,
        strings(&[
            "+- out ------+",
            "| +- in ---+ |",
            "| | x      | |",
            "| +--------+ |",
            "+------------+",
        ])
    );
}

#[test]
fn ascii_pictures_are_pure_ascii() {
    let inner = Frame::new("in").line("x").draw(20, Style::Ascii);
    let mut lines = Frame::new("out").drawn(inner).draw(80, Style::Ascii);
    lines.extend(tree(
        &[
            (0, "root".into()),
            (1, "a".into()),
            (2, "b".into()),
            (1, "c".into()),
        ],
        Style::Ascii,
    ));
    lines.extend(step_down(2, "label", Style::Ascii));
    lines.push(Style::Ascii.arrow().into());
    lines.push(Style::Ascii.both_ways().into());
    lines.push(Style::Ascii.cut().into());
    lines.push(columns(
        "l",
        &strings(&["a"]),
        "r",
        &strings(&["b"]),
        20,
        Style::Ascii,
    ));
    let all = lines.join("\n");
    assert!(all.is_ascii(), "{all}");
}

#[test]
fn a_tree_shows_which_label_hangs_below_which() {
    let items = [
        (0, "/sys/fs/cgroup/memory".to_string()),
        (1, "a".to_string()),
        (2, "b".to_string()),
        (2, "c".to_string()),
        (1, "d".to_string()),
    ];
    assert_eq!(
        tree(&items, Style::Unicode),
        strings(&[
            "/sys/fs/cgroup/memory",
            "├─ a",
            "│  ├─ b",
            "│  └─ c",
            "└─ d"
        ])
    );
}

#[test]
fn a_long_label_in_a_tree_goes_on_below_itself_within_the_width() {
    let long = "a-cgroup-name ".repeat(8);
    let items = [
        (0, "root".to_string()),
        (1, long.clone()),
        (1, "last".to_string()),
    ];
    let lines = tree(&items, Style::Ascii);
    assert!(lines.iter().all(|l| width(l) <= WIDTH), "{lines:#?}");
    assert!(lines[1].starts_with("+- a-cgroup-name"), "{lines:#?}");
    assert!(lines[2].starts_with("|  a-cgroup-name"), "{lines:#?}");
    assert_eq!(lines.last().map(String::as_str), Some("+- last"));
}

#[test]
fn beside_puts_a_link_between_two_pictures() {
    let left = strings(&["+--+", "|a |", "+--+"]);
    let right = strings(&["+-+", "|b|"]);
    let link = strings(&["", " --> "]);
    assert_eq!(
        beside(&left, &link, &right),
        strings(&["+--+     +-+", "|a | --> |b|", "+--+"])
    );
}

#[test]
fn columns_fit_the_width_and_keep_rows_together() {
    let left = strings(&["hostname: diyc-lesson", "short"]);
    let right = strings(&[
        "host's hostname: vm (unchanged), read again after the stage was done",
        "uts namespace: host 4026531838 / pid 77 4026532179",
    ]);
    let table = columns("inside", &left, "on the host", &right, 50, Style::Ascii);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines.iter().all(|l| width(l) <= 50), "{table}");
    assert_eq!(lines[0], "inside                | on the host");
    assert!(lines[1].starts_with("----------------------+-"), "{table}");
    // The left side's first line stays beside the start of its row, the
    // second row starts below the whole of the first.
    assert!(
        lines[2].starts_with("hostname: diyc-lesson | host's"),
        "{table}"
    );
    let second = lines
        .iter()
        .position(|l| l.starts_with("short"))
        .unwrap_or(0);
    assert!(lines[second].contains("uts namespace:"), "{table}");
    // No word is cut: every word of the input is whole in the output.
    for word in right.iter().flat_map(|l| l.split_whitespace()) {
        assert!(table.contains(word), "{word} cut in:\n{table}");
    }
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{table}");
}

#[test]
fn columns_give_a_narrow_left_side_its_natural_width() {
    let table = columns(
        "in",
        &strings(&["a"]),
        "out",
        &strings(&["b"]),
        80,
        Style::Unicode,
    );
    assert_eq!(table, "in │ out\n───┼────\na  │ b");
}

#[test]
fn a_picture_starts_with_its_caption_and_has_no_trailing_spaces() {
    let p = picture("Caption", strings(&["a  ", "b"]));
    assert_eq!(p, "Caption\na\nb");
}

/// A run that showed nothing at all: every lesson still draws its
/// pictures, without a panic, saying what it did not see, in 80 columns
/// and with a caption of one line.
#[test]
fn every_lesson_draws_even_a_run_that_showed_nothing() {
    let nothing = || Observed {
        code: 0,
        notes: Vec::new(),
        events: Vec::new(),
        extra: Vec::new(),
    };
    // Lesson 0 lays out its own side by side.
    for topic in crate::learn::TOPICS.into_iter().skip(1) {
        for style in [Style::Ascii, Style::Unicode] {
            let drawn = pictures(topic, &nothing(), &nothing(), style);
            assert!(!drawn.is_empty(), "{topic:?}");
            for picture in &drawn {
                let mut lines = picture.lines();
                let caption = lines.next().unwrap_or("");
                assert!(
                    !caption.is_empty() && !caption.starts_with(' '),
                    "{topic:?}: {picture}"
                );
                assert!(
                    picture.lines().all(|l| width(l) <= WIDTH),
                    "{topic:?}:\n{picture}"
                );
                assert!(
                    !picture.contains("\n\n"),
                    "{topic:?}: a blank line:\n{picture}"
                );
                if style == Style::Ascii {
                    assert!(picture.is_ascii(), "{topic:?}:\n{picture}");
                }
            }
        }
    }
}
