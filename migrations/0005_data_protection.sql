-- Data protection: phone numbers and raw events encrypted at rest, retention and erasure.
-- docs/data-protection.md says what is held, where and for how long.
--
-- Encrypted values are text, "v1:<key id>:<base64 nonce|ciphertext|tag>" (AES-256-GCM, the key
-- ring in privacy.phone_keys), sealed and opened only by the store. The database alone reveals no
-- number: look-ups go through phone_hash (HMAC-SHA256 under survey.phone_hash_key).

-- The number of a survey, encrypted; phone_e164 stays only for rows written before this
-- migration, which the next retention run encrypts (SQL has no key). Once the survey is finished
-- (answered, failed or closed) and the grace period has passed, the number is erased
-- (phone_erased_at); the hash stays for the frequency cap until retention.phone_hash_days.
ALTER TABLE surveys
  ADD COLUMN phone_enc text,
  ADD COLUMN phone_erased_at timestamptz,
  ALTER COLUMN phone_e164 DROP NOT NULL,
  ALTER COLUMN phone_hash DROP NOT NULL;
CREATE INDEX surveys_phone_held ON surveys (closes_at)
  WHERE phone_enc IS NOT NULL OR phone_e164 IS NOT NULL;
CREATE INDEX surveys_phone_hash_held ON surveys (contact_at) WHERE phone_hash IS NOT NULL;

-- An opt-out keeps the number, encrypted, so that a new phone hash key can be applied to it; the
-- hash alone is what look-ups use. Erasure removes the number and keeps the hash (the person
-- must still not be texted), unless asked to forget the opt-out too.
ALTER TABLE opt_outs ADD COLUMN phone_enc text;

-- Raw events and rejected lines are encrypted as a whole (they hold the number and sensitive
-- flags) and deleted after retention.raw_days / retention.rejected_days; the normalised facts
-- without the number stay for the statistics' context and the audit of decisions. Rows written
-- before this migration are encrypted by the next retention run.
ALTER TABLE events ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE rejected_events ALTER COLUMN raw DROP NOT NULL;
CREATE INDEX events_raw_held ON events (received_at) WHERE raw IS NOT NULL;
-- The facts (the normalised event without the number) outlive the raw text, for the audit of
-- decisions, and go after retention.facts_days; events' number hashes after
-- retention.phone_hash_days.
CREATE INDEX events_facts_held ON events (received_at) WHERE facts IS NOT NULL;
CREATE INDEX events_phone_hash_held ON events (occurred_at) WHERE phone_hash IS NOT NULL;
CREATE INDEX rejected_events_raw_held ON rejected_events (received_at) WHERE raw IS NOT NULL;

-- Free-text comments are the citizen's own words: blanked after retention.comment_days; the
-- scores stay, anonymous once the number is gone.
CREATE INDEX responses_comment_held ON responses (submitted_at) WHERE comment <> '';

-- Every erasure on request (surveyd erase), without the number: when, the request's reference,
-- and what was removed.
CREATE TABLE erasures (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL,
  reference text NOT NULL,
  removed   jsonb NOT NULL
);

-- Every retention run: who ran it, and what it did.
CREATE TABLE retention_runs (
  id          bigserial PRIMARY KEY,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  worker      text NOT NULL,
  done        jsonb NOT NULL
);

-- The unsettled outbox at a glance (/metrics), however long the outbox grows.
CREATE INDEX outbox_unsettled ON outbox (state)
  WHERE state IN ('pending', 'claimed', 'sending', 'in_doubt');
