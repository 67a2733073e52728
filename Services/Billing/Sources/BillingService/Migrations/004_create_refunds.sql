-- Refunds under the satisfaction guarantee: one decision per chat, by the rules (`rule` names the
-- one that decided) or by finance staff overriding them with a reason (also in accounts' audit log).
-- An approved refund is the ledger transfer `refund:<id>` from the refunds account to the wallet.
CREATE TABLE refunds (
    id uuid PRIMARY KEY,
    chat_id uuid NOT NULL,
    member_id uuid,
    status text NOT NULL CHECK (status IN ('approved', 'declined')),
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    rule text NOT NULL,
    -- The member's words, cleared on their erasure.
    reason text,
    decided_by uuid,
    staff_reason text,
    decided_at timestamptz NOT NULL DEFAULT now()
);
-- One decision by the rules per chat; an override may follow a declined one.
CREATE UNIQUE INDEX refunds_by_rule ON refunds (chat_id) WHERE rule <> 'finance_override';
CREATE UNIQUE INDEX refunds_overridden ON refunds (chat_id) WHERE rule = 'finance_override';
CREATE INDEX refunds_of_member ON refunds (member_id, decided_at DESC);

-- When the chat ended, as the chat service said (the guarantee's window counts from it).
ALTER TABLE chats ADD COLUMN ended_at timestamptz;
