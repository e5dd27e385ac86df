-- Gatehouse schema version 13 (SQLite): API tokens as authentik's REST API
-- shows them: a description, and when the token was last used (written at
-- most once a minute per token, outside any audited transaction).
ALTER TABLE api_tokens ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used INTEGER NULL;
