-- Blueprints: the applied state of each blueprint file (gatehouse blueprint list).
CREATE TABLE blueprint_instances (
    path       TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    applied_at BIGINT NOT NULL,
    result     TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    changes    BIGINT NOT NULL
);
