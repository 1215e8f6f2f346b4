-- The sweepers fold in turn, not in a queue (issue 11: the soak's statement table).
--
-- Every instance's sweeper called analytics_fold() four times a second, and the function waits
-- for the advisory lock that makes folds take turns: with two instances, each fold but the first
-- waited for the other's to commit, then folded what little had been queued meanwhile. In the
-- soak's statement table the fold led (75 ms a call on average), half of it waiting. A sweeper
-- now folds only if no other fold is running; if one is, that fold or the next takes these
-- changes. A read that wants everything folded first (an analyst's) still waits its turn.
CREATE FUNCTION analytics_fold_if_free(batch integer, batches integer) RETURNS integer
  LANGUAGE plpgsql SET jit = off AS $$
  BEGIN
    -- The same lock analytics_fold() takes; held twice by this transaction, it is one lock.
    IF NOT pg_try_advisory_xact_lock(hashtext('surveyd.analytics_fold')) THEN
      RETURN NULL;
    END IF;
    RETURN analytics_fold(batch, batches);
  END $$;
