-- Conversations are read from a face's direct posts and the direct posts
-- that name it. A mention knows whether its post is direct (a post's
-- visibility never changes), so the second half is read through a small
-- partial index instead of every mention of a much-mentioned face.
ALTER TABLE mentions ADD COLUMN direct BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE mentions m SET direct = TRUE
  FROM statuses s WHERE s.id = m.status_id AND s.visibility = 'direct';

CREATE FUNCTION guise_mentions_set_direct() RETURNS trigger AS $$
BEGIN
  NEW.direct := EXISTS (
    SELECT 1 FROM statuses WHERE id = NEW.status_id AND visibility = 'direct'
  );
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER mentions_direct BEFORE INSERT ON mentions
  FOR EACH ROW EXECUTE FUNCTION guise_mentions_set_direct();

CREATE INDEX mentions_direct_idx ON mentions (identity_id, status_id DESC) WHERE direct;
