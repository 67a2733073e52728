-- Deliveries by email (and, later, SMS): one row per notice and channel, written in the same
-- transaction as the decision to send it, worked through by the sender with retries. A row is
-- leased while it is being sent, so that instances share the work without sending twice.
CREATE TABLE deliveries (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms')),
    -- JSON object the message is rendered with (ids and a role, never anyone's words).
    params text NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'due' CHECK (status IN ('due', 'sent', 'failed')),
    due_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    attempts int NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    message_id text
);
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status = 'due';
CREATE INDEX deliveries_of_account ON deliveries (account_id, created_at);

-- Addresses a relay refused for good (a hard bounce), by the SHA-256 of the lower-cased address (hex),
-- so nothing more is sent to them until the person's address changes.
CREATE TABLE undeliverable_addresses (
    address_hash text PRIMARY KEY,
    account_id uuid NOT NULL,
    reason text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX undeliverable_of_account ON undeliverable_addresses (account_id);
