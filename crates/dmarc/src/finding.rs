//! Findings: what a linter says about a DMARC setup, each with the fix and the RFC section.

use std::fmt;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Receivers ignore the record or part of it; mail is not protected as intended.
    Error,
    /// Works today, but some receivers differ or RFC 9989 deprecates it.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One observation about a record or its publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// A stable snake_case identifier (`p_missing`, `rua_missing_scheme`), for scripts.
    pub code: &'static str,
    /// What is wrong, in plain words.
    pub message: String,
    /// What to publish instead, when there is a fix.
    pub fix: Option<String>,
    /// The RFC section that says so (`RFC 9989 §4.7`).
    pub rfc: &'static str,
}

impl Finding {
    pub(crate) fn new(
        severity: Severity,
        code: &'static str,
        rfc: &'static str,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            code,
            message: message.into(),
            fix: None,
            rfc,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.severity, self.message, self.rfc)?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}
