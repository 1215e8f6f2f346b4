-- Dispatch speed (issue 7): two writes each sent text made that cost far more than the rest of
-- its journey (bench/dispatch.sh, pg_stat_statements).

---------------------------------------------------------------------------------------------------
-- Survey links. The hash of a survey's link token was set on surveys at the first send: an
-- update of an indexed column, so never a HOT update, rewriting the whole row and an entry in
-- each of its eleven indexes. A link is a row of its own now, written where the send begins;
-- a survey whose text never began still has no link that opens.
CREATE TABLE survey_links (
  token_hash text PRIMARY KEY,
  survey_id  bigint NOT NULL UNIQUE REFERENCES surveys (id)
);
INSERT INTO survey_links (token_hash, survey_id)
  SELECT token_hash, id FROM surveys WHERE token_hash IS NOT NULL;
ALTER TABLE surveys DROP COLUMN token_hash;

---------------------------------------------------------------------------------------------------
-- Rollups of texts. 0004 kept the rollups of texts with a row-level trigger on outbox:
-- each text the gateway accepted upserted its cell in every cube on its own, so a batch of a
-- hundred answers recorded in one statement made a hundred upserts per cube, most of them on the
-- same few cells, and held those cells' locks while it did (bench/dispatch.sh: 130 ms per
-- recorded batch, 96% of the drain's database time). The same work once per statement: the
-- batch's moves are added up first, then each cell is written once, with one delta per text
-- (its old bucket out, its new one in).
DROP TRIGGER analytics_outbox_moved ON outbox;
DROP FUNCTION analytics_outbox_moved();

-- Transition tables cannot go with a column list (UPDATE OF state, ...), so this fires after
-- every UPDATE of outbox; one that moves no survey text between buckets (a claim, the start of
-- a send, a retry) adds an empty array, which writes nothing.
CREATE FUNCTION analytics_move_of(survey_id bigint, was text, now text) RETURNS analytics_delta
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(survey_id, 0, 0, 0, 0,
               (now IS NOT DISTINCT FROM 'waiting')::int - (was IS NOT DISTINCT FROM 'waiting')::int,
               (now IS NOT DISTINCT FROM 'unreported')::int - (was IS NOT DISTINCT FROM 'unreported')::int,
               (now IS NOT DISTINCT FROM 'delivered')::int - (was IS NOT DISTINCT FROM 'delivered')::int,
               (now IS NOT DISTINCT FROM 'failed_sent')::int - (was IS NOT DISTINCT FROM 'failed_sent')::int,
               (now IS NOT DISTINCT FROM 'failed_unsent')::int - (was IS NOT DISTINCT FROM 'failed_unsent')::int,
               (now IS NOT DISTINCT FROM 'expired')::int - (was IS NOT DISTINCT FROM 'expired')::int,
               (now IS NOT DISTINCT FROM 'cancelled')::int - (was IS NOT DISTINCT FROM 'cancelled')::int, 0)::analytics_delta $$;

CREATE FUNCTION analytics_outbox_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_move_of(m.survey_id, m.was, m.now)
    FROM (SELECT n.survey_id,
                 analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL) AS was,
                 analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL) AS now
          FROM old_rows o JOIN new_rows n ON n.id = o.id
          WHERE n.kind = 'survey') AS m
    WHERE m.was IS DISTINCT FROM m.now));
  INSERT INTO analytics_cancellations AS a (day, group_id, reason, messages)
  SELECT analytics_day(s.contact_at), s.group_id, analytics_cancel_reason(n::outbox), count(*)
  FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN surveys s ON s.id = n.survey_id
  WHERE n.kind = 'survey' AND n.state = 'cancelled' AND o.state <> 'cancelled'
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (day, group_id, reason) DO UPDATE SET messages = a.messages + excluded.messages;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_outbox_moved AFTER UPDATE ON outbox
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_outbox_moved();

---------------------------------------------------------------------------------------------------
-- The rate limit counted a grant's sends in the bucket of the grant, but a batch goes a little
-- later (claimed, decided again, begun): two grants just over a second apart could send within
-- one second, up to twice the rate (bench/dispatch.sh measured 400 requests in a second under a
-- cap of 200). A grant is now settled when its requests go: those sent count in the bucket they
-- go in, the rest are given back. Takers of one gateway still queue on its advisory lock.
CREATE FUNCTION surveyd_settle_send_slots(g text, granted_bucket bigint, granted integer,
                                          sent_bucket bigint, sent integer) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1919251317, hashtext(g));
  UPDATE gateway_send_slots SET used = GREATEST(0, used - granted)
    WHERE gateway = g AND bucket = granted_bucket;
  IF sent > 0 THEN
    INSERT INTO gateway_send_slots AS s (gateway, bucket, used) VALUES (g, sent_bucket, sent)
      ON CONFLICT (gateway, bucket) DO UPDATE SET used = s.used + sent;
  END IF;
END
$$;
