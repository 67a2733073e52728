-- An advisor's earnings never go below zero: payouts take only what is there.
ALTER TABLE ledger_accounts ADD CONSTRAINT earnings_not_negative CHECK (kind <> 'earnings' OR balance_cents >= 0);

-- Payouts of earnings through the processor. Asking sets the amount aside at once (the transfer
-- `payout:<id>`, earnings → clearing); a task hands it to the processor (`payout-<id>` is its
-- idempotency key there); the processor's webhook says paid, or failed (then `payout-return:<id>`
-- gives it back). An advisor's request is once per idempotency key (kept 24 h); the twice-monthly
-- run makes one per advisor and period.
CREATE TABLE payouts (
    id uuid PRIMARY KEY,
    -- The order payouts are listed in (pages are keyed by it).
    seq bigserial NOT NULL UNIQUE,
    advisor_id uuid,
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    status text NOT NULL CHECK (status IN ('requested', 'sent', 'paid', 'failed')),
    idempotency_key text,
    request_hash bytea,
    answer jsonb,
    scheduled_for date,
    processor_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    attempted_at timestamptz,
    decided_at timestamptz
);
CREATE UNIQUE INDEX payouts_by_key ON payouts (advisor_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX payouts_by_period ON payouts (advisor_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX payouts_to_send ON payouts (created_at) WHERE status = 'requested';
CREATE INDEX payouts_of_advisor ON payouts (advisor_id, seq DESC);

-- Tax information (W-9 or W-8BEN): the form's fields and the tax id sealed together under the
-- advisor's billing key; only the form, the tax id's last four digits and the time of the
-- certification in clear.
CREATE TABLE tax_info (
    advisor_id uuid PRIMARY KEY,
    form text NOT NULL CHECK (form IN ('w9', 'w8ben')),
    sealed_details bytea NOT NULL,
    tax_id_last4 text NOT NULL,
    certified_at timestamptz NOT NULL DEFAULT now()
);
