-- The Instaply messaging side (docs/instaply-messaging.md): users with Bot API
-- tokens, customers, customer threads and their messages, WhatsApp templates,
-- webhooks, the legacy hook, and the durable queue of event deliveries.
-- Businesses are the IVR hook's stores.

-- An employee or bot account; its Bot API tokens are kept as SHA-256 digests.
CREATE TABLE messaging_users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    name            text NOT NULL CHECK (name <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

CREATE TABLE messaging_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES messaging_users ON DELETE CASCADE
);

-- The businesses (stores) whose threads a user sees.
CREATE TABLE messaging_memberships (
    user_id  bigint NOT NULL REFERENCES messaging_users ON DELETE CASCADE,
    store_id bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    PRIMARY KEY (user_id, store_id)
);
CREATE INDEX messaging_memberships_store ON messaging_memberships (store_id);

CREATE SEQUENCE customer_numbers;

-- A customer of an organization, known by phone (or e-mail).
CREATE TABLE customers (
    id              text PRIMARY KEY DEFAULT 'cust_' || nextval('customer_numbers'),
    organization_id bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    phone           e164,
    email           text,
    first_name      text,
    last_name       text,
    company         text,
    customer_type   text NOT NULL DEFAULT 'prospect' CHECK (customer_type IN ('prospect', 'customer')),
    customer_data   jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, phone)
);

-- One thread per customer per business.
CREATE TABLE customer_threads (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id           bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    store_id                  bigint NOT NULL REFERENCES stores ON DELETE CASCADE,
    customer_id               text NOT NULL REFERENCES customers ON DELETE CASCADE,
    channel                   text NOT NULL CHECK (channel IN ('SMS', 'WHATSAPP', 'WEBCHAT', 'EMAIL', 'FACEBOOK', 'INSTAGRAM')),
    status                    text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'replied', 'resolved')),
    last_customer_message_at  timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, customer_id)
);
CREATE INDEX customer_threads_customer ON customer_threads (customer_id);

CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    thread_id     bigint NOT NULL REFERENCES customer_threads ON DELETE CASCADE,
    sender        text NOT NULL CHECK (sender IN ('customer', 'employee', 'welcome')),
    user_id       bigint REFERENCES messaging_users ON DELETE SET NULL,
    body          text NOT NULL,
    content_sid   text,
    internal      boolean NOT NULL DEFAULT false,
    -- The welcome SMS this message mirrors (the IVR hook's sms_outbox row).
    sms_id        uuid UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_thread ON messages (thread_id, id);

CREATE TABLE whatsapp_templates (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    title           text NOT NULL,
    text            text NOT NULL,
    content_sid     text NOT NULL CHECK (content_sid ~ '^HX[0-9a-zA-Z]{1,62}$'),
    UNIQUE (organization_id, content_sid)
);

CREATE TABLE messaging_webhooks (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id   bigint NOT NULL REFERENCES organizations ON DELETE CASCADE,
    url               text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    subscribed_events text[] NOT NULL CHECK (cardinality(subscribed_events) > 0
                                             AND subscribed_events <@ ARRAY['messages', 'transfers']),
    extra_headers     jsonb NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messaging_webhooks_organization ON messaging_webhooks (organization_id);

-- The organization's one legacy hook URL (flat payloads).
CREATE TABLE legacy_hooks (
    organization_id bigint PRIMARY KEY REFERENCES organizations ON DELETE CASCADE,
    url             text NOT NULL
);

-- Every event to send, self-contained (URL, headers and payload captured
-- when the event happened), drained by the outbox worker like the SMS.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    organization_id bigint NOT NULL,
    webhook_id      bigint,
    target          text NOT NULL CHECK (target IN ('webhook', 'legacy')),
    event_type      text NOT NULL CHECK (event_type IN ('messages', 'transfers')),
    message_id      bigint,
    thread_id       bigint,
    url             text NOT NULL,
    headers         jsonb NOT NULL DEFAULT '[]',
    payload         text NOT NULL,
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_token     uuid,
    claimed_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'queued';
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at DESC, id);

CREATE TABLE webhook_delivery_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    http_status smallint,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    error       text
);
CREATE INDEX webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id, attempt);

CREATE FUNCTION webhook_deliveries_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhook_deliveries_due', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_queued AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_notify_due();

-- Live events for /admin/events: new messages, and deliveries' changes.
CREATE FUNCTION messaging_events_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'message', 'status', NULL,
                                                      'ids', json_agg(id ORDER BY id))::text)
    FROM new_rows;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_event_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messaging_events_message();

-- Welcome SMS waiting to be mirrored into their caller's thread: the hook
-- only adds a row here (one statement per batch); the messaging side drains it.
CREATE TABLE welcome_mirror_queue (
    sms_id uuid PRIMARY KEY
);

CREATE FUNCTION welcome_mirror_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO welcome_mirror_queue (sms_id) SELECT id FROM new_rows;
    PERFORM pg_notify('welcome_mirror_due', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER sms_outbox_welcome_mirror AFTER INSERT ON sms_outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION welcome_mirror_enqueue();

-- Deliveries in /admin/events: queued ones per statement, status changes per row.
CREATE FUNCTION messaging_events_delivery_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'delivery', 'status', 'queued',
                                                      'ids', json_agg(id))::text)
    FROM (SELECT id, (row_number() OVER () - 1) / 150 AS chunk FROM new_rows) r
    GROUP BY chunk;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_deliveries_event_insert AFTER INSERT ON webhook_deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messaging_events_delivery_inserted();

CREATE FUNCTION messaging_events_delivery_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'delivery', 'status', NEW.status,
                                                      'ids', json_build_array(NEW.id))::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_deliveries_event_status AFTER UPDATE OF status ON webhook_deliveries
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION messaging_events_delivery_status();
