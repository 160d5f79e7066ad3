-- Face ids carry no time (unlinkability rule 2): they are random from now
-- on, so a login's faces can no longer be ordered by id. Their order — and
-- which is the first, the default where a request names none — is kept
-- explicitly. Existing faces keep their ids and their order.
ALTER TABLE identities ADD COLUMN position INTEGER;
UPDATE identities i SET position = r.n
  FROM (SELECT id, (row_number() OVER (PARTITION BY account_id ORDER BY id) - 1)::int AS n
          FROM identities WHERE account_id IS NOT NULL) r
 WHERE i.id = r.id;
