//! A lesson's text, from lessons/STAGE.md: `## ` sections (Why, What diyc
//! does, What to look at, What breaks without it, Try it yourself) and
//! numbered questions, each followed by `Answer:`.

/// A lesson's text: its sections, and questions with answers. Its title
/// is its stage's heading.
pub struct Text {
    sections: Vec<(String, String)>,
    pub questions: Vec<(String, String)>,
}

impl Text {
    pub fn parse(markdown: &str) -> Text {
        let mut sections: Vec<(String, String)> = Vec::new();
        // A shell comment in a fenced block looks like a heading.
        let mut fenced = false;
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if fenced || line.trim_start().starts_with("```") {
                if let Some((_, body)) = sections.last_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            } else if let Some(h) = line.strip_prefix("## ") {
                sections.push((h.trim().to_string(), String::new()));
            } else if let Some((_, body)) = sections.last_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        let questions = sections
            .iter()
            .find(|(h, _)| h == "Questions")
            .map(|(_, body)| parse_questions(body))
            .unwrap_or_default();
        Text {
            sections,
            questions,
        }
    }

    pub fn section(&self, heading: &str) -> &str {
        self.sections
            .iter()
            .find(|(h, _)| h == heading)
            .map_or("", |(_, b)| b.trim())
    }
}

/// "1. Question ...\n\nAnswer: ..." pairs.
fn parse_questions(body: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let (mut question, mut answer) = (String::new(), None::<String>);
    for line in body.lines() {
        let numbered = line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered {
            if let Some(a) = answer.take() {
                pairs.push((question.trim().to_string(), a.trim().to_string()));
            }
            question = line.split_once(". ").map_or("", |(_, q)| q).to_string();
        } else if let Some(a) = line.strip_prefix("Answer:") {
            answer = Some(a.trim().to_string());
        } else if let Some(a) = answer.as_mut() {
            a.push('\n');
            a.push_str(line);
        } else {
            question.push('\n');
            question.push_str(line.trim());
        }
    }
    if let Some(a) = answer {
        pairs.push((question.trim().to_string(), a.trim().to_string()));
    }
    pairs
}
