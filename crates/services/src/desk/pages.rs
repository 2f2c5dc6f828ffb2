//! The public pages (D1): the signed security.txt (RFC 9116), the policy pages the team edits,
//! and the hall of fame.

use super::*;

impl Desk {
    /// The security.txt body for this server's public URL, cleartext-signed with the active key
    /// when there is one. Whatever host a request named, the content is the same.
    pub async fn security_txt(&self) -> Result<String> {
        let desk = &self.core.settings.desk;
        let base = self.links_base();
        let expires = Millis(Millis::now().0 + SECURITY_TXT_DAYS * 86_400_000);
        // RFC 9116 wants an Internet date-time; whole seconds read best.
        let expires = expires.rfc3339().split('.').next().unwrap_or_default().trim_end_matches('Z').to_owned() + "Z";
        let mut lines = vec![
            "# Security contact for this Conclave installation (RFC 9116).".to_owned(),
            format!("Contact: {base}/security/report"),
        ];
        if let Some(email) = &desk.contact_email {
            lines.push(format!("Contact: mailto:{email}"));
        }
        lines.push(format!("Expires: {expires}"));
        let key = self.published_key().await?;
        if key.is_some() {
            lines.push(format!("Encryption: {base}/security/key.asc"));
        }
        lines.push(format!("Acknowledgments: {base}/security#hall-of-fame"));
        lines.push(format!("Policy: {base}/security"));
        if desk.canonical_urls.is_empty() {
            lines.push(format!("Canonical: {base}/.well-known/security.txt"));
        } else {
            for url in &desk.canonical_urls {
                lines.push(format!("Canonical: {url}"));
            }
        }
        lines.push(format!("Preferred-Languages: {}", desk.preferred_languages));
        let body = lines.join("\n") + "\n";
        let Some(_) = key else { return Ok(body) };
        let enterprise = self.desk_enterprise().await?;
        let active = self.desk_secret_keys(enterprise).await?.into_iter().next().ok_or(Error::NotFound("key"))?;
        Ok(active.clearsign(&body))
    }

    // ---- Pages (D1) ----

    pub async fn desk_page(&self, page: DeskPage) -> Result<DeskPageView> {
        let stored = match self.desk_enterprise().await {
            Ok(enterprise) => self.desk_store.desk_pages(enterprise).await?.into_iter().find(|p| p.page == page),
            Err(_) => None,
        };
        let (markdown, updated_at) = match stored {
            Some(row) => (row.markdown, Some(row.updated_at.rfc3339())),
            None => (defaults::page(page).to_owned(), None),
        };
        Ok(DeskPageView { page, html: markdown::render(&markdown), markdown, updated_at })
    }

    pub async fn put_desk_page(
        &self,
        caller: &Caller,
        origin: &Origin,
        page: DeskPage,
        source: &str,
    ) -> Result<DeskPageView> {
        let enterprise = self.require_security_team(caller, Action::DeskPageUpdate).await?;
        markdown::validate("markdown", source).map_err(Error::Invalid)?;
        let row = store::DeskPageRow {
            enterprise_id: enterprise,
            page,
            markdown: source.to_owned(),
            updated_at: Millis::now(),
            updated_by: match caller {
                Caller::User(p) => Some(p.user_id),
                Caller::Operator | Caller::System => None,
            },
        };
        let audit =
            draft(caller, origin, Some(enterprise), Action::DeskPageUpdate, Some(format!("page:{}", page.as_str())));
        self.desk_store.put_desk_page(&row, &audit).await?;
        self.desk_page(page).await
    }

    /// Finders who asked to be credited, for reports the team accepted.
    pub async fn hall_of_fame(&self) -> Result<Vec<String>> {
        let Ok(enterprise) = self.desk_enterprise().await else { return Ok(Vec::new()) };
        let key = self.core.keys.enterprise_key(enterprise).await?;
        let mut names = Vec::new();
        for r in self.desk_store.list_reports(enterprise).await? {
            let credited = matches!(
                r.state,
                ReportState::Accepted | ReportState::Fixing | ReportState::Resolved | ReportState::Disclosed
            );
            if let (true, true, Some(ct)) = (credited, r.credit, &r.finder_name_ct) {
                let name = key.open_str(ct, report_aad(&r.id.to_string(), "finder_name"))?;
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }
}
