-- Notices to a partner's contact (an endpoint the platform disabled, …): a delivery names either
-- an account or a partner. The key makes a notice told twice one delivery.
ALTER TABLE deliveries ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN partner_id text;
ALTER TABLE deliveries ADD COLUMN notice_key text;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_one_recipient CHECK ((account_id IS NULL) <> (partner_id IS NULL));
CREATE UNIQUE INDEX deliveries_notice_key ON deliveries (notice_key) WHERE notice_key IS NOT NULL;
-- A partner's address that bounced is remembered like a person's, with no account.
ALTER TABLE undeliverable_addresses ALTER COLUMN account_id DROP NOT NULL;
