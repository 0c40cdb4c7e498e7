//! Template -> YAML text, keeping track of which template line produced each
//! rendered line so later YAML and validation errors point at the template.
//!
//! Variables: the template's top-level `vars:` block holds the defaults. It
//! is cut out and read first (rendered on its own when it uses Tera, e.g.
//! `env.VDR_VAR_X`), `--vars-file`/`--var` are laid over it, and then the
//! whole template renders once with the effective values as `vars.NAME`.
//! One render, no fixed-point games: a default cannot refer to another
//! default, which keeps precedence obvious.

use crate::error::{ErrorKind, PlaybookError};
use crate::refs::step_expressions;
use crate::vars::{VarInputs, merge, parse_vars_text};
use serde_json::{Map, Value, json};
use std::path::Path;
use tera::{Context, Tera};

// Private-use characters never found in real templates: a marker
// `\u{E000}<line>\u{E001}` at the end of each template line survives Tera and
// tells which template line a rendered line came from.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// A rendered playbook, not yet validated.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Template file name, as given (used in every error message).
    pub file: String,
    /// The template source.
    pub source: String,
    /// The rendered YAML.
    pub text: String,
    /// Effective variables: template defaults < vars file < `--var`.
    pub vars: Map<String, Value>,
    /// For each rendered line (0-based), the 1-based template line.
    line_map: Vec<Option<usize>>,
}

impl Rendered {
    /// The template line that produced rendered line `line` (1-based).
    pub fn template_line(&self, line: usize) -> Option<usize> {
        self.line_map.get(line.checked_sub(1)?).copied().flatten()
    }

    /// An error at rendered line `line`: points at the template line, and
    /// shows the rendered text when it differs from the template's.
    pub fn error_at(
        &self,
        kind: ErrorKind,
        line: Option<usize>,
        msg: impl Into<String>,
    ) -> PlaybookError {
        let mut msg = msg.into();
        let tline = line.and_then(|l| self.template_line(l));
        if let Some(l) = line
            && let Some(rendered) = self.text.lines().nth(l - 1)
        {
            let src = tline.and_then(|t| self.source.lines().nth(t - 1));
            if src.map(str::trim_end) != Some(rendered.trim_end()) {
                msg.push_str(&format!("\n  rendered line {l}: {rendered}"));
            }
        }
        PlaybookError::new(kind, &self.file, msg).at(tline, None).with_source_line(&self.source)
    }

    /// The text `playbook render` prints: the rendered YAML with its `vars:`
    /// block showing the effective values rather than the defaults.
    pub fn display_text(&self) -> String {
        let lines: Vec<&str> = self.text.lines().collect();
        let vars_yaml = if self.vars.is_empty() {
            "vars: {}\n".to_string()
        } else {
            let body =
                serde_yaml_ng::to_string(&Value::Object(self.vars.clone())).unwrap_or_default();
            let mut s = String::from("vars:\n");
            for l in body.lines() {
                s.push_str("  ");
                s.push_str(l);
                s.push('\n');
            }
            s
        };
        match top_level_block(&lines, "vars") {
            Some((start, end)) => {
                let mut out = String::new();
                for l in &lines[..start] {
                    out.push_str(l);
                    out.push('\n');
                }
                out.push_str(&vars_yaml);
                for l in &lines[end..] {
                    out.push_str(l);
                    out.push('\n');
                }
                out
            }
            None => format!("{vars_yaml}{}", self.text),
        }
    }
}

/// Reads and renders a template file.
pub fn render_file(path: &Path, inputs: &VarInputs) -> Result<Rendered, PlaybookError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        PlaybookError::new(ErrorKind::Io, &file, format!("cannot read template: {e}"))
    })?;
    render(&file, &source, inputs)
}

/// Renders template `source` (named `file` in errors).
pub fn render(file: &str, source: &str, inputs: &VarInputs) -> Result<Rendered, PlaybookError> {
    let mut vars = template_defaults(file, source, inputs)?;
    merge(&mut vars, inputs.vars.clone());
    let ctx = Context::from_serialize(json!({ "vars": vars, "env": inputs.env }))
        .map_err(|e| PlaybookError::new(ErrorKind::Vars, file, e.to_string()))?;

    let prepared = add_markers(&protect_step_refs(source));
    let out =
        run_tera(file, &prepared, &ctx).map_err(|e| tera_error(file, source, 0, &e, &vars))?;

    let mut text = String::with_capacity(out.len());
    let mut line_map = Vec::new();
    let mut last = None;
    for line in out.split_inclusive('\n') {
        let (clean, mark) = strip_markers(line);
        // A line without a marker came from a multi-line expansion; it
        // belongs to the nearest template line above.
        last = mark.or(last);
        line_map.push(last);
        text.push_str(&clean);
    }
    Ok(Rendered { file: file.to_string(), source: source.to_string(), text, vars, line_map })
}

fn run_tera(name: &str, src: &str, ctx: &Context) -> Result<String, tera::Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![]); // YAML, not HTML
    tera.add_raw_template(name, src)?;
    tera.render(name, ctx)
}

/// The template's `vars:` block, read before the main render.
fn template_defaults(
    file: &str,
    source: &str,
    inputs: &VarInputs,
) -> Result<Map<String, Value>, PlaybookError> {
    let lines: Vec<&str> = source.lines().collect();
    let Some((start, end)) = top_level_block(&lines, "vars") else {
        return Ok(Map::new());
    };
    let mut block = lines[start..end].join("\n");
    if block.contains("{{") || block.contains("{%") {
        let ctx = Context::from_serialize(json!({ "vars": inputs.vars, "env": inputs.env }))
            .map_err(|e| PlaybookError::new(ErrorKind::Vars, file, e.to_string()))?;
        block = run_tera(file, &block, &ctx)
            .map_err(|e| tera_error(file, source, start, &e, &inputs.vars))?;
    }
    let map = parse_vars_text(&block).map_err(|(msg, line)| {
        PlaybookError::new(ErrorKind::Vars, file, format!("in the `vars:` block: {msg}"))
            .at(line.map(|l| l + start), None)
            .with_source_line(source)
    })?;
    match map.get("vars") {
        Some(Value::Object(m)) => Ok(m.clone()),
        None | Some(Value::Null) => Ok(Map::new()),
        Some(other) => Err(PlaybookError::new(
            ErrorKind::Vars,
            file,
            format!("`vars:` must be a mapping of names to default values, not {other}"),
        )
        .at(Some(start + 1), None)
        .with_source_line(source)),
    }
}

/// Line range [start, end) of a top-level YAML key's block: its line and
/// every following indented, blank or comment line.
pub(crate) fn top_level_block(lines: &[&str], key: &str) -> Option<(usize, usize)> {
    let prefix = format!("{key}:");
    let start = lines.iter().position(|l| l.starts_with(&prefix))?;
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        if l.trim().is_empty() || l.starts_with([' ', '\t', '#']) {
            end += 1;
        } else {
            break;
        }
    }
    // Trailing blank/comment lines belong to whatever follows.
    while end > start + 1 && (lines[end - 1].trim().is_empty() || lines[end - 1].starts_with('#')) {
        end -= 1;
    }
    Some((start, end))
}

/// `{{ steps.ID.FIELD }}` is resolved at run time, so Tera must leave it
/// alone: wrap each occurrence in `{% raw %}`.
pub fn protect_step_refs(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut last = 0;
    for (start, end, _) in step_expressions(source) {
        out.push_str(&source[last..start]);
        out.push_str("{% raw %}");
        out.push_str(&source[start..end]);
        out.push_str("{% endraw %}");
        last = end;
    }
    out.push_str(&source[last..]);
    out
}

/// Appends a line marker to every template line that ends outside a Tera
/// tag. Lines ending in a whitespace-trimming tag (`-%}`, `-}}`, `-#}`) get
/// none: the marker would stop the trim and change the output.
fn add_markers(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    let mut depth_close: Option<&str> = None;
    for (i, line) in source.split_inclusive('\n').enumerate() {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut rest = body;
        loop {
            match depth_close {
                Some(close) => match rest.find(close) {
                    Some(p) => {
                        rest = &rest[p + 2..];
                        depth_close = None;
                    }
                    None => break,
                },
                None => {
                    let next = ["{{", "{%", "{#"]
                        .iter()
                        .filter_map(|o| rest.find(o).map(|p| (p, *o)))
                        .min_by_key(|(p, _)| *p);
                    match next {
                        Some((p, open)) => {
                            depth_close = Some(match open {
                                "{{" => "}}",
                                "{%" => "%}",
                                _ => "#}",
                            });
                            rest = &rest[p + 2..];
                        }
                        None => break,
                    }
                }
            }
        }
        out.push_str(body);
        let trimming = ["-%}", "-}}", "-#}"].iter().any(|t| body.trim_end().ends_with(t));
        if depth_close.is_none() && !trimming {
            out.push(MARK_OPEN);
            out.push_str(&(i + 1).to_string());
            out.push(MARK_CLOSE);
        }
        out.push_str(nl);
    }
    out
}

/// Removes markers from a rendered line; returns the first marker's line:
/// a line's text comes before its own marker, and later markers on the same
/// rendered line belong to tag-only lines folded into it by `{%-`.
fn strip_markers(line: &str) -> (String, Option<usize>) {
    let mut clean = String::with_capacity(line.len());
    let mut mark = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == MARK_OPEN {
            let digits: String = chars.by_ref().take_while(|&c| c != MARK_CLOSE).collect();
            mark = mark.or(digits.parse().ok());
        } else {
            clean.push(c);
        }
    }
    (clean, mark)
}

/// Turns a Tera error into one pointing at the template line. Parse errors
/// carry `--> L:C` from pest; render errors name a variable, which we look
/// for in the source. `offset` is the block's first line for partial renders.
fn tera_error(
    file: &str,
    source: &str,
    offset: usize,
    err: &tera::Error,
    vars: &Map<String, Value>,
) -> PlaybookError {
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    let full = chain.join("\n");
    if let Some((line, col)) = pest_location(&full) {
        let detail = full
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("= "))
            .collect::<Vec<_>>()
            .join("; ");
        let detail =
            if detail.is_empty() { chain.last().cloned().unwrap_or_default() } else { detail };
        return PlaybookError::new(
            ErrorKind::Template,
            file,
            format!("template syntax error: {}", clean(&detail)),
        )
        .at(Some(line + offset), Some(col))
        .with_source_line(source);
    }
    // Render error: the innermost message is the useful one.
    let inner = clean(chain.last().map(String::as_str).unwrap_or("template error"));
    let mut msg = format!("cannot render template: {inner}");
    let mut line = None;
    if let Some(name) = backticked(&inner) {
        if name.starts_with("vars.") || name == "vars" {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            msg.push_str(&format!(
                "; defined vars: {} (set one with --var NAME=VALUE)",
                crate::refs::list_or_none(&known)
            ));
        } else if name.starts_with("env.") {
            msg.push_str(&format!(
                "; only environment variables named {}* are visible to templates (use `| default(value=...)`)",
                crate::vars::ENV_PREFIX
            ));
        }
        line = source.lines().position(|l| l.contains(name)).map(|p| p + 1);
    }
    PlaybookError::new(ErrorKind::Template, file, msg).at(line, None).with_source_line(source)
}

fn pest_location(msg: &str) -> Option<(usize, usize)> {
    let i = msg.find("--> ")?;
    let rest = &msg[i + 4..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ':')).unwrap_or(rest.len());
    let (l, c) = rest[..end].split_once(':')?;
    Some((l.parse().ok()?, c.parse().ok()?))
}

fn backticked(msg: &str) -> Option<&str> {
    let a = msg.find('`')?;
    let b = msg[a + 1..].find('`')? + a + 1;
    Some(&msg[a + 1..b])
}

fn clean(s: &str) -> String {
    strip_markers(s).0
}
