-- The event journal (issue 14): every change the gateway publishes, numbered. A client resumes
-- with `since` from here. seq is assigned by the database (AUTOINCREMENT, so a number is never
-- handed out twice, even after the sweep has emptied the table: a client holding an old seq must
-- never mistake a new event for one it has seen). Bounded by the retained count and age
-- (OMS_EVENTS_RETAIN, OMS_EVENTS_RETAIN_AGE), trimmed by the housekeeping sweep and on publish.

CREATE TABLE events (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  time    INTEGER NOT NULL,                  -- unix milliseconds, when the gateway recorded it
  type    TEXT NOT NULL,                     -- kvm, container, node, task, inventory, console
  node    TEXT,
  target  TEXT,
  action  TEXT NOT NULL,
  data    TEXT NOT NULL                      -- JSON object, never secrets
);
CREATE INDEX events_time ON events(time);
