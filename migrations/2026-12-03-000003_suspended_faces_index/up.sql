-- Timelines leave out suspended faces' posts by asking whether an author
-- is suspended; without an index of the few suspended faces that question
-- was answered by reading every identity (a sequential scan of the whole
-- table for each home, list or public page: a cost that grew with the
-- instance, 2.6 ms of a 3.7 ms home page at 13 000 identities).
CREATE INDEX identities_suspended ON identities (id) WHERE suspended;
