/**
 * Result shapes declared by more than one method (`result` in a declaration): documentation for
 * rpc.discover and the typed client generated from it, never checked at run time. Plain
 * objects (not strict), so a field added later does not make an old client's types lie.
 */
import { z } from 'zod';

/** The answer of a method that starts a task and does not wait for it. */
export const taskStarted = z.object({ task_id: z.string() });

/** A task as tasks.task_status and the `task.updated` push describe it (src/tasks TaskRow). */
export const taskRow = z.object({
  id: z.string(),
  kind: z.string(),
  node: z.string().nullable(),
  target: z.string().nullable(),
  user: z.string().nullable(),
  state: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  progress: z.object({ done: z.number(), total: z.number(), percent: z.number() }).nullable(),
  created_at: z.number(),
  finished_at: z.number().nullable(),
  error: z.object({ name: z.string(), message: z.string() }).nullable(),
  result: z.unknown(),
});
