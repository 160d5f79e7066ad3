-- RSA key pairs made ahead of time, so a new face never waits for one.
-- A face takes a pair the first time it needs one and the pair leaves the
-- pool; pairs carry no id of any face and no time.
CREATE TABLE key_pool (
    public_key_pem  TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL
);

-- Keys of the instance's own actors (the instance actor that signs fetches).
CREATE TABLE instance_keys (
    name            TEXT PRIMARY KEY,
    public_key_pem  TEXT NOT NULL,
    private_key_pem TEXT NOT NULL
);
