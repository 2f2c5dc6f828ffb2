//! Attachments (S3): files streamed in, sealed in 64 KiB chunks under the enterprise's data key,
//! and kept on local disk under the data directory, named by attachment id.
//!
//! File layout: a sequence of frames, each a 4-byte big-endian length and one sealed chunk
//! (see `crypto::envelope::chunks`: bound to file id, index and last-or-not). An upload is written
//! to `<id>.partial` and renamed only when complete and within the limit; an aborted or refused
//! upload leaves no file and no row. Only members of the conversation can upload or download.

use crate::messaging::{open_message, Event, MessageView};
use crate::{Error, Principal, Result, Services};
use bytes::Bytes;
use crypto::envelope::chunks::{self, CHUNK_BYTES};
use crypto::{Aad, DataKey};
use domain::{messaging, AttachmentId, ConversationId, FieldError, MessageId, Millis, Rule};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AttachmentView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AttachmentId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

pub(crate) fn name_aad(id: &str) -> Aad<'_> {
    Aad { table: "messages", row: id, column: "attachment_name" }
}

/// A file name as shown to people: its last path component, 1 to 255 characters, no control
/// characters.
pub fn file_name(raw: &str) -> std::result::Result<String, FieldError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if last.is_empty() || last == "." || last == ".." {
        return Err(FieldError::new("name", Rule::Empty, "a file name is required"));
    }
    if last.chars().count() > 255 {
        return Err(FieldError::new("name", Rule::TooLong, "must be at most 255 characters"));
    }
    if last.chars().any(char::is_control) {
        return Err(FieldError::new("name", Rule::ControlCharacters, "must not contain control characters"));
    }
    Ok(last.to_owned())
}

/// A MIME type `type/subtype`, lower-cased, parameters dropped; empty means
/// `application/octet-stream`.
pub fn content_type(raw: &str) -> std::result::Result<String, FieldError> {
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.is_empty() {
        return Ok("application/octet-stream".to_owned());
    }
    let token = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c));
    match essence.split_once('/') {
        Some((t, sub)) if token(t) && token(sub) && essence.len() <= 100 => Ok(essence),
        _ => Err(FieldError::new("content_type", Rule::InvalidValue, "must be a media type such as image/png")),
    }
}

pub(crate) fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("attachment storage: {e}"))
}

async fn write_frame(file: &mut tokio::fs::File, sealed: &[u8]) -> Result<()> {
    file.write_all(&(sealed.len() as u32).to_be_bytes()).await.map_err(io)?;
    file.write_all(sealed).await.map_err(io)
}

/// How many leading bytes [`write_sealed`] hands back, for checking a file's type by content.
pub(crate) const HEAD_BYTES: usize = 512;

/// Seals the stream into `path`; returns the plaintext size and its first [`HEAD_BYTES`] bytes.
/// Fails past `limit` bytes.
pub(crate) async fn write_sealed<S, E>(
    key: &DataKey,
    id: &str,
    path: &Path,
    body: &mut S,
    limit: u64,
) -> Result<(u64, Vec<u8>)>
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

impl Services {
    /// Deletes `*.partial` files older than an hour: uploads cut off by a crash. (A dropped
    /// request removes its own through [`FileGuard`]; the hour spares uploads still running.)
    pub async fn sweep_partial_files(&self) -> Result<usize> {
        let Some(dir) = self.settings.files_dir.as_deref() else { return Ok(0) };
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

    pub(crate) fn files_dir(&self) -> Result<&Path> {
        self.settings.files_dir.as_deref().ok_or_else(|| Error::Unavailable("attachments are not configured".into()))
    }

    fn attachment_path(&self, id: AttachmentId) -> Result<PathBuf> {
        Ok(self.files_dir()?.join(id.to_string()))
    }

    /// Streams a file into the conversation as a new message (with an optional caption).
    pub async fn send_attachment<S, E>(
        &self,
        p: &Principal,
        conversation: ConversationId,
        name: &str,
        media_type: &str,
        caption: Option<&str>,
        mut body: S,
    ) -> Result<MessageView>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let name = file_name(name).map_err(Error::Invalid)?;
        let media_type = content_type(media_type).map_err(Error::Invalid)?;
        let caption = caption.filter(|c| !c.is_empty());
        if let Some(c) = caption {
            messaging::body("caption", c, self.settings.max_message_bytes).map_err(Error::Invalid)?;
        }
        // Refuse outsiders before reading a byte of the body.
        self.membership(p, conversation).await?;
        let key = self.keys.enterprise_key(p.enterprise_id).await?;
        let dir = self.files_dir()?;
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let id = AttachmentId::new();
        let row_id = id.to_string();
        let partial = dir.join(format!("{id}.partial"));
        // Whatever ends this upload early (an error, or the client going away, which drops this
        // future mid-stream) removes the file: no partial file stays behind.
        let mut guard = FileGuard::new(partial.clone());
        let (size, _) = write_sealed(&key, &row_id, &partial, &mut body, self.settings.max_attachment_bytes).await?;
        let path = dir.join(&row_id);
        tokio::fs::rename(&partial, &path).await.map_err(io)?;
        guard.moved_to(path.clone());
        let message_id = MessageId::new();
        let row = store::MessageRow {
            id: message_id,
            conversation_id: conversation,
            seq: 0,
            sender_id: p.user_id,
            body_ct: caption.map(|c| key.seal_str(c, crate::messaging::body_aad(&message_id.to_string()))),
            created_at: Millis::now(),
            edited_at: None,
            deleted_at: None,
            attachment: Some(store::AttachmentMeta {
                id,
                name_ct: key.seal_str(&name, name_aad(&row_id)),
                content_type: media_type,
                size: size as i64,
            }),
        };
        // Kept before the insert: if this future is dropped while the insert commits, an unused
        // file is the lesser harm (a message whose file is gone would be worse).
        guard.keep();
        let (stored, members) = match self.store.append_message(p.enterprise_id, &row).await {
            Ok(stored) => stored,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(crate::messaging::not_found(e));
            }
        };
        let view = open_message(&key, &stored)?;
        self.publish(
            p.enterprise_id,
            &key,
            &crate::messaging::conversation_topic(conversation),
            members,
            Event::MessageCreated { message: view.clone() },
        )
        .await;
        Ok(view)
    }

    /// The attachment's metadata and its decrypted bytes as a stream (members only).
    pub async fn open_attachment(
        &self,
        p: &Principal,
        conversation: ConversationId,
        attachment: AttachmentId,
    ) -> Result<(AttachmentView, BoxStream<'static, std::io::Result<Bytes>>)> {
        self.membership(p, conversation).await?;
        let row = self.store.get_attachment(conversation, attachment).await?.ok_or(Error::NotFound("attachment"))?;
        let key = self.keys.enterprise_key(p.enterprise_id).await?;
        let meta = row.attachment.ok_or(Error::NotFound("attachment"))?;
        let view = AttachmentView {
            id: meta.id,
            name: key.open_str(&meta.name_ct, name_aad(&meta.id.to_string()))?,
            content_type: meta.content_type,
            size: meta.size,
        };
        Ok((view, self.sealed_file_stream(key, attachment).await?))
    }

    /// The decrypted bytes of a sealed file, chunk by chunk.
    pub(crate) async fn sealed_file_stream(
        &self,
        key: Arc<DataKey>,
        id: AttachmentId,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let file = tokio::fs::File::open(self.attachment_path(id)?).await.map_err(io)?;
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

    /// Removes an attachment's file (after its message was deleted).
    pub(crate) async fn remove_attachment_file(&self, id: AttachmentId) {
        if let Ok(path) = self.attachment_path(id) {
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::warn!(error = %e, attachment = %id, "could not remove a deleted attachment's file");
            }
        }
    }
}

/// Removes a file when dropped, unless told to keep it: an upload future dropped mid-stream (the
/// client went away) runs no error path, but it does run this.
#[derive(Debug)]
pub(crate) struct FileGuard(Option<PathBuf>);

impl FileGuard {
    pub(crate) fn new(path: PathBuf) -> FileGuard {
        FileGuard(Some(path))
    }

    /// The file was renamed: guard its new path.
    pub(crate) fn moved_to(&mut self, path: PathBuf) {
        self.0 = Some(path);
    }

    /// The file is in use now (a row points at it).
    pub(crate) fn keep(&mut self) {
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
