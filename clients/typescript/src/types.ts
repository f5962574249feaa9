/** Shapes shared by the hand-written runtime and the generated API (generated.ts). */
import type { TasksApi } from './generated.js';

/** Per-call options, the last argument of every generated method. */
export interface CallOptions {
  /** Seconds a cached result may be old (the OMS cache_timeout param); 0, the default, is fresh. */
  cacheTimeout?: number;
  /** Seconds to wait when another operation holds the guest, instead of TaskConflictError at once. */
  lockWait?: number;
  /** Aborts the call (the gateway sees the caller go away). */
  signal?: AbortSignal;
  /** Milliseconds before the call fails with OmsConnectionError (reason `timeout`); default from the client. */
  timeoutMs?: number;
}

/**
 * A task as tasks.task_status and the `task.updated` push describe it: the type generated from
 * the declaration's result schema (src/rpc/results.ts), so it cannot drift from the gateway's.
 */
export type TaskRow = Awaited<ReturnType<TasksApi['task_status']>>;

/** Progress of a task as the gateway reports it: bytes or steps done of the total. */
export type TaskProgress = NonNullable<TaskRow['progress']>;

/** Options of `waitTask` and of the `.wait` form of methods that start a task. */
export interface WaitOptions extends CallOptions {
  /** Called whenever done/total changes. */
  onProgress?: (p: TaskProgress, task: TaskRow) => void;
  /** How often tasks.task_status is read (ms); with the websocket transport pushes come first. Default 1000. */
  pollMs?: number;
  /** Milliseconds to follow the task before giving up (the task keeps running); default none. */
  waitTimeoutMs?: number;
  /** Cancel the task (tasks.cancel_task) when `signal` aborts; default false (only stop following). */
  cancelOnAbort?: boolean;
}

/** What the `.wait` form resolves with: the method's own answer, the task's result and its final row. */
export interface TaskOutcome<Started> {
  /** The method's immediate answer ({task_id, ...}); the only place a clone's vnc_password appears. */
  started: Started;
  /** The task's result (null when nothing ran, e.g. shutdown_vm of a stopped guest). */
  result: unknown;
  /** The final task row, or null when no task was started. */
  task: TaskRow | null;
}

/** How a generated method is called: its param names in OMS order, how the session travels, the envelope. */
export interface MethodMeta {
  readonly params: readonly string[];
  readonly auth: 'session' | 'sessionOnly' | 'public';
  /** `oms`: {type, result} envelope; `plain`: bare result. */
  readonly envelope: 'oms' | 'plain';
  /** Result wrapped as {client, result} (a method on a node). */
  readonly node: boolean;
  /** Answers {task_id}: the method gets a `.wait` form. */
  readonly task: boolean;
}

export interface ServiceMeta {
  readonly aliases: readonly string[];
  readonly methods: Readonly<Record<string, MethodMeta>>;
}

/** An event as the gateway numbers and delivers it (src/events/types.ts OmsEvent). */
export interface OmsEvent {
  seq: number;
  /** Milliseconds since the epoch, when the gateway recorded it. */
  time: number;
  type: 'kvm' | 'container' | 'node' | 'task' | 'inventory' | 'console' | 'resync' | (string & {});
  node?: string;
  target?: string;
  action: string;
  data: Record<string, unknown>;
}
