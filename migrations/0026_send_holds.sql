-- Ops hold every text to the public (`surveyd sends hold`, POST /api/v1/sends/hold): a critical
-- incident under way, a wrong template gone live, a database restored to an earlier point (whose
-- outbox would send again what was sent since, and has lost the opt-outs taken since). While a
-- hold is open no claim begins a send, on any instance; events are still taken and decided, and
-- what falls due waits, or expires past its deadline as ever. Each hold is kept, with who opened
-- and released it and why, for the record.
CREATE TABLE send_holds (
  id            bigserial PRIMARY KEY,
  reason        text NOT NULL CHECK (btrim(reason) <> ''),
  held_by       text NOT NULL,
  held_at       timestamptz NOT NULL,
  released_by   text,
  released_at   timestamptz,
  release_note  text,
  cancelled     integer NOT NULL DEFAULT 0,  -- texts still waiting, cancelled at the release
  CHECK ((released_by IS NULL) = (released_at IS NULL))
);
-- At most one open hold.
CREATE UNIQUE INDEX send_holds_open ON send_holds ((true)) WHERE released_at IS NULL;
