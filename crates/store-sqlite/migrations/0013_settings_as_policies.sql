-- The single sign-on settings and the desk's data choices become policy documents, like the
-- password policy: versioned, replaced whole, audited, one mechanism for every kind. A document
-- may carry one sealed secret (the OpenID client secret) beside its JSON.
ALTER TABLE policy_documents ADD COLUMN sealed_ct BLOB;

INSERT INTO policy_documents (enterprise_id, kind, version, document, sealed_ct, updated_at, updated_by)
    SELECT enterprise_id, 'sso-oidc', 1, settings, client_secret_ct, updated_at, NULL FROM oidc_configs;
INSERT INTO policy_documents (enterprise_id, kind, version, document, sealed_ct, updated_at, updated_by)
    SELECT enterprise_id, 'sso-saml', 1, settings, NULL, updated_at, NULL FROM saml_configs;
INSERT INTO policy_documents (enterprise_id, kind, version, document, sealed_ct, updated_at, updated_by)
    SELECT enterprise_id, 'desk', 1,
           '{"store_finder_ip":' || CASE WHEN store_finder_ip THEN 'true' ELSE 'false' END
               || ',"retention_days":' || CAST(retention_days AS TEXT) || '}',
           NULL, updated_at, NULL
    FROM desk_settings;

DROP TABLE oidc_configs;
DROP TABLE saml_configs;
DROP TABLE desk_settings;
