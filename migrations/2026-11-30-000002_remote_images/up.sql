-- A remote actor's avatar and header, as its server names them (shown to
-- clients only through the media proxy; never fetched ahead or stored here).
ALTER TABLE identities
    ADD COLUMN avatar_url TEXT,
    ADD COLUMN header_url TEXT;
