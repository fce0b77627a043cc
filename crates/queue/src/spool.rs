//! [`FileStore`]: the queue on local disk.
//!
//! ```text
//! DIR/queue/
//!   server.lock          held (flock) by the one `sendwell serve` using this queue
//!   state.lock           held while a state file is read and rewritten
//!   segments/<N>.seg     append-only files of self-checking records (see `record`)
//!   state/<queue id>     delivery state of a message, once it has changed
//! ```
//!
//! Accepting: the session encodes the record (and its CRC) and hands it to the
//! committer thread. The committer takes every record waiting, writes them to the
//! current segment and calls `fdatasync` once for all of them (group commit), then
//! answers each session. A new segment's directory entry is synced before the first
//! record in it is written. So when a session hears "stored", its data and the
//! directory entry that finds it are on stable storage, and the 250 may go out.
//!
//! Recovery (opening the store): every segment is scanned; valid records become
//! messages, their state comes from their state file (or is "all queued"), finished
//! ones are dropped, and segments with nothing left are deleted. A damaged stretch is
//! reported, never read as a message: a torn tail was never acknowledged.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use crate::message::{DeliveryStatus, Envelope, MessageState, QueuedMessage, RecipientState};
use crate::record::{self, Damage, KIND_MESSAGE};
use crate::state::{self, StateLock};
use crate::{Durability, QueueError, QueueId, QueueStore};

/// A segment is closed and a new one started past this size.
const SEGMENT_MAX: u64 = 16 * 1024 * 1024;
/// The committer takes at most this many bytes into one commit.
const BATCH_MAX: usize = 8 * 1024 * 1024;
/// How often a serving store looks for state changes made by `sendwell queue` and
/// for segments to delete.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// What opening the store found on disk.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    /// Messages still to deliver.
    pub messages: usize,
    /// Recipients still queued among them.
    pub recipients: usize,
    /// Segment files read.
    pub segments: usize,
    /// Segment files deleted because nothing in them was left to deliver.
    pub segments_removed: usize,
    /// Damaged stretches: (segment file, damage). A stretch at the end of a segment
    /// is a write torn by a crash; it was never acknowledged.
    pub damaged: Vec<(PathBuf, Damage)>,
}

impl std::fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} message(s) with {} recipient(s) queued, from {} segment(s); {} segment(s) removed; {} damaged stretch(es)",
            self.messages,
            self.recipients,
            self.segments,
            self.segments_removed,
            self.damaged.len()
        )
    }
}

struct Entry {
    segment: u64,
    offset: u64,
    data_len: u64,
    envelope: Envelope,
    state: MessageState,
    /// The state file's modification time when last read or written.
    state_mtime: Option<SystemTime>,
}

#[derive(Default)]
struct Segment {
    /// Every message ever in it (for deleting their state files with it).
    ids: Vec<QueueId>,
    /// How many are still in the queue.
    live: usize,
}

#[derive(Default)]
struct Index {
    messages: BTreeMap<QueueId, Entry>,
    segments: BTreeMap<u64, Segment>,
    /// The segment the committer is appending to (never deleted while in use).
    current: Option<u64>,
}

struct Shared {
    dir: PathBuf,
    index: Mutex<Index>,
    /// True when this process holds `server.lock` and may delete files.
    exclusive: bool,
    _server_lock: Option<File>,
}

struct Job {
    envelope: Envelope,
    head: Vec<u8>,
    data: Arc<[u8]>,
    trailer: [u8; 4],
    reply: tokio::sync::oneshot::Sender<Result<(), QueueError>>,
}

/// The queue on local disk. Cheap to clone; all clones share one committer.
#[derive(Clone)]
pub struct FileStore {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<Job>>,
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> QueueError + 'a {
    move |source| QueueError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join("segments").join(format!("{n:016X}.seg"))
}

impl FileStore {
    /// Open the queue in `queue_dir` for a server: create it if needed, take the
    /// server lock (fails with [`QueueError::Locked`] if another server has it),
    /// recover, and start the committer.
    pub fn open(queue_dir: &Path) -> Result<(FileStore, RecoveryReport), QueueError> {
        for d in [
            queue_dir.to_path_buf(),
            queue_dir.join("segments"),
            queue_dir.join("state"),
        ] {
            std::fs::create_dir_all(&d).map_err(io("create directory", &d))?;
        }
        // The directories themselves must survive a crash too.
        if let Some(parent) = queue_dir.parent() {
            state::sync_dir(parent)?;
        }
        state::sync_dir(queue_dir)?;
        let lock = lock_server(queue_dir)?.ok_or_else(|| QueueError::Locked(queue_dir.into()))?;
        let (shared, report) = Self::load(queue_dir, Some(lock))?;
        let shared = Arc::new(shared);
        let (tx, rx) = mpsc::channel();
        let committer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("queue-commit".into())
            .spawn(move || commit_loop(&committer, rx))
            .map_err(io("start the committer thread", queue_dir))?;
        let weak = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("queue-refresh".into())
            .spawn(move || refresh_loop(weak))
            .map_err(io("start the refresh thread", queue_dir))?;
        Ok((
            FileStore {
                shared,
                tx: Some(tx),
            },
            report,
        ))
    }

    /// Open the queue for inspection and changes by `sendwell queue` while a server
    /// may be running: no committer (enqueue fails), and files are deleted only when
    /// no server holds the queue.
    pub fn open_for_admin(queue_dir: &Path) -> Result<(FileStore, RecoveryReport), QueueError> {
        if !queue_dir.join("segments").is_dir() {
            return Err(QueueError::Io {
                what: "open the queue",
                path: queue_dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no queue here (has `sendwell serve` run in this directory?)",
                ),
            });
        }
        let lock = lock_server(queue_dir)?;
        let (shared, report) = Self::load(queue_dir, lock)?;
        Ok((
            FileStore {
                shared: Arc::new(shared),
                tx: None,
            },
            report,
        ))
    }

    fn load(queue_dir: &Path, lock: Option<File>) -> Result<(Shared, RecoveryReport), QueueError> {
        let exclusive = lock.is_some();
        let mut report = RecoveryReport::default();
        let mut index = Index::default();
        let seg_dir = queue_dir.join("segments");
        let mut segs: Vec<u64> = std::fs::read_dir(&seg_dir)
            .map_err(io("read directory", &seg_dir))?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
            })
            .collect();
        segs.sort_unstable();
        for n in segs {
            let path = segment_path(queue_dir, n);
            let bytes = std::fs::read(&path).map_err(io("read", &path))?;
            report.segments += 1;
            let (records, damage) = record::scan(&bytes);
            for d in damage {
                // A stretch at the very end of a segment that a live server is still
                // writing is an append in progress, not damage; only a serving
                // (exclusive) open can tell, and only it reports.
                if exclusive {
                    tracing::warn!(segment = %path.display(), offset = d.offset, len = d.len,
                        torn_tail = d.at_end, "damaged stretch in the queue; not a message (never acknowledged if torn)");
                    report.damaged.push((path.clone(), d));
                }
            }
            let mut seg = Segment::default();
            for r in records {
                if r.kind != KIND_MESSAGE {
                    continue;
                }
                let Ok(envelope) = serde_json::from_slice::<Envelope>(r.meta) else {
                    tracing::warn!(segment = %path.display(), offset = r.offset, "unreadable envelope; skipped");
                    continue;
                };
                let id = envelope.id;
                QueueId::observe(id);
                seg.ids.push(id);
                let (state, state_mtime) = match state::read(queue_dir, id)? {
                    Some(s) if s.recipients.len() == envelope.recipients.len() => {
                        (s, state_mtime(queue_dir, id))
                    }
                    _ => (MessageState::new(envelope.recipients.len()), None),
                };
                if state.is_finished() {
                    continue;
                }
                seg.live += 1;
                report.messages += 1;
                report.recipients += state
                    .recipients
                    .iter()
                    .filter(|r| r.status == DeliveryStatus::Queued)
                    .count();
                index.messages.insert(
                    id,
                    Entry {
                        segment: n,
                        offset: r.offset as u64,
                        data_len: r.data.len() as u64,
                        envelope,
                        state,
                        state_mtime,
                    },
                );
            }
            index.segments.insert(n, seg);
        }
        let shared = Shared {
            dir: queue_dir.to_path_buf(),
            index: Mutex::new(index),
            exclusive,
            _server_lock: lock,
        };
        if exclusive {
            report.segments_removed = shared.collect_garbage();
            shared.remove_orphan_states();
        }
        Ok((shared, report))
    }

    /// The queue directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Messages with a queued recipient due at `now` (Unix seconds), oldest first: what
    /// a delivery agent should try.
    pub fn due(&self, now: u64) -> Vec<QueuedMessage> {
        let index = self.shared.lock();
        index
            .messages
            .values()
            .filter(|e| {
                !e.state.deleted
                    && e.state.recipients.iter().any(|r| {
                        r.status == DeliveryStatus::Queued
                            && r.next_attempt.is_none_or(|t| t <= now)
                    })
            })
            .map(Entry::to_message)
            .collect()
    }

    /// Look for changes made by another process (`sendwell queue delete|retry`) and
    /// delete finished segments. A serving store does this by itself every 2 s.
    pub fn refresh(&self) {
        self.shared.refresh();
    }

    fn update(
        &self,
        id: QueueId,
        durable: bool,
        f: impl FnOnce(&mut MessageState) -> bool,
    ) -> Result<bool, QueueError> {
        let shared = &self.shared;
        let _lock = StateLock::acquire(&shared.dir)?;
        // Start from the newest state: on disk (another process may have changed it)
        // or in memory.
        let current = {
            let index = shared.lock();
            match index.messages.get(&id) {
                Some(e) => e.state.clone(),
                None => return Ok(false),
            }
        };
        let mut state = match state::read(&shared.dir, id)? {
            Some(s) if s.recipients.len() == current.recipients.len() => s,
            _ => current,
        };
        if !f(&mut state) {
            return Ok(true);
        }
        let durable = durable || state::holds_notified_fact(&state);
        state::write(&shared.dir, id, &state, durable)?;
        let mtime = state_mtime(&shared.dir, id);
        let mut index = shared.lock();
        shared.apply(&mut index, id, state, mtime);
        Ok(true)
    }
}

fn lock_server(queue_dir: &Path) -> Result<Option<File>, QueueError> {
    let path = queue_dir.join("server.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io("lock", &path)(e)),
    }
}

fn state_mtime(queue_dir: &Path, id: QueueId) -> Option<SystemTime> {
    std::fs::metadata(state::state_dir(queue_dir).join(id.to_string()))
        .and_then(|m| m.modified())
        .ok()
}

impl Entry {
    fn to_message(&self) -> QueuedMessage {
        QueuedMessage {
            envelope: self.envelope.clone(),
            state: self.state.clone(),
            size: self.data_len,
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves a consistent index (every change is
        // one insert or remove), so a poisoned lock is still usable.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Put a new state in the index; a finished message leaves it.
    fn apply(
        &self,
        index: &mut Index,
        id: QueueId,
        state: MessageState,
        mtime: Option<SystemTime>,
    ) {
        if state.is_finished() {
            if let Some(e) = index.messages.remove(&id)
                && let Some(seg) = index.segments.get_mut(&e.segment)
            {
                seg.live = seg.live.saturating_sub(1);
            }
        } else if let Some(e) = index.messages.get_mut(&id) {
            e.state = state;
            e.state_mtime = mtime;
        }
    }

    /// Delete segments with no message left (except the one being written), and the
    /// state files of their messages. Returns how many segments went.
    fn collect_garbage(&self) -> usize {
        if !self.exclusive {
            return 0;
        }
        // Under the index lock only the bookkeeping: which segments are finished. The
        // files (a segment and thousands of state files) are removed after the lock is
        // released, so accepting and delivering never wait for the file system here.
        let finished: Vec<(u64, Segment)> = {
            let mut index = self.lock();
            let current = index.current;
            let empty: Vec<u64> = index
                .segments
                .iter()
                .filter(|(n, s)| s.live == 0 && current != Some(**n))
                .map(|(n, _)| *n)
                .collect();
            empty
                .into_iter()
                .filter_map(|n| index.segments.remove(&n).map(|seg| (n, seg)))
                .collect()
        };
        let mut removed = 0;
        for (n, seg) in finished {
            let path = segment_path(&self.dir, n);
            if std::fs::remove_file(&path).is_ok() || !path.exists() {
                removed += 1;
                // Only once the segment is gone: a recovery that still found it must
                // also find its messages' states and know they are finished.
                for id in &seg.ids {
                    state::remove(&self.dir, *id);
                }
            } else {
                // Not removed: keep it known, to try again at the next collection.
                tracing::warn!(path = %path.display(), "cannot remove a finished queue segment");
                self.lock().segments.insert(n, seg);
            }
        }
        removed
    }

    /// Remove state files that belong to no message in any segment, and stale
    /// temporary files (left by a crash during a state write).
    fn remove_orphan_states(&self) {
        let index = self.lock();
        let known: std::collections::HashSet<QueueId> = index
            .segments
            .values()
            .flat_map(|s| s.ids.iter().copied())
            .collect();
        let dir = state::state_dir(&self.dir);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let orphan = match name.parse::<QueueId>() {
                Ok(id) => !known.contains(&id),
                Err(_) => name.starts_with('.') && name.ends_with(".tmp"),
            };
            if orphan {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Apply state files changed by another process, then collect garbage.
    fn refresh(&self) {
        let ids: Vec<(QueueId, Option<SystemTime>)> = {
            let index = self.lock();
            index
                .messages
                .iter()
                .map(|(id, e)| (*id, e.state_mtime))
                .collect()
        };
        for (id, seen) in ids {
            let now = state_mtime(&self.dir, id);
            if now.is_some()
                && now != seen
                && let Ok(Some(s)) = state::read(&self.dir, id)
            {
                let mut index = self.lock();
                let matches = index
                    .messages
                    .get(&id)
                    .is_some_and(|e| e.envelope.recipients.len() == s.recipients.len());
                if matches {
                    self.apply(&mut index, id, s, now);
                }
            }
        }
        self.collect_garbage();
    }
}

fn refresh_loop(shared: Weak<Shared>) {
    loop {
        std::thread::sleep(REFRESH_EVERY);
        match shared.upgrade() {
            Some(s) => s.refresh(),
            None => return,
        }
    }
}

/// The segment being appended to.
struct OpenSegment {
    n: u64,
    file: std::io::BufWriter<File>,
    size: u64,
}

fn new_segment(shared: &Shared) -> std::io::Result<OpenSegment> {
    let n = QueueId::generate().get();
    let path = segment_path(&shared.dir, n);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    // The new directory entry must be durable before any record in it is
    // acknowledged.
    File::open(shared.dir.join("segments"))?.sync_all()?;
    let mut index = shared.lock();
    index.segments.insert(n, Segment::default());
    index.current = Some(n);
    Ok(OpenSegment {
        n,
        file: std::io::BufWriter::with_capacity(256 * 1024, file),
        size: 0,
    })
}

fn commit_loop(shared: &Shared, rx: mpsc::Receiver<Job>) {
    let mut segment: Option<OpenSegment> = None;
    while let Ok(first) = rx.recv() {
        let mut bytes = first.head.len() + first.data.len();
        let mut batch = vec![first];
        while bytes < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => {
                    bytes += job.head.len() + job.data.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let result = (|| -> std::io::Result<(u64, Vec<u64>)> {
            if segment.as_ref().is_none_or(|s| s.size >= SEGMENT_MAX) {
                segment = Some(new_segment(shared)?);
            }
            let seg = segment.as_mut().ok_or(std::io::ErrorKind::Other)?;
            let mut offsets = Vec::with_capacity(batch.len());
            for job in &batch {
                offsets.push(seg.size);
                seg.file.write_all(&job.head)?;
                seg.file.write_all(&job.data)?;
                seg.file.write_all(&job.trailer)?;
                seg.size += (job.head.len() + job.data.len() + job.trailer.len()) as u64;
            }
            seg.file.flush()?;
            // One sync for the whole batch: group commit.
            seg.file.get_ref().sync_data()?;
            tracing::debug!(
                messages = batch.len(),
                bytes,
                segment = seg.n,
                "group commit"
            );
            Ok((seg.n, offsets))
        })();
        match result {
            Ok((n, offsets)) => {
                let mut index = shared.lock();
                for (job, offset) in batch.into_iter().zip(offsets) {
                    let id = job.envelope.id;
                    let state = MessageState::new(job.envelope.recipients.len());
                    if let Some(seg) = index.segments.get_mut(&n) {
                        seg.ids.push(id);
                        seg.live += 1;
                    }
                    index.messages.insert(
                        id,
                        Entry {
                            segment: n,
                            offset,
                            data_len: job.data.len() as u64,
                            envelope: job.envelope,
                            state,
                            state_mtime: None,
                        },
                    );
                    let _ = job.reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "queue write failed; {} message(s) not accepted", batch.len());
                // The segment may now end in a partial record: start a new one.
                if let Some(seg) = segment.take() {
                    shared.lock().current = None;
                    drop(seg);
                }
                for job in batch {
                    let _ = job.reply.send(Err(QueueError::Io {
                        what: "write",
                        path: shared.dir.join("segments"),
                        source: std::io::Error::new(e.kind(), e.to_string()),
                    }));
                }
            }
        }
    }
    // All senders gone: the store is closed. Let the segment be collected later.
    shared.lock().current = None;
}

impl QueueStore for FileStore {
    async fn enqueue(&self, envelope: Envelope, data: Arc<[u8]>) -> Result<(), QueueError> {
        let tx = self.tx.as_ref().ok_or(QueueError::Closed)?;
        if data.len() as u64 > u64::from(u32::MAX) {
            return Err(QueueError::TooLarge);
        }
        // Serialising our own plain struct cannot fail.
        let meta = serde_json::to_vec(&envelope).unwrap_or_default();
        let head = record::encode_head(KIND_MESSAGE, &meta, data.len() as u64);
        let trailer = record::trailer(&head, &data);
        let (reply, wait) = tokio::sync::oneshot::channel();
        tx.send(Job {
            envelope,
            head,
            data,
            trailer,
            reply,
        })
        .map_err(|_| QueueError::Closed)?;
        wait.await.map_err(|_| QueueError::Closed)?
    }

    async fn list(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        let index = self.shared.lock();
        Ok(index.messages.values().map(Entry::to_message).collect())
    }

    async fn get(&self, id: QueueId) -> Result<Option<QueuedMessage>, QueueError> {
        Ok(self.shared.lock().messages.get(&id).map(Entry::to_message))
    }

    async fn read_data(&self, id: QueueId) -> Result<Vec<u8>, QueueError> {
        let (segment, offset, data_len) = {
            let index = self.shared.lock();
            let e = index.messages.get(&id).ok_or(QueueError::NotFound(id))?;
            (e.segment, e.offset, e.data_len)
        };
        let path = segment_path(&self.shared.dir, segment);
        tokio::task::spawn_blocking(move || read_record(&path, id, offset, data_len))
            .await
            .map_err(|_| QueueError::Closed)?
    }

    async fn update_recipients(
        &self,
        id: QueueId,
        updates: Vec<(usize, RecipientState)>,
        durability: Durability,
    ) -> Result<bool, QueueError> {
        let store = self.clone();
        let durable = durability == Durability::Synced;
        tokio::task::spawn_blocking(move || {
            store.update(id, durable, |s| {
                for (i, r) in updates {
                    if let Some(slot) = s.recipients.get_mut(i) {
                        *slot = r;
                    }
                }
                true
            })
        })
        .await
        .map_err(|_| QueueError::Closed)?
    }

    async fn delete(&self, id: QueueId) -> Result<bool, QueueError> {
        let store = self.clone();
        let found = tokio::task::spawn_blocking(move || {
            store.update(id, true, |s| {
                s.deleted = true;
                true
            })
        })
        .await
        .map_err(|_| QueueError::Closed)??;
        if found {
            self.shared.collect_garbage();
        }
        Ok(found)
    }

    async fn retry_now(&self, id: QueueId) -> Result<bool, QueueError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            store.update(id, true, |s| {
                for r in &mut s.recipients {
                    if r.status == DeliveryStatus::Queued {
                        r.next_attempt = None;
                    }
                }
                true
            })
        })
        .await
        .map_err(|_| QueueError::Closed)?
    }
}

/// Read one record back and check it.
///
/// The lengths in the record's header are checked before anything is allocated from
/// them: the header is not covered by the checksum until the whole record is read, so
/// a damaged length must not decide how much memory is asked for. The envelope length
/// is bounded by [`record::MAX_META`], the data length must be the one recovery
/// indexed, and the record must fit in the file.
fn read_record(
    path: &Path,
    id: QueueId,
    offset: u64,
    data_len: u64,
) -> Result<Vec<u8>, QueueError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).map_err(io("open", path))?;
    let file_len = f.metadata().map_err(io("stat", path))?.len();
    f.seek(SeekFrom::Start(offset)).map_err(io("seek", path))?;
    let mut head = [0u8; record::HEADER_LEN];
    f.read_exact(&mut head).map_err(io("read", path))?;
    let meta_len = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as u64;
    let head_data_len = u64::from_le_bytes([
        head[12], head[13], head[14], head[15], head[16], head[17], head[18], head[19],
    ]);
    if head[..4] != record::MAGIC || meta_len > record::MAX_META as u64 || head_data_len != data_len
    {
        return Err(QueueError::Damaged(id));
    }
    let total = record::HEADER_LEN as u64 + meta_len + data_len + record::TRAILER_LEN as u64;
    if offset.saturating_add(total) > file_len {
        return Err(QueueError::Damaged(id));
    }
    let mut buf = vec![0u8; total as usize];
    buf[..record::HEADER_LEN].copy_from_slice(&head);
    f.read_exact(&mut buf[record::HEADER_LEN..])
        .map_err(io("read", path))?;
    let r = record::decode_at(&buf, 0).map_err(|_| QueueError::Damaged(id))?;
    Ok(r.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Destination, Recipient};

    pub(crate) fn envelope(n: usize) -> Envelope {
        Envelope {
            id: QueueId::generate(),
            sender: "a@example.test".into(),
            recipients: (0..n)
                .map(|i| Recipient {
                    address: format!("r{i}@remote.test"),
                    original: None,
                    destination: Destination::Remote,
                })
                .collect(),
            received_at: 0,
            client_ip: None,
            helo: "client".into(),
            auth_user: None,
            smtputf8: false,
            eight_bit: false,
            forward_sender: None,
        }
    }

    #[test]
    fn a_damaged_length_is_refused_before_any_allocation() {
        let tmp = sendwell_testkit::TempDir::new("queue-record");
        let path = tmp.path().join("0000000000000001.seg");
        let data = b"Subject: x\r\n\r\nbody\r\n";
        let good = record::encode(KIND_MESSAGE, b"{}", data);
        std::fs::write(&path, &good).unwrap();
        let id = QueueId::generate();
        let len = data.len() as u64;
        assert_eq!(read_record(&path, id, 0, len).unwrap(), data);
        // meta_len (bytes 8..12) damaged: huge, over MAX_META, within it but past the
        // end of the file. Each is Damaged, never a 4 GiB buffer or an I/O error.
        for meta_len in [
            u32::MAX,
            record::MAX_META as u32 + 1,
            record::MAX_META as u32,
        ] {
            let mut bad = good.clone();
            bad[8..12].copy_from_slice(&meta_len.to_le_bytes());
            std::fs::write(&path, &bad).unwrap();
            assert!(
                matches!(read_record(&path, id, 0, len), Err(QueueError::Damaged(d)) if d == id),
                "meta_len {meta_len}"
            );
        }
        // data_len in the record differs from the index.
        let mut bad = good.clone();
        bad[12..20].copy_from_slice(&(u64::MAX).to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(
            read_record(&path, id, 0, len),
            Err(QueueError::Damaged(_))
        ));
    }

    #[tokio::test]
    async fn store_recover_finish_and_collect() {
        let tmp = sendwell_testkit::TempDir::new("queue");
        let qdir = tmp.path().join("queue");
        let mut ids = Vec::new();
        {
            let (store, report) = FileStore::open(&qdir).unwrap();
            assert_eq!(report.messages, 0);
            assert!(matches!(FileStore::open(&qdir), Err(QueueError::Locked(_))));
            for i in 0..50 {
                let env = envelope(2);
                ids.push(env.id);
                let data: Arc<[u8]> = format!("Subject: {i}\r\n\r\nbody\r\n").into_bytes().into();
                store.enqueue(env, data).await.unwrap();
            }
            assert_eq!(store.list().await.unwrap().len(), 50);
        }
        // The committer thread ends when the store is dropped; wait for the lock.
        let (store, report) = loop {
            match FileStore::open(&qdir) {
                Ok(x) => break x,
                Err(QueueError::Locked(_)) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(report.messages, 50);
        assert_eq!(report.recipients, 100);
        assert!(report.damaged.is_empty());
        assert_eq!(
            store.read_data(ids[7]).await.unwrap(),
            b"Subject: 7\r\n\r\nbody\r\n"
        );
        // Finish every message; the segment goes once it is not the current one.
        for id in &ids {
            let done = RecipientState {
                status: DeliveryStatus::Delivered,
                attempts: 1,
                last_reply: Some("250 ok".into()),
                next_attempt: None,
                delay_notified: false,
                remote_reply: None,
                remote_mta: None,
            };
            assert!(
                store
                    .update_recipients(*id, vec![(0, done.clone())], Durability::Lazy)
                    .await
                    .unwrap()
            );
            // One recipient still queued: the message stays.
            assert!(store.get(*id).await.unwrap().is_some());
            store
                .update_recipients(*id, vec![(1, done)], Durability::Lazy)
                .await
                .unwrap();
            assert!(store.get(*id).await.unwrap().is_none());
        }
        assert!(store.list().await.unwrap().is_empty());
        drop(store);
        let (_store, report) = loop {
            match FileStore::open(&qdir) {
                Ok(x) => break x,
                Err(QueueError::Locked(_)) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(report.messages, 0);
        assert_eq!(report.segments_removed, 1);
        assert_eq!(std::fs::read_dir(qdir.join("state")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn a_torn_tail_is_reported_and_never_a_message() {
        let tmp = sendwell_testkit::TempDir::new("queue-torn");
        let qdir = tmp.path().join("queue");
        std::fs::create_dir_all(qdir.join("segments")).unwrap();
        std::fs::create_dir_all(qdir.join("state")).unwrap();
        let whole = envelope(1);
        let torn = envelope(1);
        let mut bytes =
            record::encode(KIND_MESSAGE, &serde_json::to_vec(&whole).unwrap(), b"whole");
        let second = record::encode(
            KIND_MESSAGE,
            &serde_json::to_vec(&torn).unwrap(),
            b"torn message",
        );
        bytes.extend_from_slice(&second[..second.len() - 3]);
        std::fs::write(segment_path(&qdir, 1), &bytes).unwrap();
        let (store, report) = FileStore::open(&qdir).unwrap();
        assert_eq!(report.messages, 1);
        assert_eq!(report.damaged.len(), 1);
        assert!(report.damaged[0].1.at_end);
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].envelope.id, whole.id);
        assert!(store.get(torn.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn admin_changes_reach_the_server() {
        let tmp = sendwell_testkit::TempDir::new("queue-admin");
        let qdir = tmp.path().join("queue");
        let (server, _) = FileStore::open(&qdir).unwrap();
        let env = envelope(1);
        let id = env.id;
        server.enqueue(env, Arc::from(&b"x"[..])).await.unwrap();
        let (admin, _) = FileStore::open_for_admin(&qdir).unwrap();
        assert_eq!(admin.list().await.unwrap().len(), 1);
        assert!(admin.delete(id).await.unwrap());
        server.refresh();
        assert!(server.get(id).await.unwrap().is_none());
    }
}
