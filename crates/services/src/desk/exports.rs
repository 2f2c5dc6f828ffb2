//! Machine-readable forms of a published advisory (D6): CSAF 2.0 (a security advisory profile
//! document; CSAF 2.0 knows CVSS 2.0 and 3.x only, so a 4.0 vector appears in OSV and the HTML page
//! but not here) and OSV (with `CVSS_V3` and `CVSS_V4` severities).

use domain::advisory::PublishedAdvisory;
use serde_json::{json, Value};

/// The advisory's public page.
pub fn advisory_url(base: &str, advisory: &PublishedAdvisory) -> String {
    format!("{}/security/advisories/{}", base.trim_end_matches('/'), advisory.id)
}

/// A `vers` range (the package-URL project's version range syntax) for an affected product.
fn vers_range(introduced: Option<&str>, fixed: Option<&str>) -> String {
    match (introduced, fixed) {
        (Some(i), Some(f)) => format!("vers:generic/>={i}|<{f}"),
        (None, Some(f)) => format!("vers:generic/<{f}"),
        (Some(i), None) => format!("vers:generic/>={i}"),
        (None, None) => "vers:generic/*".to_owned(),
    }
}

/// The CSAF 2.0 document.
pub fn csaf(base: &str, a: &PublishedAdvisory) -> Value {
    let mut affected_ids = Vec::new();
    let mut fixed_ids = Vec::new();
    let mut products = Vec::new();
    for (n, p) in a.affected.iter().enumerate() {
        let affected_id = format!("CSAFPID-{:04}", 2 * n + 1);
        let mut versions = vec![json!({
            "category": "product_version_range",
            "name": vers_range(p.introduced.as_deref(), p.fixed.as_deref()),
            "product": { "product_id": affected_id, "name": format!("{} {}", p.product, vers_range(p.introduced.as_deref(), p.fixed.as_deref())) },
        })];
        affected_ids.push(affected_id);
        if let Some(fixed) = &p.fixed {
            let fixed_id = format!("CSAFPID-{:04}", 2 * n + 2);
            versions.push(json!({
                "category": "product_version",
                "name": fixed,
                "product": { "product_id": fixed_id, "name": format!("{} {fixed}", p.product) },
            }));
            fixed_ids.push(fixed_id);
        }
        products.push(json!({ "category": "product_name", "name": p.product, "branches": versions }));
    }
    let mut references = vec![json!({ "category": "self", "summary": "This advisory", "url": advisory_url(base, a) })];
    references.extend(a.references.iter().map(|r| json!({ "category": "external", "summary": "Reference", "url": r })));
    let mut document = json!({
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "lang": "en",
        "publisher": { "category": "vendor", "name": a.publisher, "namespace": base.trim_end_matches('/') },
        "title": a.title,
        "notes": [{ "category": "summary", "title": "Summary", "text": a.summary }],
        "references": references,
        "tracking": {
            "id": a.id,
            "status": "final",
            "version": "1",
            "initial_release_date": a.published_at,
            "current_release_date": a.published_at,
            "revision_history": [{ "number": "1", "date": a.published_at, "summary": "Initial release." }],
            "generator": { "engine": { "name": "Conclave", "version": env!("CARGO_PKG_VERSION") } },
        },
    });
    if let Some(name) = &a.credit {
        document["acknowledgments"] = json!([{ "names": [name], "summary": "Reported the vulnerability." }]);
    }
    let mut vulnerability = json!({
        "notes": [{ "category": "description", "title": "Description", "text": a.summary }],
        "product_status": { "known_affected": affected_ids },
        "remediations": [{ "category": "vendor_fix", "details": a.fix, "product_ids": affected_ids }],
    });
    if !fixed_ids.is_empty() {
        vulnerability["product_status"]["fixed"] = json!(fixed_ids);
    }
    if let (Some(id), Some(name)) = (&a.cwe_id, &a.cwe_name) {
        vulnerability["cwe"] = json!({ "id": id, "name": name });
    }
    if let Some(v3) = &a.cvss_v3 {
        vulnerability["scores"] = json!([{
            "products": affected_ids,
            "cvss_v3": {
                "version": v3.version,
                "vectorString": v3.vector,
                "baseScore": v3.score,
                "baseSeverity": v3.severity.as_str().to_ascii_uppercase(),
            },
        }]);
    }
    json!({
        "document": document,
        "product_tree": { "branches": [{ "category": "vendor", "name": a.publisher, "branches": products }] },
        "vulnerabilities": [vulnerability],
    })
}

/// The OSV document.
pub fn osv(base: &str, a: &PublishedAdvisory) -> Value {
    let mut severity = Vec::new();
    if let Some(v3) = &a.cvss_v3 {
        severity.push(json!({ "type": "CVSS_V3", "score": v3.vector }));
    }
    if let Some(v4) = &a.cvss_v4 {
        severity.push(json!({ "type": "CVSS_V4", "score": v4.vector }));
    }
    let affected: Vec<Value> = a
        .affected
        .iter()
        .map(|p| {
            let mut events = vec![json!({ "introduced": p.introduced.clone().unwrap_or_else(|| "0".to_owned()) })];
            if let Some(fixed) = &p.fixed {
                events.push(json!({ "fixed": fixed }));
            }
            // OSV's package ecosystems are public registries; an organisation's own product is in
            // none of them, so the product is named in `database_specific` and the range is given
            // without a package.
            json!({
                "ranges": [{ "type": "ECOSYSTEM", "events": events }],
                "database_specific": { "product": p.product },
            })
        })
        .collect();
    let mut references = vec![json!({ "type": "ADVISORY", "url": advisory_url(base, a) })];
    references.extend(a.references.iter().map(|r| json!({ "type": "WEB", "url": r })));
    let mut doc = json!({
        "schema_version": "1.6.0",
        "id": a.id,
        "modified": a.published_at,
        "published": a.published_at,
        "summary": a.title,
        "details": format!("{}\n\nFix: {}", a.summary, a.fix),
        "affected": affected,
        "references": references,
    });
    if !severity.is_empty() {
        doc["severity"] = json!(severity);
    }
    if let Some(name) = &a.credit {
        doc["credits"] = json!([{ "name": name, "type": "FINDER" }]);
    }
    if let Some(cwe) = &a.cwe_id {
        doc["database_specific"] = json!({ "cwe_ids": [cwe] });
    }
    doc
}
