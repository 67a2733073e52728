-- Auto-reload: a member's standing order to top up their wallet by amount_cents from a saved card
-- whenever its available balance drops below threshold_cents. `armed` makes it once per crossing:
-- cleared when a reload is made, set again once the available balance is back at the threshold.
CREATE TABLE auto_reload (
    member_id uuid PRIMARY KEY,
    enabled boolean NOT NULL,
    threshold_cents bigint NOT NULL CHECK (threshold_cents >= 0),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    payment_method_id uuid NOT NULL,
    armed boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who asked for a top-up: the member (with an idempotency key) or their auto-reload.
ALTER TABLE top_ups ADD COLUMN source text NOT NULL DEFAULT 'member' CHECK (source IN ('member', 'auto_reload'));
CREATE INDEX top_ups_auto_unsent ON top_ups (created_at) WHERE status = 'pending' AND checked_at IS NULL AND source = 'auto_reload';
