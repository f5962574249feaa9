/**
 * What a fleet task keeps of a target's answer (its log line and its summary) has secrets taken
 * out: some answers carry one meant for that answer only (clone_vm's fresh VNC password, an API
 * token, a console ticket), and a task's log and result are read later, by others with access to
 * the task. Keys are matched by name, on every level.
 */
const SECRET_KEY = /pass(word|wd)?$|password|secret|token|ticket|private|credential/i;

export function scrub(value: unknown, depth = 0): unknown {
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined ? '[redacted]' : scrub(v, depth + 1);
  return out;
}
