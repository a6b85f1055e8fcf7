-- When the current lease was granted. A lease granted before the database's
-- last start is honoured for a while after the restart, even if it ran out
-- meanwhile: its worker may hold an acknowledged send it could not record
-- while the database was away (see sms::queue::claim).
ALTER TABLE sms_outbox ADD COLUMN claimed_at timestamptz;
