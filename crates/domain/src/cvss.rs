//! CVSS vectors as the security desk records them (D4, D6): version 3.1 (or 3.0) and 4.0, parsed
//! and scored by the server with the `cvss` crate, which implements FIRST's equations (3.x) and
//! look-up tables (4.0). A refusal names the metric that is wrong, in our words.

use crate::validate::{FieldError, Rule};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The qualitative rating FIRST defines for both versions (the same bands in 3.1 and 4.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::None => "none",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::None => "None",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    fn of(s: cvss::Severity) -> Severity {
        match s {
            cvss::Severity::None => Severity::None,
            cvss::Severity::Low => Severity::Low,
            cvss::Severity::Medium => Severity::Medium,
            cvss::Severity::High => Severity::High,
            cvss::Severity::Critical => Severity::Critical,
        }
    }
}

/// Which CVSS a vector belongs to. A report may carry one of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CvssVersion {
    #[serde(rename = "3")]
    V3,
    #[serde(rename = "4.0")]
    V4,
}

/// A vector that parsed, with its base score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CvssScore {
    /// The vector as the server writes it back (metric names and values upper-case).
    pub vector: String,
    /// `3.0`, `3.1` or `4.0`.
    pub version: String,
    /// 0.0 to 10.0, one decimal.
    pub score: f64,
    pub severity: Severity,
}

/// Longest vector accepted: a 4.0 vector with every optional metric is about 270 characters.
pub const MAX_VECTOR_CHARS: usize = 400;

const V3_REQUIRED: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];

/// Parses and scores a vector of the given version. `field` names the request field in errors.
pub fn parse(field: &str, raw: &str, version: CvssVersion) -> Result<CvssScore, FieldError> {
    // Metric names and values are letters; people type them in either case.
    let upper = raw.trim().to_ascii_uppercase();
    let raw = upper.as_str();
    let invalid = |message: String| FieldError::new(field, Rule::InvalidValue, message);
    if raw.is_empty() {
        return Err(FieldError::new(field, Rule::Empty, "must not be empty"));
    }
    if raw.chars().count() > MAX_VECTOR_CHARS {
        return Err(FieldError::new(field, Rule::TooLong, format!("must be at most {MAX_VECTOR_CHARS} characters")));
    }
    let prefix = match version {
        CvssVersion::V3 => ["CVSS:3.1/", "CVSS:3.0/"].into_iter().find(|p| raw.starts_with(p)),
        CvssVersion::V4 => ["CVSS:4.0/"].into_iter().find(|p| raw.starts_with(p)),
    };
    let Some(prefix) = prefix else {
        return Err(invalid(match version {
            CvssVersion::V3 => "must start with CVSS:3.1/ (or CVSS:3.0/), then the metrics".to_owned(),
            CvssVersion::V4 => "must start with CVSS:4.0/, then the metrics".to_owned(),
        }));
    };
    // Each metric once, as NAME:VALUE; checked here so the message can name the metric even where
    // the library's own checks are looser (3.x accepts a vector with base metrics missing).
    let mut seen: Vec<&str> = Vec::new();
    for part in raw[prefix.len()..].split('/') {
        let Some((name, value)) = part.split_once(':') else {
            return Err(invalid(format!("{part:?} is not a metric: write each one as NAME:VALUE, separated by /")));
        };
        if name.is_empty() || value.is_empty() {
            return Err(invalid(format!("{part:?} is not a metric: write each one as NAME:VALUE, separated by /")));
        }
        if seen.contains(&name) {
            return Err(invalid(format!("metric {name} appears twice")));
        }
        seen.push(name);
    }
    if version == CvssVersion::V3 {
        if let Some(missing) = V3_REQUIRED.iter().find(|m| !seen.contains(m)) {
            return Err(invalid(format!("the base metric {missing} is missing")));
        }
    }
    let explain = |e: cvss::Error| -> FieldError {
        invalid(match e {
            cvss::Error::InvalidMetricV3 { metric_type, value } => {
                format!("metric {} ({}) cannot be {value:?}", metric_type.name(), metric_type.description())
            }
            cvss::Error::InvalidMetricV4 { metric_type, value } => {
                format!("metric {} ({}) cannot be {value:?}", metric_type.name(), metric_type.description())
            }
            cvss::Error::MissingMandatoryMetricV4 { metric_type } => {
                format!("the base metric {} ({}) is missing", metric_type.name(), metric_type.description())
            }
            cvss::Error::DuplicateMetricV3 { metric_type } => format!("metric {} appears twice", metric_type.name()),
            cvss::Error::DuplicateMetricV4 { metric_type } => format!("metric {} appears twice", metric_type.name()),
            cvss::Error::UnknownMetric { name } => format!("{name:?} is not a metric of this CVSS version"),
            _ => "is not a CVSS vector this server can read".to_owned(),
        })
    };
    match version {
        CvssVersion::V3 => {
            let vector = cvss::v3::Vector::from_str(raw).map_err(explain)?;
            let score = vector.base_score();
            Ok(CvssScore {
                vector: vector.to_string(),
                version: prefix[5..8].to_owned(),
                score: score.value(),
                severity: Severity::of(score.severity()),
            })
        }
        CvssVersion::V4 => {
            let vector = cvss::v4::Vector::from_str(raw).map_err(explain)?;
            let score = vector.score();
            let value = score.clone().value();
            let severity = Severity::of(score.clone().severity());
            Ok(CvssScore {
                vector: vector.to_string(),
                version: "4.0".to_owned(),
                score: (value * 10.0).round() / 10.0,
                severity,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(raw: &str, version: CvssVersion) -> (f64, Severity) {
        let s = parse("cvss", raw, version).unwrap();
        (s.score, s.severity)
    }

    /// Examples from the CVSS 3.1 specification's scoring examples and FIRST's calculator.
    #[test]
    fn v3_scores_match_first() {
        use CvssVersion::V3;
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", V3), (9.8, Severity::Critical));
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", V3), (10.0, Severity::Critical));
        // CVE-2014-0160 (Heartbleed), as scored in the 3.1 examples document.
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", V3), (7.5, Severity::High));
        // CVE-2013-1937 (phpMyAdmin reflected XSS).
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", V3), (6.1, Severity::Medium));
        // CVE-2016-5729 (Lenovo) local privilege escalation.
        assert_eq!(score("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", V3), (6.7, Severity::Medium));
        assert_eq!(score("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", V3), (1.6, Severity::Low));
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", V3), (0.0, Severity::None));
        // 3.0 vectors are read too (CSAF 2.0 allows both).
        assert_eq!(score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", V3), (9.8, Severity::Critical));
    }

    /// Values from FIRST's CVSS 4.0 calculator.
    #[test]
    fn v4_scores_match_first() {
        use CvssVersion::V4;
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", V4),
            (9.3, Severity::Critical)
        );
        assert_eq!(
            score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", V4),
            (10.0, Severity::Critical)
        );
        assert_eq!(score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", V4), (8.5, Severity::High));
        assert_eq!(score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", V4), (0.0, Severity::None));
        // A threat metric counts: exploitation unreported lowers the score (the crate's own tests
        // check every 4.0 vector against Red Hat's reference implementation).
        let (threat, _) = score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", V4);
        assert!(threat < 9.3, "{threat}");
    }

    #[test]
    fn a_bad_vector_names_the_metric() {
        let e = parse("cvss_v3", "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CvssVersion::V3).unwrap_err();
        assert_eq!(e.field, "cvss_v3");
        assert!(e.message.contains("AV"), "{}", e.message);
        let e = parse("cvss_v3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", CvssVersion::V3).unwrap_err();
        assert!(e.message.contains("base metric A "), "{}", e.message);
        let e = parse("cvss_v3", "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CvssVersion::V3).unwrap_err();
        assert!(e.message.contains("AV appears twice"), "{}", e.message);
        let e = parse("cvss_v4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", CvssVersion::V4)
            .unwrap_err();
        assert!(e.message.contains("SA"), "{}", e.message);
        let e = parse("cvss_v4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:X/VI:H/VA:H/SC:N/SI:N/SA:N", CvssVersion::V4)
            .unwrap_err();
        assert!(e.message.contains("VC"), "{}", e.message);
        let e = parse("cvss_v4", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CvssVersion::V4).unwrap_err();
        assert!(e.message.contains("CVSS:4.0/"), "{}", e.message);
        let e = parse("cvss_v3", "CVSS:3.1/AV:N/ZZ:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", CvssVersion::V3).unwrap_err();
        assert!(e.message.contains("ZZ"), "{}", e.message);
        let e = parse("cvss_v3", "CVSS:3.1/AVN", CvssVersion::V3).unwrap_err();
        assert!(e.message.contains("NAME:VALUE"), "{}", e.message);
        assert_eq!(parse("cvss_v3", " ", CvssVersion::V3).unwrap_err().rule, Rule::Empty);
    }
}
