-- Infobip voice (docs/infobip.md): accounts with their App API keys and
-- Basic credentials, and the IVR scenarios they define.

CREATE TABLE infobip_accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    -- SHA-256 of the password: a test double's credentials.
    password_hash bytea NOT NULL
);

CREATE TABLE infobip_api_keys (
    key_hash   bytea PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES infobip_accounts ON DELETE CASCADE
);

CREATE TABLE infobip_scenarios (
    id          text PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES infobip_accounts ON DELETE CASCADE,
    name        text NOT NULL,
    description text,
    script      jsonb NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX infobip_scenarios_account ON infobip_scenarios (account_id, create_time);
