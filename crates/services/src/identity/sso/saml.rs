//! SAML 2.0 single sign-on (A2): Conclave as a service provider over the HTTP-POST binding.
//!
//! The response is parsed once; the XML signature is checked on that same document (bergshamra,
//! trusting only the configured IdP certificate, rejecting duplicate IDs), and the claims are
//! read from the very assertion node the signature covers, so a second, forged assertion
//! (signature wrapping) is never the one used. Then: issuer, status, destination, recipient,
//! audience, time conditions with a little skew, `InResponseTo` against a single-use request,
//! and a replay record per assertion id.

use super::Sso;
use super::{hex_of, percent, provider_for_email, provider_url_ok, read_capped, ForDomains};
use crate::{draft, Caller, Error, Result};
use domain::audit::{Action, AuditDraft, Origin};
use domain::{EnterpriseId, FieldError, Millis, Rule};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use uppsala::{Document, NodeId, NodeKind};
use utoipa::ToSchema;

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const SKEW_MS: i64 = 60_000;
/// How long an AuthnRequest may be outstanding.
const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;

/// An enterprise's identity provider.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub idp_sso_url: String,
    /// The IdP's signing certificate, PEM.
    pub idp_certificate: String,
    pub allowed_domains: Vec<String>,
    /// Accept responses the IdP sends without a request from us.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Members of these groups (an attribute named "groups") become enterprise admins when their
    /// account is created.
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// This service's own base URL, fixed when the IdP is connected: the audience, recipient and
    /// destination every response must name. Never taken from a request's Host header, which
    /// the sender controls.
    pub sp_base_url: String,
    /// Password sign-in is off, except for enterprise admins with one-time codes (break-glass).
    #[serde(default)]
    pub sso_only: bool,
}

impl ForDomains for SamlSettings {
    fn allowed_domains(&self) -> &[String] {
        &self.allowed_domains
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(FieldError::new(field, Rule::InvalidValue, message))
}

fn fail(why: impl Into<String>) -> Error {
    Error::SsoFailed(why.into())
}

/// Wraps base64 certificate text from metadata as PEM.
fn pem_of(base64_der: &str) -> String {
    let clean: String = base64_der.chars().filter(|c| !c.is_whitespace()).collect();
    let lines: Vec<String> = clean.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

fn is(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id).is_some_and(|e| e.name.namespace_uri.as_deref() == Some(ns) && e.name.local_name == local)
}

fn child(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> Option<NodeId> {
    doc.children(id).into_iter().find(|c| is(doc, *c, ns, local))
}

fn descendants(doc: &Document<'_>, id: NodeId, out: &mut Vec<NodeId>) {
    for c in doc.children(id) {
        if doc.element(c).is_some() {
            out.push(c);
            descendants(doc, c, out);
        }
    }
}

/// The text of an element; refuses comments inside it (`a@x.org<!---->.evil` keeps a signature valid).
fn text(doc: &Document<'_>, id: NodeId) -> Result<String> {
    if doc.children(id).iter().any(|c| matches!(doc.node_kind(*c), Some(NodeKind::Comment(_)))) {
        return Err(fail("the response has a comment inside a value"));
    }
    Ok(doc.text_content_deep(id).trim().to_owned())
}

/// How the id of a request sent with `ForceAuthn="true"` begins.
const FRESH_REQUEST: &str = "_f";
/// How the id of any other request begins. The two markers are as long as each other and differ,
/// so the random hex that follows can never make a plain request look fresh (a plain `_` followed
/// by hex starting with `f` once did, one sign-in in sixteen, and such a session started elevated).
const PLAIN_REQUEST: &str = "_p";

fn instant(raw: Option<&str>) -> Result<Option<i64>> {
    raw.map(|r| {
        time::OffsetDateTime::parse(r, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|_| fail(format!("the time {r:?} is not valid")))
    })
    .transpose()
}

/// Reads IdP metadata XML: entity id, the HTTP-Redirect SSO location and the signing certificate.
/// The largest identity-provider certificate accepted, in PEM.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// The largest metadata document accepted, pasted or fetched.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

pub fn parse_idp_metadata(xml: &str) -> Result<(String, String, String)> {
    if xml.contains("<!DOCTYPE") {
        return Err(invalid("idp_metadata", "metadata with a DOCTYPE is refused"));
    }
    let doc = uppsala::parse(xml).map_err(|e| invalid("idp_metadata", format!("not XML: {e}")))?;
    let root = doc.document_element().ok_or_else(|| invalid("idp_metadata", "empty document"))?;
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    let entity = doc.get_attribute(root, "entityID").ok_or_else(|| invalid("idp_metadata", "no entityID"))?.to_owned();
    let idp =
        child(&doc, root, md, "IDPSSODescriptor").ok_or_else(|| invalid("idp_metadata", "no IDPSSODescriptor"))?;
    let mut all = Vec::new();
    descendants(&doc, idp, &mut all);
    let sso = all
        .iter()
        .find(|n| {
            is(&doc, **n, md, "SingleSignOnService")
                && doc.get_attribute(**n, "Binding") == Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
        })
        .and_then(|n| doc.get_attribute(*n, "Location"))
        .ok_or_else(|| invalid("idp_metadata", "no HTTP-Redirect SingleSignOnService"))?
        .to_owned();
    let cert = all
        .iter()
        .find(|n| is(&doc, **n, DS, "X509Certificate"))
        .map(|n| doc.text_content_deep(*n))
        .ok_or_else(|| invalid("idp_metadata", "no signing certificate"))?;
    Ok((entity, sso, pem_of(&cert)))
}

/// The service provider's identity for a base URL.
pub fn sp_entity_id(base: &str) -> String {
    format!("{base}/saml/metadata")
}

pub fn acs_url(base: &str) -> String {
    format!("{base}/saml/acs")
}

/// Our metadata, for the IdP's administrator.
pub fn sp_metadata(base: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{}\">\
         <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
         <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\
         </md:SPSSODescriptor></md:EntityDescriptor>\n",
        sp_entity_id(base),
        acs_url(base)
    )
}

impl Sso {
    pub async fn saml_settings(&self, caller: &Caller, enterprise: EnterpriseId) -> Result<Option<SamlSettings>> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoSamlRead).await?;
        self.saml_settings_of(enterprise).await
    }

    pub(crate) async fn saml_settings_of(&self, enterprise: EnterpriseId) -> Result<Option<SamlSettings>> {
        self.saml_config(enterprise)
            .await?
            .map(|json| serde_json::from_str(&json).map_err(|e| Error::Internal(format!("stored SAML settings: {e}"))))
            .transpose()
    }

    /// Connects the enterprise's IdP: from settings, or from its metadata (XML or a URL to fetch).
    pub async fn put_saml_settings(
        &self,
        caller: &Caller,
        origin: &Origin,
        enterprise: EnterpriseId,
        mut settings: SamlSettings,
    ) -> Result<SamlSettings> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoSamlConfigure).await?;
        if settings.idp_entity_id.trim().is_empty() || settings.idp_entity_id.len() > 500 {
            return Err(invalid("idp_entity_id", "must be 1 to 500 characters"));
        }
        let loopback = self.core.settings.allow_http_loopback_sso;
        if !provider_url_ok(&settings.sp_base_url, loopback) {
            return Err(invalid("sp_base_url", "must be this service's https:// address"));
        }
        settings.sp_base_url = settings.sp_base_url.trim_end_matches('/').to_owned();
        if !provider_url_ok(&settings.idp_sso_url, loopback) {
            return Err(invalid("idp_sso_url", "must be an https:// URL"));
        }
        if settings.idp_certificate.len() > MAX_CERTIFICATE_BYTES {
            return Err(invalid("idp_certificate", "must be at most 64 KiB"));
        }
        bergshamra_keys::loader::load_x509_cert_pem(settings.idp_certificate.as_bytes())
            .map_err(|e| invalid("idp_certificate", format!("not a PEM certificate: {e}")))?;
        super::check_groups("admin_groups", &settings.admin_groups)?;
        settings.allowed_domains = super::check_domains(&settings.allowed_domains)?;
        self.domains_free(enterprise, &settings.allowed_domains).await?;
        for (other, json) in self.configs(store::kinds::SSO_SAML).await? {
            let theirs: SamlSettings = serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?;
            if other != enterprise && theirs.idp_entity_id == settings.idp_entity_id {
                return Err(Error::Conflict(FieldError::new(
                    "idp_entity_id",
                    Rule::Duplicate,
                    "another organisation already uses this identity provider entity id",
                )));
            }
        }
        let json = serde_json::to_string(&settings).expect("settings serialise");
        let audit = AuditDraft {
            detail: json.clone(),
            ..draft(caller, origin, Some(enterprise), Action::SsoSamlConfigure, None)
        };
        crate::core::policies::replace(
            &*self.policy_store,
            caller,
            enterprise,
            store::kinds::SSO_SAML,
            &json,
            None,
            &audit,
        )
        .await?;
        Ok(settings)
    }

    /// Reads IdP metadata an admin pasted. Enterprise admins only: nobody else makes this server
    /// parse XML they wrote.
    pub async fn idp_metadata_from_xml(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        xml: &str,
    ) -> Result<(String, String, String)> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoSamlConfigure).await?;
        if xml.len() > MAX_METADATA_BYTES {
            return Err(invalid("idp_metadata", "must be at most 1 MiB"));
        }
        parse_idp_metadata(xml)
    }

    /// Fetches IdP metadata from a URL (for admins who give one).
    /// Enterprise admins only: the server fetches the URL they give.
    pub async fn fetch_idp_metadata(
        &self,
        caller: &Caller,
        enterprise: EnterpriseId,
        url: &str,
    ) -> Result<(String, String, String)> {
        self.core.require_enterprise_admin(caller, enterprise, Action::SsoSamlConfigure).await?;
        if !provider_url_ok(url, self.core.settings.allow_http_loopback_sso) {
            return Err(invalid("idp_metadata_url", "must be an https:// URL"));
        }
        let response =
            self.oidc.http().get(url).send().await.map_err(|e| invalid("idp_metadata_url", e.to_string()))?;
        if !response.status().is_success() {
            return Err(invalid("idp_metadata_url", format!("the address answered {}", response.status())));
        }
        let body = read_capped(response).await.map_err(|e| invalid("idp_metadata_url", e))?;
        let text = String::from_utf8(body).map_err(|_| invalid("idp_metadata_url", "the metadata is not UTF-8"))?;
        parse_idp_metadata(&text)
    }

    /// SP-initiated sign-in: the IdP URL carrying a deflated AuthnRequest (HTTP-Redirect binding).
    /// Also returns the request id, which the caller keeps in the browser (a cookie) and hands
    /// back to [`Sso::saml_acs`]: an answer to this request is accepted only in that browser.
    pub async fn saml_start(&self, email: &str, fresh: bool) -> Result<(String, String)> {
        let (enterprise, settings, _) =
            provider_for_email::<SamlSettings>(self.configs(store::kinds::SSO_SAML).await?, email)?;
        let base = settings.sp_base_url.as_str();
        // A request that asks the IdP to authenticate again is marked in its id, which only we
        // make and which comes back bound to this browser and used once.
        let id =
            format!("{}{}", if fresh { FRESH_REQUEST } else { PLAIN_REQUEST }, hex_of(&crypto::token::random_128()));
        let now = Millis::now();
        let request = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\"{} \
             IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" \
             ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"><saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>",
            if fresh { " ForceAuthn=\"true\"" } else { "" },
            now.rfc3339().split('.').next().unwrap_or_default().to_owned() + "Z",
            xml_escape(&settings.idp_sso_url),
            xml_escape(&acs_url(base)),
            xml_escape(&sp_entity_id(base)),
        );
        let mut deflater = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflater.write_all(request.as_bytes()).map_err(|e| Error::Internal(e.to_string()))?;
        let deflated = deflater.finish().map_err(|e| Error::Internal(e.to_string()))?;
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
        self.sign_in_store.create_saml_request(&id, enterprise, now).await?;
        let separator = if settings.idp_sso_url.contains('?') { '&' } else { '?' };
        Ok((format!("{}{separator}SAMLRequest={}", settings.idp_sso_url, percent(&encoded)), id))
    }

    /// The assertion consumer service: checks the IdP's POSTed response and signs the person in.
    /// `browser_request` is the request id the posting browser holds (see [`Sso::saml_start`]).
    pub async fn saml_acs(
        &self,
        origin: &Origin,
        saml_response: &str,
        browser_request: Option<&str>,
    ) -> Result<crate::identity::sessions::SignedIn> {
        // Set once the issuer names a connected IdP, so the failure lands in that enterprise's
        // audit report (claimed, not yet proven: the event says which IdP the answer named).
        let mut named = None;
        match self.consume_saml(origin, saml_response, browser_request, &mut named).await {
            Ok(signed_in) => Ok(signed_in),
            Err(e) => {
                self.audit_sso_failure(origin, "saml", named, &e.to_string()).await?;
                Err(e)
            }
        }
    }

    async fn consume_saml(
        &self,
        origin: &Origin,
        saml_response: &str,
        browser_request: Option<&str>,
        named: &mut Option<EnterpriseId>,
    ) -> Result<crate::identity::sessions::SignedIn> {
        use base64::Engine as _;
        let clean: String = saml_response.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(clean).map_err(|_| fail("the response is not base64"))?;
        let xml = String::from_utf8(bytes).map_err(|_| fail("the response is not UTF-8"))?;
        if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
            return Err(fail("a response with a DOCTYPE is refused"));
        }
        let doc = uppsala::parse(&xml).map_err(|e| fail(format!("the response is not XML: {e}")))?;
        let root = doc.document_element().ok_or_else(|| fail("empty response"))?;
        if !is(&doc, root, SAMLP, "Response") {
            return Err(fail("not a SAML Response"));
        }
        let mut all = Vec::new();
        descendants(&doc, root, &mut all);
        let assertions: Vec<NodeId> = all.iter().copied().filter(|n| is(&doc, *n, SAML, "Assertion")).collect();
        if all.iter().any(|n| is(&doc, *n, SAML, "EncryptedAssertion")) {
            return Err(fail("encrypted assertions are not supported"));
        }
        let [assertion] = assertions.as_slice() else {
            return Err(fail("the response must hold exactly one assertion"));
        };
        let assertion = *assertion;
        if doc.parent(assertion) != Some(root) {
            return Err(fail("the assertion is not where it belongs"));
        }
        // Which IdP: by the issuer, then its certificate checks the signature.
        let issuer_node =
            child(&doc, assertion, SAML, "Issuer").ok_or_else(|| fail("the assertion names no issuer"))?;
        let issuer = text(&doc, issuer_node)?;
        let mut config = None;
        for (enterprise, json) in self.configs(store::kinds::SSO_SAML).await? {
            let settings: SamlSettings = serde_json::from_str(&json).map_err(|e| Error::Internal(e.to_string()))?;
            if settings.idp_entity_id == issuer {
                config = Some((enterprise, settings));
                break;
            }
        }
        let (enterprise, settings) =
            config.ok_or_else(|| fail("the response comes from an unknown identity provider"))?;
        *named = Some(enterprise);
        let base = settings.sp_base_url.as_str();

        // The signature: trusted certificate only; the verified node must be this assertion or
        // the response that holds it. Any signature that fails is a refusal.
        let mut keys = bergshamra_keys::KeysManager::new();
        keys.add_key(
            bergshamra_keys::loader::load_x509_cert_pem(settings.idp_certificate.as_bytes())
                .map_err(|e| Error::Internal(format!("stored IdP certificate: {e}")))?,
        );
        if !all.iter().any(|n| is(&doc, *n, DS, "Signature")) {
            return Err(fail("the response is not signed"));
        }
        let ctx = bergshamra_dsig::DsigContext::new(keys);
        let results = bergshamra_dsig::verify::verify_all_document_with_source(&ctx, &doc, Some(&xml))
            .map_err(|e| fail(format!("the signature check failed: {e}")))?;
        if results.is_empty() {
            return Err(fail("the response is not signed"));
        }
        let mut covered = false;
        for result in &results {
            match result {
                bergshamra_dsig::VerifyResult::Valid { signature_node, references, .. } => {
                    let placed =
                        doc.parent(*signature_node) == Some(assertion) || doc.parent(*signature_node) == Some(root);
                    if !placed || !result.all_reference_digests_verified() {
                        return Err(fail("a signature is not where it belongs"));
                    }
                    if references.iter().any(|r| r.resolved_node == Some(assertion) || r.resolved_node == Some(root)) {
                        covered = true;
                    }
                }
                bergshamra_dsig::VerifyResult::Invalid { reason } => {
                    return Err(fail(format!("the signature does not verify ({reason})")));
                }
            }
        }
        if !covered {
            return Err(fail("the signature does not cover the assertion"));
        }

        // Status, destination, conditions, subject confirmation.
        let status_ok = child(&doc, root, SAMLP, "Status")
            .and_then(|s| child(&doc, s, SAMLP, "StatusCode"))
            .and_then(|c| doc.get_attribute(c, "Value"))
            == Some(SUCCESS);
        if !status_ok {
            return Err(fail("the identity provider did not report success"));
        }
        let acs = acs_url(base);
        if let Some(destination) = doc.get_attribute(root, "Destination") {
            if destination != acs {
                return Err(fail("the response was sent to another destination"));
            }
        }
        let now = Millis::now().0;
        let conditions =
            child(&doc, assertion, SAML, "Conditions").ok_or_else(|| fail("the assertion has no conditions"))?;
        let not_before = instant(doc.get_attribute(conditions, "NotBefore"))?;
        let not_on_or_after = instant(doc.get_attribute(conditions, "NotOnOrAfter"))?
            .ok_or_else(|| fail("the assertion never expires"))?;
        if not_before.is_some_and(|t| now + SKEW_MS < t) {
            return Err(fail("the assertion is not valid yet"));
        }
        if now - SKEW_MS >= not_on_or_after {
            return Err(fail("the assertion has expired"));
        }
        let audience_ok = child(&doc, conditions, SAML, "AudienceRestriction")
            .map(|r| {
                doc.children(r)
                    .into_iter()
                    .filter(|a| is(&doc, *a, SAML, "Audience"))
                    .any(|a| doc.text_content_deep(a).trim() == sp_entity_id(base))
            })
            .unwrap_or(false);
        if !audience_ok {
            return Err(fail("the assertion is meant for another service"));
        }
        let subject = child(&doc, assertion, SAML, "Subject").ok_or_else(|| fail("the assertion has no subject"))?;
        let confirmation_data = child(&doc, subject, SAML, "SubjectConfirmation")
            .and_then(|c| child(&doc, c, SAML, "SubjectConfirmationData"))
            .ok_or_else(|| fail("the subject has no confirmation"))?;
        if doc.get_attribute(confirmation_data, "Recipient") != Some(acs.as_str()) {
            return Err(fail("the assertion names another recipient"));
        }
        if instant(doc.get_attribute(confirmation_data, "NotOnOrAfter"))?.is_some_and(|t| now - SKEW_MS >= t) {
            return Err(fail("the subject confirmation has expired"));
        }
        // The assertion's copy is the one the signature covers; an unsigned response root could
        // carry anything, so it may only repeat it.
        let in_response_to = doc.get_attribute(confirmation_data, "InResponseTo");
        if let Some(outer) = doc.get_attribute(root, "InResponseTo") {
            if in_response_to != Some(outer) {
                return Err(fail("the response and its assertion answer different requests"));
            }
        }
        // Set when this answers a request that asked the IdP to authenticate again: when it was made.
        let mut fresh_since = None;
        match in_response_to {
            // Login CSRF: an answer someone else obtained must not sign this browser in.
            Some(id) if !browser_request.is_some_and(|b| crypto::ct_eq(b.as_bytes(), id.as_bytes())) => {
                return Err(fail("this sign-in was started in another browser; start again here"));
            }
            Some(id) => match self.sign_in_store.take_saml_request(id).await? {
                Some((e, created)) if e == enterprise && now - created.0 <= REQUEST_TTL_MS => {
                    fresh_since = id.starts_with(FRESH_REQUEST).then_some(created.0);
                }
                _ => return Err(fail("the response answers no request of ours, or one already answered")),
            },
            None if settings.allow_idp_initiated => {}
            None => return Err(fail("sign-ins started at the identity provider are not allowed")),
        }
        let assertion_id = doc.get_attribute(assertion, "ID").ok_or_else(|| fail("the assertion has no ID"))?;
        if !self
            .sign_in_store
            .record_saml_assertion(assertion_id, enterprise, Millis(not_on_or_after + SKEW_MS))
            .await?
        {
            return Err(fail("this assertion was already used"));
        }

        // Who: the NameID (or an email attribute), in an allowed domain.
        let name_id = child(&doc, subject, SAML, "NameID").map(|n| text(&doc, n)).transpose()?;
        let mut attributes: Vec<(String, String)> = Vec::new();
        if let Some(statement) = child(&doc, assertion, SAML, "AttributeStatement") {
            for attribute in doc.children(statement).into_iter().filter(|a| is(&doc, *a, SAML, "Attribute")) {
                let name = doc.get_attribute(attribute, "Name").unwrap_or("").to_owned();
                for value in doc.children(attribute).into_iter().filter(|v| is(&doc, *v, SAML, "AttributeValue")) {
                    attributes.push((name.clone(), text(&doc, value)?));
                }
            }
        }
        let attribute = |want: &str| {
            attributes
                .iter()
                .find(|(n, _)| {
                    n.eq_ignore_ascii_case(want) || n.ends_with(&format!("/{want}")) || n.ends_with(&format!(":{want}"))
                })
                .map(|(_, v)| v.clone())
        };
        let email_raw = attribute("email").or(name_id).ok_or_else(|| fail("the assertion carries no email address"))?;
        let email = domain::validate::email("email", &email_raw).map_err(|_| fail("the email address is not valid"))?;
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if !settings.allowed_domains.iter().any(|d| d == domain) {
            return Err(fail(format!("people of {domain} may not sign in here")));
        }
        let groups: Vec<String> =
            attributes.iter().filter(|(n, _)| n.eq_ignore_ascii_case("groups")).map(|(_, v)| v.clone()).collect();
        let name = attribute("displayName")
            .or_else(|| attribute("name"))
            .or_else(|| match (attribute("firstName"), attribute("lastName")) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (first, _) => first,
            })
            .unwrap_or_default();
        let admin = groups.iter().any(|g| settings.admin_groups.contains(g));
        let user = self.sso_account(origin, enterprise, &email, &name, admin, "saml-groups").await?;
        // Confirming an admin: the IdP must say it authenticated the person after we asked.
        let proved_now = match fresh_since {
            Some(since) => {
                let statement = child(&doc, assertion, SAML, "AuthnStatement");
                let at = instant(statement.and_then(|s| doc.get_attribute(s, "AuthnInstant")))?;
                if at.is_none_or(|t| t < since - SKEW_MS) {
                    return Err(fail("the identity provider did not ask you to sign in again; try again"));
                }
                true
            }
            None => false,
        };
        self.sessions.open_session(origin, &user, domain::AuthMethod::Saml, "saml", proved_now).await
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod request_id_tests {
    use super::{FRESH_REQUEST, PLAIN_REQUEST};

    #[test]
    fn a_plain_request_id_never_reads_as_fresh_whatever_its_random_part() {
        for first in "0123456789abcdef".chars() {
            let plain = format!("{PLAIN_REQUEST}{first}0");
            assert!(!plain.starts_with(FRESH_REQUEST), "{plain}");
            assert!(format!("{FRESH_REQUEST}{first}0").starts_with(FRESH_REQUEST));
        }
        assert_eq!(PLAIN_REQUEST.len(), FRESH_REQUEST.len());
        assert_ne!(PLAIN_REQUEST, FRESH_REQUEST);
    }
}
