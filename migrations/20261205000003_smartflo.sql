-- Tata Smartflo (docs/smartflo.md): accounts with login and API tokens,
-- what an account's IVRs may refer to (recordings with the text a caller
-- hears, destinations, webhooks), the IVRs, and which number answers with which.

CREATE TABLE smartflo_accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    -- SHA-256 of the password: a test double's credentials, never a user's real ones.
    password_hash bytea NOT NULL
);

-- Login tokens expire; API tokens from fixtures do not.
CREATE TABLE smartflo_tokens (
    token_hash bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    expires_at timestamptz
);

CREATE TABLE smartflo_recordings (
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    id         bigint NOT NULL,
    name       text NOT NULL,
    text       text NOT NULL,
    PRIMARY KEY (account_id, id)
);

CREATE TABLE smartflo_destinations (
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    type       text NOT NULL,
    id         text NOT NULL,
    -- What a call landing there dials (extensions, ring groups, numbers…).
    number     text,
    PRIMARY KEY (account_id, type, id)
);

CREATE TABLE smartflo_webhooks (
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    id         bigint NOT NULL,
    url        text NOT NULL,
    PRIMARY KEY (account_id, id)
);

CREATE TABLE smartflo_ivrs (
    id         bigint GENERATED ALWAYS AS IDENTITY (START WITH 7926) PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    name       text NOT NULL,
    -- The validated IVR, in the shape Smartflo reads it back.
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);

-- A number (DID) that answers with an IVR.
CREATE TABLE smartflo_numbers (
    did        e164 PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES smartflo_accounts ON DELETE CASCADE,
    ivr_id     bigint REFERENCES smartflo_ivrs ON DELETE SET NULL
);
