//! The words a beginner needs, from lessons/glossary.md: one line each,
//! printed after the paragraph where a lesson first uses the word, and
//! all together by `diyc learn --glossary [TERM]`.

use std::collections::BTreeSet;

use crate::error::{Error, Result};

pub const TEXT: &str = include_str!("../../lessons/glossary.md");

pub struct Term {
    pub name: String,
    /// The name and the other forms a lesson may use (plurals, spellings).
    pub forms: Vec<String>,
    pub meaning: String,
}

/// `- **term** (form, form): meaning` lines.
pub fn terms() -> Vec<Term> {
    TEXT.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("- **")?;
            let (name, rest) = rest.split_once("**")?;
            let (forms, meaning) = match rest.trim_start().strip_prefix('(') {
                Some(r) => {
                    let (forms, meaning) = r.split_once(')')?;
                    (
                        forms.split(',').map(|f| f.trim().to_string()).collect(),
                        meaning,
                    )
                }
                None => (Vec::new(), rest),
            };
            let mut all = vec![name.to_string()];
            all.extend(forms.into_iter().filter(|f: &String| !f.is_empty()));
            Some(Term {
                name: name.to_string(),
                forms: all,
                meaning: meaning.trim_start_matches(':').trim().to_string(),
            })
        })
        .collect()
}

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where `text` first uses `term`, as a whole word, in any case.
pub fn first_use(text: &str, term: &Term) -> Option<usize> {
    let lower = text.to_lowercase();
    term.forms
        .iter()
        .filter_map(|form| {
            let form = form.to_lowercase();
            lower.match_indices(&form).map(|(i, _)| i).find(|&i| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + form.len()..].chars().next();
                // A form like /proc brings its own boundary.
                let open = form.starts_with(|c: char| !word_char(c));
                let shut = form.ends_with(|c: char| !word_char(c));
                (open || !before.is_some_and(word_char)) && (shut || !after.is_some_and(word_char))
            })
        })
        .min()
}

/// The terms `block` uses that `seen` does not hold yet, in the order
/// they come; they are added to `seen`.
pub fn new_in<'t>(block: &str, terms: &'t [Term], seen: &mut BTreeSet<String>) -> Vec<&'t Term> {
    let mut found: Vec<(usize, &Term)> = terms
        .iter()
        .filter(|t| !seen.contains(&t.name))
        .filter_map(|t| first_use(block, t).map(|at| (at, t)))
        .collect();
    found.sort_by_key(|(at, _)| *at);
    for (_, t) in &found {
        seen.insert(t.name.clone());
    }
    found.into_iter().map(|(_, t)| t).collect()
}

/// `diyc learn --glossary [TERM]`.
pub fn print(term: Option<&str>) -> Result<i32> {
    let terms = terms();
    let chosen: Vec<&Term> = match term {
        None => terms.iter().collect(),
        Some(wanted) => {
            let wanted = wanted.to_lowercase();
            let found: Vec<&Term> = terms
                .iter()
                .filter(|t| t.forms.iter().any(|f| f.to_lowercase() == wanted))
                .collect();
            if found.is_empty() {
                return Err(Error::invalid(format!(
                    "the glossary has no entry for {wanted:?}: `diyc learn --glossary` lists them all"
                )));
            }
            found
        }
    };
    // A meaning is Markdown, as a lesson shows it: `code` is not quoted.
    for t in chosen {
        println!("{}: {}", t.name, super::markdown::render(&t.meaning));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(forms: &[&str]) -> Term {
        Term {
            name: forms[0].into(),
            forms: forms.iter().map(|f| f.to_string()).collect(),
            meaning: "m".into(),
        }
    }

    #[test]
    fn a_term_is_found_as_a_whole_word_in_any_case() {
        let mount = term(&["mount", "mounts"]);
        assert_eq!(first_use("unmounted, then Mounts here", &mount), Some(16));
        assert_eq!(first_use("amount", &mount), None);
        let proc = term(&["procfs", "/proc"]);
        assert_eq!(first_use("read /proc/self", &proc), Some(5));
        let pivot = term(&["pivot_root"]);
        assert_eq!(first_use("call `pivot_root`.", &pivot), Some(6));
        assert_eq!(first_use("pivot_rooted", &pivot), None);
    }

    #[test]
    fn every_entry_has_a_name_and_a_meaning() {
        let terms = terms();
        assert!(terms.len() >= 20, "{}", terms.len());
        for t in &terms {
            assert!(!t.name.is_empty() && t.meaning.len() > 10, "{}", t.name);
        }
    }
}
