//! Files on reports (D3, D5): screenshots, captures and logs from finders, and files the team
//! sends back. Uploads are sealed chunk by chunk under the desk enterprise's key as they stream in
//! ("staged"), checked against an allow-list of types by their content, and only then attached
//! to a report in the same transaction that records it; whatever fails removes the staged files.

use super::Desk;
use super::{FinderCredential, FinderReportView, ReportView};
use crate::core::blobs::StagedBlob;
use crate::messaging::attachments::{content_type, file_name};
use crate::{draft, Caller, Error, Result};
use bytes::Bytes;
use domain::audit::{Action, Origin};
use domain::{AttachmentId, EnterpriseId, FieldError, Millis, ReportId, Rule};
use futures_util::stream::BoxStream;
use futures_util::Stream;
use serde::Serialize;
use utoipa::ToSchema;

/// Largest file a finder or the team may attach.
pub const MAX_REPORT_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Files per upload (a report, or one reply).
pub const MAX_FILES_PER_UPLOAD: usize = 5;
/// Files on one report in all.
pub const MAX_FILES_PER_REPORT: usize = 30;

/// Types accepted, each with the check its first bytes must pass. Anything that a browser could
/// run (HTML, SVG, scripts) or that is an executable is refused.
/// Whether a file's first bytes fit its type.
type ContentCheck = fn(&[u8]) -> bool;

const ACCEPTED: &[(&str, ContentCheck)] = &[
    ("image/png", |h| h.starts_with(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", |h| h.starts_with(&[0xFF, 0xD8, 0xFF])),
    ("image/gif", |h| h.starts_with(b"GIF87a") || h.starts_with(b"GIF89a")),
    ("image/webp", |h| h.len() >= 12 && &h[..4] == b"RIFF" && &h[8..12] == b"WEBP"),
    ("application/pdf", |h| h.starts_with(b"%PDF-")),
    ("application/zip", |h| h.starts_with(b"PK\x03\x04")),
    ("application/vnd.tcpdump.pcap", |h| {
        [[0xD4, 0xC3, 0xB2, 0xA1], [0xA1, 0xB2, 0xC3, 0xD4], [0x4D, 0x3C, 0xB2, 0xA1], [0xA1, 0xB2, 0x3C, 0x4D]]
            .iter()
            .any(|m| h.starts_with(m))
    }),
    ("application/x-pcapng", |h| h.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A])),
    ("text/plain", looks_like_text),
    ("application/json", looks_like_text),
    ("video/mp4", |h| h.len() >= 8 && &h[4..8] == b"ftyp"),
];

fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // The head may end inside a character; anything else is not UTF-8.
        Err(e) => e.error_len().is_none(),
    }
}

/// Finders often upload with a generic type; infer one from the name in that case.
fn effective_type(declared: &str, name: &str) -> String {
    if declared != "application/octet-stream" {
        return declared.to_owned();
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "pcap" | "cap" => "application/vnd.tcpdump.pcap",
        "pcapng" => "application/x-pcapng",
        "txt" | "log" => "text/plain",
        "json" => "application/json",
        "mp4" => "video/mp4",
        _ => declared,
    }
    .to_owned()
}

fn refused_type(name: &str) -> Error {
    Error::Invalid(FieldError::new(
        "files",
        Rule::InvalidValue,
        format!(
            "{name}: this kind of file is not accepted; send screenshots (PNG, JPEG, GIF, WebP), PDF, text or JSON, \
             packet captures (pcap, pcapng), MP4 videos or ZIP archives"
        ),
    ))
}

/// A file received and sealed on disk, waiting to be attached to a report.
#[derive(Debug)]
pub struct StagedFile {
    name: String,
    content_type: String,
    /// Deletes the sealed file if this is dropped before a row points at it: a request cut off
    /// after staging (the client went away) leaves nothing behind.
    blob: StagedBlob,
}

/// The staged files are recorded now: they stay.
pub(super) fn keep_all(staged: &mut [StagedFile]) {
    for f in staged {
        f.blob.keep();
    }
}

/// A file as finders and the team see it in a report.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct ReportFileView {
    #[schema(value_type = String, format = Uuid)]
    pub id: AttachmentId,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// `finder` or `security-team`.
    pub from: String,
    pub at: String,
}

pub(super) fn file_aad(id: &str) -> crypto::Aad<'_> {
    crypto::Aad { table: "report_files", row: id, column: "name" }
}

impl Desk {
    /// Receives one file for the desk: checks its name and type, seals it to disk as it
    /// streams, checks its content matches the type, and keeps it staged until attached.
    pub async fn stage_desk_file<S, E>(&self, name: &str, media_type: &str, mut body: S) -> Result<StagedFile>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let name = file_name(name).map_err(|e| Error::Invalid(FieldError { field: "files".into(), ..e }))?;
        let declared =
            content_type(media_type).map_err(|e| Error::Invalid(FieldError { field: "files".into(), ..e }))?;
        let media_type = effective_type(&declared, &name);
        let Some((_, check)) = ACCEPTED.iter().find(|(t, _)| *t == media_type) else {
            return Err(refused_type(&name));
        };
        let enterprise = self.desk_enterprise().await?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        self.core.blobs.require_configured()?;
        let limit = MAX_REPORT_FILE_BYTES.min(self.core.settings.max_attachment_bytes);
        let written = self.core.blobs.put(&key, &mut body, limit).await;
        let blob = match written {
            Ok(done) => done,
            Err(e) => {
                return Err(match e {
                    Error::TooLarge(_) => {
                        let size = if limit >= 1024 * 1024 {
                            format!("{} MiB", limit / (1024 * 1024))
                        } else {
                            format!("{} KiB", limit / 1024)
                        };
                        Error::TooLarge(format!("{name}: files may be at most {size}"))
                    }
                    e => e,
                });
            }
        };
        let (size, head) = (blob.size, &blob.head);
        if size == 0 || !check(head) {
            return Err(if size == 0 {
                Error::Invalid(FieldError::new("files", Rule::Empty, format!("{name} is empty")))
            } else {
                Error::Invalid(FieldError::new(
                    "files",
                    Rule::InvalidValue,
                    format!("{name}: the content is not a {media_type} file"),
                ))
            });
        }
        // Staged now: the caller attaches it (and keeps it) or drops it, which deletes it.
        Ok(StagedFile { name, content_type: media_type, blob })
    }

    /// Removes staged files that will not be attached (the upload or the report was refused).
    pub async fn discard_staged(&self, staged: Vec<StagedFile>) {
        // Each file's guard deletes it.
        drop(staged);
    }

    pub(super) async fn file_rows(
        &self,
        enterprise: EnterpriseId,
        report: ReportId,
        author: store::ReportAuthor,
        staged: &[StagedFile],
    ) -> Result<Vec<store::ReportFileRow>> {
        if staged.len() > MAX_FILES_PER_UPLOAD {
            return Err(Error::Invalid(FieldError::new(
                "files",
                Rule::TooLong,
                format!("at most {MAX_FILES_PER_UPLOAD} files at once"),
            )));
        }
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let now = Millis::now();
        Ok(staged
            .iter()
            .map(|f| store::ReportFileRow {
                id: f.blob.id,
                report_id: report,
                author,
                name_ct: key.seal_str(&f.name, file_aad(&f.blob.id.to_string())),
                content_type: f.content_type.clone(),
                size: f.blob.size as i64,
                created_at: now,
            })
            .collect())
    }

    async fn attach(
        &self,
        row: &store::ReportRow,
        author: store::ReportAuthor,
        staged: &[StagedFile],
        audit: &domain::audit::AuditDraft,
    ) -> Result<()> {
        let existing = self.desk_store.report_files(row.enterprise_id, row.id).await?.len();
        if existing + staged.len() > MAX_FILES_PER_REPORT {
            return Err(Error::Invalid(FieldError::new(
                "files",
                Rule::TooLong,
                format!("a report holds at most {MAX_FILES_PER_REPORT} files"),
            )));
        }
        let rows = self.file_rows(row.enterprise_id, row.id, author, staged).await?;
        self.desk_store.add_report_files(row.enterprise_id, &rows, audit).await.map_err(Error::from)
    }

    /// The finder adds files to their report. Staged files are removed if this fails.
    pub async fn finder_attach(
        &self,
        credential: FinderCredential<'_>,
        mut staged: Vec<StagedFile>,
    ) -> Result<FinderReportView> {
        let result = async {
            let row = self.report_for(credential).await?;
            if row.state.is_final() {
                return Err(Error::Conflict(FieldError::new("files", Rule::InvalidValue, "this report is closed")));
            }
            let audit = super::anonymous_draft(row.enterprise_id, Action::DeskReportFinderFiles, row.id);
            self.attach(&row, store::ReportAuthor::Finder, &staged, &audit).await?;
            Ok(row)
        }
        .await;
        match result {
            Ok(row) => {
                keep_all(&mut staged);
                self.finder_view(&row).await
            }
            Err(e) => {
                self.discard_staged(staged).await;
                Err(e)
            }
        }
    }

    /// The security team sends files to the finder.
    pub async fn team_attach(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        mut staged: Vec<StagedFile>,
    ) -> Result<ReportView> {
        let result = async {
            let enterprise = self.require_security_team(caller, Action::DeskReportTeamFiles).await?;
            let Caller::User(p) = caller else {
                return Err(self
                    .core
                    .deny(caller, Action::DeskReportTeamFiles, Some(enterprise), "person", None)
                    .await);
            };
            let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
            let audit =
                draft(caller, origin, Some(enterprise), Action::DeskReportTeamFiles, Some(format!("report:{id}")));
            self.attach(&row, store::ReportAuthor::Team(p.user_id), &staged, &audit).await?;
            Ok(row)
        }
        .await;
        match result {
            Ok(row) => {
                keep_all(&mut staged);
                self.report_view(&row).await
            }
            Err(e) => {
                self.discard_staged(staged).await;
                Err(e)
            }
        }
    }

    pub(super) async fn file_views(
        &self,
        key: &crypto::DataKey,
        report: &store::ReportRow,
    ) -> Result<Vec<ReportFileView>> {
        self.desk_store
            .report_files(report.enterprise_id, report.id)
            .await?
            .iter()
            .map(|f| {
                Ok(ReportFileView {
                    id: f.id,
                    name: key.open_str(&f.name_ct, file_aad(&f.id.to_string()))?,
                    content_type: f.content_type.clone(),
                    size: f.size,
                    from: match f.author {
                        store::ReportAuthor::Finder => "finder".to_owned(),
                        store::ReportAuthor::Team(_) => "security-team".to_owned(),
                    },
                    at: f.created_at.rfc3339(),
                })
            })
            .collect()
    }

    async fn report_file(
        &self,
        row: &store::ReportRow,
        file: AttachmentId,
    ) -> Result<(ReportFileView, BoxStream<'static, std::io::Result<Bytes>>)> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let view =
            self.file_views(&key, row).await?.into_iter().find(|f| f.id == file).ok_or(Error::NotFound("file"))?;
        Ok((view, self.core.blobs.open(key, file).await?))
    }

    /// A file of the finder's own report.
    pub async fn finder_file(
        &self,
        credential: FinderCredential<'_>,
        file: AttachmentId,
    ) -> Result<(ReportFileView, BoxStream<'static, std::io::Result<Bytes>>)> {
        let row = self.report_for(credential).await?;
        self.report_file(&row, file).await
    }

    pub async fn team_file(
        &self,
        caller: &Caller,
        report: ReportId,
        file: AttachmentId,
    ) -> Result<(ReportFileView, BoxStream<'static, std::io::Result<Bytes>>)> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let row = self.desk_store.get_report(enterprise, report).await?.ok_or(Error::NotFound("report"))?;
        self.report_file(&row, file).await
    }
}
