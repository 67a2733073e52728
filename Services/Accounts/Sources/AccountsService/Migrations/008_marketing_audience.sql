-- Who said yes to a kind of marketing, walked in account order when a campaign is planned.
CREATE INDEX consents_granted ON consents (consent, account_id) WHERE granted;
