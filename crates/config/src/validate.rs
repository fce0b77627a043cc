//! Checks that a config parsed from TOML also makes sense: names are names, addresses
//! are in our domains, limits respect RFC 5321's minimums ([`Config::validate`]); and
//! settings that work but go against an RFC's advice, said as warnings
//! ([`Config::warnings`]).

use std::collections::HashSet;

use sendwell_smtp::{Domain as DomainName, Mailbox};

use crate::Config;

/// One problem in a config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ValidationError {
    /// The key, as a TOML path (`domain[0].name`).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

fn err(key: impl Into<String>, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Parse an address and say which of our domains it is in.
fn address_domain(address: &str) -> Result<String, String> {
    let m = Mailbox::parse(address).map_err(|e| format!("{address:?} is not an address: {e}"))?;
    match m.domain_name() {
        Some(d) => Ok(d.to_lowercase()),
        None => Err(format!(
            "{address:?}: use a domain name, not an address literal"
        )),
    }
}

impl Config {
    /// Every problem found (empty: the config is usable).
    pub fn validate(&self) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        match DomainName::parse(&self.hostname) {
            Ok(_) if self.hostname.contains('.') => {}
            _ => errors.push(err(
                "hostname",
                format!("{:?} is not a fully qualified host name", self.hostname),
            )),
        }
        if self.domains.is_empty() {
            errors.push(err("domain", "at least one [[domain]] is needed"));
        }
        let mut ours = HashSet::new();
        for (i, d) in self.domains.iter().enumerate() {
            if DomainName::parse(&d.name).is_err() || !d.name.contains('.') {
                errors.push(err(
                    format!("domain[{i}].name"),
                    format!("{:?} is not a domain name", d.name),
                ));
            }
            if !ours.insert(d.name.to_ascii_lowercase()) {
                errors.push(err(
                    format!("domain[{i}].name"),
                    format!("{} is listed twice", d.name),
                ));
            }
            if let Some(r) = &d.dmarc_reports
                && let Err(e) = address_domain(r)
            {
                errors.push(err(format!("domain[{i}].dmarc_reports"), e));
            }
            for (j, k) in d.dkim.iter().enumerate() {
                let ok = !k.selector.is_empty()
                    && k.selector.split('.').all(|l| {
                        !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                if !ok {
                    errors.push(err(
                        format!("domain[{i}].dkim[{j}].selector"),
                        format!("{:?} is not a DNS label", k.selector),
                    ));
                }
            }
        }
        let mut local = HashSet::new();
        for (i, m) in self.mailboxes.iter().enumerate() {
            let key = format!("mailbox[{i}].address");
            match address_domain(&m.address) {
                Ok(d) if !ours.contains(&d) => {
                    errors.push(err(key, format!("{d} is not one of the [[domain]]s")))
                }
                Ok(_) => {
                    if !local.insert(m.address.to_ascii_lowercase()) {
                        errors.push(err(key, format!("{} is listed twice", m.address)));
                    }
                }
                Err(e) => errors.push(err(key, e)),
            }
        }
        for (i, a) in self.aliases.iter().enumerate() {
            let key = format!("alias[{i}].address");
            match address_domain(&a.address) {
                Ok(d) if !ours.contains(&d) => {
                    errors.push(err(key, format!("{d} is not one of the [[domain]]s")))
                }
                Ok(_) => {
                    if !local.insert(a.address.to_ascii_lowercase()) {
                        errors.push(err(
                            key,
                            format!("{} is already a mailbox or alias", a.address),
                        ));
                    }
                }
                Err(e) => errors.push(err(key, e)),
            }
            if a.to.is_empty() {
                errors.push(err(format!("alias[{i}].to"), "needs at least one address"));
            }
            for (j, t) in a.to.iter().enumerate() {
                if let Err(e) = address_domain(t) {
                    errors.push(err(format!("alias[{i}].to[{j}]"), e));
                }
            }
        }
        let dl = &self.delivery;
        for (key, value) in [
            ("delivery.max_concurrent", dl.max_concurrent as u64),
            ("delivery.max_per_domain", dl.max_per_domain as u64),
            ("delivery.port", u64::from(dl.port)),
            ("delivery.retry_every_minutes", dl.retry_every_minutes),
        ] {
            if value == 0 {
                errors.push(err(key, "must be at least 1"));
            }
        }
        // RFC 5321 §4.5.4.1: "the give-up time generally needs to be at least 4-5 days";
        // less is allowed (a test, a policy) but not nothing.
        if dl.lifetime_hours == 0 {
            errors.push(err("delivery.lifetime_hours", "must be at least 1"));
        }
        for domain in dl.tls_per_domain.keys() {
            if DomainName::parse(domain).is_err() {
                errors.push(err(
                    format!("delivery.tls_per_domain.{domain}"),
                    format!("{domain:?} is not a domain name"),
                ));
            }
        }
        let l = &self.listen;
        if l.mx.is_empty() && l.submission.is_empty() && l.submissions.is_empty() {
            errors.push(err("listen", "no listening address at all"));
        }
        let lim = &self.limits;
        // RFC 5321 §4.5.3.1.8: "The minimum total number of recipients that MUST be
        // buffered is 100 recipients."
        if lim.max_recipients < sendwell_smtp::limits::MIN_RECIPIENTS {
            errors.push(err(
                "limits.max_recipients",
                "must be at least 100 (RFC 5321 §4.5.3.1.8)",
            ));
        }
        // RFC 5321 §4.5.3.1.4.
        if lim.max_command_line < sendwell_smtp::limits::MAX_COMMAND_LINE {
            errors.push(err(
                "limits.max_command_line",
                "must be at least 512 (RFC 5321 §4.5.3.1.4)",
            ));
        }
        // RFC 5321 §4.5.3.1.6.
        if lim.max_text_line != 0 && lim.max_text_line < sendwell_smtp::limits::MAX_TEXT_LINE {
            errors.push(err(
                "limits.max_text_line",
                "must be 0 (no limit) or at least 1000 (RFC 5321 §4.5.3.1.6)",
            ));
        }
        for (key, v) in [
            ("limits.command_timeout_secs", lim.command_timeout_secs),
            ("limits.data_timeout_secs", lim.data_timeout_secs),
            ("limits.session_timeout_secs", lim.session_timeout_secs),
            ("limits.max_message_size", lim.max_message_size),
            // 0 would close every session at its first command or error.
            (
                "limits.max_commands_without_mail",
                u64::from(lim.max_commands_without_mail),
            ),
            ("limits.max_errors", u64::from(lim.max_errors)),
            ("limits.max_connections", lim.max_connections as u64),
            (
                "limits.max_connections_per_ip",
                lim.max_connections_per_ip as u64,
            ),
            (
                "limits.max_submission_connections",
                lim.max_submission_connections as u64,
            ),
            (
                "limits.max_submission_connections_per_ip",
                lim.max_submission_connections_per_ip as u64,
            ),
            ("auth.max_failures", u64::from(self.auth.max_failures)),
            (
                "auth.max_failures_per_ip",
                u64::from(self.auth.max_failures_per_ip),
            ),
        ] {
            if v == 0 {
                errors.push(err(key, "must be more than 0"));
            }
        }
        if lim.max_data_memory < lim.max_message_size {
            errors.push(err(
                "limits.max_data_memory",
                format!(
                    "must be at least limits.max_message_size ({}), or no message of the largest size could ever be taken in",
                    lim.max_message_size
                ),
            ));
        }
        errors
    }

    /// Settings that are valid but shorter than an RFC advises (tests use them; a
    /// server on the Internet should not), one per problem. `sendwell serve` prints
    /// them at startup.
    pub fn warnings(&self) -> Vec<ValidationError> {
        use sendwell_smtp::limits::{DATA_BLOCK_TIMEOUT_SECS, MIN_SERVER_COMMAND_TIMEOUT_SECS};
        let lim = &self.limits;
        let mut warnings = Vec::new();
        // RFC 5321 §4.5.3.2.7: at least 5 minutes for the next command.
        if lim.command_timeout_secs < MIN_SERVER_COMMAND_TIMEOUT_SECS {
            warnings.push(err(
                "limits.command_timeout_secs",
                format!(
                    "{} s is less than the {MIN_SERVER_COMMAND_TIMEOUT_SECS} s RFC 5321 §4.5.3.2.7 asks a server to wait for the next command",
                    lim.command_timeout_secs
                ),
            ));
        }
        // RFC 5321 §4.5.3.2.5: a client may take 3 minutes over each block of data.
        if lim.data_timeout_secs < DATA_BLOCK_TIMEOUT_SECS {
            warnings.push(err(
                "limits.data_timeout_secs",
                format!(
                    "{} s is less than the {DATA_BLOCK_TIMEOUT_SECS} s a client may take over each block of message data (RFC 5321 §4.5.3.2.5)",
                    lim.data_timeout_secs
                ),
            ));
        }
        // The session limit cuts every wait short: below the command timeout, that
        // timeout is never reached.
        if lim.session_timeout_secs
            < lim
                .command_timeout_secs
                .min(MIN_SERVER_COMMAND_TIMEOUT_SECS)
        {
            warnings.push(err(
                "limits.session_timeout_secs",
                format!(
                    "{} s is shorter than the wait for one command (RFC 5321 §4.5.3.2.7)",
                    lim.session_timeout_secs
                ),
            ));
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use crate::example::example;

    #[test]
    fn limits_that_would_close_every_session_are_errors() {
        for (key, set) in [
            (
                "limits.max_errors",
                (|c: &mut crate::Config| c.limits.max_errors = 0) as fn(&mut crate::Config),
            ),
            ("limits.max_commands_without_mail", |c| {
                c.limits.max_commands_without_mail = 0
            }),
        ] {
            let mut c = example();
            set(&mut c);
            let keys: Vec<String> = c.validate().into_iter().map(|e| e.key).collect();
            assert_eq!(keys, [key]);
        }
        let mut c = example();
        c.limits.max_errors = 1;
        c.limits.max_commands_without_mail = 1;
        assert!(c.validate().is_empty());
    }

    #[test]
    fn timeouts_below_rfc_5321_are_warnings_not_errors() {
        let c = example();
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        let mut c = example();
        c.limits.command_timeout_secs = 1;
        c.limits.data_timeout_secs = 179;
        c.limits.session_timeout_secs = 300;
        assert!(c.validate().is_empty());
        let keys: Vec<String> = c.warnings().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            ["limits.command_timeout_secs", "limits.data_timeout_secs"]
        );
        c.limits.command_timeout_secs = 300;
        c.limits.data_timeout_secs = 180;
        c.limits.session_timeout_secs = 299;
        let keys: Vec<String> = c.warnings().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["limits.session_timeout_secs"]);
    }

    #[test]
    fn data_memory_must_hold_one_message() {
        let mut c = example();
        c.limits.max_data_memory = c.limits.max_message_size - 1;
        let errors = c.validate();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "limits.max_data_memory");
        c.limits.max_data_memory = c.limits.max_message_size;
        assert!(c.validate().is_empty());
        c.auth.max_failures_per_ip = 0;
        assert_eq!(c.validate()[0].key, "auth.max_failures_per_ip");
    }
}
