-- Holds: pending transfers (two-phase, as TigerBeetle has them). A hold reserves money in a
-- wallet for a cause (`hold:<chat>:<minute>`) until it is posted (the minute is charged) or voided
-- (the chat ended, or it expired). An account's held_cents is the sum of its pending holds, kept
-- beside them in the same transaction; what a wallet has available is balance − held.
ALTER TABLE ledger_accounts ADD COLUMN held_cents bigint NOT NULL DEFAULT 0 CHECK (held_cents >= 0);

CREATE TABLE holds (
    id text PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    amount_cents bigint NOT NULL CHECK (amount_cents > 0),
    chat_id uuid,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'voided')),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX holds_pending ON holds (expires_at) WHERE status = 'pending';
CREATE INDEX holds_of_chat ON holds (chat_id) WHERE status = 'pending';

-- A chat paused because a started minute could not be paid: that minute, charged when funds arrive.
ALTER TABLE chats ADD COLUMN unpaid_minute int;
CREATE INDEX chats_paused ON chats (member_id) WHERE unpaid_minute IS NOT NULL;
