-- Replicas cache API keys and store routes in memory. Every change to the
-- tables behind them, whoever makes it (the admin API, `seed`, psql), tells
-- every listening replica to drop its cache. One notice per statement: a
-- replica drops everything, so which rows changed does not matter.
CREATE FUNCTION ivr_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ivr_directory', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER organizations_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION ivr_directory_changed();
CREATE TRIGGER api_keys_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION ivr_directory_changed();
CREATE TRIGGER stores_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stores
    FOR EACH STATEMENT EXECUTE FUNCTION ivr_directory_changed();
CREATE TRIGGER business_numbers_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON business_numbers
    FOR EACH STATEMENT EXECUTE FUNCTION ivr_directory_changed();
