//! The standards' JSON schemas, from the test data, checked offline: CSAF 2.0 (OASIS) with the
//! CVSS schemas it refers to (FIRST), and OSV (OpenSSF).

use serde_json::Value;
use std::path::Path;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schemas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn errors(schema: &Value, resources: &[(&str, Value)], doc: &Value) -> Vec<String> {
    let mut registry = jsonschema::Registry::new();
    for (uri, resource) in resources {
        registry = registry.add(*uri, resource.clone()).unwrap();
    }
    let registry = registry.prepare().unwrap();
    let validator = jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(schema)
        .expect("the schema builds offline");
    validator.iter_errors(doc).map(|e| format!("{} at {}: {}", e.kind().keyword(), e.instance_path(), e)).collect()
}

pub fn assert_valid_csaf(doc: &Value) {
    let resources = [
        ("https://www.first.org/cvss/cvss-v2.0.json", load("cvss-v2.0.json")),
        ("https://www.first.org/cvss/cvss-v3.0.json", load("cvss-v3.0.json")),
        ("https://www.first.org/cvss/cvss-v3.1.json", load("cvss-v3.1.json")),
    ];
    let found = errors(&load("csaf_json_schema.json"), &resources, doc);
    assert!(found.is_empty(), "the CSAF document breaks the CSAF 2.0 schema:\n{}\n{doc:#}", found.join("\n"));
}

/// The OSV schema also limits `id` to the prefixes of databases registered with osv.dev; an
/// organisation's own advisories have no such registration, so that one rule is set aside here
/// and every other holds.
pub fn assert_valid_osv(doc: &Value) {
    let found: Vec<String> = errors(&load("osv_schema.json"), &[], doc)
        .into_iter()
        .filter(|e| !(e.starts_with("pattern at /id:")))
        .collect();
    assert!(found.is_empty(), "the OSV document breaks the OSV schema:\n{}\n{doc:#}", found.join("\n"));
}

#[test]
fn the_schemas_catch_what_they_should() {
    // A CSAF document without its tracking section, and an OSV one with an unknown severity type,
    // are refused: the checks above cannot pass by accident.
    let csaf: Value = serde_json::json!({ "document": { "category": "csaf_base", "csaf_version": "2.0" } });
    assert!(!errors(
        &load("csaf_json_schema.json"),
        &[
            ("https://www.first.org/cvss/cvss-v2.0.json", load("cvss-v2.0.json")),
            ("https://www.first.org/cvss/cvss-v3.0.json", load("cvss-v3.0.json")),
            ("https://www.first.org/cvss/cvss-v3.1.json", load("cvss-v3.1.json")),
        ],
        &csaf
    )
    .is_empty());
    let osv: Value = serde_json::json!({ "id": "OSV-1", "modified": "2026-12-04T00:00:00Z", "severity": [{ "type": "CVSS_V9", "score": "x" }] });
    assert!(!errors(&load("osv_schema.json"), &[], &osv).is_empty());
}
