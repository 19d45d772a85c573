//! What `check` and diyc say over the exercise's socket, one JSON line
//! each way: diyc asks for what only the inside can see (`Ask`), `check`
//! answers with its view (`View`), diyc gives its verdict (`Verdict`).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Error, Result};

/// The variable that tells `check` where diyc listens; every shell
/// started from the exercise shell inherits it.
pub const SOCKET_ENV: &str = "DIYC_EXERCISE";

/// What an exercise needs `check` to look at from inside, beyond the
/// little it always says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// The links and addresses of its network namespace.
    Links,
    /// `iptables -S` of the filter and nat tables there.
    Iptables,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ask {
    pub wants: Vec<Want>,
}

/// One link of `check`'s network namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LinkView {
    pub name: String,
    pub up: bool,
    /// IPv4 addresses, as `ip -o addr` writes them: `10.0.9.2/24`.
    pub addresses: Vec<String>,
}

/// What `check` sees from inside.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct View {
    /// uname's nodename.
    pub hostname: String,
    /// getpid(): its pid in its own PID namespace.
    pub pid: i32,
    /// Where /proc/self points: its pid in the PID namespace /proc shows.
    pub proc_self: Option<i32>,
    pub links: Vec<LinkView>,
    /// (table, what `iptables -t TABLE -S` printed), when asked.
    pub iptables: Vec<(String, String)>,
}

/// diyc's answer: what is right (`✓ ...`), what is missing (`✗ ...`),
/// and the hint for the first thing missing.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Verdict {
    pub lines: Vec<String>,
    pub hint: Option<String>,
}

impl Verdict {
    pub fn good(&mut self, what: impl AsRef<str>) {
        self.lines.push(format!("✓ {}", what.as_ref()));
    }

    pub fn bad(&mut self, what: impl AsRef<str>, hint: impl Into<String>) {
        self.lines.push(format!("✗ {}", what.as_ref()));
        self.hint.get_or_insert_with(|| hint.into());
    }

    pub fn passed(&self) -> bool {
        self.hint.is_none() && !self.lines.is_empty()
    }

    /// As `check` prints it.
    pub fn text(&self) -> String {
        let mut text: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        if let Some(hint) = &self.hint {
            text.push_str(&format!("hint: {hint}\n"));
        }
        text
    }
}

pub fn send(to: &mut impl Write, message: &impl Serialize) -> Result<()> {
    let mut line =
        serde_json::to_string(message).map_err(|e| Error::encoding("an exercise message", e))?;
    line.push('\n');
    to.write_all(line.as_bytes())
        .and_then(|()| to.flush())
        .map_err(|source| Error::Os {
            what: "writing to the exercise's socket".into(),
            source,
        })
}

pub fn receive<T: DeserializeOwned>(from: &mut impl BufRead) -> Result<T> {
    let mut line = String::new();
    from.read_line(&mut line).map_err(|source| Error::Os {
        what: "reading from the exercise's socket".into(),
        source,
    })?;
    serde_json::from_str(&line).map_err(|e| Error::encoding("an exercise message", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_keeps_the_first_hint_and_passes_only_without_one() {
        let mut v = Verdict::default();
        assert!(!v.passed(), "an empty verdict checked nothing");
        v.good("one");
        assert!(v.passed());
        v.bad("two", "first");
        v.bad("three", "second");
        assert!(!v.passed());
        assert_eq!(v.text(), "✓ one\n✗ two\n✗ three\nhint: first\n");
    }

    #[test]
    fn messages_go_as_one_line_each() {
        let mut buf = Vec::new();
        let ask = Ask {
            wants: vec![Want::Links],
        };
        assert!(send(&mut buf, &ask).is_ok());
        assert_eq!(buf, b"{\"wants\":[\"links\"]}\n");
        let back: Ask = receive(&mut buf.as_slice()).unwrap_or_default();
        assert_eq!(back.wants, [Want::Links]);
    }
}
