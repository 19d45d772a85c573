//! The check of a bundle's config.json against the field table
//! (fields.rs), on the JSON as it was written: oci-spec's parser would
//! drop a key it does not know without a word.

use serde_json::Value;

use super::fields::{
    FIELDS,
    Treat::{Ignored, Refused, Used},
};

/// What the check found: the notes to log for ignored fields, or the
/// one refusal.
pub fn check(config: &Value) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    walk(config, "", &mut notes)?;
    Ok(notes)
}

fn walk(value: &Value, at: &str, notes: &mut Vec<String>) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!("{}: an object was expected", name(at)));
    };
    for (key, value) in map {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if is_empty(value) {
            continue;
        }
        match FIELDS.iter().find(|(p, _)| *p == path) {
            Some((_, Used(_))) => {}
            Some((_, Ignored(why))) => notes.push(format!("{path} is ignored: {why}")),
            Some((_, Refused(why))) => return Err(format!("{path}: {why}")),
            None if FIELDS
                .iter()
                .any(|(p, _)| p.starts_with(&format!("{path}."))) =>
            {
                walk(value, &path, notes)?
            }
            None => return Err(format!("{path}: diyc does not know this field")),
        }
    }
    Ok(())
}

fn name(at: &str) -> &str {
    if at.is_empty() { "config.json" } else { at }
}

/// Absent in all but name: null, "", [], {} or false.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_field_is_refused_by_its_path() {
        let e = check(&json!({"linux": {"frobnicate": 1}}))
            .err()
            .unwrap_or_default();
        assert_eq!(e, "linux.frobnicate: diyc does not know this field");
    }

    #[test]
    fn a_refused_field_says_why_and_an_empty_one_is_absent() {
        let e = check(&json!({"hooks": {"prestart": [{"path": "/x"}]}})).err();
        assert_eq!(e.as_deref(), Some("hooks: diyc runs no hooks"));
        assert!(check(&json!({"hooks": {}, "linux": {"devices": []}})).is_ok());
    }

    #[test]
    fn an_ignored_field_becomes_a_note() {
        let notes = check(&json!({"process": {"apparmorProfile": "x", "cwd": "/"}}));
        assert_eq!(
            notes,
            Ok(vec![
                "process.apparmorProfile is ignored: diyc loads no AppArmor profile".to_string()
            ])
        );
    }
}
