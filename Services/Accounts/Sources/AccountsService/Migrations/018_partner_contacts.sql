-- Where the platform writes to a partner (an endpoint it disabled, …): a business address, shown
-- to staff and used by notifications, never in the public list of partners.
ALTER TABLE partners ADD COLUMN contact_email text;
