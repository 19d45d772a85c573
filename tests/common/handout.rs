//! What every handout (`learn --transcript`) must be, as Markdown.

/// A handout is valid Markdown: a title block, its fences closed, its
/// tables real tables, and each lesson's answers after its last question.
pub fn assert_handout(md: &str) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    assert!(md.starts_with("# diyc lessons: "), "{md}");
    for field in ["- Made: ", "- Kernel: Linux ", "- Cgroups: v", "- diyc: "] {
        assert!(md.contains(field), "{field} missing from the title block");
    }
    let fences = md
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    assert_eq!(fences % 2, 0, "a fence is left open");
    let tables = Parser::new_ext(md, Options::ENABLE_TABLES)
        .filter(|e| matches!(e, Event::Start(Tag::Table(_))))
        .count();
    let views =
        md.matches("### Both views").count() + md.matches("### The host and the container").count();
    assert!(
        tables >= views.max(1),
        "{tables} tables parse, for {views} tables of views"
    );
    for lesson in md.split("\n## ").skip(1) {
        let Some(questions) = lesson.find("### Questions") else {
            continue;
        };
        let answers = lesson.find("#### Answers").expect("the answers");
        assert!(answers > questions, "the answers come before the questions");
        let between = &lesson[questions..answers];
        assert!(
            !between.contains("Answer:"),
            "an answer sits under its question"
        );
        assert!(
            between.contains("\n3. "),
            "the answers come before the last question"
        );
    }
}
