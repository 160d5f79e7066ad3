DROP INDEX mentions_direct_idx;
DROP TRIGGER mentions_direct ON mentions;
DROP FUNCTION guise_mentions_set_direct();
ALTER TABLE mentions DROP COLUMN direct;
