-- An organization may hold its Twilio auth token: then calls to the hook must
-- carry a valid X-Twilio-Signature. The token is stored usable (HMAC needs
-- it), and never returned by the admin API or logged.
ALTER TABLE organizations ADD COLUMN twilio_auth_token text CHECK (twilio_auth_token <> '');

ALTER TABLE calls DROP CONSTRAINT calls_outcome_check;
ALTER TABLE calls ADD CONSTRAINT calls_outcome_check
    CHECK (outcome IN ('dial', 'no_forwarding', 'not_linked', 'invalid_key', 'invalid_request', 'rate_limited',
                       'invalid_signature'));
