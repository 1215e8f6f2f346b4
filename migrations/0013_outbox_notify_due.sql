-- A new message's notification says when it is due (issue 11: an hour at national peak).
--
-- Migration 0003 notifies every instance's dispatchers of each INSERT into the outbox, and each
-- notification made them claim at once. Every survey group sends after a delay (30 s at the
-- least in the shipped rules), so under load each batch of new surveys cost every instance a
-- claim that found nothing: in the HTTP push benchmark, two claims (each with its send-slot
-- accounting) for every group of pushes, a third of the database's time. The payload is now the
-- earliest next_attempt_at of the rows the statement queued, in microseconds since the epoch,
-- and a dispatcher looks then (OutboxListener::Wait, Dispatcher::WakeAt). An empty payload (as
-- before) still means "look now", so instances of either version wake each other correctly.
-- A statement that queued nothing notifies nobody.
CREATE OR REPLACE FUNCTION surveyd_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  due timestamptz;
BEGIN
  SELECT min(next_attempt_at) INTO due FROM queued;
  IF due IS NOT NULL THEN
    PERFORM pg_notify('surveyd_outbox', (extract(epoch FROM due) * 1000000)::bigint::text);
  END IF;
  RETURN NULL;
END
$$;
DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS queued
  FOR EACH STATEMENT EXECUTE FUNCTION surveyd_outbox_notify();
