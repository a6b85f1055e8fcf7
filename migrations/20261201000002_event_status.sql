-- SMS events carry the status they report. The event stream read each
-- notified row when rendering it, so a new SMS delivered a moment later was
-- shown twice as `delivered` and never as `queued`. Notices now say
-- {"type": "sms", "status": "queued", "ids": [...]} (status changes: the new
-- status); call notices are unchanged but for a null status.

CREATE OR REPLACE FUNCTION ivr_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- TG_ARGV[2], the status every inserted row has, is absent (null) for calls.
    PERFORM pg_notify('ivr_events', json_build_object('type', TG_ARGV[0], 'status', TG_ARGV[2],
                                                      'ids', json_agg(id ORDER BY id))::text)
    FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / TG_ARGV[1]::int AS chunk FROM new_rows) r
    GROUP BY chunk ORDER BY chunk;
    RETURN NULL;
END
$$;

DROP TRIGGER sms_outbox_event_insert ON sms_outbox;
CREATE TRIGGER sms_outbox_event_insert AFTER INSERT ON sms_outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ivr_events_inserted('sms', '150', 'queued');

CREATE OR REPLACE FUNCTION ivr_events_sms_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'sms', 'status', NEW.status,
                                                      'ids', json_build_array(NEW.id))::text);
    RETURN NULL;
END
$$;
