-- Gatehouse schema version 9: when a person who must use MFA may enrol their
-- first authenticator (issue 13, finding 9). One row per person Gatehouse has
-- asked to enrol or an administrator let enrol; no secrets.
CREATE TABLE mfa_enrolment (
    user_id          TEXT   NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The first time Gatehouse asked them to enrol (the first sign-in after the
    -- policy applied to them): it opened a window once, never again.
    first_offered_at BIGINT NULL,
    -- Enrolment of a first authenticator is open until then.
    window_until     BIGINT NULL,
    window_reason    TEXT   NULL,
    -- An administrator's recovery link (SHA-256 of its key): using it before
    -- link_until opens a window.
    link_hash        TEXT   NULL,
    link_until       BIGINT NULL
);
