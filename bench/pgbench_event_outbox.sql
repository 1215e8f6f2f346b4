-- One event row plus one outbox row per transaction: the most a design that commits once per
-- event could store. Run by bench/ingest.sh with -c 8 -j 2 after pgbench_setup.sql.
\set ago random(0, 86400)
BEGIN;
INSERT INTO bench_events (event_id, received_at, source, seq, type, occurred_at, decision, raw)
  VALUES ('PGB-' || nextval('bench_event_seq'), now(), 'tcp', currval('bench_event_seq'),
          'call.ended', now() - make_interval(secs => :ago), 'survey', repeat('x', 760));
INSERT INTO bench_outbox (survey_id, client_ref, state, next_attempt_at, updated_at)
  VALUES (currval('bench_event_seq'), 'svy-' || currval('bench_event_seq'), 'pending', now(),
          now());
END;
