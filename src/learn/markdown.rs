//! The lessons' Markdown as a terminal shows it: bold is bold, code is
//! coloured, lists are indented, fenced blocks are set in by four spaces.
//! Without colour the same layout comes out with no markup at all, so a
//! pipe or a file gets plain text, never `**` or fences.

use colored::Colorize;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// Blocks of `markdown` (paragraphs, list items, fenced code), split at
/// blank lines outside fences: each is rendered, then followed by the
/// words it uses first.
pub fn blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if line.trim().is_empty() && !fenced {
            if !current.trim().is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    if !current.trim().is_empty() {
        blocks.push(current);
    }
    blocks
}

/// One block as the terminal shows it, without a trailing newline.
pub fn render(block: &str) -> String {
    let mut out = String::new();
    let (mut strong, mut emphasis, mut code_block) = (false, false, false);
    // Each open list: the next item's number, or None for bullets.
    let mut lists: Vec<Option<u64>> = Vec::new();
    // Where an item's later lines start: under its first word.
    let mut hang = String::new();
    for event in Parser::new(block) {
        match event {
            Event::Start(Tag::Strong) => strong = true,
            Event::End(TagEnd::Strong) => strong = false,
            Event::Start(Tag::Emphasis) => emphasis = true,
            Event::End(TagEnd::Emphasis) => emphasis = false,
            Event::Start(Tag::CodeBlock(kind)) => {
                code_block = true;
                if matches!(kind, CodeBlockKind::Indented) && !out.is_empty() {
                    out.push('\n');
                }
            }
            Event::End(TagEnd::CodeBlock) => code_block = false,
            Event::Start(Tag::List(start)) => lists.push(start),
            Event::End(TagEnd::List(_)) => {
                lists.pop();
                if lists.is_empty() {
                    hang.clear();
                }
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                let depth = lists.len().saturating_sub(1);
                let mark = match lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}.", *n - 1)
                    }
                    _ => "-".into(),
                };
                let lead = format!("{}{mark} ", "   ".repeat(depth));
                hang = " ".repeat(lead.len());
                out.push_str(&lead);
            }
            Event::Start(Tag::Heading { .. }) => {}
            Event::End(TagEnd::Heading(_) | TagEnd::Paragraph | TagEnd::Item)
                if !out.ends_with('\n') =>
            {
                out.push('\n');
            }
            Event::Text(text) if code_block => {
                for line in text.lines() {
                    out.push_str(&format!("    {}\n", line.green()));
                }
            }
            Event::Text(text) => {
                let styled = match (strong, emphasis) {
                    (true, _) => text.bold(),
                    (false, true) => text.italic(),
                    _ => text.normal(),
                };
                out.push_str(&styled.to_string());
            }
            Event::Code(code) => out.push_str(&code.cyan().to_string()),
            Event::SoftBreak | Event::HardBreak => {
                out.push('\n');
                out.push_str(&hang);
            }
            _ => {}
        }
    }
    out.trim_end().to_string()
}

/// A part's heading.
pub fn heading(text: &str) -> String {
    format!("» {text}").bold().yellow().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(md: &str) -> String {
        colored::control::set_override(false);
        blocks(md)
            .iter()
            .map(|b| render(b))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn markup_is_rendered_and_none_of_it_is_left_in_plain_text() {
        let out = plain(
            "It is **bold** and `code`,\nover two lines.\n\n1. first\n   more\n2. second\n\n- a\n  b\n\n```sh\nls /\n```\n",
        );
        assert_eq!(
            out,
            "It is bold and code,\nover two lines.\n\n1. first\n   more\n2. second\n\n- a\n  b\n\n    ls /"
        );
    }

    #[test]
    fn blocks_split_at_blank_lines_but_not_inside_a_fence() {
        let b = blocks("one\ntwo\n\n```\na\n\nb\n```\n\nthree\n");
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b[1].starts_with("```"));
    }
}
