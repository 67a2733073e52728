-- Marketing campaigns composed by admins: planned a page of consenting people at a time (each a
-- delivery, once per campaign and person), each sent only if the consent still holds then.
CREATE TABLE campaigns (
    id uuid PRIMARY KEY,
    channel text NOT NULL CHECK (channel IN ('email')),
    subject text NOT NULL,
    text text NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- planning: people are still being added; sending: all are planned.
    status text NOT NULL DEFAULT 'planning' CHECK (status IN ('planning', 'sending')),
    -- The last account planned, for the next page.
    planned_until uuid
);
CREATE INDEX campaigns_planning ON campaigns (created_at) WHERE status = 'planning';

ALTER TABLE deliveries ADD COLUMN campaign_id uuid REFERENCES campaigns (id);
CREATE UNIQUE INDEX deliveries_once_per_campaign ON deliveries (campaign_id, account_id) WHERE campaign_id IS NOT NULL;
-- Cancelled: not sent because it should not be any more (the consent was withdrawn before sending).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check CHECK (status IN ('due', 'sent', 'failed', 'cancelled'));
