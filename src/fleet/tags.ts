/**
 * Tags as in OMS: level 1 is a node's host type (exactly one per node), level 2 a group, level 3
 * freeform. Tags can be put on nodes and on VMs (a VM is named by node and VM name).
 */
import type { Db } from '../db/database.ts';
import { oms } from '../rpc/errors.ts';

export interface Tag {
  tag: string;
  level: number;
}

export class TagStore {
  constructor(private readonly db: Db) {}

  list(): Tag[] {
    return this.db.prepare('SELECT name AS tag, level FROM tags ORDER BY level, name').all() as Tag[];
  }

  level(tag: string): number | undefined {
    return (this.db.prepare('SELECT level FROM tags WHERE name = ?').get(tag) as { level: number } | undefined)?.level;
  }

  hostTypes(): string[] {
    return (this.db.prepare('SELECT name FROM tags WHERE level = 1 ORDER BY name').all() as { name: string }[]).map((r) => r.name);
  }

  ofNode(node: string): Tag[] {
    return this.db.prepare('SELECT t.name AS tag, t.level FROM node_tags n JOIN tags t ON t.name = n.tag WHERE n.node = ? ORDER BY t.level, t.name').all(node) as Tag[];
  }

  ofVm(node: string, vm: string): Tag[] {
    return this.db.prepare('SELECT t.name AS tag, t.level FROM vm_tags v JOIN tags t ON t.name = v.tag WHERE v.node = ? AND v.vm = ? ORDER BY t.level, t.name').all(node, vm) as Tag[];
  }

  /** Replaces the node's level-1 tag. Unknown types are UnknownHostException, as in OMS. */
  setHostType(node: string, type: string): void {
    if (this.level(type) !== 1) throw oms('UnknownHostException', { type });
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM node_tags WHERE node = ? AND tag IN (SELECT name FROM tags WHERE level = 1)').run(node);
      this.db.prepare('INSERT INTO node_tags (node, tag) VALUES (?, ?)').run(node, type);
    })();
  }

  /** Creates the tag at the given level if it does not exist; an existing tag keeps its level. */
  ensure(tag: string, level: 2 | 3): number {
    this.db.prepare('INSERT OR IGNORE INTO tags (name, level) VALUES (?, ?)').run(tag, level);
    return this.level(tag)!;
  }

  assignNode(node: string, tag: string, level: 2 | 3 = 3): void {
    if (this.ensure(tag, level) === 1) throw oms('TagExistsError', { tag: `${tag} is a host type; use change_host_type` });
    this.db.prepare('INSERT OR IGNORE INTO node_tags (node, tag) VALUES (?, ?)').run(node, tag);
  }

  unassignNode(node: string, tag: string): boolean {
    return this.db.prepare('DELETE FROM node_tags WHERE node = ? AND tag = ? AND tag NOT IN (SELECT name FROM tags WHERE level = 1)').run(node, tag).changes > 0;
  }

  assignVm(node: string, vm: string, tag: string, level: 2 | 3 = 3): void {
    if (this.ensure(tag, level) === 1) throw oms('TagExistsError', { tag: `${tag} is a host type` });
    this.db.prepare('INSERT OR IGNORE INTO vm_tags (node, vm, tag) VALUES (?, ?, ?)').run(node, vm, tag);
  }

  unassignVm(node: string, vm: string, tag: string): boolean {
    return this.db.prepare('DELETE FROM vm_tags WHERE node = ? AND vm = ? AND tag = ?').run(node, vm, tag).changes > 0;
  }

  /** Renames a freeform tag everywhere it is used (ON UPDATE CASCADE carries the assignments). */
  renameFreeform(from: string, to: string): void {
    this.db.transaction(() => {
      const level = this.level(from);
      if (level === undefined) throw oms('UnknownTagError', { tag: from });
      if (level !== 3) throw oms('UnknownTagError', { tag: `${from} (not a freeform tag)` });
      if (this.level(to) !== undefined) throw oms('TagExistsError', { tag: to });
      this.db.prepare('UPDATE tags SET name = ? WHERE name = ?').run(to, from);
    })();
  }

  /** Drops level 2/3 tags no node or VM uses any more. */
  prune(): number {
    return this.db
      .prepare('DELETE FROM tags WHERE level > 1 AND name NOT IN (SELECT tag FROM node_tags) AND name NOT IN (SELECT tag FROM vm_tags)')
      .run().changes;
  }
}
