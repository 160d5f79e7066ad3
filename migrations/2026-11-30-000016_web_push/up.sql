-- Web Push subscriptions, for persistent faces only (anonymous faces get no
-- push: pushing would need a stored link from the face to its login).
--
-- A subscription has its own random id. Its token is named only by
-- `token_tag` = HMAC(the token row's own key, "push" ‖ row id): the row key
-- is wrapped under the token, its refresh token and k_anon, so nothing at
-- rest ties a subscription to a token row (nor a sealed token to its
-- login). The login and face are here in the clear, as on the face itself.
-- A revoke-all (password change) moves the login's token epoch, which ends
-- every subscription made under the old one; revoking one token removes
-- its subscription with it.
-- What lets a subscription name a face only together with that face's own
-- login: anonymous faces have none, so no subscription can name one.
ALTER TABLE identities ADD CONSTRAINT identities_id_account_key UNIQUE (id, account_id);

CREATE TABLE push_subscriptions (
    id          BIGINT PRIMARY KEY,
    token_tag   BYTEA NOT NULL UNIQUE,
    account_id  BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- NULL for an "All my faces" token: every persistent face of the login.
    identity_id BIGINT,
    epoch       BIGINT NOT NULL,
    expires_on  DATE,
    endpoint    TEXT NOT NULL,
    p256dh      BYTEA NOT NULL,
    auth        BYTEA NOT NULL,
    standard    BOOLEAN NOT NULL,
    alerts      TEXT[] NOT NULL,
    policy      TEXT NOT NULL,
    FOREIGN KEY (identity_id, account_id) REFERENCES identities (id, account_id) ON DELETE CASCADE
);
CREATE INDEX push_subscriptions_face_idx ON push_subscriptions (identity_id);
CREATE INDEX push_subscriptions_account_idx ON push_subscriptions (account_id);

-- One push to send: written in the transaction that made the notification,
-- leased by a worker while it sends (a worker killed mid-send leaves it for
-- another), removed when the push service took it or gave up on it.
CREATE TABLE push_deliveries (
    subscription_id BIGINT NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempts        INT NOT NULL DEFAULT 0,
    next_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subscription_id, notification_id)
);
CREATE INDEX push_deliveries_due_idx ON push_deliveries (next_at);
CREATE INDEX push_deliveries_notification_idx ON push_deliveries (notification_id);
