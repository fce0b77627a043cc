//! NOOP, HELP, VRFY, EXPN and QUIT (RFC 5321 §4.1.1.6-4.1.1.10).
//!
//! VRFY answers 252 (RFC 5321 §3.5.3: "cannot VRFY user, but will accept message and
//! attempt delivery"), so addresses cannot be harvested with it; EXPN is not
//! offered (§3.5.2 allows that). All of them count as commands without a
//! transaction.

use sendwell_queue::QueueStore;
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{Reply, ReplyCode as C};

use super::{Flow, Session};

impl<S: QueueStore + Clone> Session<S> {
    pub(super) fn noop(&mut self) {
        self.idle();
        self.reply(Reply::new(C::C250_OK, E::S2_0_0_OK, "OK"));
    }

    pub(super) fn help(&mut self) {
        self.idle();
        self.reply(Reply::new(
            C::C214_HELP_MESSAGE,
            E::S2_0_0_OK,
            "Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT",
        ));
    }

    pub(super) fn vrfy(&mut self) {
        self.idle();
        self.reply(Reply::new(
            C::C252_CANNOT_VRFY,
            E::S2_0_0_OK,
            "Cannot VRFY user, but will accept message and attempt delivery",
        ));
    }

    pub(super) fn expn(&mut self) {
        self.idle();
        self.refuse(Reply::new(
            C::C502_COMMAND_NOT_IMPLEMENTED,
            E::S5_5_1_INVALID_COMMAND,
            "EXPN is not available",
        ));
    }

    pub(super) fn quit(&mut self) -> Flow {
        self.reply(Reply::new(
            C::C221_SERVICE_CLOSING,
            E::S2_0_0_OK,
            format!("{} closing connection", self.ctx.hostname),
        ));
        Flow::Close
    }
}
