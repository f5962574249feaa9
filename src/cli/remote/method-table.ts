/** The shape of methods.generated.ts: what the CLI knows of each method without a gateway. */
export interface ParamSpec {
  readonly name: string;
  readonly required: boolean;
  /** Takes every remaining argument (e.g. list_vms' stats). */
  readonly rest?: boolean;
  /** JSON Schema of one value (of one item for a rest param). */
  readonly schema: Record<string, unknown>;
}

export interface MethodSpec {
  readonly summary: string;
  readonly params: readonly ParamSpec[];
  /** Answers {task_id}: --wait follows the task. */
  readonly task: boolean;
}

export type MethodTable = Readonly<Record<string, MethodSpec>>;
