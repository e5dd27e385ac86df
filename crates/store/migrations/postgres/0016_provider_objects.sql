-- Providers as objects of their own (authentik's model): each has a stable
-- integer `pk` and a name. A provider attached to an application still lives
-- in that application's row (provider, provider_config, provider_key), so
-- every protocol's lookup is unchanged; `provider_pk` and `provider_name` now
-- ride along with it. A provider that no application uses yet (made through
-- the REST API before its application, or detached from one) lives in
-- `unattached_providers` with the same pk, and moves into an application's
-- row when one picks it up. Existing providers are numbered in creation
-- order; new ones take the next number of the `providers` counter.

ALTER TABLE applications ADD COLUMN provider_pk BIGINT NULL;
ALTER TABLE applications ADD COLUMN provider_name TEXT NULL;
UPDATE applications SET provider_pk = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n
      FROM applications WHERE provider IS NOT NULL) AS numbered
WHERE applications.id = numbered.id;
CREATE UNIQUE INDEX applications_provider_pk ON applications (provider_pk);

CREATE TABLE unattached_providers (
    pk           BIGINT NOT NULL PRIMARY KEY,
    kind         TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    provider_key TEXT   NULL,
    config       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX unattached_providers_key ON unattached_providers (kind, provider_key);

INSERT INTO id_counters (name, last) SELECT 'providers', COALESCE(MAX(provider_pk), 0) FROM applications;
