-- Gatehouse schema version 3: protocol providers on applications.
-- provider_config is the provider's settings as JSON (owned by the protocol
-- crate; secrets only as hashes). provider_key is what a protocol looks an
-- application up by (OIDC client_id, proxy external host, SAML audience),
-- unique per provider kind.
ALTER TABLE applications ADD COLUMN provider_config TEXT NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN provider_key TEXT NULL;
CREATE UNIQUE INDEX applications_provider_key ON applications (provider, provider_key);
