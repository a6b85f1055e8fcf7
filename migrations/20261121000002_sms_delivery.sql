-- Delivery of the outbox. A claim sets a lease: `next_attempt_at` moves to the
-- lease's end (so an abandoned claim becomes due again by itself) and
-- `lease_token` names the claim, fencing every later write to the row.

ALTER TABLE sms_outbox
    ADD COLUMN lease_token uuid,
    ADD COLUMN provider_message_id text;

-- Every delivery attempt, whatever its outcome.
CREATE TABLE sms_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sms_id      uuid NOT NULL REFERENCES sms_outbox ON DELETE CASCADE,
    attempt     integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    http_status smallint,
    outcome     text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
    error       text
);
CREATE INDEX sms_attempts_sms ON sms_attempts (sms_id, attempt);

-- Wakes idle workers (LISTEN sms_outbox_due) when SMS are queued; they also
-- poll, so a lost notification only delays delivery.
CREATE FUNCTION sms_outbox_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('sms_outbox_due', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER sms_outbox_queued AFTER INSERT ON sms_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION sms_outbox_notify_due();
