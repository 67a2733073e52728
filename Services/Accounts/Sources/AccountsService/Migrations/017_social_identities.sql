-- Social sign-in. A provider identity linked to an account: the person at the provider (issuer
-- and subject) is found by a keyed hash, and what the provider told (issuer, subject, email, name)
-- is sealed under the account's own key, so erasure (which also deletes the row) leaves nothing
-- readable. One identity per provider per account.
CREATE TABLE social_identities (
    account_id uuid NOT NULL REFERENCES accounts (id),
    provider text NOT NULL,
    subject_index bytea NOT NULL UNIQUE,
    details_sealed bytea NOT NULL,
    linked_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    PRIMARY KEY (account_id, provider)
);
-- What a provider vouched for, waiting for the person to confirm a link with their password or to
-- finish registering: ten minutes, used once. The ticket is kept as a hash, the identity sealed
-- under the service's key.
CREATE TABLE social_tickets (
    ticket_hash bytea PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('link', 'register')),
    identity_sealed bytea NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX social_tickets_expiry ON social_tickets (expires_at);
