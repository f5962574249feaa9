-- Browser consoles (VNC, node SSH shell, guest serial console): tunnels and their tickets.
-- A tunnel is a reserved spot ("port" in the OMS API) owned by one session; the live bytes flow
-- only while a websocket that redeemed a ticket for it is open. Rows die with their session.

CREATE TABLE consoles (
  kind        TEXT NOT NULL CHECK (kind IN ('vnc', 'ssh', 'serial')),
  handle      INTEGER NOT NULL,            -- the "port" clients see, from the kind's pool range
  session_key TEXT NOT NULL,               -- digest of the owning session id or token
  user_name   TEXT NOT NULL,
  node        TEXT NOT NULL,
  vm          TEXT NOT NULL DEFAULT '',    -- guest name; '' for a node shell
  created_at  INTEGER NOT NULL,            -- unix seconds
  PRIMARY KEY (kind, handle)
);
-- One tunnel per guest console (or node shell) at a time, whoever owns it.
CREATE UNIQUE INDEX consoles_target ON consoles(kind, node, vm);
CREATE INDEX consoles_session ON consoles(session_key);

CREATE TABLE console_tickets (
  ticket_hash TEXT PRIMARY KEY,            -- SHA-256 of the ticket; the ticket itself is never stored
  kind        TEXT NOT NULL,
  handle      INTEGER NOT NULL,
  session_key TEXT NOT NULL,
  node        TEXT NOT NULL,
  vm          TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,            -- unix milliseconds
  FOREIGN KEY (kind, handle) REFERENCES consoles(kind, handle) ON DELETE CASCADE
);
CREATE INDEX console_tickets_console ON console_tickets(kind, handle);
