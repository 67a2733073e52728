-- Every read of a person's data by a partner, counted per partner and clock hour: the access log
-- shows one entry an hour (the audit chain's, appended by the hour's first read) with how many
-- reads it stands for and the last one's time. Erasure deletes the counts.
CREATE TABLE partner_reads (
    account_id uuid NOT NULL REFERENCES accounts (id),
    partner_id text NOT NULL,
    hour timestamptz NOT NULL,
    reads int NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, partner_id, hour)
);
