DROP INDEX identities_suspended;
