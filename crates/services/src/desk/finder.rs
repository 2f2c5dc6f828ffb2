//! The finder's side (D5): the status page found by receipt code or link, and the thread.

use super::*;

/// What a malformed receipt code is checked as, against the decoy hash.
pub(super) const DECOY_CODE: &str = "0000000000000000000000000";

impl Desk {
    /// Finds the report a receipt code belongs to. Every failure is the same `NotFound`, after
    /// the same slow hash, so answers reveal nothing about which reports exist.
    pub(super) async fn report_for_code(&self, raw_code: &str) -> Result<store::ReportRow> {
        let normalised = domain::desk::normalise_receipt_code(raw_code);
        let row = match &normalised {
            Some(code) => self.desk_store.report_by_lookup(&self.core.keys.receipt_index(code)).await?,
            None => None,
        };
        let (code, stored) = match (&normalised, &row) {
            (Some(code), Some(row)) => (code.clone(), row.receipt_hash.clone()),
            // The same slow check on a fixed stand-in, so a long or malformed input costs no more.
            _ => (DECOY_CODE.to_owned(), self.core.decoy_hash().await?),
        };
        let verified = self.core.verify_password(&code, stored).await?;
        match (verified, row) {
            (Some(_), Some(row)) => Ok(row),
            _ => Err(Error::NotFound("report")),
        }
    }

    pub(super) async fn report_for(&self, credential: FinderCredential<'_>) -> Result<store::ReportRow> {
        match credential {
            FinderCredential::ReceiptCode(code) => self.report_for_code(code).await,
            // Status links carry 256 random bits: a fast hash is enough to look them up.
            FinderCredential::StatusLink(token) if token.len() > domain::desk::MAX_STATUS_LINK_INPUT => {
                Err(Error::NotFound("report"))
            }
            FinderCredential::StatusLink(token) => self
                .desk_store
                .report_by_access_token(&crypto::token::hash(token.trim()))
                .await?
                .ok_or(Error::NotFound("report")),
        }
    }

    pub async fn finder_status(&self, credential: FinderCredential<'_>) -> Result<FinderReportView> {
        let row = self.report_for(credential).await?;
        self.finder_view(&row).await
    }

    pub async fn finder_reply(&self, credential: FinderCredential<'_>, body: &str) -> Result<FinderReportView> {
        let body = domain::desk::reply(body).map_err(Error::Invalid)?;
        let row = self.report_for(credential).await?;
        if row.state.is_final() {
            return Err(Error::Conflict(FieldError::new(
                "body",
                Rule::InvalidValue,
                "this report is closed; submit a new report if you found something new",
            )));
        }
        self.append_thread(&row, store::ReportAuthor::Finder, &body, None).await?;
        self.resume_after_finder_answer(&row).await?;
        let row = self.desk_store.get_report(row.enterprise_id, row.id).await?.ok_or(Error::NotFound("report"))?;
        self.finder_view(&row).await
    }

    pub(super) async fn append_thread(
        &self,
        row: &store::ReportRow,
        author: store::ReportAuthor,
        body: &str,
        team: Option<(&Caller, &Origin)>,
    ) -> Result<()> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let id = ReportMessageId::new();
        let message = store::ReportMessageRow {
            id,
            report_id: row.id,
            seq: 0,
            author,
            body_ct: key.seal_str(body, Aad { table: "report_messages", row: &id.to_string(), column: "body" }),
            created_at: Millis::now(),
        };
        let audit = match team {
            Some((caller, origin)) => draft(
                caller,
                origin,
                Some(row.enterprise_id),
                Action::DeskReportReply,
                Some(format!("report:{}", row.id)),
            ),
            None => anonymous_draft(row.enterprise_id, Action::DeskReportFinderReply, row.id),
        };
        self.desk_store.append_report_message(row.enterprise_id, &message, &audit).await?;
        self.announce_to_team(row.enterprise_id, row.id).await;
        Ok(())
    }

    pub(super) async fn thread(&self, key: &crypto::DataKey, report: &store::ReportRow) -> Result<Vec<ThreadEntry>> {
        self.desk_store
            .report_messages(report.enterprise_id, report.id)
            .await?
            .iter()
            .map(|m| {
                Ok(ThreadEntry {
                    from: match m.author {
                        store::ReportAuthor::Finder => "finder".to_owned(),
                        store::ReportAuthor::Team(_) => "security-team".to_owned(),
                    },
                    body: key.open_str(
                        &m.body_ct,
                        Aad { table: "report_messages", row: &m.id.to_string(), column: "body" },
                    )?,
                    at: m.created_at.rfc3339(),
                })
            })
            .collect()
    }

    pub(super) fn open_content(&self, key: &crypto::DataKey, row: &store::ReportRow) -> Result<ReportContent> {
        let json = zeroize::Zeroizing::new(key.open(&row.content_ct, report_aad(&row.id.to_string(), "content"))?);
        serde_json::from_slice(&json).map_err(|e| Error::Internal(format!("stored report content: {e}")))
    }

    pub(super) async fn finder_view(&self, row: &store::ReportRow) -> Result<FinderReportView> {
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let content = self.open_content(&key, row)?;
        Ok(FinderReportView {
            title: content.title,
            state: row.state,
            state_explained: row.state.explain().to_owned(),
            expected_timeframe: timeframe(row.state, &self.clock_settings_of(row.enterprise_id).await?.0),
            submitted_at: row.created_at.rfc3339(),
            updated_at: row.updated_at.rfc3339(),
            thread: self.thread(&key, row).await?,
            files: self.file_views(&key, row).await?,
            advisory: self.finder_advisory(row).await?,
            can_withdraw: row.state.can_withdraw(),
        })
    }

    /// The finder writes to the team, with files or without: files alone are attached without a
    /// message; a refused message discards the staged files.
    pub async fn finder_reply_with_files(
        &self,
        credential: FinderCredential<'_>,
        body: &str,
        files: Vec<super::files::StagedFile>,
    ) -> Result<FinderReportView> {
        if body.trim().is_empty() && !files.is_empty() {
            return self.finder_attach(credential, files).await;
        }
        match self.finder_reply(credential, body).await {
            Ok(view) if files.is_empty() => Ok(view),
            Ok(_) => self.finder_attach(credential, files).await,
            Err(e) => {
                self.discard_staged(files).await;
                Err(e)
            }
        }
    }
}
