-- Managed nodes (enrollment requests and signed nodes with their pinned host keys) and tags.

CREATE TABLE nodes (
  name                  TEXT PRIMARY KEY,
  address               TEXT NOT NULL,
  port                  INTEGER NOT NULL,
  signed                INTEGER NOT NULL DEFAULT 0,
  -- Pinned when signed; connections offering any other key are refused.
  host_key_fingerprint  TEXT,
  host_key              TEXT,
  signed_at             INTEGER,
  signed_by             TEXT,
  -- A pending request (a new node, or a signed node whose key or address is to change).
  request_address       TEXT,
  request_port          INTEGER,
  request_fingerprint   TEXT,
  request_key           TEXT,
  requested_at          INTEGER,
  requested_by          TEXT,
  -- Per-node settings as JSON (libvirt URI, directories, LVM flags); defaults apply when absent.
  settings              TEXT NOT NULL DEFAULT '{}',
  CHECK (signed IN (0, 1)),
  CHECK (signed = 0 OR host_key_fingerprint IS NOT NULL),
  CHECK (signed = 1 OR request_fingerprint IS NOT NULL)
);

-- Level 1: host type (one per node); level 2: group; level 3: freeform.
CREATE TABLE tags (
  name   TEXT PRIMARY KEY,
  level  INTEGER NOT NULL CHECK (level IN (1, 2, 3))
);

CREATE TABLE node_tags (
  node  TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE ON UPDATE CASCADE,
  tag   TEXT NOT NULL REFERENCES tags(name) ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY (node, tag)
);

CREATE TABLE vm_tags (
  node  TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE ON UPDATE CASCADE,
  vm    TEXT NOT NULL,
  tag   TEXT NOT NULL REFERENCES tags(name) ON DELETE CASCADE ON UPDATE CASCADE,
  PRIMARY KEY (node, vm, tag)
);

-- The host types OMS knows (OpenNode: a virtualization host; physical: type not identified).
INSERT INTO tags (name, level) VALUES ('OpenNode', 1), ('physical', 1), ('virtual', 1);
