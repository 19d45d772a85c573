//! A lesson's text, from lessons/STAGE.md: `## ` sections, a summary of
//! three bullets, and questions with choices, each followed by its
//! `Answer:` (a letter and why) and `Taught by:` (the phrase of the lesson
//! the answer rests on). `{{name}}` stands for a value of this run: the
//! state root, the cgroup paths of this host, `sudo ` when not root.

/// One question: its text, its choices (`a) ...`), the letter of the right
/// one and why, and the phrase of the lesson it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub text: String,
    pub choices: Vec<String>,
    pub answer: char,
    pub why: String,
    pub taught_by: String,
}

/// A lesson's text. Its title is its stage's heading.
pub struct Text {
    sections: Vec<(String, String)>,
    pub questions: Vec<Question>,
    pub summary: Vec<String>,
}

/// The values `{{name}}` stands for in this run.
pub type Vars = [(&'static str, String)];

pub fn substitute(markdown: &str, vars: &Vars) -> String {
    let mut out = markdown.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

impl Text {
    pub fn parse(markdown: &str, vars: &Vars) -> Text {
        let markdown = substitute(markdown, vars);
        let mut sections: Vec<(String, String)> = Vec::new();
        // A shell comment in a fenced block looks like a heading.
        let mut fenced = false;
        for line in markdown.lines() {
            let fence = line.trim_start().starts_with("```");
            if fence {
                fenced = !fenced;
            }
            match line.strip_prefix("## ") {
                Some(h) if !fenced && !fence => {
                    sections.push((h.trim().to_string(), String::new()))
                }
                _ => {
                    if let Some((_, body)) = sections.last_mut() {
                        body.push_str(line);
                        body.push('\n');
                    }
                }
            }
        }
        let find = |h: &str| {
            sections
                .iter()
                .find(|(s, _)| s == h)
                .map_or("", |(_, b)| b.as_str())
        };
        let questions = parse_questions(find("Questions"));
        let summary = find("Summary")
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(|l| l.trim().to_string())
            .collect();
        Text {
            sections,
            questions,
            summary,
        }
    }

    pub fn section(&self, heading: &str) -> &str {
        self.sections
            .iter()
            .find(|(h, _)| h == heading)
            .map_or("", |(_, b)| b.trim())
    }

    #[cfg(test)]
    /// The sections that are prose, in order: all but the summary and the
    /// questions, which a lesson shows its own way.
    pub fn prose(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sections
            .iter()
            .filter(|(h, _)| h != "Summary" && h != "Questions")
            .map(|(h, b)| (h.as_str(), b.trim()))
    }
}

/// "1. Question\n   a) ...\n\nAnswer: b. Why\n\nTaught by: \"...\"" blocks.
fn parse_questions(body: &str) -> Vec<Question> {
    let mut questions: Vec<Question> = Vec::new();
    // Which part of the current question a plain line continues.
    #[derive(PartialEq)]
    enum At {
        Text,
        Why,
        Other,
    }
    let mut at = At::Other;
    for line in body.lines() {
        let trimmed = line.trim();
        let numbered = trimmed
            .split_once(". ")
            .filter(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let choice = trimmed
            .split_once(") ")
            .filter(|(l, _)| l.len() == 1 && l.chars().all(|c| c.is_ascii_lowercase()));
        if let Some((_, text)) = numbered.filter(|_| !line.starts_with(' ')) {
            questions.push(Question {
                text: text.to_string(),
                choices: Vec::new(),
                answer: ' ',
                why: String::new(),
                taught_by: String::new(),
            });
            at = At::Text;
            continue;
        }
        let Some(q) = questions.last_mut() else {
            continue;
        };
        if let Some((_, text)) = choice {
            q.choices.push(text.to_string());
            at = At::Other;
        } else if let Some(rest) = trimmed.strip_prefix("Answer:") {
            let rest = rest.trim();
            q.answer = rest.chars().next().unwrap_or(' ');
            q.why = rest
                .get(1..)
                .unwrap_or("")
                .trim_start_matches('.')
                .trim()
                .to_string();
            at = At::Why;
        } else if let Some(rest) = trimmed.strip_prefix("Taught by:") {
            q.taught_by = rest.trim().trim_matches('"').to_string();
            at = At::Other;
        } else if !trimmed.is_empty() {
            let to = match at {
                At::Text => &mut q.text,
                At::Why => &mut q.why,
                At::Other => continue,
            };
            to.push(' ');
            to.push_str(trimmed);
        } else if at == At::Text {
            at = At::Other;
        }
    }
    questions
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# The x lesson\n\n## Why\n\nA {{what}} here.\n\n```sh\n## not a heading\n```\n\n\
        ## Summary\n\n- one\n- two\n- three\n\n## Questions\n\n1. Which is it,\n   really?\n   a) this\n   b) that\n\n\
        Answer: b. Because\nof that.\n\nTaught by: \"A thing here\"\n";

    #[test]
    fn sections_summary_and_questions_are_read() {
        let text = Text::parse(SAMPLE, &[("what", "thing".into())]);
        assert!(text.section("Why").starts_with("A thing here."));
        assert!(text.section("Why").contains("## not a heading"));
        assert_eq!(text.summary, ["one", "two", "three"]);
        assert_eq!(
            text.questions,
            [Question {
                text: "Which is it, really?".into(),
                choices: vec!["this".into(), "that".into()],
                answer: 'b',
                why: "Because of that.".into(),
                taught_by: "A thing here".into(),
            }]
        );
        assert_eq!(text.prose().map(|(h, _)| h).collect::<Vec<_>>(), ["Why"]);
    }
}
