//! Sealed file storage, once for every domain (attachments in conversations, files on desk
//! reports): a blob is streamed in, sealed in 64 KiB chunks under an enterprise's data key, and
//! kept on local disk under the data directory, named by its id.
//!
//! File layout: a sequence of frames, each a 4-byte big-endian length and one sealed chunk (see
//! `crypto::envelope::chunks`: bound to the blob id, the index and last-or-not). A blob is written
//! to `<id>.partial` and renamed only when complete and within its limit; until the caller keeps
//! it (a row points at it) a [`StagedBlob`] deletes its file when dropped, so an aborted or
//! refused upload leaves nothing. Deletion asks the [`BlobHolds`] hook first, which the retention
//! work fills: a held blob outlives its message.

use crate::{Error, Result};
use bytes::Bytes;
use crypto::envelope::chunks::{self, CHUNK_BYTES};
use crypto::DataKey;
use domain::{AttachmentId, FieldError, Rule};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Whether a blob must be kept although its owner asked to delete it (legal hold). The default
/// holds nothing; the retention domain installs one that asks the store.
#[async_trait::async_trait]
pub trait BlobHolds: Send + Sync {
    async fn is_held(&self, id: AttachmentId) -> bool;
}

/// Holds nothing: every delete goes ahead.
pub struct NoHolds;

#[async_trait::async_trait]
impl BlobHolds for NoHolds {
    async fn is_held(&self, _: AttachmentId) -> bool {
        false
    }
}

/// The blob store: where files live and who may stop a delete.
pub struct Blobs {
    dir: Option<PathBuf>,
    holds: Arc<dyn BlobHolds>,
}

/// A blob written in full and named, not yet kept: dropping it deletes the file.
#[derive(Debug)]
pub struct StagedBlob {
    pub id: AttachmentId,
    /// Plaintext bytes.
    pub size: u64,
    /// The first [`HEAD_BYTES`] bytes of the plaintext, for checking a file's type by content.
    pub head: Vec<u8>,
    guard: FileGuard,
}

impl StagedBlob {
    /// A row points at the blob now: it stays when this value is dropped.
    pub fn keep(&mut self) {
        self.guard.keep();
    }
}

/// How many leading bytes a [`StagedBlob`] keeps.
pub const HEAD_BYTES: usize = 512;

impl Blobs {
    pub fn new(dir: Option<PathBuf>, holds: Arc<dyn BlobHolds>) -> Blobs {
        Blobs { dir, holds }
    }

    fn dir(&self) -> Result<&Path> {
        self.dir.as_deref().ok_or_else(|| Error::Unavailable("file storage is not configured".into()))
    }

    fn path(&self, id: AttachmentId) -> Result<PathBuf> {
        Ok(self.dir()?.join(id.to_string()))
    }

    /// Refuses at once when no storage is configured, so an upload is turned away before a byte
    /// of its body is read.
    pub fn require_configured(&self) -> Result<()> {
        self.dir().map(|_| ())
    }

    /// Streams `body` into a new blob sealed under `key`; fails past `limit` bytes, leaving
    /// nothing behind.
    pub async fn put<S, E>(&self, key: &DataKey, body: &mut S, limit: u64) -> Result<StagedBlob>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let dir = self.dir()?;
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let id = AttachmentId::new();
        let partial = dir.join(format!("{id}.partial"));
        // Whatever ends this write early (an error, or the client going away, which drops this
        // future mid-stream) removes the file: no partial file stays behind.
        let mut guard = FileGuard::new(partial.clone());
        let (size, head) = write_sealed(key, &id.to_string(), &partial, body, limit).await?;
        let path = dir.join(id.to_string());
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        guard.moved_to(path);
        Ok(StagedBlob { id, size, head, guard })
    }

    /// The decrypted bytes of a blob, chunk by chunk.
    pub async fn open(
        &self,
        key: Arc<DataKey>,
        id: AttachmentId,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let file = tokio::fs::File::open(self.path(id)?).await.map_err(io)?;
        let reader = Reader { file, key, id: id.to_string(), index: 0, pending: None, done: false };
        let stream = futures_util::stream::unfold(reader, |mut r| async move {
            match r.next_chunk().await {
                Ok(Some(bytes)) => Some((Ok(bytes), r)),
                Ok(None) => None,
                Err(e) => {
                    r.done = true;
                    Some((Err(e), r))
                }
            }
        });
        Ok(stream.boxed())
    }

    /// Removes a blob whose owner is gone (its message was deleted), unless it is held. Failures
    /// are logged: the owner's deletion stands either way.
    pub async fn delete(&self, id: AttachmentId) {
        if self.holds.is_held(id).await {
            tracing::info!(blob = %id, "a deleted item's file is kept: it is under hold");
            return;
        }
        if let Ok(path) = self.path(id) {
            match tokio::fs::remove_file(&path).await {
                // Already gone: deleting is safe to repeat (a retried job, a shared file).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(error = %e, blob = %id, "could not remove a deleted item's file"),
                Ok(()) => {}
            }
        }
    }

    /// Deletes `*.partial` files older than an hour: uploads cut off by a crash. (A dropped
    /// request removes its own through [`FileGuard`]; the hour spares uploads still running.)
    pub async fn sweep_partials(&self) -> Result<usize> {
        let Some(dir) = self.dir.as_deref() else { return Ok(0) };
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Ok(0) };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let is_partial = entry.file_name().to_str().is_some_and(|n| n.ends_with(".partial"));
            let old = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(3600));
            if is_partial && old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

pub(crate) fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("file storage: {e}"))
}

async fn write_frame(file: &mut tokio::fs::File, sealed: &[u8]) -> Result<()> {
    file.write_all(&(sealed.len() as u32).to_be_bytes()).await.map_err(io)?;
    file.write_all(sealed).await.map_err(io)
}

/// Seals the stream into `path`; returns the plaintext size and its first [`HEAD_BYTES`] bytes.
/// Fails past `limit` bytes.
async fn write_sealed<S, E>(key: &DataKey, id: &str, path: &Path, body: &mut S, limit: u64) -> Result<(u64, Vec<u8>)>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut buffer: Vec<u8> = Vec::with_capacity(2 * CHUNK_BYTES);
    let mut index = 0u64;
    let mut total = 0u64;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| {
            Error::Invalid(FieldError::new("body", Rule::InvalidValue, format!("the upload was interrupted: {e}")))
        })?;
        total += piece.len() as u64;
        if total > limit {
            return Err(Error::TooLarge(format!("attachments may be at most {limit} bytes")));
        }
        if head.len() < HEAD_BYTES {
            head.extend_from_slice(&piece[..piece.len().min(HEAD_BYTES - head.len())]);
        }
        buffer.extend_from_slice(&piece);
        // Seal a chunk only when more bytes follow it, so the final chunk can be marked last.
        while buffer.len() > CHUNK_BYTES {
            let rest = buffer.split_off(CHUNK_BYTES);
            write_frame(&mut file, &chunks::seal(key, id, index, false, &buffer)).await?;
            buffer = rest;
            index += 1;
        }
    }
    write_frame(&mut file, &chunks::seal(key, id, index, true, &buffer)).await?;
    file.sync_all().await.map_err(io)?;
    Ok((total, head))
}

async fn read_frame(file: &mut tokio::fs::File) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match file.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > CHUNK_BYTES + 64 {
        return Err(std::io::Error::other("corrupt attachment frame"));
    }
    let mut sealed = vec![0u8; len];
    file.read_exact(&mut sealed).await?;
    Ok(Some(sealed))
}

struct Reader {
    file: tokio::fs::File,
    key: Arc<DataKey>,
    id: String,
    index: u64,
    pending: Option<Vec<u8>>,
    done: bool,
}

impl Reader {
    async fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let current = match self.pending.take() {
            Some(c) => c,
            None => read_frame(&mut self.file).await?.ok_or_else(|| std::io::Error::other("empty attachment file"))?,
        };
        let next = read_frame(&mut self.file).await?;
        let last = next.is_none();
        let plain = chunks::open(&self.key, &self.id, self.index, last, &current)
            .map_err(|_| std::io::Error::other("an attachment chunk failed to open"))?;
        self.pending = next;
        self.index += 1;
        self.done = last;
        Ok(Some(Bytes::from(plain)))
    }
}

/// Removes a file when dropped, unless told to keep it: an upload future dropped mid-stream (the
/// client went away) runs no error path, but it does run this.
#[derive(Debug)]
struct FileGuard(Option<PathBuf>);

impl FileGuard {
    fn new(path: PathBuf) -> FileGuard {
        FileGuard(Some(path))
    }

    /// The file was renamed: guard its new path.
    fn moved_to(&mut self, path: PathBuf) {
        self.0 = Some(path);
    }

    /// The file is in use now (a row points at it).
    fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
