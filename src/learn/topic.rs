//! The lessons by name: lesson 0 and one per stage, each with its text,
//! its live run and its run with the key step left out, and the stages
//! its launches show in full.

use super::session::{Observed, Session};
use super::{cgroups, hardening, image, intro, iptables, mount, net, pid, rootfs, user, uts};
use crate::error::Result;
use crate::event::StageId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topic {
    Intro,
    User,
    Uts,
    Pid,
    Mount,
    Image,
    Rootfs,
    Cgroups,
    Net,
    Iptables,
    Hardening,
}

pub const TOPICS: [Topic; 11] = [
    Topic::Intro,
    Topic::User,
    Topic::Uts,
    Topic::Pid,
    Topic::Mount,
    Topic::Image,
    Topic::Rootfs,
    Topic::Cgroups,
    Topic::Net,
    Topic::Iptables,
    Topic::Hardening,
];

/// A lesson's live run, and the run with the stage's key step left out.
pub type Live = fn(&mut Session) -> Result<(Observed, StageId)>;
pub type Broken = fn(&mut Session) -> Result<Observed>;

impl Topic {
    /// The stage the lesson is about; lesson 0 is about all of them.
    pub fn stage(self) -> Option<StageId> {
        Some(match self {
            Topic::Intro => return None,
            Topic::User => StageId::User,
            Topic::Uts => StageId::Uts,
            Topic::Pid => StageId::Pid,
            Topic::Mount => StageId::Mount,
            Topic::Image => StageId::Image,
            Topic::Rootfs => StageId::Rootfs,
            Topic::Cgroups => StageId::Cgroups,
            Topic::Net => StageId::Net,
            Topic::Iptables => StageId::Iptables,
            Topic::Hardening => StageId::Hardening,
        })
    }

    pub fn name(self) -> &'static str {
        self.stage().map_or("intro", StageId::name)
    }

    /// The stage's own heading, which is the lesson's title.
    pub fn title(self) -> &'static str {
        self.stage()
            .map_or(intro::TITLE, |stage| stage.heading().title)
    }

    /// The stages its launches show in full: its own, and the clone for
    /// the namespaces it makes.
    pub fn focus(self) -> Vec<StageId> {
        match self {
            Topic::Intro => Vec::new(),
            Topic::User | Topic::Uts | Topic::Pid | Topic::Mount => {
                vec![self.stage().unwrap_or(StageId::Clone), StageId::Clone]
            }
            Topic::Rootfs => vec![StageId::Rootfs, StageId::Escape],
            other => other.stage().into_iter().collect(),
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Topic::Intro => intro::TEXT,
            Topic::User => user::TEXT,
            Topic::Uts => uts::TEXT,
            Topic::Pid => pid::TEXT,
            Topic::Mount => mount::TEXT,
            Topic::Image => image::TEXT,
            Topic::Rootfs => rootfs::TEXT,
            Topic::Cgroups => cgroups::TEXT,
            Topic::Net => net::TEXT,
            Topic::Iptables => iptables::TEXT,
            Topic::Hardening => hardening::TEXT,
        }
    }

    pub fn live(self) -> Option<Live> {
        Some(match self {
            Topic::Intro => return None,
            Topic::User => user::live,
            Topic::Uts => uts::live,
            Topic::Pid => pid::live,
            Topic::Mount => mount::live,
            Topic::Image => image::live,
            Topic::Rootfs => rootfs::live,
            Topic::Cgroups => cgroups::live,
            Topic::Net => net::live,
            Topic::Iptables => iptables::live,
            Topic::Hardening => hardening::live,
        })
    }

    pub fn broken(self) -> Option<Broken> {
        Some(match self {
            Topic::Intro => return None,
            Topic::User => user::broken,
            Topic::Uts => uts::broken,
            Topic::Pid => pid::broken,
            Topic::Mount => mount::broken,
            Topic::Image => image::broken,
            Topic::Rootfs => rootfs::broken,
            Topic::Cgroups => cgroups::broken,
            Topic::Net => net::broken,
            Topic::Iptables => iptables::broken,
            Topic::Hardening => hardening::broken,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::{glossary, text};
    use text::Text;

    fn parts(topic: Topic) -> &'static [&'static str] {
        match topic {
            Topic::Intro => &[
                "What a container is",
                "Reading a system call",
                "Side by side",
                "Where to go next",
            ],
            _ => &[
                "Why",
                "What diyc does",
                "What to look at",
                "What breaks without it",
                "Try it yourself",
            ],
        }
    }

    #[test]
    fn every_lesson_has_its_parts_a_summary_and_three_questions_it_taught() {
        for topic in TOPICS {
            let text = Text::parse(topic.text(), &[]);
            assert!(topic.title().starts_with(topic.name()), "{topic:?}");
            for part in parts(topic) {
                assert!(!text.section(part).is_empty(), "{topic:?}: {part}");
            }
            assert_eq!(text.summary.len(), 3, "{topic:?}: the summary");
            assert_eq!(text.questions.len(), 3, "{topic:?}: the questions");
            let taught: String = text
                .prose()
                .map(|(_, body)| body.replace('\n', " "))
                .collect::<Vec<_>>()
                .join(" ");
            for q in &text.questions {
                assert!(q.choices.len() >= 2, "{topic:?}: {}", q.text);
                let letters: Vec<char> = ('a'..).take(q.choices.len()).collect();
                assert!(letters.contains(&q.answer), "{topic:?}: {}", q.text);
                assert!(!q.why.is_empty(), "{topic:?}: {}", q.text);
                assert!(
                    !q.taught_by.is_empty() && taught.contains(&q.taught_by),
                    "{topic:?}: {:?} asks what the lesson never said ({:?})",
                    q.text,
                    q.taught_by
                );
            }
        }
    }

    #[test]
    fn no_lesson_hard_codes_a_path_or_sudo() {
        for topic in TOPICS {
            let raw = topic.text();
            for fixed in ["/var/lib/diyc", "/sys/fs/cgroup/memory/diyc", "sudo "] {
                let outside_placeholders = raw.replace("{{sudo}}", "");
                assert!(
                    !outside_placeholders.contains(fixed),
                    "{topic:?} hard-codes {fixed:?}"
                );
            }
            let text = substitute_all(raw);
            assert!(!text.contains("{{"), "{topic:?}: an unknown placeholder");
        }
    }

    fn substitute_all(raw: &str) -> String {
        let vars: Vec<(&'static str, String)> = [
            "sudo",
            "diyc",
            "image",
            "root",
            "parent",
            "cgroup_dir",
            "memory_max",
            "cgroup_version",
        ]
        .into_iter()
        .map(|n| (n, "x".to_string()))
        .collect();
        text::substitute(raw, &vars)
    }

    #[test]
    fn every_glossary_word_is_used_by_some_lesson() {
        let terms = glossary::terms();
        for term in &terms {
            assert!(
                TOPICS
                    .iter()
                    .any(|t| glossary::first_use(t.text(), term).is_some()),
                "no lesson uses {:?}",
                term.name
            );
        }
    }
}
