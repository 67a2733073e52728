-- An endpoint the platform disabled (410 Gone, or failing too long) waits to be told to its
-- partner's contact: the notice's key, until notifications has taken it.
ALTER TABLE webhook_endpoints ADD COLUMN owner_notice_key text;
CREATE INDEX webhook_endpoints_owner_notice ON webhook_endpoints (owner_notice_key) WHERE owner_notice_key IS NOT NULL;
