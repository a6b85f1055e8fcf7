-- Simulated calls (docs/simulator.md): what was played, and its transcript.
CREATE TABLE simulations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text NOT NULL,
    from_number text NOT NULL,
    to_number   text NOT NULL,
    persona     jsonb NOT NULL,
    ended       text NOT NULL,
    transcript  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER simulations_event_insert AFTER INSERT ON simulations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ivr_events_inserted('simulation', '400');
