-- The provider's delivery reports name a text by the id it gave it: found by an index, not a scan.
CREATE INDEX deliveries_by_provider_id ON deliveries (message_id) WHERE channel = 'sms' AND message_id IS NOT NULL;
