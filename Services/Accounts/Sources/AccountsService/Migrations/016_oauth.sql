-- User-granted access (OAuth 2.0 with PKCE). A grant is a person's consent to share with a partner
-- (the consent `partner:<id>` records it too, with source partner_grant); codes and tokens are kept
-- as SHA-256 hashes only, and die with their grant.
CREATE TABLE oauth_redirect_uris (
    partner_id text NOT NULL REFERENCES partners (id),
    uri text NOT NULL,
    PRIMARY KEY (partner_id, uri)
);
CREATE TABLE oauth_grants (
    id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    partner_id text NOT NULL REFERENCES partners (id),
    scopes text[] NOT NULL,
    -- The person's id for this partner alone (an HMAC of partner and account): what the partner
    -- sees, and what telling it of a revocation names.
    subject text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE UNIQUE INDEX oauth_grants_live ON oauth_grants (account_id, partner_id) WHERE revoked_at IS NULL;
CREATE TABLE oauth_codes (
    code_hash bytea PRIMARY KEY,
    grant_id uuid NOT NULL REFERENCES oauth_grants ON DELETE CASCADE,
    redirect_uri text NOT NULL,
    code_challenge text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);
CREATE TABLE oauth_tokens (
    token_hash bytea PRIMARY KEY,
    grant_id uuid NOT NULL REFERENCES oauth_grants ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('access', 'refresh')),
    expires_at timestamptz NOT NULL,
    -- A refresh token is used once: its use gives a new pair, and a second use revokes them all.
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
