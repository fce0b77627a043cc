//! The mail transaction on an open session (RFC 5321 §3.3): MAIL, RCPT for each
//! recipient, DATA, the message, and the reply to its end; pipelined when the server
//! offers PIPELINING (RFC 2920).
//!
//! Every reply is read against what RFC 5321 §4.3.2 allows for its command, because a
//! reply read as the wrong kind can make a message count as delivered that was never
//! sent:
//!
//! ```text
//! MAIL:  S: 250            E: 552, 451, 452, 550, 553, 503, 455, 555
//! RCPT:  S: 250, 251       E: 550, 551, 552, 553, 450, 451, 452, 503, 455, 555
//! DATA:  I: 354 -> data -> S: 250
//!                          E: 552, 554, 451, 452, 450, 550, 503, 554
//! ```
//!
//! - MAIL and RCPT: 2yz goes on; 4yz and 5yz are the outcome of the recipients they
//!   concern; anything else (a 3yz) is a protocol error.
//! - DATA: only 354 opens the message (RFC 5321 §4.1.1.4); 4yz and 5yz are the
//!   outcome of the accepted recipients; anything else, a 250 above all, is a protocol
//!   error, never "delivered".
//! - A protocol error before the message was sent is a [`SessionError::Protocol`]: the
//!   server cannot have the message, so the caller may try another server, and the
//!   recipients end up deferred.
//! - Once the whole message is sent, the server may have it. A reply to the end of
//!   data that never comes (timeout, lost connection) or makes no sense is a
//!   temporary failure of the recipients *in this transaction*: they wait for the next
//!   scheduled retry and are not sent to another server in the same run, which would
//!   risk a second copy (RFC 5321 §4.5.3.2.6, §6.1). The session is not reused.
//! - Addresses are checked before anything is written ([`super::address`]).

use std::time::Duration;

use sendwell_smtp::Reply;

use super::address::{check_address, check_reverse_path};
use super::{
    Capabilities, ClientConfig, Conn, Envelope, RecipientOutcome, SessionError, reply_line,
};
use crate::wire::{dot_stuff, has_8bit};

/// One recipient's outcome and the server's reply (one line) that decided it, if any.
pub(crate) type Decided = (RecipientOutcome, Option<String>);

/// How a reply to MAIL, RCPT or DATA reads.
enum Answer {
    /// The command succeeded: go on.
    Proceed,
    /// A 4yz or 5yz: the outcome of the recipients it concerns.
    Refused(Decided),
}

/// What a command's success looks like (RFC 5321 §4.3.2).
#[derive(Clone, Copy)]
enum Expect {
    /// 2yz (MAIL, RCPT).
    Completion,
    /// 354 (DATA, RFC 5321 §4.1.1.4).
    StartMailInput,
}

/// Read `reply` to `command` against RFC 5321 §4.3.2.
fn answer(reply: &Reply, expect: Expect, command: &str) -> Result<Answer, SessionError> {
    let code = reply.code.get();
    let proceed = match expect {
        Expect::Completion => reply.code.is_positive(),
        // RFC 5321 §4.1.1.4: "If accepted, the SMTP server returns a 354 Intermediate
        // reply"; only then is the message sent.
        Expect::StartMailInput => code == 354,
    };
    if proceed {
        Ok(Answer::Proceed)
    } else if reply.code.is_transient() || reply.code.is_permanent() {
        Ok(Answer::Refused((
            RecipientOutcome::from_reply(reply),
            Some(reply_line(reply)),
        )))
    } else {
        // RFC 5321 §4.3.2 lists no such reply to this command: the server is out of
        // step with us, and nothing it said can be taken as an outcome.
        Err(SessionError::Protocol(format!(
            "unexpected reply to {command}: {}",
            reply_line(reply)
        )))
    }
}

/// Our own permanent failure: no server reply involved.
fn local_failure(status: &str, reason: String) -> Decided {
    (
        RecipientOutcome::Failed {
            status: status.to_string(),
            reason,
            remote: false,
        },
        None,
    )
}

/// Per recipient, a failure decided before any command is written: an address that
/// cannot be written (RFC 5321 §4.1.2). A bad reverse-path fails every recipient.
pub(crate) fn refused_addresses(envelope: &Envelope<'_>) -> Vec<Option<Decided>> {
    let n = envelope.recipients.len();
    if let Err(e) = check_reverse_path(envelope.mail_from) {
        // RFC 3463 §3.2: X.1.7 bad sender's mailbox address syntax.
        let failure = local_failure("5.1.7", format!("the sender address cannot be sent: {e}"));
        return vec![Some(failure); n];
    }
    envelope
        .recipients
        .iter()
        .map(|r| {
            check_address(r).err().map(|e| {
                // RFC 3463 §3.2: X.1.3 bad destination mailbox address syntax.
                local_failure(
                    "5.1.3",
                    format!("the recipient address cannot be sent: {e}"),
                )
            })
        })
        .collect()
}

fn finish(decided: Vec<Option<Decided>>) -> Vec<Decided> {
    decided
        .into_iter()
        .map(|d| {
            d.unwrap_or_else(|| {
                // Unreachable by construction: every recipient is decided before return.
                (
                    RecipientOutcome::Deferred {
                        status: "4.0.0".into(),
                        reason: "no outcome recorded".into(),
                    },
                    None,
                )
            })
        })
        .collect()
}

/// End a DATA that was answered 354 although no recipient may receive the message
/// (RFC 2920 §3.1): an empty message, then the reply. Any other reply than 354, 4yz or
/// 5yz leaves the session out of step.
async fn close_unwanted_data(
    conn: &mut Conn,
    data_reply: &Reply,
    block: Duration,
    end: Duration,
) -> Result<(), SessionError> {
    let code = data_reply.code;
    if code.get() == 354 {
        conn.send(b".\r\n", block, "DATA").await?;
        let _ = conn.read_reply(end, "end of data").await?;
    } else if !(code.is_transient() || code.is_permanent()) {
        conn.broken = true;
    }
    Ok(())
}

/// One transaction on `conn`: every recipient gets an outcome, and the reply that
/// decided it when a server's reply did.
pub(crate) async fn mail_transaction(
    conn: &mut Conn,
    caps: &Capabilities,
    config: &ClientConfig,
    envelope: Envelope<'_>,
    message: &[u8],
) -> Result<Vec<Decided>, SessionError> {
    let t = config.timeouts;
    // RFC 5321 §4.1.2: only well-formed paths are written.
    let mut decided = refused_addresses(&envelope);
    let to_send: Vec<usize> = (0..decided.len())
        .filter(|&i| decided[i].is_none())
        .collect();
    if to_send.is_empty() {
        return Ok(finish(decided));
    }
    let fail_rest = |decided: &mut Vec<Option<Decided>>, d: Decided| {
        for &i in &to_send {
            decided[i] = Some(d.clone());
        }
    };

    let wire = dot_stuff(message);
    // The size the server will count: the message with CRLF endings (RFC 1870 §3).
    let size = wire.len().saturating_sub(3) as u64;
    // RFC 1870 §6.1: do not send a message larger than the announced limit.
    if let Some(Some(limit)) = caps.size
        && limit > 0
        && size > limit
    {
        fail_rest(
            &mut decided,
            local_failure(
                "5.3.4",
                format!(
                    "the message ({size} octets) is larger than the server's limit ({limit} octets)"
                ),
            ),
        );
        return Ok(finish(decided));
    }
    let eight_bit = has_8bit(message);
    // RFC 6152 §3: 8-bit data only to a server that announces 8BITMIME.
    if eight_bit && !caps.eight_bit {
        fail_rest(
            &mut decided,
            local_failure(
                "5.6.3",
                "the message has 8-bit content and the server does not support 8BITMIME".into(),
            ),
        );
        return Ok(finish(decided));
    }
    let utf8 = !envelope.mail_from.is_ascii()
        || to_send.iter().any(|&i| !envelope.recipients[i].is_ascii());
    // RFC 6531 §3.2: UTF-8 addresses only to a server that announces SMTPUTF8.
    if utf8 && !caps.smtputf8 {
        fail_rest(
            &mut decided,
            local_failure(
                "5.6.7",
                "the addresses need SMTPUTF8 and the server does not support it".into(),
            ),
        );
        return Ok(finish(decided));
    }

    let mut mail = format!("MAIL FROM:<{}>", envelope.mail_from);
    if caps.size.is_some() {
        mail.push_str(&format!(" SIZE={size}"));
    }
    if eight_bit {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    mail.push_str("\r\n");
    let rcpt = |i: usize| format!("RCPT TO:<{}>\r\n", envelope.recipients[i]);

    let mut accepted: Vec<usize> = Vec::with_capacity(to_send.len());
    let data_reply = if caps.pipelining {
        // RFC 2920 §3.1: MAIL, RCPT and DATA may go in one group; replies come in order.
        let mut group = mail.into_bytes();
        for &i in &to_send {
            group.extend_from_slice(rcpt(i).as_bytes());
        }
        group.extend_from_slice(b"DATA\r\n");
        conn.send(&group, t.mail_rcpt, "MAIL").await?;
        let mail_reply = conn.read_reply(t.mail_rcpt, "MAIL").await?;
        let mail_answer = answer(&mail_reply, Expect::Completion, "MAIL")?;
        let mut rcpt_replies = Vec::with_capacity(to_send.len());
        for &i in &to_send {
            rcpt_replies.push((i, conn.read_reply(t.mail_rcpt, "RCPT").await?));
        }
        let data_reply = conn.read_reply(t.data_init, "DATA").await?;
        if let Answer::Refused(refusal) = mail_answer {
            // The reverse-path was refused: every recipient shares that fate, and the
            // RCPT and DATA replies are only its consequences.
            close_unwanted_data(conn, &data_reply, t.data_block, t.data_end).await?;
            // A session left broken (the server answered DATA with something it should
            // not have) is dropped by the caller; an RSET there could be read as message
            // data and wait out the command timeout, and the MAIL refusal still decides.
            if !conn.broken {
                reset(conn, config).await?;
            }
            fail_rest(&mut decided, refusal);
            return Ok(finish(decided));
        }
        for (i, reply) in rcpt_replies {
            match answer(&reply, Expect::Completion, "RCPT")? {
                Answer::Proceed => accepted.push(i),
                Answer::Refused(refusal) => decided[i] = Some(refusal),
            }
        }
        if accepted.is_empty() {
            close_unwanted_data(conn, &data_reply, t.data_block, t.data_end).await?;
            return Ok(finish(decided));
        }
        data_reply
    } else {
        conn.send(mail.as_bytes(), t.mail_rcpt, "MAIL").await?;
        let mail_reply = conn.read_reply(t.mail_rcpt, "MAIL").await?;
        if let Answer::Refused(refusal) = answer(&mail_reply, Expect::Completion, "MAIL")? {
            reset(conn, config).await?;
            fail_rest(&mut decided, refusal);
            return Ok(finish(decided));
        }
        for &i in &to_send {
            conn.send(rcpt(i).as_bytes(), t.mail_rcpt, "RCPT").await?;
            let reply = conn.read_reply(t.mail_rcpt, "RCPT").await?;
            match answer(&reply, Expect::Completion, "RCPT")? {
                Answer::Proceed => accepted.push(i),
                Answer::Refused(refusal) => decided[i] = Some(refusal),
            }
        }
        if accepted.is_empty() {
            return Ok(finish(decided));
        }
        conn.send(b"DATA\r\n", t.data_init, "DATA").await?;
        conn.read_reply(t.data_init, "DATA").await?
    };

    // RFC 5321 §4.1.1.4, §4.3.2: only 354 lets the message go; a 4yz or 5yz is the
    // accepted recipients' outcome; anything else (a 250 to DATA) is a protocol error.
    if let Answer::Refused(refusal) = answer(&data_reply, Expect::StartMailInput, "DATA")? {
        for &i in &accepted {
            decided[i] = Some(refusal.clone());
        }
        return Ok(finish(decided));
    }

    // RFC 5321 §4.5.3.2.5: the data block timeout applies to each write.
    for chunk in wire.chunks(64 * 1024) {
        conn.send(chunk, t.data_block, "the message data").await?;
    }
    // From here on the server may have the message: whatever happens is an outcome
    // for the accepted recipients, never a reason to try another server now.
    let outcome = match conn.read_reply(t.data_end, "end of data").await {
        Ok(reply) if reply.code.get() / 100 != 3 => (
            RecipientOutcome::from_reply(&reply),
            Some(reply_line(&reply)),
        ),
        Ok(reply) => {
            conn.broken = true;
            let line = reply_line(&reply);
            (
                // RFC 3463 §3.6: X.5.0 other or undefined protocol status.
                RecipientOutcome::Deferred {
                    status: "4.5.0".into(),
                    reason: format!(
                        "unexpected reply to the end of data: {line}; the server may have the message, so it is retried at the next scheduled attempt"
                    ),
                },
                Some(line),
            )
        }
        Err(e) => {
            conn.broken = true;
            // RFC 5321 §4.5.3.2.6: a timeout here "would typically result in delivery
            // of multiple copies of the message" (§6.1): retried later, not elsewhere.
            (
                // RFC 3463 §3.5: X.4.2 bad connection.
                RecipientOutcome::Deferred {
                    status: "4.4.2".into(),
                    reason: format!(
                        "no reply to the end of data ({e}); the server may have the message, so it is retried at the next scheduled attempt, not at another server now"
                    ),
                },
                None,
            )
        }
    };
    for &i in &accepted {
        decided[i] = Some(outcome.clone());
    }
    Ok(finish(decided))
}

/// RSET after a refused MAIL (RFC 5321 §4.1.1.5), its reply read too, so a cached
/// session stays in step.
async fn reset(conn: &mut Conn, config: &ClientConfig) -> Result<(), SessionError> {
    let t = config.timeouts;
    conn.send(b"RSET\r\n", t.command, "RSET").await?;
    let _ = conn.read_reply(t.command, "RSET").await?;
    Ok(())
}
