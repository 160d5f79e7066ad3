-- What the streaming fan-out has yet to publish: written in the transaction
-- that made it happen (so it goes out only if that commits), removed by
-- whichever process publishes it, within a fraction of a second. Unlogged:
-- never in the write-ahead log or a base backup, and emptied by a crash —
-- a live event is worth nothing once the sockets that wanted it are gone.
CREATE UNLOGGED TABLE stream_events (
    id      BIGINT PRIMARY KEY,
    kind    TEXT NOT NULL,
    payload JSONB NOT NULL
);
