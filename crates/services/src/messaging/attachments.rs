//! Attachments (S3): files streamed in, sealed in 64 KiB chunks under the enterprise's data key,
//! and kept on local disk under the data directory, named by attachment id.
//!
//! File layout: a sequence of frames, each a 4-byte big-endian length and one sealed chunk
//! (see `crypto::envelope::chunks`: bound to file id, index and last-or-not). An upload is written
//! to `<id>.partial` and renamed only when complete and within the limit; an aborted or refused
//! upload leaves no file and no row. Only members of the conversation can upload or download.

use super::thumbnails;
use crate::protocol::{AttachmentView, MessageView};
use crate::{Error, Principal, Result};
use bytes::Bytes;
use crypto::Aad;
use domain::{messaging, AttachmentId, ConversationId, FieldError, MessageId, Millis, Rule};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt as _};
use std::sync::Arc;

/// Files in conversations, sealed in the blob store.
pub struct Attachments {
    core: Arc<crate::core::Core>,
    conversation_store: Arc<dyn store::ConversationStore>,
    messaging: Arc<super::Messaging>,
}

impl Attachments {
    pub(crate) fn new(
        core: Arc<crate::core::Core>,
        store: &Arc<dyn store::Store>,
        messaging: Arc<super::Messaging>,
    ) -> Attachments {
        Attachments { core, conversation_store: store.clone(), messaging }
    }
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
    if last.chars().any(domain::validate::is_hidden_character) {
        return Err(domain::validate::hidden_characters("name"));
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

/// What comes with a file's bytes: its name, media type, an optional caption and template.
#[derive(Clone, Copy, Debug)]
pub struct Upload<'a> {
    pub name: &'a str,
    pub media_type: &'a str,
    pub caption: Option<&'a str>,
    /// The message policy template picked (else the conversation's default, if any).
    pub policy: Option<domain::MessagePolicyId>,
}

impl Attachments {
    /// Streams a file into the conversation as a new message (with an optional caption).
    pub async fn send_attachment<S, E>(
        &self,
        p: &Principal,
        conversation: ConversationId,
        upload: &Upload<'_>,
        mut body: S,
    ) -> Result<MessageView>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let Upload { name, media_type, caption, policy } = *upload;
        let name = file_name(name).map_err(Error::Invalid)?;
        let media_type = content_type(media_type).map_err(Error::Invalid)?;
        let caption = caption.filter(|c| !c.is_empty());
        if let Some(c) = caption {
            messaging::body("caption", c, self.core.settings.max_message_bytes).map_err(Error::Invalid)?;
        }
        // Refuse outsiders (and an unknown template) before reading a byte of the body.
        let (c, _) = self.messaging.membership(p, conversation).await?;
        let rules = self.messaging.rules_for_new(p.enterprise_id, policy, &c).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        self.core.blobs.require_configured()?;
        let mut blob = self.core.blobs.put(&key, &mut body, self.core.settings.max_attachment_bytes).await?;
        let (id, size) = (blob.id, blob.size);
        let mut preview = self.preview(&key, id, &media_type).await;
        let row_id = id.to_string();
        let message_id = MessageId::new();
        let now = Millis::now();
        let (control, jobs) =
            self.messaging.control_for_new(p.enterprise_id, conversation, message_id, rules.as_ref(), now)?;
        let row = store::MessageRow {
            id: message_id,
            conversation_id: conversation,
            seq: 0,
            sender_id: p.user_id,
            body_ct: caption.map(|c| key.seal_str(c, crate::messaging::body_aad(&message_id.to_string()))),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            thread_root_id: None,
            control,
            forward: None,
            removed: None,
            attachment: Some(store::AttachmentMeta {
                id,
                name_ct: key.seal_str(&name, name_aad(&row_id)),
                content_type: media_type,
                size: size as i64,
                thumbnail: preview.as_ref().map(|(blob, p)| store::Thumbnail {
                    id: blob.id,
                    content_type: p.content_type.to_owned(),
                    width: p.width,
                    height: p.height,
                }),
            }),
        };
        // Kept before the insert: if this future is dropped while the insert commits, an unused
        // file is the lesser harm (a message whose file is gone would be worse).
        blob.keep();
        if let Some((thumbnail, _)) = &mut preview {
            thumbnail.keep();
        }
        let words = super::search::index_tokens(&key, &name, rules.as_ref().map(|(_, r)| r));
        let index = store::MessageIndex { words: &words, jobs: &jobs, ..Default::default() };
        let (stored, members) = match self.conversation_store.append_message(p.enterprise_id, &row, &index).await {
            Ok(stored) => stored,
            Err(e) => {
                self.core.blobs.delete(id).await;
                if let Some((thumbnail, _)) = &preview {
                    self.core.blobs.delete(thumbnail.id).await;
                }
                return Err(crate::messaging::not_found(e));
            }
        };
        self.messaging.announce(p, &key, members, &stored).await
    }

    /// Draws and seals a preview of an image just stored as `id`; `None` for other files and for
    /// images that cannot be decoded within the limits (the upload stands without one).
    async fn preview(
        &self,
        key: &Arc<crypto::DataKey>,
        id: AttachmentId,
        media_type: &str,
    ) -> Option<(crate::core::blobs::StagedBlob, thumbnails::Preview)> {
        let format = thumbnails::format_of(media_type)?;
        let mut bytes = Vec::new();
        let mut stream = self.core.blobs.open(key.clone(), id).await.ok()?;
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.ok()?);
        }
        let preview = thumbnails::draw(bytes, format).await?;
        let mut body =
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(preview.bytes.clone()))]);
        match self.core.blobs.put(key, &mut body, preview.bytes.len() as u64).await {
            Ok(blob) => Some((blob, preview)),
            Err(e) => {
                tracing::warn!(error = %e, "could not store an image preview");
                None
            }
        }
    }

    /// An image's preview and its decrypted bytes (members only). Files that are not images
    /// have none, and asking for one is refused by field.
    pub async fn open_thumbnail(
        &self,
        p: &Principal,
        conversation: ConversationId,
        attachment: AttachmentId,
    ) -> Result<(store::Thumbnail, BoxStream<'static, std::io::Result<Bytes>>)> {
        self.messaging.membership(p, conversation).await?;
        let rows = self.conversation_store.get_attachment(p.enterprise_id, conversation, attachment).await?;
        let row = self.permitted(p, rows, false).await?;
        let meta = row.attachment.ok_or(Error::NotFound("attachment"))?;
        let Some(thumbnail) = meta.thumbnail else {
            let why = if thumbnails::format_of(&meta.content_type).is_some() {
                "this image could not be read, so it has no preview"
            } else {
                "only PNG and JPEG images have a preview"
            };
            return Err(Error::Invalid(FieldError::new("attachment_id", Rule::InvalidValue, why)));
        };
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let stream = self.core.blobs.open(key, thumbnail.id).await?;
        Ok((thumbnail, stream))
    }

    /// Of the messages showing one file here, one whose policy lets this reader have it (to
    /// view, or with `download` to download); else the first refusal.
    async fn permitted(
        &self,
        p: &Principal,
        rows: Vec<store::MessageRow>,
        download: bool,
    ) -> Result<store::MessageRow> {
        let mut refusal = Error::NotFound("attachment");
        for row in rows {
            let check = if download {
                self.messaging.require_downloadable(p, &row).await
            } else {
                self.messaging.require_previewable(p, &row).await
            };
            match check {
                Ok(()) => return Ok(row),
                Err(e) if matches!(refusal, Error::NotFound(_)) => refusal = e,
                Err(_) => {}
            }
        }
        Err(refusal)
    }

    /// The attachment's metadata and its decrypted bytes as a stream (members only).
    pub async fn open_attachment(
        &self,
        p: &Principal,
        conversation: ConversationId,
        attachment: AttachmentId,
    ) -> Result<(AttachmentView, BoxStream<'static, std::io::Result<Bytes>>)> {
        self.messaging.membership(p, conversation).await?;
        let rows = self.conversation_store.get_attachment(p.enterprise_id, conversation, attachment).await?;
        let row = self.permitted(p, rows, true).await?;
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let meta = row.attachment.ok_or(Error::NotFound("attachment"))?;
        let view = AttachmentView {
            id: meta.id,
            name: key.open_str(&meta.name_ct, name_aad(&meta.id.to_string()))?,
            content_type: meta.content_type,
            size: meta.size,
            thumbnail: meta.thumbnail.as_ref().map(crate::protocol::ThumbnailView::from),
        };
        Ok((view, self.core.blobs.open(key, attachment).await?))
    }
}
