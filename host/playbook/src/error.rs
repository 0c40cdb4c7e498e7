//! One error type for everything that can be wrong with a playbook before it
//! runs. Each error points at the template file and, when known, the line, so
//! the person editing the template can go straight there.

use std::fmt;

/// What went wrong, coarsely; the CLI maps all of these to exit code 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template or a vars file could not be read.
    Io,
    /// `--var`, `--vars-file` or the template's `vars:` block is malformed.
    Vars,
    /// Tera could not parse or render the template.
    Template,
    /// The rendered text is not valid YAML.
    Yaml,
    /// Valid YAML, but not a valid playbook (unknown step, bad reference...).
    Validation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybookError {
    pub kind: ErrorKind,
    /// Template file name as given on the command line.
    pub file: String,
    /// 1-based line in the template (not the rendered text) when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The offending line's text, shown under the message.
    pub snippet: Option<String>,
}

impl PlaybookError {
    pub fn new(kind: ErrorKind, file: &str, message: impl Into<String>) -> Self {
        PlaybookError {
            kind,
            file: file.to_string(),
            line: None,
            column: None,
            message: message.into(),
            snippet: None,
        }
    }

    pub fn at(mut self, line: Option<usize>, column: Option<usize>) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    pub fn with_snippet(mut self, snippet: Option<String>) -> Self {
        self.snippet = snippet;
        self
    }

    /// Fills the snippet from the template source when a line is known.
    pub fn with_source_line(mut self, source: &str) -> Self {
        if self.snippet.is_none()
            && let Some(line) = self.line
        {
            self.snippet = source.lines().nth(line - 1).map(str::to_string);
        }
        self
    }
}

impl fmt::Display for PlaybookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let (Some(line), Some(snippet)) = (self.line, &self.snippet) {
            write!(f, "\n{line:>5} | {snippet}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlaybookError {}
