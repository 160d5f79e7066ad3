-- What a remote actor says of itself, kept as sent: indexable, memorial,
-- suspended by its own server, movedTo, alsoKnownAs and its FEP-521a
-- Multikeys (parsed, not yet used), as one JSON object (see
-- guise_core::models::ActorProfile). Local faces keep the empty object.
ALTER TABLE identities ADD COLUMN profile JSONB NOT NULL DEFAULT '{}';
