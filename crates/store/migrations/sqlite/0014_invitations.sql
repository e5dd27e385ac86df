-- Invitations (authentik's stages/invitation model): a link that lets a person
-- create their own account. `uses` counts accounts made with it; a single-use
-- invitation is spent once it is 1.
CREATE TABLE invitations (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    expires    INTEGER  NULL,
    single_use INTEGER NOT NULL DEFAULT 0,
    fixed_data TEXT    NOT NULL,
    flow       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER  NOT NULL,
    uses       INTEGER  NOT NULL DEFAULT 0
);
