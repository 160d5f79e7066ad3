DROP TABLE otp_recovery; ALTER TABLE accounts DROP COLUMN otp_secret, DROP COLUMN otp_salt;
