//! The security team's inbox: the reports, one report with its thread and files, replies.

use super::*;

impl Desk {
    pub async fn desk_report(&self, caller: &Caller, id: ReportId) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.report_view(&row).await
    }

    pub async fn desk_reply(&self, caller: &Caller, origin: &Origin, id: ReportId, body: &str) -> Result<ReportView> {
        let enterprise = self.require_security_team(caller, Action::DeskReportReply).await?;
        let body = domain::desk::reply(body).map_err(Error::Invalid)?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        let author = match caller {
            Caller::User(p) => store::ReportAuthor::Team(p.user_id),
            _ => return Err(self.core.deny(caller, Action::DeskReportReply, Some(enterprise), "person", None).await),
        };
        self.append_thread(&row, author, &body, Some((caller, origin))).await?;
        let row = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.notify_finder(&row, "The security team wrote to you about your report.").await?;
        self.report_view(&row).await
    }

    pub(super) async fn report_view(&self, row: &store::ReportRow) -> Result<ReportView> {
        let key: Arc<crypto::DataKey> = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let content = self.open_content(&key, row)?;
        let id = row.id.to_string();
        let (history, notes, clocks, assignee) = self.triage_parts(&key, row).await?;
        let (v3, v4) = triage::scores(row);
        let open = |ct: &Option<Vec<u8>>, column: &str| {
            ct.as_ref().map(|ct| key.open_str(ct, report_aad(&id, column))).transpose()
        };
        Ok(ReportView {
            id: row.id,
            state: row.state,
            state_label: row.state.label().to_owned(),
            state_choices: row
                .state
                .next_states()
                .iter()
                .map(|&state| super::StateChoice { state, label: state.label().to_owned() })
                .collect(),
            duplicate_of: row.duplicate_of,
            assignee,
            severity: v4.as_ref().or(v3.as_ref()).map(|s| s.severity.as_str().to_owned()),
            cvss_v3: v3.as_ref().map(triage::cvss_view),
            cvss_v4: v4.as_ref().map(triage::cvss_view),
            clocks,
            history,
            notes,
            title: content.title,
            description: content.description,
            affected_urls: content.affected_urls,
            ip_addresses: content.ip_addresses,
            timestamps: content.timestamps,
            logs: content.logs,
            was_encrypted: row.was_encrypted,
            finder_name: open(&row.finder_name_ct, "finder_name")?,
            finder_email: open(&row.finder_email_ct, "finder_email")?,
            finder_email_verified: row.email_verified_at.is_some(),
            finder_ip: open(&row.finder_ip_ct, "finder_ip")?,
            credit: row.credit,
            submitted_at: row.created_at.rfc3339(),
            updated_at: row.updated_at.rfc3339(),
            thread: self.thread(&key, row).await?,
            files: self.file_views(&key, row).await?,
        })
    }
}
