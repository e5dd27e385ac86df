-- Stable integer ids for users and groups (authentik's `pk`): LDAP derives
-- uidNumber and gidNumber from them, the REST API shows them. Existing rows are
-- numbered in creation order; new rows take the next number of their counter,
-- so a number is never given out twice, even after a delete.

ALTER TABLE users ADD COLUMN pk BIGINT NULL;
UPDATE users SET pk = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM users) AS numbered
WHERE users.id = numbered.id;
CREATE UNIQUE INDEX users_pk ON users (pk);

ALTER TABLE groups ADD COLUMN pk BIGINT NULL;
UPDATE groups SET pk = numbered.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM groups) AS numbered
WHERE groups.id = numbered.id;
CREATE UNIQUE INDEX groups_pk ON groups (pk);

-- The last number given out per table; bumped in the inserting transaction.
CREATE TABLE id_counters (
    name TEXT   NOT NULL PRIMARY KEY,
    last BIGINT NOT NULL
);
INSERT INTO id_counters (name, last) SELECT 'users', COALESCE(MAX(pk), 0) FROM users;
INSERT INTO id_counters (name, last) SELECT 'groups', COALESCE(MAX(pk), 0) FROM groups;
