-- One change at a time per guest: a row per guest (KVM domain or container) that a call or task
-- is changing or reading the disks of. A second change is refused (or queued as a waiter) while
-- the row exists. Rows carry their owner and a lease, so that with several gateways sharing the
-- database a dead gateway's rows can be told apart and cleared; the embedded database has one
-- gateway, which clears its own rows at start (src/locks/guest-locks.ts).

CREATE TABLE guest_locks (
  node          TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('kvm', 'ct')),
  guest         TEXT NOT NULL,               -- domain name or container id
  hold_id       TEXT NOT NULL,               -- one call's hold; several guests may share it
  operation     TEXT NOT NULL,               -- 'kvmservices.start_vm', or the task kind once a task holds it
  task_id       TEXT,                        -- the task that holds it (for its whole life), if any
  gateway       TEXT NOT NULL,               -- which gateway holds it (stable across restarts)
  instance      TEXT NOT NULL,               -- which run of that gateway (a new one each start)
  acquired_at   INTEGER NOT NULL,            -- unix milliseconds
  lease_until   INTEGER NOT NULL,            -- renewed while the holder runs; past it the row is stale
  PRIMARY KEY (node, kind, guest)
);
CREATE INDEX guest_locks_hold ON guest_locks(hold_id);
CREATE INDEX guest_locks_task ON guest_locks(task_id);

-- Callers that asked to wait (OMS-Lock-Wait / lock_wait) for a held guest, served in ticket order.
CREATE TABLE guest_lock_waits (
  ticket        INTEGER NOT NULL,            -- one per waiting call, increasing
  node          TEXT NOT NULL,
  kind          TEXT NOT NULL,
  guest         TEXT NOT NULL,
  hold_id       TEXT NOT NULL,
  operation     TEXT NOT NULL,
  gateway       TEXT NOT NULL,
  instance      TEXT NOT NULL,
  expires_at    INTEGER NOT NULL,            -- the waiter gives up then; a stale row is ignored after it
  PRIMARY KEY (ticket, node, kind, guest)
);
CREATE INDEX guest_lock_waits_guest ON guest_lock_waits(node, kind, guest, ticket);
