-- Partners' webhook endpoints (Standard Webhooks v1) and what is sent to them. A partner is named
-- by the id accounts registered it under; nothing here names or identifies a person.
CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    partner_id text NOT NULL,
    url text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL,
    -- The signing secret, sealed under INTEGRATION_DATA_KEY (it must be used, so it cannot be
    -- hashed); during a rotation the one before it also signs until previous_until.
    secret bytea NOT NULL,
    previous_secret bytea,
    previous_until timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- Since when every attempt has failed (null while the endpoint answers 2xx).
    failing_since timestamptz,
    -- An answer of 429, 502 or 504 asks us to slow down: nothing is sent to it before this.
    paused_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, created_at);

-- One event as a partner receives it: its id is the webhook-id header, the same on every attempt
-- and replay, so a receiver can drop what it already has.
CREATE TABLE webhook_messages (
    id text PRIMARY KEY,
    partner_id text NOT NULL,
    event_type text NOT NULL,
    -- The body exactly as signed.
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_messages_partner ON webhook_messages (partner_id, created_at);

CREATE TABLE webhook_deliveries (
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    message_id text NOT NULL REFERENCES webhook_messages ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    endpoint_id uuid NOT NULL,
    message_id text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    -- Null when no answer came (timeout, connection refused, an address not allowed).
    response_status int,
    error text,
    duration_ms int NOT NULL,
    FOREIGN KEY (endpoint_id, message_id) REFERENCES webhook_deliveries ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);

-- Every partner POST carries an Idempotency-Key: the first answer to a key (sealed: it may hold a
-- signing secret) is the answer to any repeat with the same body for a day; another body is refused.
CREATE TABLE partner_requests (
    partner_id text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash bytea NOT NULL,
    status int,
    response bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, idempotency_key)
);
