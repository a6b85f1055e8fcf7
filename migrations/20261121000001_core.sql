-- The hook's data: tenants, their keys and stores, the call journal and the
-- welcome-SMS outbox. Numbers are E.164 text, checked here too so that no
-- writer (fixtures, a future admin API, psql) can store one the hook could not match.

CREATE DOMAIN e164 AS text CHECK (VALUE ~ '^\+[1-9][0-9]{1,14}$');

CREATE TABLE organizations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (name <> ''),
    welcome_message text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Keys are held as SHA-256 digests only; the clear key never reaches the database.
CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    key_hash        bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

CREATE TABLE stores (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id   bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    name              text NOT NULL CHECK (name <> ''),
    forwarding_number e164,
    welcome_message   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

-- A business number belongs to exactly one store.
CREATE TABLE business_numbers (
    phone    e164 PRIMARY KEY,
    store_id bigint NOT NULL REFERENCES stores ON DELETE CASCADE
);
CREATE INDEX business_numbers_store ON business_numbers (store_id);

CREATE TABLE opt_outs (
    organization_id bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    phone           e164 NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, phone)
);

-- The outbox: written in the same transaction as the call that queued it.
CREATE TABLE sms_outbox (
    id              uuid PRIMARY KEY,
    organization_id bigint REFERENCES organizations ON DELETE SET NULL,
    store_id        bigint REFERENCES stores ON DELETE SET NULL,
    from_number     e164 NOT NULL,
    to_number       e164 NOT NULL,
    body            text NOT NULL,
    context         text,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX sms_outbox_due ON sms_outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX sms_outbox_to ON sms_outbox (to_number, created_at DESC);

-- The last welcome SMS per (store, caller): the row lock on this key is what
-- makes simultaneous identical calls queue one SMS, never two.
CREATE TABLE welcome_cooldowns (
    store_id bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    caller   e164 NOT NULL,
    sent_at  timestamptz NOT NULL,
    PRIMARY KEY (store_id, caller)
);

-- The call journal: every request that reached validation. Rejected input is
-- kept as received (bounded), so these columns are plain text.
CREATE TABLE calls (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    method          text NOT NULL,
    from_number     text,
    to_number       text,
    context         text,
    organization_id bigint REFERENCES organizations ON DELETE SET NULL,
    store_id        bigint REFERENCES stores ON DELETE SET NULL,
    outcome         text NOT NULL CHECK (outcome IN ('dial', 'no_forwarding', 'not_linked', 'invalid_key', 'invalid_request')),
    http_status     smallint NOT NULL,
    sms_id          uuid REFERENCES sms_outbox ON DELETE SET NULL,
    sms_skipped     text CHECK (sms_skipped IN ('opted_out', 'cooldown')),
    CHECK (sms_id IS NULL OR sms_skipped IS NULL)
);
CREATE INDEX calls_created ON calls (created_at DESC);
