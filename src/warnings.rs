//! What went wrong on the side of a command (a clean-up step that failed,
//! a verdict on how the container ended) is said once, by `app::main`,
//! whether the command itself succeeded or failed. The code that finds it
//! hands it here instead of printing, so nothing is lost on an error path
//! and `--explain=json` stays one JSON object per line.

use std::sync::Mutex;

struct Pending {
    lines: Vec<String>,
    as_json: bool,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    lines: Vec::new(),
    as_json: false,
});

/// One line for the user, said when the command ends.
pub fn warn(line: impl Into<String>) {
    if let Ok(mut pending) = PENDING.lock() {
        pending.lines.push(line.into());
    }
}

/// Say the warnings as JSON note events: the command explains as JSON.
pub fn as_json() {
    if let Ok(mut pending) = PENDING.lock() {
        pending.as_json = true;
    }
}

/// The warnings so far, each rendered as it is to be printed.
pub fn take() -> Vec<String> {
    let Ok(mut pending) = PENDING.lock() else {
        return Vec::new();
    };
    let as_json = pending.as_json;
    std::mem::take(&mut pending.lines)
        .into_iter()
        .map(|line| {
            if as_json {
                serde_json::json!({"event": "note", "stage": "cleanup", "text": line}).to_string()
            } else {
                format!("diyc: {line}")
            }
        })
        .collect()
}
