-- Long operations (install from ISO, clone, template deploy, migration) as tasks with a log.

CREATE TABLE tasks (
  id            TEXT PRIMARY KEY,
  kind          TEXT NOT NULL,               -- e.g. 'kvm.create_vm_from_iso'
  node          TEXT,
  target        TEXT,                        -- guest or container the task acts on
  user_name     TEXT,
  state         TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled')),
  progress_done INTEGER,
  progress_total INTEGER,
  created_at    INTEGER NOT NULL,            -- unix milliseconds
  finished_at   INTEGER,
  error_name    TEXT,
  error_message TEXT,
  result        TEXT                         -- JSON
);
CREATE INDEX tasks_state ON tasks(state);
CREATE INDEX tasks_target ON tasks(node, target, state);

CREATE TABLE task_log (
  task_id  TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  seq      INTEGER NOT NULL,
  at       INTEGER NOT NULL,
  line     TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
);
