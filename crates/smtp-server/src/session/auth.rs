//! AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, only under TLS.
//!
//! Order of checks: TLS first (538 5.7.11, RFC 4954 §4), sequence (503), mechanism
//! (504), then the client's turn (its logins run one at a time), then the
//! failed-login limiter (454 4.7.0, before any password is looked at), then the
//! password (argon2, a few at once: a login that cannot get its turn within seconds
//! gets 454 4.7.0 too). A failure waits a growing delay, still holding the client's
//! turn, before its 535 5.7.8. A failed AUTH leaves the session exactly as unauthenticated as before.

use sendwell_queue::QueueStore;
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::sasl::{self, Mechanism, SaslError};
use sendwell_smtp::{Reply, ReplyCode as C};

use super::{Flow, Session, WireError};
use crate::auth::{Admission, Verification};
use crate::wire::Line;

/// RFC 4954 §4: "the maximum line length [of an AUTH exchange] is 12288 octets".
const MAX_AUTH_LINE: usize = 12_288;

/// Longest a login waits for the client's earlier logins (and their failure delays)
/// to finish before it gets 454 4.7.0 unchecked.
const LOGIN_TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

enum Step {
    Line(String),
    Failed(Reply),
    Close,
}

impl<S: QueueStore + Clone> Session<S> {
    /// Send a challenge and read the client's response line.
    async fn challenge(&mut self, text: &str) -> Step {
        // RFC 4954 §4: "334" SP [base64] CRLF; no enhanced code (RFC 2034 §3).
        self.reply(Reply::plain(C::C334_AUTH_CHALLENGE, text));
        match self.read_line(MAX_AUTH_LINE, self.command_timeout()).await {
            Ok(Line::Line(l)) => match String::from_utf8(l) {
                Ok(s) => Step::Line(s),
                Err(_) => Step::Failed(sasl_reply(SaslError::BadBase64)),
            },
            // RFC 4954 §4: "500 5.5.6 Authentication Exchange line is too long".
            Ok(Line::TooLong) => Step::Failed(Reply::new(
                C::C500_SYNTAX_ERROR,
                E::S5_5_6_AUTH_LINE_TOO_LONG,
                "Authentication exchange line is too long",
            )),
            Ok(Line::Eof) | Err(WireError::Closed) => Step::Close,
            Err(WireError::Timeout) => {
                self.timeout_reply();
                Step::Close
            }
        }
    }

    pub(super) async fn auth(&mut self, mechanism: String, initial: Option<String>) -> Flow {
        if self.tls.is_none() {
            // RFC 4954 §4 / §6: plaintext mechanisms only under TLS.
            self.refuse(Reply::new(
                C::C538_ENCRYPTION_REQUIRED,
                E::S5_7_11_ENCRYPTION_REQUIRED,
                "Encryption required for requested authentication mechanism (use STARTTLS)",
            ));
            return Flow::Continue;
        }
        let sequence_error = if self.helo.is_none() || !self.esmtp {
            Some("Send EHLO first")
        } else if self.user.is_some() {
            // RFC 4954 §4: "After a successful AUTH command completes, a server MUST
            // reject any further AUTH commands with a 503 reply."
            Some("Already authenticated")
        } else if self.tx.is_some() {
            // RFC 4954 §4: "The AUTH command is not permitted during a mail transaction."
            Some("AUTH is not permitted during a mail transaction")
        } else {
            None
        };
        if let Some(why) = sequence_error {
            self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                why,
            ));
            return Flow::Continue;
        }
        let Ok(mech) = mechanism.parse::<Mechanism>() else {
            // RFC 4954 §4: 504 for a mechanism the server does not support.
            self.refuse(Reply::new(
                C::C504_PARAMETER_NOT_IMPLEMENTED,
                E::S5_5_4_INVALID_ARGUMENTS,
                "Unrecognized authentication mechanism (PLAIN and LOGIN are offered)",
            ));
            return Flow::Continue;
        };
        let credentials = match mech {
            Mechanism::Plain => self.plain(initial).await,
            Mechanism::Login => self.login(initial).await,
        };
        let (login, password) = match credentials {
            Ok(c) => c,
            Err(Some(reply)) => {
                self.refuse(reply);
                return Flow::Continue;
            }
            Err(None) => return Flow::Close,
        };
        // One login per client at a time, from the lockout check to the end of a
        // failure's delay: parallel guesses are counted and delayed like sequential
        // ones (crate::auth, "Parallel guesses").
        let ctx = std::sync::Arc::clone(&self.ctx);
        let Some(turn) = ctx.logins.gate(self.ip, LOGIN_TURN_WAIT).await else {
            tracing::warn!(client = %self.ip, login = %login, outcome = "busy",
                "AUTH not checked: this client's other logins did not finish in time");
            self.refuse(Reply::new(
                C::C454_TEMPORARY_AUTH_FAILURE,
                E::S4_7_0_SECURITY,
                "Temporary authentication failure: too many logins at once from your address; try again later",
            ));
            return Flow::Continue;
        };
        if self.ctx.logins.admit(self.ip, &login) == Admission::LockedOut {
            tracing::warn!(client = %self.ip, login = %login, outcome = "locked out", "AUTH refused: too many failures");
            self.refuse(Reply::new(
                C::C454_TEMPORARY_AUTH_FAILURE,
                E::S4_7_0_SECURITY,
                "Too many failed logins; try again later",
            ));
            return Flow::Continue;
        }
        match self.ctx.accounts.verify(&login, password).await {
            Verification::Valid(user) => {
                self.ctx.logins.succeeded(self.ip, &login, &user.address);
                tracing::info!(client = %self.ip, user = %user.address, mechanism = %mech, outcome = "authenticated", "AUTH");
                self.user = Some(user);
                self.reply(Reply::new(
                    C::C235_AUTH_SUCCEEDED,
                    E::S2_7_0_AUTH_SUCCEEDED,
                    "Authentication succeeded",
                ));
            }
            Verification::Busy => {
                // RFC 4954 §6: 454 4.7.0 "Temporary authentication failure".
                tracing::warn!(client = %self.ip, login = %login, outcome = "busy",
                    "AUTH not checked: too many password checks running");
                self.refuse(Reply::new(
                    C::C454_TEMPORARY_AUTH_FAILURE,
                    E::S4_7_0_SECURITY,
                    "Temporary authentication failure: server busy; try again later",
                ));
            }
            Verification::Invalid { account } => {
                let delay = self.ctx.logins.failed(self.ip, &login, account.as_deref());
                tracing::warn!(client = %self.ip, login = %login, mechanism = %mech, delay_ms = delay.as_millis() as u64,
                    outcome = "failed", "AUTH failed");
                // Send nothing until the delay is over: pipelined guesses wait too.
                if self.flush().await.is_err() {
                    return Flow::Close;
                }
                tokio::time::sleep(delay).await;
                drop(turn);
                self.refuse(Reply::new(
                    C::C535_AUTH_CREDENTIALS_INVALID,
                    E::S5_7_8_AUTH_CREDENTIALS_INVALID,
                    "Authentication credentials invalid",
                ));
            }
        }
        Flow::Continue
    }

    /// PLAIN: one message, as the initial response or after an empty challenge.
    /// `Err(None)` means the connection is gone.
    async fn plain(&mut self, initial: Option<String>) -> Result<(String, String), Option<Reply>> {
        let line = match initial {
            Some(l) => l,
            None => match self.challenge("").await {
                Step::Line(l) => l,
                Step::Failed(r) => return Err(Some(r)),
                Step::Close => return Err(None),
            },
        };
        let bytes = sasl::decode_response(&line).map_err(|e| Some(sasl_reply(e)))?;
        let c = sasl::parse_plain(&bytes).map_err(|e| Some(sasl_reply(e)))?;
        // Acting as another identity (authzid) is not supported: RFC 4616 §2 lets
        // the server refuse it; it counts as a failed login.
        if c.authzid
            .as_deref()
            .is_some_and(|z| !z.eq_ignore_ascii_case(&c.authcid))
        {
            return Ok((c.authcid, String::new()));
        }
        Ok((c.authcid, c.password))
    }

    /// LOGIN: user name and password, each after its challenge (the user name may
    /// come as the initial response).
    async fn login(&mut self, initial: Option<String>) -> Result<(String, String), Option<Reply>> {
        let user_line = match initial {
            Some(l) => l,
            None => match self.challenge(sasl::LOGIN_USERNAME_CHALLENGE).await {
                Step::Line(l) => l,
                Step::Failed(r) => return Err(Some(r)),
                Step::Close => return Err(None),
            },
        };
        let user = sasl::decode_response(&user_line)
            .and_then(|b| sasl::parse_login_field(&b))
            .map_err(|e| Some(sasl_reply(e)))?;
        let pass_line = match self.challenge(sasl::LOGIN_PASSWORD_CHALLENGE).await {
            Step::Line(l) => l,
            Step::Failed(r) => return Err(Some(r)),
            Step::Close => return Err(None),
        };
        let pass = sasl::decode_response(&pass_line)
            .and_then(|b| sasl::parse_login_field(&b))
            .map_err(|e| Some(sasl_reply(e)))?;
        Ok((user, pass))
    }
}

fn sasl_reply(e: SaslError) -> Reply {
    match e {
        // RFC 4954 §4: "*" cancels with 501.
        SaslError::Cancelled => Reply::new(
            C::C501_SYNTAX_ERROR_IN_PARAMETERS,
            E::S5_0_0_PERMANENT,
            "Authentication cancelled",
        ),
        SaslError::UnknownMechanism => Reply::new(
            C::C504_PARAMETER_NOT_IMPLEMENTED,
            E::S5_5_4_INVALID_ARGUMENTS,
            "Unrecognized authentication mechanism",
        ),
        // RFC 4954 §4: undecodable base64 gets 501.
        _ => Reply::new(
            C::C501_SYNTAX_ERROR_IN_PARAMETERS,
            E::S5_5_2_SYNTAX_ERROR,
            format!("Cannot decode the response: {e}"),
        ),
    }
}
