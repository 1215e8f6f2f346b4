-- The rate limiter's slot accounting in one statement (issue 11: the soak's statement table).
--
-- Under the soak's load (bench/soak.sh, 1,000 events/s) the two slot functions led the database's
-- time: surveyd_take_send_slots 74,000 calls at 5.8 ms on average, surveyd_settle_send_slots
-- 51,000 at 4.3 ms, where each takes well under a millisecond at rest. Each ran in a transaction
-- of four round trips (BEGIN, SET LOCAL synchronous_commit, the call, COMMIT), and the gateway's
-- advisory lock, taken by the call, was held until the COMMIT arrived: a whole round trip to a
-- client thread that, on a loaded machine, may wait milliseconds for a core. Every other taker of
-- the gateway queued behind it.
--
-- Now the caller sends the call alone, outside any transaction of its own, and the function
-- turns synchronous commit off for the statement's implicit transaction itself (set_config's
-- third argument: until the end of the transaction, not of the function). The lock is released
-- by the commit that follows the statement in the same backend, without waiting for the client.
-- Nothing is sent on the strength of a lost grant or a lost settlement, so neither need wait
-- for the disk: a crash forgets at most the last moments' counts, and sends are counted again
-- from then on.
--
-- The signatures are unchanged, so an instance of the previous release, which still wraps the
-- calls in its own transaction with SET LOCAL, keeps working during a rolling upgrade.

CREATE OR REPLACE FUNCTION surveyd_take_send_slots(g text, b bigint, wanted integer, cap integer,
                                                   span integer) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  recent integer;
  granted integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(1919251317, hashtext(g));
  DELETE FROM gateway_send_slots WHERE gateway = g AND bucket <= b - 4 * span;
  -- Buckets ahead of ours (an instance whose clock runs a little fast) count too.
  SELECT COALESCE(sum(used), 0) INTO recent FROM gateway_send_slots
    WHERE gateway = g AND bucket > b - span;
  granted := GREATEST(0, LEAST(wanted, cap - recent));
  IF granted > 0 THEN
    INSERT INTO gateway_send_slots AS s (gateway, bucket, used) VALUES (g, b, granted)
      ON CONFLICT (gateway, bucket) DO UPDATE SET used = s.used + granted;
  END IF;
  RETURN granted;
END
$$;

CREATE OR REPLACE FUNCTION surveyd_settle_send_slots(g text, granted_bucket bigint,
                                                     granted integer, sent_bucket bigint,
                                                     sent integer) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM pg_advisory_xact_lock(1919251317, hashtext(g));
  UPDATE gateway_send_slots SET used = GREATEST(0, used - granted)
    WHERE gateway = g AND bucket = granted_bucket;
  IF sent > 0 THEN
    INSERT INTO gateway_send_slots AS s (gateway, bucket, used) VALUES (g, sent_bucket, sent)
      ON CONFLICT (gateway, bucket) DO UPDATE SET used = s.used + sent;
  END IF;
END
$$;
