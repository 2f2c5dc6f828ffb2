//! Security advisories (D6): what the team drafts for an accepted report, the rules a draft must
//! meet, and the published form that the HTML page, CSAF 2.0 and OSV exports are built from.

use crate::cvss::{CvssScore, CvssVersion};
use crate::validate::{FieldError, Rule};
use serde::{Deserialize, Serialize};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
pub const MAX_PRODUCTS: usize = 20;
pub const MAX_REFERENCES: usize = 20;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_OVERRIDE_CHARS: usize = 500;
pub const MIN_OVERRIDE_CHARS: usize = 10;

/// One affected product and the versions it is affected in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffectedProduct {
    /// The product's name, such as `Conclave Server`.
    #[schema(min_length = 1, max_length = 100)]
    pub product: String,
    /// The first affected version (omit when every version before the fix is affected).
    #[serde(default)]
    #[schema(max_length = 60)]
    pub introduced: Option<String>,
    /// The first version with the fix (omit when there is none yet).
    #[serde(default)]
    #[schema(max_length = 60)]
    pub fixed: Option<String>,
}

/// An advisory as the team writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryInput {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// What the problem is and who it affects.
    #[schema(min_length = 1, max_length = 16384)]
    pub summary: String,
    #[schema(min_items = 1, max_items = 20)]
    pub affected: Vec<AffectedProduct>,
    /// What to do: the fixed version, a workaround.
    #[schema(min_length = 1, max_length = 16384)]
    pub fix: String,
    #[serde(default)]
    #[schema(max_length = 400, pattern = "^([Cc][Vv][Ss][Ss]:3\\.[01]/.*)?$")]
    pub cvss_v3: Option<String>,
    #[serde(default)]
    #[schema(max_length = 400, pattern = "^([Cc][Vv][Ss][Ss]:4\\.0/.*)?$")]
    pub cvss_v4: Option<String>,
    /// Such as `CWE-79`.
    #[serde(default)]
    #[schema(max_length = 10, pattern = "^([Cc][Ww][Ee]-[0-9]{1,6})?$")]
    pub cwe_id: Option<String>,
    /// The weakness's name as MITRE's list gives it (CSAF requires it with the id).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub cwe_name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = advisoryinput_references_schema)]
    pub references: Vec<String>,
    /// The proposed publication date, `YYYY-MM-DD`, in the desk's time zone.
    #[schema(format = Date)]
    pub publish_on: String,
}

/// A draft that passed every rule, with its vectors scored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryDraft {
    pub title: String,
    pub summary: String,
    pub affected: Vec<AffectedProduct>,
    pub fix: String,
    pub cvss_v3: Option<CvssScore>,
    pub cvss_v4: Option<CvssScore>,
    pub cwe_id: Option<String>,
    pub cwe_name: Option<String>,
    pub references: Vec<String>,
    pub publish_on: String,
}

fn text(field: &str, raw: &str, max_bytes: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if t.len() > max_bytes {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {} KiB", max_bytes / 1024)));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(FieldError::new(field, Rule::ControlCharacters, "must not contain control characters"));
    }
    Ok(t.to_owned())
}

fn name(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if t.chars().count() > max_chars {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {max_chars} characters")));
    }
    if t.chars().any(crate::validate::is_hidden_character) {
        return Err(crate::validate::hidden_characters(field));
    }
    Ok(t.to_owned())
}

fn optional(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AdvisoryInput {
    pub fn validate(&self) -> Result<AdvisoryDraft, FieldError> {
        let title = name("title", &self.title, MAX_TITLE_CHARS)?;
        let summary = text("summary", &self.summary, MAX_TEXT_BYTES)?;
        let fix = text("fix", &self.fix, MAX_TEXT_BYTES)?;
        if self.affected.is_empty() {
            return Err(FieldError::new("affected", Rule::Empty, "name at least one affected product"));
        }
        if self.affected.len() > MAX_PRODUCTS {
            return Err(FieldError::new("affected", Rule::TooLong, format!("at most {MAX_PRODUCTS} products")));
        }
        let mut affected = Vec::new();
        for (i, a) in self.affected.iter().enumerate() {
            let version = |what: &str, v: &Option<String>| {
                optional(v).map(|v| name(&format!("affected[{i}].{what}"), v, 60)).transpose()
            };
            affected.push(AffectedProduct {
                product: name(&format!("affected[{i}].product"), &a.product, MAX_NAME_CHARS)?,
                introduced: version("introduced", &a.introduced)?,
                fixed: version("fixed", &a.fixed)?,
            });
        }
        let cvss_v3 = optional(&self.cvss_v3).map(|v| crate::cvss::parse("cvss_v3", v, CvssVersion::V3)).transpose()?;
        let cvss_v4 = optional(&self.cvss_v4).map(|v| crate::cvss::parse("cvss_v4", v, CvssVersion::V4)).transpose()?;
        let cwe_id = optional(&self.cwe_id)
            .map(|c| {
                let upper = c.to_ascii_uppercase();
                match upper.strip_prefix("CWE-") {
                    Some(n) if !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(upper),
                    _ => Err(FieldError::new(
                        "cwe_id",
                        Rule::InvalidValue,
                        "must be written as CWE- and a number, such as CWE-79",
                    )),
                }
            })
            .transpose()?;
        let cwe_name = optional(&self.cwe_name).map(|n| name("cwe_name", n, 200)).transpose()?;
        if cwe_id.is_some() != cwe_name.is_some() {
            let field = if cwe_id.is_some() { "cwe_name" } else { "cwe_id" };
            return Err(FieldError::new(field, Rule::Required, "give the weakness's id and its name together"));
        }
        if self.references.len() > MAX_REFERENCES {
            return Err(FieldError::new("references", Rule::TooLong, format!("at most {MAX_REFERENCES} references")));
        }
        let references = self
            .references
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .enumerate()
            .map(|(i, r)| {
                crate::desk::url(r).map_err(|why| FieldError::new(format!("references[{i}]"), Rule::InvalidValue, why))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let publish_on = self.publish_on.trim();
        if crate::desk_clock::parse_date(publish_on).is_none() {
            return Err(FieldError::new("publish_on", Rule::InvalidValue, "must be a date written as YYYY-MM-DD"));
        }
        Ok(AdvisoryDraft {
            title,
            summary,
            affected,
            fix,
            cvss_v3,
            cvss_v4,
            cwe_id,
            cwe_name,
            references,
            publish_on: publish_on.to_owned(),
        })
    }
}

impl AdvisoryDraft {
    pub fn input(&self) -> AdvisoryInput {
        AdvisoryInput {
            title: self.title.clone(),
            summary: self.summary.clone(),
            affected: self.affected.clone(),
            fix: self.fix.clone(),
            cvss_v3: self.cvss_v3.as_ref().map(|s| s.vector.clone()),
            cvss_v4: self.cvss_v4.as_ref().map(|s| s.vector.clone()),
            cwe_id: self.cwe_id.clone(),
            cwe_name: self.cwe_name.clone(),
            references: self.references.clone(),
            publish_on: self.publish_on.clone(),
        }
    }
}

/// Why publishing without the finder's agreement is allowed this time: required, in words.
pub fn override_reason(raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.chars().count() < MIN_OVERRIDE_CHARS {
        return Err(FieldError::new(
            "override_reason",
            Rule::TooShort,
            format!("explain in at least {MIN_OVERRIDE_CHARS} characters why the finder's agreement is not needed"),
        ));
    }
    name("override_reason", t, MAX_OVERRIDE_CHARS)
}

/// A published advisory: the public record every export is built from. It never changes once
/// published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishedAdvisory {
    /// The advisory's public id, such as `CONCLAVE-2026-0001`.
    pub id: String,
    pub title: String,
    pub summary: String,
    pub affected: Vec<AffectedProduct>,
    pub fix: String,
    #[schema(value_type = Option<Object>)]
    pub cvss_v3: Option<CvssScore>,
    #[schema(value_type = Option<Object>)]
    pub cvss_v4: Option<CvssScore>,
    pub cwe_id: Option<String>,
    pub cwe_name: Option<String>,
    pub references: Vec<String>,
    /// The finder's chosen name, only when they asked for credit.
    pub credit: Option<String>,
    /// RFC 3339.
    pub published_at: String,
    /// The publisher (the organisation).
    pub publisher: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AdvisoryInput {
        AdvisoryInput {
            title: "Reset links work twice".into(),
            summary: "A password reset link could be used again within a day.".into(),
            affected: vec![AffectedProduct {
                product: "Conclave".into(),
                introduced: None,
                fixed: Some("1.4.2".into()),
            }],
            fix: "Upgrade to 1.4.2.".into(),
            cvss_v3: Some("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N".into()),
            cvss_v4: None,
            cwe_id: Some("cwe-640".into()),
            cwe_name: Some("Weak Password Recovery Mechanism for Forgotten Password".into()),
            references: vec!["https://example.org/notes/1.4.2".into()],
            publish_on: "2026-12-20".into(),
        }
    }

    #[test]
    fn a_draft_is_checked_field_by_field() {
        let d = good().validate().unwrap();
        assert_eq!(d.cwe_id.as_deref(), Some("CWE-640"));
        assert_eq!(d.cvss_v3.as_ref().unwrap().score, 6.8);
        assert_eq!(d.input().validate().unwrap(), d, "a draft round-trips through its input");
        let field = |i: AdvisoryInput| i.validate().unwrap_err().field;
        assert_eq!(field(AdvisoryInput { title: " ".into(), ..good() }), "title");
        assert_eq!(field(AdvisoryInput { affected: vec![], ..good() }), "affected");
        assert_eq!(field(AdvisoryInput { cwe_id: Some("79".into()), ..good() }), "cwe_id");
        assert_eq!(field(AdvisoryInput { cwe_name: None, ..good() }), "cwe_name");
        assert_eq!(field(AdvisoryInput { references: vec!["ftp://x".into()], ..good() }), "references[0]");
        assert_eq!(field(AdvisoryInput { publish_on: "20 Dec".into(), ..good() }), "publish_on");
        assert_eq!(field(AdvisoryInput { cvss_v4: Some("CVSS:4.0/AV:N".into()), ..good() }), "cvss_v4");
        assert_eq!(override_reason("short").unwrap_err().rule, Rule::TooShort);
        assert!(override_reason("The finder stopped answering for 90 days.").is_ok());
    }
}

// The OpenAPI schemas of list fields whose items have limits too.
crate::string_list_schema!(fn advisoryinput_references_schema: max_items = 20, max_length = 2048, pattern = "^(https?://.*)?$");
