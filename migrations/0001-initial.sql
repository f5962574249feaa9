-- Users, sessions, permissions, RPC result cache and audit: the gateway's own state.

CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,              -- scrypt$N$r$p$salt$hash (base64)
  created_at    INTEGER NOT NULL,           -- unix seconds
  disabled      INTEGER NOT NULL DEFAULT 0
);

-- Session ids are stored only as SHA-256 digests: a copy of the database does not yield live sessions.
CREATE TABLE sessions (
  id_hash     TEXT PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  remote      TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_tokens (
  id          INTEGER PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE,
  created_at  INTEGER NOT NULL,
  last_used   INTEGER,
  UNIQUE (user_id, name)
);

-- Failed logins, counted per key ('user:NAME' or 'addr:IP') inside a sliding window.
CREATE TABLE auth_failures (
  key           TEXT PRIMARY KEY,
  failures      INTEGER NOT NULL,
  window_start  INTEGER NOT NULL,
  locked_until  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE roles (
  name        TEXT PRIMARY KEY,
  privileges  TEXT NOT NULL,               -- JSON array of privilege names
  builtin     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE groups (
  name        TEXT PRIMARY KEY,
  comment     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE group_members (
  group_name  TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE ON UPDATE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_name, user_id)
);

-- Grants of a role on a path to a user or a group; propagate = applies to the path's descendants too.
CREATE TABLE acl (
  path          TEXT NOT NULL,
  subject_type  TEXT NOT NULL CHECK (subject_type IN ('user', 'group')),
  subject       TEXT NOT NULL,
  role          TEXT NOT NULL REFERENCES roles(name) ON DELETE CASCADE ON UPDATE CASCADE,
  propagate     INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (path, subject_type, subject, role)
);

INSERT INTO roles (name, privileges, builtin) VALUES
  ('Administrator', '["node.view","node.admin","vm.view","vm.state","vm.create","vm.config","vm.console","vm.delete","user.admin","audit.view"]', 1),
  ('Operator',      '["node.view","vm.view","vm.state","vm.create","vm.config","vm.console","vm.delete"]', 1),
  ('VMUser',        '["vm.view","vm.state","vm.console"]', 1),
  ('Auditor',       '["node.view","vm.view","audit.view"]', 1),
  ('NoAccess',      '[]', 1);

-- cache_timeout results: keyed by (user, service, method, params); node lets a change on a node
-- invalidate what was cached about it.
CREATE TABLE rpc_cache (
  key         TEXT PRIMARY KEY,
  node        TEXT,
  result      TEXT NOT NULL,
  created_at  INTEGER NOT NULL            -- unix milliseconds
);
CREATE INDEX rpc_cache_node ON rpc_cache(node);

-- One row for every call that changes something (and every failed attempt at one).
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,           -- unix milliseconds
  request_id  TEXT NOT NULL,
  user_name   TEXT,
  remote      TEXT,
  service     TEXT NOT NULL,
  method      TEXT NOT NULL,
  target      TEXT,                       -- permission path the call acted on
  outcome     TEXT NOT NULL,              -- 'ok' or the error name
  detail      TEXT                        -- redacted summary, never secrets
);
CREATE INDEX audit_at ON audit(at);
