-- A gateway's own request to wait, shared by every instance that sends through it.
--
-- A 429 with Retry-After delayed only the message that got it: the other due texts kept going,
-- and the circuit breaker took the 429s for ordinary failures (15 s, 30, 60...), whatever the
-- gateway asked. A fake WMNow answering every request 429 with Retry-After: 120 saw 38 requests
-- within the 120 s. Now the instance that gets such an answer sends nothing through that gateway
-- until the time asked (at most dispatch.breaker_max_open_s), and writes it here; every other
-- instance, sharing the gateway's account, reads it (at most once a second) and waits too.
-- One row per gateway, kept: `until` only moves later, and is read against the database's own
-- time, so that instances whose clocks differ a little wait for the same moment.
CREATE TABLE gateway_waits (
  gateway text PRIMARY KEY,
  until   timestamptz NOT NULL,
  asked_s integer NOT NULL CHECK (asked_s > 0),  -- the wait asked for (capped), when it was
  set_at  timestamptz NOT NULL
);
