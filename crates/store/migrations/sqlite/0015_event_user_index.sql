-- A person's events (the admin user page, `gatehouse events --user`) are
-- matched case-insensitively on the subject or the actor: expression indexes
-- on exactly those expressions turn the full scan into two index lookups.
CREATE INDEX events_username_lower ON events (lower(username));
CREATE INDEX events_actor_lower ON events (lower(actor));
