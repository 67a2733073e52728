-- An entry's transfer and account were foreign keys: a per-row trigger and row lock on every
-- entry, half the cost of writing a charged minute. Entries are written only by the ledger's two
-- paths (Ledger.post and MinuteBatch), each with its transfer in the same transaction and its
-- accounts locked; neither transfers nor ledger accounts are ever deleted (erasure detaches the
-- owner). `platform ledger-check` proves every entry has its transfer and its account.
ALTER TABLE entries DROP CONSTRAINT entries_transfer_id_fkey, DROP CONSTRAINT entries_account_id_fkey;
