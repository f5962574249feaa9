/** Tasks: status, log and cancellation of long operations (install, clone, deploy, migrate). */
import { z } from 'zod';
import { method, service } from '../../src/rpc/declare.ts';
import { oms } from '../../src/rpc/errors.ts';
import { nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { taskRow } from '../../src/rpc/results.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import type { TaskRow } from '../../src/tasks/tasks.ts';

const taskId = z.string().regex(/^[0-9a-f-]{36}$/, 'not a task id');

/** A task is visible to whoever started it and to those who may view its target. */
function visible(ctx: CallContext, t: TaskRow): boolean {
  if (t.user === ctx.principal!.userName) return true;
  if (t.node && t.target) return ctx.can('vm.view', paths.vm(t.node, t.target));
  if (t.node) return ctx.can('node.view', paths.node(t.node));
  return ctx.can('audit.view', '/');
}

function find(ctx: CallContext, id: string): TaskRow {
  const t = ctx.app.tasks.require(id);
  // Someone else's task is reported as unknown, not as forbidden: ids are not to be probed.
  if (!visible(ctx, t)) throw oms('UnknownTaskError', { task: id });
  return t;
}

export const tasks = service({
  name: 'tasks',
  aliases: ['taskservices'],
  description: 'Long operations as tasks: status with progress, log, cancellation.',
  envelope: 'oms',
  methods: [
    method({
      name: 'list_tasks',
      description: 'Newest tasks the caller may see, optionally of one node or in one state (running, succeeded, failed, cancelled).',
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'server_hostname', schema: nodeName, optional: true },
        { name: 'state', schema: z.enum(['running', 'succeeded', 'failed', 'cancelled']), optional: true },
        { name: 'limit', schema: z.number().int().min(1).max(1000), optional: true },
      ] as const,
      result: z.array(taskRow),
      run: (ctx, { server_hostname, state, limit }) => ctx.app.tasks.list({ node: server_hostname, state, limit: limit ?? 100 }).filter((t) => visible(ctx, t)),
    }),
    method({
      name: 'task_status',
      description: 'One task: state, progress (done/total/percent), error, result.',
      auth: 'session',
      permission: 'authenticated',
      params: [{ name: 'task_id', schema: taskId }] as const,
      result: taskRow,
      run: (ctx, { task_id }) => find(ctx, task_id),
    }),
    method({
      name: 'task_log',
      description: "A task's log lines, optionally only those after sequence number `after`.",
      auth: 'session',
      permission: 'authenticated',
      params: [
        { name: 'task_id', schema: taskId },
        { name: 'after', schema: z.number().int().min(0), optional: true },
      ] as const,
      run(ctx, { task_id, after }) {
        find(ctx, task_id);
        return ctx.app.tasks.logOf(task_id, after ?? 0);
      },
    }),
    method({
      name: 'cancel_task',
      description: 'Asks a running task to stop; it cleans up and ends as cancelled. 1 when it was running, 0 otherwise.',
      auth: 'session',
      permission: 'authenticated',
      mutates: true,
      params: [{ name: 'task_id', schema: taskId }] as const,
      result: z.union([z.literal(0), z.literal(1)]),
      run(ctx, { task_id }) {
        const t = find(ctx, task_id);
        const allowed = t.user === ctx.principal!.userName || (t.node && t.target ? ctx.can('vm.state', paths.vm(t.node, t.target)) : ctx.can('node.admin', '/nodes'));
        if (!allowed) throw oms('PermissionDenied', { privilege: 'vm.state', path: t.node && t.target ? paths.vm(t.node, t.target) : '/nodes' });
        return ctx.app.tasks.cancel(task_id) ? 1 : 0;
      },
    }),
  ],
});
