-- Resource pools (issue 16): named sets of KVM guests and containers across nodes, after Proxmox's
-- pools and Velocity's groups. A grant on `/pools/{pool}` applies to every member (the permission
-- check in src/auth/permissions.ts reads pool_members for a guest's path). A guest belongs to one
-- pool at most (the primary key), so "which pool's grant applies" has one answer; moving it is an
-- UPDATE of its row. Members of a node that is removed go with it.

CREATE TABLE pools (
  name         TEXT PRIMARY KEY,
  description  TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,            -- unix milliseconds
  created_by   TEXT
);

CREATE TABLE pool_members (
  pool   TEXT NOT NULL REFERENCES pools(name) ON DELETE CASCADE ON UPDATE CASCADE,
  kind   TEXT NOT NULL CHECK (kind IN ('kvm', 'ct')),
  node   TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE ON UPDATE CASCADE,
  guest  TEXT NOT NULL,                     -- domain name or container id
  PRIMARY KEY (kind, node, guest)
);
CREATE INDEX pool_members_pool ON pool_members(pool);
-- The permission check looks a path's guest up by node and name (paths do not carry the kind).
CREATE INDEX pool_members_guest ON pool_members(node, guest);
