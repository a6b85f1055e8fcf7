-- Live events for GET /admin/events: a new call, a new SMS, an SMS whose
-- status changed. Payloads name the row only; listeners read the row itself,
-- so the hook's transaction does no extra reads. NOTIFY is delivered at
-- commit, in commit order, to every replica listening.

CREATE FUNCTION ivr_events_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'call', 'id', NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER calls_event AFTER INSERT ON calls
    FOR EACH ROW EXECUTE FUNCTION ivr_events_call();

CREATE FUNCTION ivr_events_sms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_events', json_build_object('type', 'sms', 'id', NEW.id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER sms_outbox_event_insert AFTER INSERT ON sms_outbox
    FOR EACH ROW EXECUTE FUNCTION ivr_events_sms();

CREATE TRIGGER sms_outbox_event_status AFTER UPDATE OF status ON sms_outbox
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION ivr_events_sms();
