-- The journal, the outbox and the cool-down marks record what happened; they
-- are not live links. Their foreign keys checked every row a call wrote
-- (six checks per call), each taking a share lock on the same hot tenant rows,
-- which under concurrent batches turns into MultiXact churn: about a quarter
-- of the hook's database time. Without them, a deleted organization or store
-- leaves its ids in these rows: the admin API's joins name nothing for them
-- (as SET NULL did), ids are never reused, and retention prunes them with the rest.
ALTER TABLE calls
    DROP CONSTRAINT calls_organization_id_fkey,
    DROP CONSTRAINT calls_store_id_fkey,
    DROP CONSTRAINT calls_sms_id_fkey;
ALTER TABLE sms_outbox
    DROP CONSTRAINT sms_outbox_organization_id_fkey,
    DROP CONSTRAINT sms_outbox_store_id_fkey;
ALTER TABLE welcome_cooldowns
    DROP CONSTRAINT welcome_cooldowns_store_id_fkey;
