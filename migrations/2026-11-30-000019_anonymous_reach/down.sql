ALTER TABLE preferences DROP COLUMN hide_anonymous;
ALTER TABLE preferences DROP COLUMN anonymous_reach;
