/** ContainerDriver on LXC (`lxc-*` tools), container name = the numeric OMS id. */
import type { NodeHandle } from '../../src/fleet/access.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { renderConfig, cgroupLimits, configOf, mergeConfig, parseConfig, DEFAULT_LXCPATH, type CtConfig } from './config.ts';
import type { ContainerDriver, CtInfo, NodeFacts } from './driver.ts';
import * as cmd from './lxc-commands.ts';
import { parseDu, parseFacts, parseInfo, parseInfoMany, parseList, parseSha256, splitBlocks } from './parse.ts';

/** Extracting or packing a root filesystem can take a while on a busy node. */
const TAR_TIMEOUT_MS = 300_000;

export function lxcDriver(node: NodeHandle, lxcpath = DEFAULT_LXCPATH): ContainerDriver {
  const stderrOf = (e: unknown): string => (isOmsError(e) ? String(e.vars.stderr ?? e.message) : 'command failed');

  const driver: ContainerDriver = {
    async facts(): Promise<NodeFacts> {
      const tools = await node.exec(cmd.whichTools(), { okExitCodes: [0, 1] });
      if (tools.code !== 0) throw oms('OpenVZNotCapable', { node: node.name, reason: 'LXC tools (lxc-start, lxc-info, lxc-attach, tar, sha256sum) not all installed' });
      return parseFacts((await node.exec(cmd.facts(lxcpath))).stdout);
    },

    async list() {
      const r = await node.exec(cmd.list(lxcpath), { okExitCodes: [0, 127] });
      if (r.code === 127) throw oms('OpenVZNotCapable', { node: node.name, reason: 'lxc-ls is not installed' });
      return parseList(r.stdout);
    },

    async info(id): Promise<CtInfo | undefined> {
      const r = await node.exec(cmd.info(lxcpath, id), { okExitCodes: [0, 1] });
      return r.code === 0 ? parseInfo(id, r.stdout) : undefined;
    },

    async infoAll(ids) {
      if (ids.length === 0) return [];
      return parseInfoMany((await node.exec(cmd.infoMany(lxcpath, ids))).stdout);
    },

    async readConfigText(id) {
      const r = await node.exec(cmd.readConfig(lxcpath, id), { okExitCodes: [0, 1] });
      if (r.code !== 0) throw oms('OpenVZUnknownContainerError', { vm_id: id, node: node.name });
      return r.stdout;
    },

    async readConfigTexts(ids) {
      if (ids.length === 0) return new Map();
      return splitBlocks((await node.exec(cmd.readConfigs(lxcpath, ids))).stdout);
    },

    async readConfig(id): Promise<CtConfig> {
      const [text, f] = await Promise.all([driver.readConfigText(id), driver.facts()]);
      return parseConfig(id, text, { cpus: f.cpus, memoryMiB: Math.floor(f.memTotalKiB / 1024) });
    },

    async writeConfig(id, config, facts, base) {
      await node.exec(cmd.writeFile(configOf(lxcpath, id)), { input: mergeConfig(base, renderConfig(config, lxcpath, facts.cgroup)) });
    },

    async createFromTarball(id, tarball) {
      await makeArea(id);
      try {
        await node.exec(cmd.extractTarball(lxcpath, id, tarball), { timeoutMs: TAR_TIMEOUT_MS });
      } catch (e) {
        await driver.discard(id);
        throw e;
      }
    },

    async createFromStream(id, tarGz, opts = {}) {
      await makeArea(id);
      try {
        await node.exec(cmd.extractStdin(lxcpath, id), { input: tarGz, timeoutMs: opts.timeoutMs ?? TAR_TIMEOUT_MS, signal: opts.signal });
      } catch (e) {
        await driver.discard(id);
        throw e;
      }
    },

    async exportStream(id, out, opts = {}) {
      await node.exec(cmd.exportStream(lxcpath, id), { stdout: out, timeoutMs: opts.timeoutMs ?? TAR_TIMEOUT_MS, signal: opts.signal });
    },

    async exportToTarball(id, tarball) {
      await node.exec(cmd.exportTarball(lxcpath, id, tarball), { timeoutMs: TAR_TIMEOUT_MS });
    },

    async manifest(id) {
      return parseSha256((await node.exec(cmd.manifest(lxcpath, id), { timeoutMs: TAR_TIMEOUT_MS })).stdout);
    },

    async diskUsageMiB(id) {
      return parseDu((await node.exec(cmd.diskUsage(lxcpath, id))).stdout);
    },

    async start(id) {
      try {
        await node.exec(cmd.start(lxcpath, id));
        await node.exec(cmd.waitState(lxcpath, id, 'RUNNING'), { timeoutMs: (cmd.START_WAIT_S + 10) * 1000 });
      } catch (e) {
        if (!isOmsError(e) || e.omsName !== 'NodeCommandError') throw e;
        throw oms('OpenVZStartError', { vm_id: id, node: node.name, reason: stderrOf(e).trim().split('\n').slice(-3).join(' ') });
      }
    },

    async stop(id) {
      // A frozen init cannot halt (and, on cgroup v1, frozen tasks do not even die): thaw first.
      await thawIfFrozen(id);
      // lxc-stop asks init to halt (lxc.signal.halt), and kills the container after the timeout.
      try {
        await node.exec(cmd.stop(lxcpath, id), { timeoutMs: (cmd.STOP_TIMEOUT_S + 15) * 1000 });
      } catch (e) {
        if (!isOmsError(e) || e.omsName !== 'NodeCommandError') throw e;
        throw oms('OpenVZStopError', { vm_id: id, node: node.name, reason: stderrOf(e).trim().split('\n').slice(-3).join(' ') });
      }
    },

    async kill(id) {
      await thawIfFrozen(id);
      await node.exec(cmd.kill(lxcpath, id));
    },

    async freeze(id) {
      await node.exec(cmd.freeze(lxcpath, id));
    },

    async unfreeze(id) {
      await node.exec(cmd.unfreeze(lxcpath, id));
    },

    async discard(id) {
      await node.exec(cmd.removePrivateArea(lxcpath, id));
    },

    async destroy(id) {
      await node.exec(cmd.destroy(lxcpath, id), { timeoutMs: TAR_TIMEOUT_MS });
    },

    async setLiveLimits(id, config, facts) {
      for (const [key, value] of cgroupLimits(config, facts.cgroup)) await node.exec(cmd.cgroupSet(lxcpath, id, key, value));
    },

    async exec(id, argv, input) {
      const r = await node.exec(cmd.attach(lxcpath, id, argv), { okExitCodes: Array.from({ length: 256 }, (_, i) => i), ...(input !== undefined ? { input } : {}) });
      return { stdout: r.stdout, code: r.code };
    },

    async writeResolvConf(id, text) {
      await node.exec(cmd.writeResolvConf(lxcpath, id), { input: text });
    },

    async setRootPassword(id, password) {
      await node.exec(cmd.setRootPassword(lxcpath, id), { input: `${password}\n` });
    },
  };

  async function thawIfFrozen(id: string): Promise<void> {
    if ((await driver.info(id))?.state === 'frozen') await node.exec(cmd.unfreeze(lxcpath, id));
  }

  async function makeArea(id: string): Promise<void> {
    const r = await node.exec(cmd.makePrivateArea(lxcpath, id), { okExitCodes: [0, 1] });
    if (r.code !== 0) throw oms('OpenVZContainerExistsError', { vm_id: id, node: node.name });
  }

  return driver;
}
