//! References to earlier steps' outputs, `{{ steps.ID.FIELD }}`.
//!
//! They cannot be known when the template renders, so the renderer protects
//! them from Tera, the schema checks they point backwards, and the runner
//! substitutes them just before the step runs.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Outputs of the steps that have run so far, by step id.
pub type Outputs = BTreeMap<String, Map<String, Value>>;

/// One `{{ steps.ID.a.b }}` occurrence in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub step: String,
    pub path: Vec<String>,
    /// Byte range of the whole `{{ ... }}` in the string.
    pub start: usize,
    pub end: usize,
}

impl StepRef {
    pub fn display(&self) -> String {
        format!("steps.{}.{}", self.step, self.path.join("."))
    }
}

/// Every `{{ ... }}` whose expression starts with `steps`: the byte range and
/// the trimmed expression. Used both to protect them from Tera and to parse.
pub fn step_expressions(s: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find("{{").map(|i| i + from) {
        let Some(close) = s[open + 2..].find("}}").map(|i| i + open + 2) else {
            break;
        };
        let inner = s[open + 2..close].trim_matches('-').trim();
        if inner == "steps" || inner.starts_with("steps.") || inner.starts_with("steps[") {
            out.push((open, close + 2, inner.to_string()));
        }
        from = close + 2;
    }
    out
}

/// Parses the references in `s`; an expression that is not a plain dotted
/// path (filters, indexing with brackets...) is an error, because the runner
/// only substitutes values, it does not run Tera a second time.
pub fn find_refs(s: &str) -> Result<Vec<StepRef>, String> {
    step_expressions(s)
        .into_iter()
        .map(|(start, end, inner)| {
            parse_path(&inner)
                .map(|(step, path)| StepRef { step, path, start, end })
                .ok_or_else(|| {
                    format!(
                        "`{{{{ {inner} }}}}`: a reference to an earlier step's output must be a plain path `{{{{ steps.ID.FIELD }}}}` (no filters or brackets)"
                    )
                })
        })
        .collect()
}

/// `steps.ID.a.b` -> ("ID", ["a", "b"]); None unless well formed.
pub fn parse_path(expr: &str) -> Option<(String, Vec<String>)> {
    let mut parts = expr.split('.');
    if parts.next()? != "steps" {
        return None;
    }
    let step = parts.next()?.to_string();
    let path: Vec<String> = parts.map(str::to_string).collect();
    let ok = |p: &str| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    (ok(&step) && !path.is_empty() && path.iter().all(|p| ok(p))).then_some((step, path))
}

/// Looks up `steps.STEP.PATH` in the outputs so far; errors list what exists.
pub fn lookup<'a>(outputs: &'a Outputs, step: &str, path: &[String]) -> Result<&'a Value, String> {
    let Some(map) = outputs.get(step) else {
        let known: Vec<&str> = outputs.keys().map(String::as_str).collect();
        return Err(format!(
            "no outputs from step `{step}`; steps with outputs so far: {}",
            list_or_none(&known)
        ));
    };
    let mut cur: Option<&Value> = None;
    for (i, seg) in path.iter().enumerate() {
        let next = match cur {
            None => map.get(seg),
            Some(Value::Object(m)) => m.get(seg),
            Some(Value::Array(a)) => seg.parse::<usize>().ok().and_then(|n| a.get(n)),
            Some(_) => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => {
                let here = format!("steps.{step}.{}", path[..i].join("."));
                let here = here.trim_end_matches('.');
                let fields: Vec<&str> = match cur {
                    None => map.keys().map(String::as_str).collect(),
                    Some(Value::Object(m)) => m.keys().map(String::as_str).collect(),
                    _ => Vec::new(),
                };
                return Err(format!(
                    "`{here}` has no field `{seg}`; it has: {}",
                    list_or_none(&fields)
                ));
            }
        }
    }
    cur.ok_or_else(|| format!("`steps.{step}` needs a field"))
}

/// Replaces every reference in `s` by the output's value (strings verbatim,
/// anything else as JSON).
pub fn substitute(s: &str, outputs: &Outputs) -> Result<String, String> {
    let refs = find_refs(s)?;
    if refs.is_empty() {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for r in refs {
        out.push_str(&s[last..r.start]);
        match lookup(outputs, &r.step, &r.path)? {
            Value::String(v) => out.push_str(v),
            other => out.push_str(&other.to_string()),
        }
        last = r.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// Substitutes references in every string inside a JSON value.
pub fn substitute_value(v: &mut Value, outputs: &Outputs) -> Result<(), String> {
    match v {
        Value::String(s) => *s = substitute(s, outputs)?,
        Value::Array(a) => a.iter_mut().try_for_each(|x| substitute_value(x, outputs))?,
        Value::Object(m) => m.values_mut().try_for_each(|x| substitute_value(x, outputs))?,
        _ => {}
    }
    Ok(())
}

/// Collects references from every string inside a JSON value.
pub fn refs_in_value(v: &Value, out: &mut Vec<StepRef>) -> Result<(), String> {
    match v {
        Value::String(s) => out.extend(find_refs(s)?),
        Value::Array(a) => a.iter().try_for_each(|x| refs_in_value(x, out))?,
        Value::Object(m) => m.values().try_for_each(|x| refs_in_value(x, out))?,
        _ => {}
    }
    Ok(())
}

pub fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() { "(none)".to_string() } else { items.join(", ") }
}
