-- A few leading characters of each key, so that an operator can tell keys
-- apart when listing or revoking them (at most a quarter of the key, never
-- enough to use it). Keys stored before this have none.
ALTER TABLE api_keys ADD COLUMN prefix text;
