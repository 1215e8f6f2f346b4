-- An ops hold (send_holds, migration 0026) stops the service texting people; it no longer holds
-- the answer to a citizen who just texted that they are in danger (outbox.kind 'help', migration
-- 0035: where to get help, 999, 55, 101). Those go through a hold as they go at any time; every
-- other text waits for the release. Under a hold the dispatchers' claims take the due help texts
-- by this index alone, rather than reading every text that waits (store "lock_due").
CREATE INDEX outbox_help_due ON outbox (next_attempt_at) WHERE state = 'pending' AND kind = 'help';
