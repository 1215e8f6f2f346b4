-- One batch of a SKIP LOCKED queue: claim 50 due rows in one transaction, then mark them sent in
-- a second, as a worker does around its requests. Run by bench/dispatch.sh with -c 8 -j 2 after
-- pgbench_claim_setup.sql; rows/s = transactions/s * 50 while the table has due rows.
UPDATE bench_queue q SET state = 'claimed', claimed_by = 'c' || :client_id,
    lease_until = now() + interval '60 seconds', updated_at = now()
  FROM (SELECT id FROM bench_queue WHERE state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED) c
  WHERE q.id = c.id;
UPDATE bench_queue SET state = 'sent', attempts = attempts + 1, gateway = 'wmnow',
    gateway_message_id = 'm-' || id, lease_until = NULL, updated_at = now()
  WHERE claimed_by = 'c' || :client_id AND state = 'claimed';
