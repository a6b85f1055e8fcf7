-- The emulator's clock (docs/infobip.md, "The clock"): scheduled sends,
-- validity and retry waits are measured on it, so tests can move time.
-- emulator_now() = anchor_emulated + (now() - anchor_real) * speed.
CREATE TABLE emulator_clock (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    anchor_real     timestamptz NOT NULL DEFAULT now(),
    anchor_emulated timestamptz NOT NULL DEFAULT now(),
    speed           float8 NOT NULL DEFAULT 1 CHECK (speed > 0 AND speed <= 100000)
);
INSERT INTO emulator_clock DEFAULT VALUES;

CREATE FUNCTION emulator_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT anchor_emulated + (now() - anchor_real) * speed FROM emulator_clock
$$;

-- Launches of outbound IVR: one row per request, one per messages[] entry,
-- one per destination (the call, a durable queue of its own).
CREATE TABLE infobip_launches (
    account_id bigint NOT NULL REFERENCES infobip_accounts ON DELETE CASCADE,
    bulk_id    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, bulk_id)
);
CREATE INDEX infobip_launches_created ON infobip_launches (created_at DESC);

CREATE TABLE infobip_messages (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id             bigint NOT NULL,
    bulk_id                text NOT NULL,
    scenario_id            text NOT NULL,
    scenario_name          text NOT NULL,
    -- The script as it was at launch: editing the scenario later changes nothing.
    script                 jsonb NOT NULL,
    from_number            text,
    parameters             jsonb NOT NULL DEFAULT '{}',
    notify_url             text,
    notify_content_type    text NOT NULL CHECK (notify_content_type IN ('application/json', 'application/xml')),
    notify_content_version integer NOT NULL CHECK (notify_content_version IN (1, 2)),
    callback_data          text,
    -- On the emulator's clock; NULL when a sending speed makes it ignored.
    valid_until            timestamptz,
    retry_min_minutes      integer,
    retry_max_minutes      integer,
    retry_max_count        integer NOT NULL DEFAULT 0,
    FOREIGN KEY (account_id, bulk_id) REFERENCES infobip_launches ON DELETE CASCADE
);
CREATE INDEX infobip_messages_bulk ON infobip_messages (account_id, bulk_id);

CREATE TABLE infobip_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_row bigint NOT NULL REFERENCES infobip_messages ON DELETE CASCADE,
    account_id  bigint NOT NULL,
    bulk_id     text NOT NULL,
    message_id  text NOT NULL,
    to_number   text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'undeliverable', 'expired', 'rejected')),
    -- Calls placed so far (the first and its retries).
    attempts    integer NOT NULL DEFAULT 0,
    -- On the emulator's clock.
    due_at      timestamptz NOT NULL,
    sent_at     timestamptz,
    lease_token uuid,
    claimed_at  timestamptz,
    last_error  text,
    transcript  jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    done_at     timestamptz
);
CREATE INDEX infobip_calls_due ON infobip_calls (due_at) WHERE status = 'pending';
CREATE INDEX infobip_calls_bulk ON infobip_calls (account_id, bulk_id, id);

-- Delivery reports: pushed to notifyUrl through the outbox, and pullable once each.
CREATE TABLE infobip_reports (
    id              uuid PRIMARY KEY,
    call_id         bigint NOT NULL REFERENCES infobip_calls ON DELETE CASCADE,
    account_id      bigint NOT NULL,
    bulk_id         text NOT NULL,
    message_id      text NOT NULL,
    -- The CallsReport object, as pulled.
    report          jsonb NOT NULL,
    url             text,
    content_type    text NOT NULL,
    -- The body pushed: results[] of this one report, JSON (v1 or v2) or XML.
    payload         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('queued', 'delivered', 'failed', 'unsent')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_token     uuid,
    claimed_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX infobip_reports_due ON infobip_reports (next_attempt_at) WHERE status = 'queued';
CREATE INDEX infobip_reports_account ON infobip_reports (account_id, created_at, id);

-- Reports handed out by GET /infobip/voice/1/reports, each once. A table of
-- its own, so that a pull never waits for (or skips) a report row the push
-- worker holds locked.
CREATE TABLE infobip_report_pulls (
    report_id uuid PRIMARY KEY REFERENCES infobip_reports ON DELETE CASCADE,
    pulled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX infobip_reports_bulk ON infobip_reports (bulk_id, created_at);

CREATE TABLE infobip_report_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id   uuid NOT NULL REFERENCES infobip_reports ON DELETE CASCADE,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    http_status smallint,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    error       text
);
CREATE INDEX infobip_report_attempts_report ON infobip_report_attempts (report_id, attempt);

CREATE FUNCTION infobip_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;
CREATE TRIGGER infobip_calls_queued AFTER INSERT ON infobip_calls
    FOR EACH STATEMENT EXECUTE FUNCTION infobip_notify('infobip_calls_due');
CREATE TRIGGER infobip_reports_queued AFTER INSERT ON infobip_reports
    FOR EACH STATEMENT EXECUTE FUNCTION infobip_notify('infobip_reports_due');

-- Live events: one per launch touched by a statement, not one per call.
CREATE FUNCTION infobip_events_launch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'infobip', 'launches',
                                                      json_agg(DISTINCT jsonb_build_array(account_id, bulk_id)))::text)
    FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END
$$;
CREATE TRIGGER infobip_calls_event_insert AFTER INSERT ON infobip_calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION infobip_events_launch();
CREATE TRIGGER infobip_calls_event_update AFTER UPDATE ON infobip_calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION infobip_events_launch();

-- Who answers the simulator's calls, per number (fixtures' [[personas]]).
CREATE TABLE simulator_personas (
    number     text PRIMARY KEY,
    persona    jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
