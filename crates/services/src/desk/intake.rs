//! Intake (D3): reports from finders, confirmation of their email, notices, state changes and
//! the retention purge of their contact data.

use super::*;

impl Desk {
    /// Takes a report from anyone. Returns the receipt code, shown once. Links in mails point at
    /// the configured public URL.
    pub async fn submit_report(&self, origin: &Origin, input: &ReportInput) -> Result<Receipt> {
        self.submit_report_with_files(origin, input, Vec::new()).await
    }

    /// [`Desk::submit_report`] with files staged by [`Desk::stage_desk_file`]; they are
    /// recorded with the report in one transaction, or removed if the report is refused.
    pub async fn submit_report_with_files(
        &self,
        origin: &Origin,
        input: &ReportInput,
        mut staged: Vec<files::StagedFile>,
    ) -> Result<Receipt> {
        let result = self.submit(origin, input, &staged).await;
        match &result {
            Ok(_) => files::keep_all(&mut staged),
            Err(_) => self.discard_staged(staged).await,
        }
        result
    }

    pub(super) async fn submit(
        &self,
        origin: &Origin,
        input: &ReportInput,
        staged: &[files::StagedFile],
    ) -> Result<Receipt> {
        let mut content = input.validate().map_err(Error::Invalid)?;
        let name = domain::desk::finder_name(&input.name).map_err(Error::Invalid)?;
        let email = if input.email.trim().is_empty() {
            None
        } else {
            Some(domain::validate::email("email", &input.email).map_err(Error::Invalid)?)
        };
        if input.credit && name.is_none() {
            return Err(Error::Invalid(FieldError::new(
                "name",
                Rule::Required,
                "give the name to credit, or leave the credit box unticked",
            )));
        }
        let enterprise = self.desk_enterprise().await?;
        if let Some(armored) = content.encrypted.take() {
            content.description = self.decrypt_report(enterprise, &armored).await?;
            content.encrypted = None;
        }
        let was_encrypted = !input.encrypted.trim().is_empty();
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let id = ReportId::new();
        let row_id = id.to_string();
        let code = domain::desk::receipt_code_from(&crypto::token::random_128());
        let receipt_hash = self.core.hash_password(&code).await?;
        let now = Millis::now();
        let content_json = zeroize::Zeroizing::new(serde_json::to_vec(&content).expect("content serialises"));
        let email_token = email.as_ref().map(|_| crypto::token::generate());
        let row = store::ReportRow {
            id,
            enterprise_id: enterprise,
            receipt_lookup: self.core.keys.receipt_index(&code),
            receipt_hash,
            state: ReportState::New,
            content_ct: key.seal(&content_json, report_aad(&row_id, "content")),
            was_encrypted,
            finder_name_ct: name.as_ref().map(|n| key.seal_str(n, report_aad(&row_id, "finder_name"))),
            finder_email_ct: email.as_ref().map(|e| key.seal_str(e, report_aad(&row_id, "finder_email"))),
            email_token_hash: email_token.as_deref().map(crypto::token::hash),
            email_verified_at: None,
            finder_ip_ct: match (&origin.ip, self.desk_policy_of(enterprise).await?.store_finder_ip) {
                (Some(ip), true) => Some(key.seal_str(ip, report_aad(&row_id, "finder_ip"))),
                _ => None,
            },
            credit: input.credit,
            created_at: now,
            updated_at: now,
            closed_at: None,
            purged_at: None,
            last_seq: 0,
            assignee: None,
            cvss_v3: None,
            cvss_v4: None,
            duplicate_of: None,
            first_response_at: None,
        };
        // The audit trail records that a report arrived, never who sent it or from where.
        let audit = anonymous_draft(enterprise, Action::DeskReportSubmit, id);
        let file_rows = self.file_rows(enterprise, id, store::ReportAuthor::Finder, staged).await?;
        self.desk_store.create_report(&row, &file_rows, &audit).await?;
        self.announce_to_team(enterprise, id).await;
        if let (Some(email), Some(token)) = (email, email_token) {
            let link = format!("{}/security/verify?token={token}", self.links_base());
            self.send_mail(crate::mail::Mail {
                to: email,
                subject: "Confirm your address for security report notices".to_owned(),
                body: format!(
                    "Someone, probably you, sent a security report and asked for notices at this address.\n\n\
                     To receive them, confirm the address within {EMAIL_LINK_DAYS} days here:\n{link}\n\n\
                     If this was not you, ignore this mail: nothing will be sent to you again.\n"
                ),
            });
        }
        Ok(Receipt { receipt_code: code, submitted_at: now.rfc3339() })
    }

    /// Where links to the public pages point: the configured public URL.
    pub(super) fn links_base(&self) -> String {
        self.core.settings.public_url.trim_end_matches('/').to_owned()
    }

    /// Sends in the background: a slow relay must not slow the desk down.
    pub(super) fn send_mail(&self, mail: crate::mail::Mail) {
        let Some(mailer) = self.core.mailer().cloned() else { return };
        tokio::spawn(async move {
            if let Err(e) = mailer.send(mail).await {
                // Never the address: it is the finder's personal data.
                tracing::warn!(error = %e, "a notice to a finder could not be sent");
            }
        });
    }

    /// The finder followed the link in the confirmation mail.
    pub async fn verify_finder_email(&self, token: &str) -> Result<()> {
        let enterprise = self.desk_enterprise().await?;
        // The store finds the report by the token inside its transaction; the event names no report.
        let audit = AuditDraft {
            target: None,
            ..anonymous_draft(enterprise, Action::DeskReportEmailVerified, ReportId::new())
        };
        let now = Millis::now();
        let made_after = Millis(now.0 - EMAIL_LINK_DAYS * 86_400_000);
        match self.desk_store.verify_report_email(&crypto::token::hash(token.trim()), now, made_after, &audit).await? {
            Some(_) => Ok(()),
            None => Err(Error::NotFound("verification link")),
        }
    }

    /// Mails a verified finder that their report changed, with a fresh status link. The mail
    /// says what kind of change it was, never the report's content.
    pub(super) async fn notify_finder(&self, row: &store::ReportRow, what: &str) -> Result<()> {
        let (Some(email_ct), Some(_), Some(_)) = (&row.finder_email_ct, row.email_verified_at, &self.core.mailer())
        else {
            return Ok(());
        };
        let key = self.core.keys.enterprise_key(row.enterprise_id).await?;
        let email = key.open_str(email_ct, report_aad(&row.id.to_string(), "finder_email"))?;
        let token = crypto::token::generate();
        self.desk_store.set_report_access_token(row.enterprise_id, row.id, &crypto::token::hash(&token)).await?;
        let link = format!("{}/security/status?link={token}", self.links_base());
        self.send_mail(crate::mail::Mail {
            to: email,
            subject: "Update on your security report".to_owned(),
            body: format!(
                "{what}\n\nYour report is now: {} ({})\n\nRead it and reply here (this link replaces earlier ones):\n{link}\n\n\
                 You can also use your receipt code on the status page.\n",
                row.state.as_str(),
                row.state.explain()
            ),
        });
        Ok(())
    }

    /// Deletes finder contact data of reports closed longer ago than the retention period.
    pub async fn purge_closed_reports(&self) -> Result<u64> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(0) };
        let retention = i64::from(self.desk_policy_of(enterprise).await?.retention_days) * 86_400_000;
        let now = Millis::now();
        let closed_before = Millis(now.0 - retention);
        let audit = AuditDraft {
            detail: serde_json::json!({ "closed_before": closed_before.0 }).to_string(),
            ..draft(&Caller::System, &Origin::default(), Some(enterprise), Action::DeskReportPurge, None)
        };
        self.desk_store.purge_finder_data(enterprise, closed_before, now, &audit).await.map_err(Error::from)
    }

    pub(super) async fn decrypt_report(&self, enterprise: EnterpriseId, armored: &str) -> Result<String> {
        let keys = self.desk_secret_keys(enterprise).await?;
        if keys.is_empty() {
            return Err(Error::Invalid(FieldError::new(
                "encrypted",
                Rule::InvalidValue,
                "this organisation has not published an OpenPGP key yet; send the report unencrypted",
            )));
        }
        let armored = armored.to_owned();
        let result = tokio::task::spawn_blocking(move || {
            let mut last = PgpError::NotForThisKey;
            for key in &keys {
                match key.decrypt(&armored, domain::desk::MAX_DESCRIPTION_BYTES + domain::desk::MAX_LOGS_BYTES) {
                    Ok(bytes) => return Ok(bytes),
                    Err(PgpError::NotForThisKey) => continue,
                    Err(e) => {
                        last = e;
                        break;
                    }
                }
            }
            Err(last)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        let bytes = result.map_err(|e| pgp_field_error("encrypted", e))?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Invalid(FieldError::new("encrypted", Rule::InvalidValue, "the decrypted report is not UTF-8 text"))
        })?;
        if text.trim().is_empty() || text.len() > domain::desk::MAX_DESCRIPTION_BYTES + domain::desk::MAX_LOGS_BYTES {
            return Err(Error::Invalid(FieldError::new(
                "encrypted",
                Rule::InvalidValue,
                "the decrypted report is empty or larger than 320 KiB",
            )));
        }
        Ok(text)
    }
}
