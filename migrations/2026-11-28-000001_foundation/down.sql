DROP TABLE outbox_events, idempotency_keys, oauth_tokens, oauth_codes, oauth_apps,
  preferences, notifications, mutes, blocks, follow_requests, follows, favourites,
  status_tags, mentions, status_edits, statuses, identities, accounts;
