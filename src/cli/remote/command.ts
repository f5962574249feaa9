/** A parsed remote command, as args.ts hands it to remote/commands.ts. */
export interface RemoteOptions {
  profile?: string;
  json?: boolean;
  yaml?: boolean;
  wait?: boolean;
  timeout?: string;
  [k: string]: unknown;
}

export interface RemoteCommand {
  cmd: 'remote';
  /** The command path: `call`, `vm start`, `task ls` ... */
  name: string;
  args: string[];
  opts: RemoteOptions;
}
