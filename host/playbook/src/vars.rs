//! Where template variables come from, lowest precedence first: the
//! template's own `vars:` defaults, `--vars-file`, then `--var K=V` (later
//! wins). The environment is separate (`env.NAME`) and allow-listed.

use crate::error::{ErrorKind, PlaybookError};
use serde_json::{Map, Value};
use std::path::Path;

/// Only these environment variables reach templates: an explicit prefix, so
/// nothing is exposed by accident.
pub const ENV_PREFIX: &str = "VDR_VAR_";

/// Even under the prefix, names that look like secrets are never exposed:
/// templates are printed by `playbook render` and land in reports.
const SECRET_WORDS: &[&str] =
    &["PASSPHRASE", "IDENTITY", "SECRET", "PASSWORD", "TOKEN", "KEY", "CREDENTIAL"];

/// Variables supplied from outside the template.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// `--vars-file` then `--var`, already merged (see [`merge`]).
    pub vars: Map<String, Value>,
    /// Allow-listed environment, exposed as `env.NAME`.
    pub env: Map<String, Value>,
}

impl VarInputs {
    /// The usual construction from command-line arguments and the process
    /// environment.
    pub fn from_cli(var_args: &[String], vars_file: Option<&Path>) -> Result<Self, PlaybookError> {
        let mut vars = match vars_file {
            Some(p) => read_vars_file(p)?,
            None => Map::new(),
        };
        merge(&mut vars, parse_var_args(var_args)?);
        Ok(VarInputs { vars, env: allowed_env(std::env::vars()) })
    }
}

/// Overlays `over` onto `base` (top-level keys; later wins).
pub fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        base.insert(k, v);
    }
}

/// Parses repeated `--var K=V`. Values that are exactly a number or
/// true/false become one, so templates can compare them; anything else
/// (including `0123`, which would not round-trip) stays a string.
pub fn parse_var_args(args: &[String]) -> Result<Map<String, Value>, PlaybookError> {
    let mut out = Map::new();
    for arg in args {
        let Some((k, v)) = arg.split_once('=') else {
            return Err(PlaybookError::new(
                ErrorKind::Vars,
                "--var",
                format!("`{arg}` is not K=V"),
            ));
        };
        let k = k.trim();
        // Same rule as the Terraform modules' playbook_vars; names with `.`
        // or `-` are reachable in templates as `vars["a-b"]`.
        let valid = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(PlaybookError::new(
                ErrorKind::Vars,
                "--var",
                format!(
                    "`{k}` is not a valid variable name (a letter or _, then letters, digits, _, . or -)"
                ),
            ));
        }
        out.insert(k.to_string(), scalar(v));
    }
    Ok(out)
}

fn scalar(v: &str) -> Value {
    match v {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = v.parse::<i64>()
        && n.to_string() == v
    {
        return Value::from(n);
    }
    if let Ok(f) = v.parse::<f64>()
        && f.is_finite()
        && f.to_string() == v
    {
        return Value::from(f);
    }
    Value::String(v.to_string())
}

pub fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// A YAML or JSON file holding one object of variables.
pub fn read_vars_file(path: &Path) -> Result<Map<String, Value>, PlaybookError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        PlaybookError::new(ErrorKind::Io, &file, format!("cannot read vars file: {e}"))
    })?;
    parse_vars_text(&text).map_err(|(msg, line)| {
        PlaybookError::new(ErrorKind::Vars, &file, msg).at(line, None).with_source_line(&text)
    })
}

/// Parses a YAML (or JSON) object; the error carries the line when known.
pub fn parse_vars_text(text: &str) -> Result<Map<String, Value>, (String, Option<usize>)> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| (strip_location(&e.to_string()), e.location().map(|l| l.line())))?;
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => {
            Err((format!("variables must be a mapping of names to values, not {other}"), None))
        }
    }
}

/// The allow-listed environment: `VDR_VAR_*` minus anything secret-looking.
pub fn allowed_env(vars: impl IntoIterator<Item = (String, String)>) -> Map<String, Value> {
    vars.into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && !SECRET_WORDS.iter().any(|w| k.contains(w)))
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// serde_yaml_ng appends " at line L column C"; we report the location
/// ourselves (mapped to the template), so drop it from the message.
pub(crate) fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_string(),
        _ => msg.to_string(),
    }
}
