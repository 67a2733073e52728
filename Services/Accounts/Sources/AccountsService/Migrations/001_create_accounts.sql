-- Accounts, sessions, consents, policy versions, the audit chain and erasures.

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    email text NOT NULL,
    -- NULL once erased, so the address can register again.
    email_normalized text,
    password_hash text NOT NULL,
    display_name text NOT NULL,
    roles text[] NOT NULL,
    country text,
    -- Sealed with the account's own data key: unreadable once the key is shredded.
    phone_sealed bytea,
    -- The referral code or affiliate id the person came through.
    source text,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at timestamptz
);
CREATE UNIQUE INDEX accounts_email_normalized_key ON accounts (email_normalized) WHERE erased_at IS NULL;

-- Each account's AES key, sealed under the service's master key ring. Deleting the row is crypto-shredding.
CREATE TABLE account_keys (
    account_id uuid PRIMARY KEY REFERENCES accounts (id),
    sealed_key bytea NOT NULL
);

-- Only SHA-256 hashes of session tokens are stored.
CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    ip text NOT NULL,
    user_agent text NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Rate limiting and the sign-in history.
CREATE TABLE sign_in_attempts (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    email_normalized text NOT NULL,
    ip text NOT NULL,
    user_agent text NOT NULL,
    succeeded boolean NOT NULL,
    account_id uuid REFERENCES accounts (id)
);
CREATE INDEX sign_in_attempts_email ON sign_in_attempts (email_normalized, at);
CREATE INDEX sign_in_attempts_ip ON sign_in_attempts (ip, at);
CREATE INDEX sign_in_attempts_account ON sign_in_attempts (account_id, id);

CREATE TABLE policy_versions (
    seq bigserial PRIMARY KEY,
    version text NOT NULL UNIQUE,
    effective_date timestamptz NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
-- The privacy policy in the seed, in force since 9 July 2017.
INSERT INTO policy_versions (version, effective_date) VALUES ('2017-07-09', '2017-07-09T00:00:00Z');

CREATE TABLE policy_acceptances (
    id bigserial PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    version text NOT NULL REFERENCES policy_versions (version),
    accepted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX policy_acceptances_account ON policy_acceptances (account_id, id);

-- Current values; a consent with no row is not granted.
CREATE TABLE consents (
    account_id uuid NOT NULL REFERENCES accounts (id),
    consent text NOT NULL,
    granted boolean NOT NULL,
    PRIMARY KEY (account_id, consent)
);

CREATE TABLE consent_changes (
    id bigserial PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    consent text NOT NULL,
    granted boolean NOT NULL,
    source text NOT NULL,
    policy_version text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_changes_account ON consent_changes (account_id, id);

-- Append-only, each entry chained to the previous one: hash = SHA-256(prev_hash || canonical entry).
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_id uuid,
    actor_roles text[] NOT NULL,
    action text NOT NULL,
    subject_id uuid,
    details jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);

-- The chain's head; appends lock this row, so the chain stays linear.
CREATE TABLE audit_head (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_seq bigint NOT NULL,
    last_hash bytea NOT NULL
);
INSERT INTO audit_head (last_seq, last_hash) VALUES (0, decode(repeat('00', 32), 'hex'));

-- The service's own role owns the table, so REVOKE cannot protect it: a trigger refuses changes, and
-- tampering with it disabled is caught by the chain.
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

CREATE TABLE erasures (
    erasure_id uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);

CREATE TABLE erasure_confirmations (
    erasure_id uuid NOT NULL REFERENCES erasures (erasure_id),
    service text NOT NULL,
    confirmed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (erasure_id, service)
);
