-- Saved cards. The processor's reusable reference is sealed under the member's billing key (a
-- key derived from BILLING_DATA_KEY and their id); brand, last four digits and expiry are what
-- the member sees; the processor's fingerprint tells the same card on two accounts apart.
CREATE TABLE payment_methods (
    id uuid PRIMARY KEY,
    member_id uuid NOT NULL,
    sealed_reference bytea NOT NULL,
    brand text NOT NULL,
    last4 text NOT NULL,
    exp_month int NOT NULL,
    exp_year int NOT NULL,
    fingerprint text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_of_member ON payment_methods (member_id, created_at DESC);

-- Which accounts have held each card, kept when a card is removed (a removed card must not earn
-- free minutes on a new account): the free-minutes rule reads it. Erasure deletes the person's rows.
CREATE TABLE card_holders (
    fingerprint text NOT NULL,
    member_id uuid NOT NULL,
    PRIMARY KEY (fingerprint, member_id)
);
CREATE INDEX card_holders_of_member ON card_holders (member_id);

-- Top-ups: money in from a saved card. The idempotency key and the first answer are kept 24 h
-- (then the key is cleared; the top-up stays, a financial record). A pending top-up awaits the
-- processor's word: its webhook, or asking again with the same key.
CREATE TABLE top_ups (
    id uuid PRIMARY KEY,
    member_id uuid,
    idempotency_key text,
    request_hash bytea NOT NULL,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    payment_method_id uuid,
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined')),
    decline_code text,
    payment_id text,
    -- The first answer, replayed for the same key: {"topUp": …} or {"error": …}; NULL while it is being given.
    answer jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz,
    checked_at timestamptz
);
CREATE UNIQUE INDEX top_ups_by_key ON top_ups (member_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX top_ups_by_payment ON top_ups (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX top_ups_pending ON top_ups (created_at) WHERE status = 'pending';
CREATE INDEX top_ups_of_member ON top_ups (member_id, created_at DESC);
