//! A lesson's questions. On a terminal each takes a single key (a, b,
//! c...) before the answer is shown, and the lesson keeps the score.
//! Without one, the questions come first and the answers after the last
//! of them; the handout does the same.

use super::session::{Quit, Session};
use super::text::Question;

impl Session<'_> {
    pub fn questions(&mut self, questions: &[Question]) -> Result<(), Quit> {
        if questions.is_empty() {
            return Ok(());
        }
        if self.overview {
            self.md("### Questions");
        } else {
            self.heading("Questions");
        }
        let asking = self.pauser.enabled();
        for (n, q) in questions.iter().enumerate() {
            let mut block = format!("{}. {}", n + 1, q.text);
            let choices: Vec<String> = ('a'..)
                .zip(&q.choices)
                .map(|(letter, choice)| format!("{letter}) {choice}"))
                .collect();
            // Short choices share a line; long ones get one each.
            let together = format!("   {}", choices.join("   "));
            if together.chars().count() <= 76 {
                block.push('\n');
                block.push_str(&together);
            } else {
                for choice in &choices {
                    block.push_str(&format!("\n   {choice}"));
                }
            }
            if self.overview {
                self.md(&block);
            } else {
                self.prose(&block);
            }
            if !asking {
                continue;
            }
            let letters: String = ('a'..).take(q.choices.len()).collect();
            let prompt = format!("your answer ({}): ", spaced(&letters));
            let key = self
                .pauser
                .choose(&prompt, &letters, &self.signals)
                .ok_or(Quit)?;
            self.score.1 += 1;
            let verdict = if key == q.answer {
                self.score.0 += 1;
                "✓ right.".to_string()
            } else {
                format!("✗ not this time: the answer is {}.", q.answer)
            };
            self.show(&format!("\n{verdict} {}", super::markdown::render(&q.why)));
        }
        let answers: Vec<String> = questions
            .iter()
            .enumerate()
            .map(|(n, q)| format!("{}. {}: {}", n + 1, q.answer, q.why))
            .collect();
        // The handout always has them, after the last question.
        self.md(&format!("#### Answers\n\n{}", answers.join("\n")));
        if asking {
            let (right, asked) = self.score;
            self.show(&format!("\nscore so far: {right} of {asked}"));
        } else if !self.overview {
            let shown = super::markdown::render(&answers.join("\n"));
            self.show(&format!("\nAnswers:\n{shown}"));
        }
        Ok(())
    }
}

fn spaced(letters: &str) -> String {
    letters
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join("/")
}
