-- The audit chain keyed: each new entry carries an HMAC-SHA256 of its seq and hash, and the head
-- one of the head, under a key derived from ACCOUNTS_EMAIL_INDEX_KEY that the database never holds.
-- Whoever can write these tables without the key can no longer rewrite history and recompute the
-- chain unseen. Entries from before keep a NULL mac; accounts keys the head at start-up (after
-- checking the chain), and every keyed entry's hash covers the entries before it.
ALTER TABLE audit_log ADD COLUMN mac bytea;
ALTER TABLE audit_head ADD COLUMN head_mac bytea;
