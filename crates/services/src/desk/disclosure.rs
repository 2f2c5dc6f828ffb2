//! Coordinated disclosure (D6): the team drafts an advisory for an accepted report, the finder
//! reads it on the status page and agrees to a version (kept as evidence: the version, the
//! SHA-256 of the draft they read, when), and the team publishes it on or after the proposed date
//! with that agreement, or with an override and its reason. Published advisories are public at
//! `/security/advisories` and export as CSAF 2.0 and OSV.

use super::*;
use domain::advisory::{AdvisoryDraft, AdvisoryInput, PublishedAdvisory};

/// The advisory of a report, as the team sees it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AdvisoryView {
    /// Such as `CONCLAVE-2026-0001`.
    pub public_id: String,
    pub version: i64,
    pub draft: AdvisoryInput,
    /// Scores of the draft's vectors, as the server computed them.
    pub cvss_v3_score: Option<f64>,
    pub cvss_v4_score: Option<f64>,
    /// The version the finder agreed to, and when; absent until they do.
    pub consent_version: Option<i64>,
    pub consent_at: Option<String>,
    /// The finder agreed to the current version.
    pub consent_current: bool,
    pub published_at: Option<String>,
    pub override_reason: Option<String>,
    /// The finder asked for credit: the advisory names them as they chose.
    pub credit: Option<String>,
}

/// The draft as the finder sees it on the status page.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinderAdvisoryView {
    pub version: i64,
    pub draft: AdvisoryInput,
    /// The finder agreed to this version already.
    pub agreed: bool,
    pub published_at: Option<String>,
    /// How the finder will be named, or `None` when they did not ask for credit.
    pub credit: Option<String>,
}

fn advisory_aad(id: &str) -> Aad<'_> {
    Aad { table: "advisories", row: id, column: "draft" }
}

impl Desk {
    fn open_draft(&self, key: &crypto::DataKey, row: &store::AdvisoryRow) -> Result<AdvisoryDraft> {
        let json = key.open_str(&row.draft_ct, advisory_aad(&row.id.to_string()))?;
        serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored advisory draft: {e}")))
    }

    /// The finder's name for the advisory and the hall of fame, only when they asked for credit.
    fn credit_name(&self, key: &crypto::DataKey, report: &store::ReportRow) -> Result<Option<String>> {
        match (report.credit, &report.finder_name_ct) {
            (true, Some(ct)) => Ok(Some(key.open_str(ct, report_aad(&report.id.to_string(), "finder_name"))?)),
            _ => Ok(None),
        }
    }

    fn advisory_view(
        &self,
        key: &crypto::DataKey,
        report: &store::ReportRow,
        row: &store::AdvisoryRow,
    ) -> Result<AdvisoryView> {
        let draft = self.open_draft(key, row)?;
        Ok(AdvisoryView {
            public_id: row.public_id.clone(),
            version: row.version,
            cvss_v3_score: draft.cvss_v3.as_ref().map(|s| s.score),
            cvss_v4_score: draft.cvss_v4.as_ref().map(|s| s.score),
            draft: draft.input(),
            consent_version: row.consent_version,
            consent_at: row.consent_at.map(Millis::rfc3339),
            consent_current: row.consent_version == Some(row.version)
                && row.consent_sha256.as_deref() == Some(&row.draft_sha256[..]),
            published_at: row.published_at.map(Millis::rfc3339),
            override_reason: row.override_reason.clone(),
            credit: self.credit_name(key, report)?,
        })
    }

    pub async fn desk_advisory(&self, caller: &Caller, id: ReportId) -> Result<Option<AdvisoryView>> {
        let enterprise = self.require_security_team(caller, Action::DeskRead).await?;
        let report = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        match self.advisory_store.advisory_of_report(enterprise, id).await? {
            Some(row) => Ok(Some(self.advisory_view(&key, &report, &row)?)),
            None => Ok(None),
        }
    }

    /// Saves the draft as a new version. Only for a report the team accepted (accepted, being
    /// fixed or resolved); the finder is told there is a draft to read.
    pub async fn save_advisory(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        input: &AdvisoryInput,
    ) -> Result<AdvisoryView> {
        let enterprise = self.require_security_team(caller, Action::DeskAdvisorySave).await?;
        let report = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        if !matches!(report.state, ReportState::Accepted | ReportState::Fixing | ReportState::Resolved) {
            return Err(Error::Conflict(FieldError::new(
                "state",
                Rule::InvalidValue,
                format!(
                    "an advisory is drafted for an accepted report; this one is {}",
                    report.state.label().to_lowercase()
                ),
            )));
        }
        let draft = input.validate().map_err(Error::Invalid)?;
        let json = serde_json::to_string(&draft).expect("a draft serialises");
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let existing = self.advisory_store.advisory_of_report(enterprise, id).await?;
        let advisory_id = existing.as_ref().map_or_else(uuid::Uuid::now_v7, |a| a.id);
        let now = Millis::now();
        let row = store::AdvisoryRow {
            id: advisory_id,
            enterprise_id: enterprise,
            report_id: id,
            public_id: String::new(),
            version: 0,
            draft_ct: key.seal_str(&json, advisory_aad(&advisory_id.to_string())),
            draft_sha256: crypto::token::hash(&json),
            publish_on: draft.publish_on.clone(),
            consent_version: None,
            consent_sha256: None,
            consent_at: None,
            published_at: None,
            published_json: None,
            override_reason: None,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditDraft {
            detail: serde_json::json!({
                "version": existing.as_ref().map_or(1, |a| a.version + 1),
                "publish_on": draft.publish_on,
            })
            .to_string(),
            ..draft_audit(caller, origin, enterprise, Action::DeskAdvisorySave, id)
        };
        let saved = match self.advisory_store.save_advisory_draft(&row, &audit).await {
            Err(store::Error::Conflict(what)) => {
                let message = if what == "advisories.published" {
                    "this advisory is published and can no longer change"
                } else {
                    "someone else saved this advisory at the same moment; reload it and save again"
                };
                return Err(Error::Conflict(FieldError::new("advisory", Rule::InvalidValue, message)));
            }
            other => other?,
        };
        self.notify_finder(
            &report,
            "The security team drafted an advisory about your report: read it and tell them whether you agree.",
        )
        .await?;
        self.announce_to_team(enterprise, id).await;
        self.advisory_view(&key, &report, &saved)
    }

    pub(super) async fn finder_advisory(&self, report: &store::ReportRow) -> Result<Option<FinderAdvisoryView>> {
        let Some(row) = self.advisory_store.advisory_of_report(report.enterprise_id, report.id).await? else {
            return Ok(None);
        };
        let key = self.core.keys.enterprise_key(report.enterprise_id).await?;
        let view = self.advisory_view(&key, report, &row)?;
        Ok(Some(FinderAdvisoryView {
            version: view.version,
            draft: view.draft,
            agreed: view.consent_current,
            published_at: view.published_at,
            credit: view.credit,
        }))
    }

    /// The finder agrees to the version of the draft they read. Refused when the team saved a
    /// newer version meanwhile (they must read that one), or after publication.
    pub async fn finder_consent(&self, credential: FinderCredential<'_>, version: i64) -> Result<FinderReportView> {
        let report = self.report_for(credential).await?;
        let row = self
            .advisory_store
            .advisory_of_report(report.enterprise_id, report.id)
            .await?
            .ok_or(Error::NotFound("advisory"))?;
        let stale = || {
            Error::Conflict(FieldError::new(
                "version",
                Rule::InvalidValue,
                "the security team changed the draft since you read it: read the new version first",
            ))
        };
        if row.version != version || row.published_at.is_some() {
            return Err(stale());
        }
        let audit = AuditDraft {
            detail: serde_json::json!({ "version": version, "draft_sha256": hex::encode(&row.draft_sha256) })
                .to_string(),
            ..anonymous_draft(report.enterprise_id, Action::DeskAdvisoryConsent, report.id)
        };
        let recorded = self
            .advisory_store
            .record_advisory_consent(report.enterprise_id, row.id, version, &row.draft_sha256, Millis::now(), &audit)
            .await?;
        if !recorded {
            return Err(stale());
        }
        self.announce_to_team(report.enterprise_id, report.id).await;
        self.finder_view(&report).await
    }

    /// Publishes the advisory and marks the report disclosed, in one transaction. Refused before
    /// the proposed date (in the desk's time zone), for a report not resolved yet, and without the
    /// finder's agreement to the current version unless an override gives its reason.
    pub async fn publish_advisory(
        &self,
        caller: &Caller,
        origin: &Origin,
        id: ReportId,
        override_reason: Option<&str>,
    ) -> Result<AdvisoryView> {
        let enterprise = self.require_security_team(caller, Action::DeskAdvisoryPublish).await?;
        let Caller::User(person) = caller else {
            return Err(self.core.deny(caller, Action::DeskAdvisoryPublish, Some(enterprise), "person", None).await);
        };
        let report = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        let row = self.advisory_store.advisory_of_report(enterprise, id).await?.ok_or(Error::NotFound("advisory"))?;
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let view = self.advisory_view(&key, &report, &row)?;
        let conflict =
            |field: &str, message: String| Error::Conflict(FieldError::new(field, Rule::InvalidValue, message));
        if row.published_at.is_some() {
            return Err(conflict("advisory", "this advisory is already published".into()));
        }
        if report.state != ReportState::Resolved {
            return Err(conflict(
                "state",
                format!("publish once the report is resolved; it is {}", report.state.label().to_lowercase()),
            ));
        }
        let (settings, _) = self.clock_settings_of(enterprise).await?;
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::get(&settings.time_zone).unwrap_or(jiff::tz::TimeZone::UTC))
            .date()
            .to_string();
        if today < row.publish_on {
            return Err(conflict(
                "publish_on",
                format!(
                    "the proposed publication date is {}; today is {today} in {}",
                    row.publish_on, settings.time_zone
                ),
            ));
        }
        let reason = match (view.consent_current, override_reason.map(str::trim).filter(|r| !r.is_empty())) {
            (true, _) => None,
            (false, Some(reason)) => Some(domain::advisory::override_reason(reason).map_err(Error::Invalid)?),
            (false, None) => {
                return Err(conflict(
                    "consent",
                    "the finder has not agreed to this version of the draft; wait for them, or publish with an override and its reason"
                        .into(),
                ))
            }
        };
        let draft = self.open_draft(&key, &row)?;
        let now = Millis::now();
        let published = PublishedAdvisory {
            id: row.public_id.clone(),
            title: draft.title,
            summary: draft.summary,
            affected: draft.affected,
            fix: draft.fix,
            cvss_v3: draft.cvss_v3,
            cvss_v4: draft.cvss_v4,
            cwe_id: draft.cwe_id,
            cwe_name: draft.cwe_name,
            references: draft.references,
            credit: view.credit.clone(),
            published_at: now.rfc3339(),
            publisher: self.publisher_name(enterprise).await?,
        };
        let json = serde_json::to_string(&published).expect("an advisory serialises");
        let disclose = store::ReportTransitionRow {
            report_id: id,
            seq: 0,
            from: ReportState::Resolved,
            to: ReportState::Disclosed,
            actor: store::ReportAuthor::Team(person.user_id),
            at: now,
            duplicate_of: None,
        };
        let audit = AuditDraft {
            detail: serde_json::json!({
                "public_id": row.public_id,
                "version": row.version,
                "consent": view.consent_current,
                "override_reason": reason,
            })
            .to_string(),
            ..draft_audit(caller, origin, enterprise, Action::DeskAdvisoryPublish, id)
        };
        let saved = match self
            .advisory_store
            .publish_advisory(
                enterprise,
                &store::AdvisoryPublication {
                    advisory: row.id,
                    version: row.version,
                    published_json: &json,
                    override_reason: reason.as_deref(),
                    disclose: &disclose,
                },
                &audit,
            )
            .await
        {
            Err(store::Error::Conflict(what)) => {
                return Err(conflict(
                    "advisory",
                    format!("someone changed the advisory or the report meanwhile ({what}); reload it"),
                ))
            }
            other => other?,
        };
        let report = self.desk_store.get_report(enterprise, id).await?.ok_or(Error::NotFound("report"))?;
        self.notify_finder(&report, "The advisory about your report is published.").await?;
        self.announce_to_team(enterprise, id).await;
        self.advisory_view(&key, &report, &saved)
    }

    async fn publisher_name(&self, enterprise: EnterpriseId) -> Result<String> {
        Ok(match self.directory_store.get_enterprise(enterprise).await? {
            Some(row) => {
                let key = self.core.keys.enterprise_key(enterprise).await?;
                key.open_str(&row.name_ct, Aad { table: "enterprises", row: &enterprise.to_string(), column: "name" })?
            }
            None => String::new(),
        })
    }

    /// Published advisories, newest first (public).
    pub async fn published_advisories(&self) -> Result<Vec<PublishedAdvisory>> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(Vec::new()) };
        self.advisory_store
            .published_advisories(enterprise)
            .await?
            .iter()
            .filter_map(|r| r.published_json.as_deref())
            .map(|j| serde_json::from_str(j).map_err(|e| Error::Internal(format!("stored advisory: {e}"))))
            .collect()
    }

    pub async fn published_advisory(&self, public_id: &str) -> Result<PublishedAdvisory> {
        self.published_advisories().await?.into_iter().find(|a| a.id == public_id).ok_or(Error::NotFound("advisory"))
    }
}

fn draft_audit(
    caller: &Caller,
    origin: &Origin,
    enterprise: EnterpriseId,
    action: Action,
    report: ReportId,
) -> AuditDraft {
    draft(caller, origin, Some(enterprise), action, Some(format!("report:{report}")))
}
