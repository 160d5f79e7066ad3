DROP TRIGGER identities_auth_truncated ON identities;
DROP TRIGGER identities_auth_changed ON identities;
DROP TRIGGER accounts_auth_changed ON accounts;
DROP TRIGGER oauth_tokens_auth_changed ON oauth_tokens;
DROP FUNCTION guise_auth_changed();
