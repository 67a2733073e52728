-- Partners' API keys: the visible prefix (unique: a key is found by it), the SHA-256 of the whole
-- key (the secret is 256 random bits, so a plain hash is enough and lookups stay cheap), the
-- environment and scopes, several per partner for rotation; revoked keys stay for the record.
CREATE TABLE partner_keys (
    id uuid PRIMARY KEY,
    partner_id text NOT NULL REFERENCES partners (id),
    environment text NOT NULL CHECK (environment IN ('live', 'test')),
    prefix text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX partner_keys_of_partner ON partner_keys (partner_id, created_at);
