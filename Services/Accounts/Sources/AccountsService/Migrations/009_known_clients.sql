-- The devices and networks a person has signed in from, each as a keyed hash of the browser's
-- user agent and the address's network (/24, /48): a sign-in from one not seen before tells them.
CREATE TABLE known_clients (
    account_id uuid NOT NULL REFERENCES accounts (id),
    client_hash bytea NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, client_hash)
);
