/**
 * The container runtime behind OpenVZService, as a small interface: OMS speaks of OpenVZ
 * containers, the lab (and most hosts today) runs LXC. `lxc-driver.ts` implements it with the
 * `lxc-*` tools; a vzctl driver can sit beside it with the same methods.
 *
 * Ids reaching a driver have been validated by `containerId` (digits only) and template names by
 * `fileName`; drivers still build every command as argv.
 */
import type { Readable, Writable } from 'node:stream';
import type { CtConfig } from './config.ts';

/** A bulk copy's budget: it can take long, so the caller sizes the timeout and may cancel. */
export interface StreamOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export type CtState = 'running' | 'stopped' | 'frozen' | 'starting' | 'stopping' | 'aborting' | 'unknown';

export interface CtInfo {
  readonly id: string;
  readonly state: CtState;
  readonly pid?: number;
  /** CPU time used since start, nanoseconds (0 when stopped). */
  readonly cpuTimeNs: number;
  /** Memory in use, bytes (0 when stopped). */
  readonly memoryBytes: number;
}

/** What a node offers for containers; read once per call that needs bounds. */
export interface NodeFacts {
  readonly cpus: number;
  readonly memTotalKiB: number;
  /** `v1` (or hybrid: the v1 controllers hold cpu/memory), `v2` (unified only). */
  readonly cgroup: 'v1' | 'v2';
  /** Free space on the filesystem holding the containers, KiB. */
  readonly diskFreeKiB: number;
}

export interface ContainerDriver {
  /** Fails with OpenVZNotCapable when the node lacks the runtime's tools. */
  facts(): Promise<NodeFacts>;
  list(): Promise<string[]>;
  /** undefined when the container does not exist. */
  info(id: string): Promise<CtInfo | undefined>;
  infoAll(ids: readonly string[]): Promise<CtInfo[]>;
  /** The config file's text; OpenVZUnknownContainerError when there is none. */
  readConfigText(id: string): Promise<string>;
  readConfig(id: string): Promise<CtConfig>;
  /** Several config files in one round trip, by id (absent ids map to ''). */
  readConfigTexts(ids: readonly string[]): Promise<Map<string, string>>;
  /** Writes the config for `config`, keeping the lines of `base` (the current text) OMS does not own. */
  writeConfig(id: string, config: CtConfig, facts: NodeFacts, base: string): Promise<void>;
  /** Creates the private area from a root-filesystem tarball; fails if the id exists. */
  createFromTarball(id: string, tarball: string): Promise<void>;
  /**
   * Creates the private area from a gzip'd tar read as it arrives (migration); removes what it
   * made if that fails.
   */
  createFromStream(id: string, tarGz: Readable, opts?: StreamOptions): Promise<void>;
  /** Writes a gzip'd tar of the root filesystem into `out` as it is packed (migration). */
  exportStream(id: string, out: Writable, opts?: StreamOptions): Promise<void>;
  /** Writes the root filesystem as a tarball into the template cache (atomically). */
  exportToTarball(id: string, tarball: string): Promise<void>;
  /** sha256 of a name-sorted tar of the root filesystem: equal on two nodes = same files. */
  manifest(id: string): Promise<string>;
  /** Used space of the private area, MiB (rounded up). */
  diskUsageMiB(id: string): Promise<number>;
  start(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  /** Kills the container at once (no clean halt). */
  kill(id: string): Promise<void>;
  /** Freezes every process of the container (cgroup freezer) / thaws them. */
  freeze(id: string): Promise<void>;
  unfreeze(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  /** Removes a half-made private area (failed deploy, rolled-back migration) the runtime may not know as a container. */
  discard(id: string): Promise<void>;
  /** Applies cgroup limits to a running container at once (the config holds them for next start). */
  setLiveLimits(id: string, config: CtConfig, facts: NodeFacts): Promise<void>;
  /** Runs argv inside a running container. */
  exec(id: string, argv: readonly string[], input?: string): Promise<{ stdout: string; code: number }>;
  /** Writes /etc/resolv.conf inside the container's root filesystem. */
  writeResolvConf(id: string, text: string): Promise<void>;
  /** Sets root's password inside the root filesystem; the secret only travels on stdin. */
  setRootPassword(id: string, password: string): Promise<void>;
}
