//! Sendwell's configuration: `DIR/sendwell.toml` (restart to apply) and `DIR/users.toml`
//! (read again whenever it changes, so `sendwell user add` needs no restart).
//!
//! Every key is a field of a serde type below with `deny_unknown_fields`, so a typo is
//! an error naming the key, not a silently ignored setting. Every field carries a doc
//! comment; [`example::render`] turns those comments (through the JSON schema that
//! schemars derives from the same types) into the commented `sendwell.toml` that
//! `sendwell init` writes. The documentation cannot drift from the code because it
//! *is* the code.
//!
//! Paths in the file are relative to the directory that holds it.

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod example;
mod types;
mod users;
mod validate;

pub use types::*;
pub use users::{User, Users, write_private};
pub use validate::ValidationError;

use std::path::{Path, PathBuf};

/// The name of the main config file inside the Sendwell directory.
pub const CONFIG_FILE: &str = "sendwell.toml";
/// The name of the users file inside the Sendwell directory.
pub const USERS_FILE: &str = "users.toml";

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for these types (an unknown key, a wrong type).
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What toml says, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// The file parses but does not make sense.
    #[error("{path}: {errors}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        errors: ValidationErrors,
    },
}

/// A list of validation problems, displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Read and validate `DIR/sendwell.toml`.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ParseOrInvalid::Parse(source) => ConfigError::Parse { path, source },
            ParseOrInvalid::Invalid(errors) => ConfigError::Invalid { path, errors },
        })
    }

    /// Parse and validate config text.
    pub fn parse(text: &str) -> Result<Config, ParseOrInvalid> {
        let config: Config = toml::from_str(text).map_err(ParseOrInvalid::Parse)?;
        let errors = config.validate();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ParseOrInvalid::Invalid(ValidationErrors(errors)))
        }
    }

    /// The documented TOML text of this config (what `sendwell init` writes).
    pub fn to_documented_toml(&self) -> String {
        example::render(self)
    }

    /// A path from the config, made absolute against the Sendwell directory.
    pub fn resolve(dir: &Path, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path)
        }
    }
}

/// Either a TOML error or validation errors (see [`Config::parse`]).
#[derive(Debug, thiserror::Error)]
pub enum ParseOrInvalid {
    /// Not valid TOML for the types.
    #[error(transparent)]
    Parse(toml::de::Error),
    /// Valid TOML that does not make sense.
    #[error("{0}")]
    Invalid(ValidationErrors),
}
