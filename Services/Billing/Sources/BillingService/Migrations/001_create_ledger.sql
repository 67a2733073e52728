-- The ledger: double entry. A transfer's id is chosen by its cause ('minute:<chat>:<n>', …), so a
-- cause applied twice is refused by the primary key; its entries sum to zero; entries are never
-- updated or deleted. Each account's balance is kept beside its entries, in the same transaction.
CREATE TABLE ledger_accounts (
    id uuid PRIMARY KEY,
    -- wallet and earnings belong to a person; revenue, promotions, clearing, refunds and disputes
    -- are the platform's (owner NULL).
    kind text NOT NULL CHECK (kind IN ('wallet', 'earnings', 'revenue', 'promotions', 'clearing', 'refunds', 'disputes')),
    -- NULL for the platform's accounts, and once the person was erased (the entries stay).
    owner_id uuid,
    balance_cents bigint NOT NULL DEFAULT 0,
    -- A dispute may take a wallet below zero; nothing else may.
    disputed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'wallet' OR balance_cents >= 0 OR disputed)
);
CREATE UNIQUE INDEX ledger_accounts_of_owner ON ledger_accounts (kind, owner_id) WHERE owner_id IS NOT NULL;
-- The platform's accounts, one of each, with fixed ids.
INSERT INTO ledger_accounts (id, kind) VALUES
    ('00000000-0000-0000-0000-00000000000a', 'revenue'),
    ('00000000-0000-0000-0000-00000000000b', 'promotions'),
    ('00000000-0000-0000-0000-00000000000c', 'clearing'),
    ('00000000-0000-0000-0000-00000000000d', 'refunds'),
    ('00000000-0000-0000-0000-00000000000e', 'disputes');

CREATE TABLE transfers (
    id text PRIMARY KEY,
    kind text NOT NULL,
    chat_id uuid,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transfers_by_chat ON transfers (chat_id) WHERE chat_id IS NOT NULL;

CREATE TABLE entries (
    id bigserial PRIMARY KEY,
    transfer_id text NOT NULL REFERENCES transfers (id),
    account_id uuid NOT NULL REFERENCES ledger_accounts (id),
    amount_cents bigint NOT NULL CHECK (amount_cents <> 0),
    balance_after_cents bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entries_by_account ON entries (account_id, id DESC);
CREATE INDEX entries_by_transfer ON entries (transfer_id);

-- Free minutes: a member's first chat with each of up to BILLING_FREE_CHATS advisors.
CREATE TABLE free_grants (
    member_id uuid NOT NULL,
    advisor_id uuid NOT NULL,
    chat_id uuid NOT NULL UNIQUE,
    minutes int NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, advisor_id)
);

-- Each chat's price and people as billing learned them (chat.requested.v1), and its settlement.
CREATE TABLE chats (
    id uuid PRIMARY KEY,
    member_id uuid,
    advisor_id uuid,
    price_cents int NOT NULL,
    free_minutes int NOT NULL DEFAULT 0,
    settled_at timestamptz
);
