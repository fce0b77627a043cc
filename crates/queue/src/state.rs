//! Per-message delivery state files: `queue/state/<id>`, one self-checking record
//! (kind 2, the [`MessageState`] as JSON), replaced atomically (write a temporary
//! file, rename; for administrative changes also fsync both, see [`write`]). A state
//! file that a crash left damaged reads as absent. No state file means "just accepted":
//! the accept path never writes one.
//!
//! The server and `sendwell queue` may both change a state; each does its
//! read-modify-write under an exclusive lock on `queue/state.lock`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::message::{DeliveryStatus, MessageState};
use crate::record;
use crate::{QueueError, QueueId};

/// The record kind of a state file.
const KIND_STATE: u8 = 2;

pub(crate) fn state_dir(queue_dir: &Path) -> PathBuf {
    queue_dir.join("state")
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> QueueError + 'a {
    move |source| QueueError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Read a state file; `Ok(None)` when there is none. A damaged file is reported as
/// absent (the message then counts as not yet delivered: delivery is at least once).
pub(crate) fn read(queue_dir: &Path, id: QueueId) -> Result<Option<MessageState>, QueueError> {
    let path = state_dir(queue_dir).join(id.to_string());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
    };
    match record::decode_at(&bytes, 0) {
        Ok(r) if r.kind == KIND_STATE && r.len == bytes.len() => {
            match serde_json::from_slice(r.meta) {
                Ok(s) => Ok(Some(s)),
                Err(e) => {
                    tracing::warn!(queue_id = %id, error = %e, "state file unreadable; ignored");
                    Ok(None)
                }
            }
        }
        _ => {
            tracing::warn!(queue_id = %id, path = %path.display(), "state file damaged; ignored");
            Ok(None)
        }
    }
}

/// True when `state` holds a fact a notification was sent on: a recipient `Failed`
/// (a bounce was queued) or `delay_notified` (a delay notice was). Such a state is
/// only ever replaced durably: a lazy replacement that a crash tore would read as no
/// state at all, the recipient would be tried again, and its sender notified twice.
pub(crate) fn holds_notified_fact(state: &MessageState) -> bool {
    state
        .recipients
        .iter()
        .any(|r| r.status == DeliveryStatus::Failed || r.delay_notified)
}

/// Replace a state file atomically; with `durable`, also on stable storage before this
/// returns (data and directory entry synced).
///
/// Plain delivery outcomes and retry bookkeeping are written without the syncs: losing
/// one in a crash only means the recipient is tried again (delivery is at least once, as
/// with every MTA; Postfix does not sync after a delivery either), and two syncs per
/// delivered message under the state lock would serialise the delivery agents. Changes
/// a notification depends on ([`holds_notified_fact`]) and administrative changes
/// (`sendwell queue delete`/`retry`) are durable: a deleted message must stay deleted,
/// a bounced recipient bounced once.
pub(crate) fn write(
    queue_dir: &Path,
    id: QueueId,
    state: &MessageState,
    durable: bool,
) -> Result<(), QueueError> {
    let dir = state_dir(queue_dir);
    let path = dir.join(id.to_string());
    let tmp = dir.join(format!(".{id}.tmp"));
    // Serialising our own plain struct cannot fail.
    let meta = serde_json::to_vec(state).unwrap_or_default();
    let bytes = record::encode(KIND_STATE, &meta, b"");
    let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(&bytes).map_err(io("write", &tmp))?;
    if durable {
        f.sync_data().map_err(io("sync", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    if durable { sync_dir(&dir) } else { Ok(()) }
}

/// Remove a state file (after its message left the queue).
pub(crate) fn remove(queue_dir: &Path, id: QueueId) {
    let _ = std::fs::remove_file(state_dir(queue_dir).join(id.to_string()));
}

/// fsync a directory, so entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

/// Exclusive lock on `queue/state.lock`, held while a state is read and rewritten.
pub(crate) struct StateLock(File);

impl StateLock {
    pub(crate) fn acquire(queue_dir: &Path) -> Result<StateLock, QueueError> {
        let path = queue_dir.join("state.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        f.lock().map_err(io("lock", &path))?;
        Ok(StateLock(f))
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notified_fact_forces_durable_writes() {
        let mut state = MessageState::new(2);
        assert!(!holds_notified_fact(&state));
        state.recipients[0].status = DeliveryStatus::Delivered;
        assert!(
            !holds_notified_fact(&state),
            "a delivery is retry bookkeeping"
        );
        state.recipients[1].delay_notified = true;
        assert!(holds_notified_fact(&state));
        state.recipients[1].delay_notified = false;
        state.recipients[1].status = DeliveryStatus::Failed;
        assert!(holds_notified_fact(&state));
    }
}
