-- A call refused by the per-key rate limit is journaled too (HTTP 429).
ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check
    CHECK (outcome IN ('dial', 'no_forwarding', 'not_linked', 'invalid_key', 'invalid_request', 'rate_limited'));
