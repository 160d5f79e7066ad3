DROP TABLE push_deliveries; DROP TABLE push_subscriptions;
ALTER TABLE identities DROP CONSTRAINT identities_id_account_key;
