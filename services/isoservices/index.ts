/**
 * ISOService: ISO images in a node's ISO directory.
 *
 * The directory is the node setting isoDir (default ISO_DIR, the lab's layout). Image names are plain file names ending in .iso; every path is also
 * resolved on the node (realpath), so symlinks out of the directory are refused.
 *
 * Uploads: upload_image takes the image base64-encoded in the call (fits the RPC body limit:
 * small images); the route `PUT /isos/<node>/<name>` (declared below, mounted by src/http) streams
 * larger ones from an HTTP request body through the same SFTP path. fetch_image has the node
 * download a URL itself (curl), size-limited.
 */
import { randomBytes } from 'node:crypto';
import { defaultNodeDirs, nodeDirs } from '../../src/fleet/dirs.ts';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { NodeHandle } from '../../src/fleet/access.ts';
import { targetOf } from '../../src/fleet/access.ts';
import type { Argv } from '../../src/nodes/command.ts';
import type { ExecResult } from '../../src/nodes/pool.ts';
import { method, route, service } from '../../src/rpc/declare.ts';
import type { CallContext } from '../../src/rpc/context.ts';
import { isOmsError, oms } from '../../src/rpc/errors.ts';
import { fileName, nodeName } from '../../src/rpc/fields.ts';
import { paths } from '../../src/auth/permissions.ts';
import { guestDisks, parseGuestDisks, userOf } from '../lvmservices/guest-disks.ts';
import { EXIT, fetchImage, listIsoDetails, listIsos, prepareUpload, removeImage, resolveImage } from './commands.ts';
import { fetchReason, parseFetchedSize, parseIsoDetails, parseIsoList, parseResolved } from './parse.ts';
import { uploadOverSftp } from './upload.ts';

/** Where ISO images live on nodes (lab nodes: /var/lib/oms-node/isos). To become a node setting. */
export const ISO_DIR = defaultNodeDirs.isos;

/** The node's ISO directory (node setting isoDir, default ISO_DIR). */
const isoDirOf = (node: NodeHandle): string => nodeDirs(node.settings).isos;
/** Largest image fetch_image accepts unless the call asks for less: 8 GiB (a DVD image). */
export const FETCH_MAX_BYTES = 8 * 1024 ** 3;
/** Largest image upload_image accepts: its base64 must fit the default 1 MiB RPC body. */
export const RPC_UPLOAD_MAX_BYTES = 700 * 1024;
/** Largest image the HTTP upload accepts: 8 GiB (a DVD image); OMS_UPLOAD_MAX may lower it. */
export const HTTP_UPLOAD_MAX_BYTES = 8 * 1024 ** 3;
const FETCH_TIMEOUT_S = 3600;

export const isoName = fileName.refine((n) => /\.iso$/i.test(n), 'not an ISO image name (must end in .iso)');

/** http(s) URLs without credentials, in plain ASCII; the node's curl is the only reader. */
export const imageUrl = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?(?:\/[A-Za-z0-9._~%!$&()*+,;=:@\/-]*)?(?:\?[A-Za-z0-9._~%!$&()*+,;=:@\/?-]*)?$/, 'not an http(s) URL without credentials');

const base64 = z
  .string()
  .max(Math.ceil(RPC_UPLOAD_MAX_BYTES / 3) * 4, `larger than ${RPC_UPLOAD_MAX_BYTES} bytes: use the HTTP upload`)
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not base64');

const view = { privilege: 'node.view', path: (p: { server_hostname: string }) => paths.node(p.server_hostname) } as const;
const admin = { privilege: 'node.admin', path: (p: { server_hostname: string }) => paths.node(p.server_hostname) } as const;
const server = { name: 'server_hostname', schema: nodeName } as const;
const image = { name: 'image_name', schema: isoName } as const;

/** Runs a script; maps its exit codes (commands.EXIT) to ISO errors. */
async function script(node: NodeHandle, argv: Argv, name: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ExecResult> {
  try {
    return await node.exec(argv, opts);
  } catch (e) {
    if (!isOmsError(e) || e.omsName !== 'NodeCommandError') throw e;
    const code = Number(e.vars.exitCode);
    const vars = { node: node.name, name, dir: isoDirOf(node) };
    if (code === EXIT.noDir) throw oms('IsoDirectoryError', vars);
    if (code === EXIT.noImage) throw oms('UnknownIsoImageError', vars);
    if (code === EXIT.outside) throw oms('IsoImagePathError', vars);
    if (code === EXIT.exists) throw oms('IsoImageExistsError', vars);
    throw e;
  }
}

/**
 * Uploads bytes from source (any stream) as a task, so two uploads of one name do not race. The
 * task's progress is bytes: done of total (the declared length; 0 while unknown). A source that
 * fails (client gone, idle, cancel_task) fails the task with that error; the temp file is removed
 * and the task ends, so the name is free again at once.
 */
export async function uploadImage(ctx: CallContext, server_hostname: string, name: string, source: Readable, maxBytes: number, length?: number): Promise<{ name: string; size: number }> {
  const node = ctx.node(server_hostname);
  const realDir = (await script(node, prepareUpload(isoDirOf(node), name), name)).stdout.trim();
  const total = length ?? 0;
  const { done } = ctx.app.tasks.start({ kind: 'iso.upload', node: node.name, target: `iso:${name}`, user: ctx.principal?.userName }, async (task) => {
    const cancel = () => source.destroy(oms('TaskCancelledError', { task: task.id }));
    task.signal.addEventListener('abort', cancel, { once: true });
    task.progress(0, total);
    try {
      const sftp = await ctx.app.access.pool.sftp(targetOf(ctx.app.nodes.signed(node.name)), { signal: ctx.signal });
      sftp.on('error', (err: Error) => ctx.log.warn({ node: node.name, err }, 'iso upload: sftp session error'));
      try {
        const size = await uploadOverSftp(sftp, { node: node.name, realDir, name }, source, maxBytes, ctx.log, (n) => task.progress(n, total));
        task.progress(size, total || size);
        return { name, size };
      } finally {
        sftp.end();
      }
    } catch (e) {
      // The source's own failure says why (the client went away, idled, the task was cancelled).
      const cause = (source as Readable & { errored?: unknown }).errored;
      throw isOmsError(cause) ? cause : e;
    } finally {
      task.signal.removeEventListener('abort', cancel);
    }
  });
  return done;
}

export const isoservices = service({
  name: 'isoservices',
  aliases: ['iso', 'ISOService'],
  description: `ISOService: ISO images in the ISO directory of nodes (node setting isoDir, default ${ISO_DIR}).`,
  envelope: 'oms',
  methods: [
    method({
      name: 'list_images',
      description: `Names of the ISO images (regular *.iso files) in the node's ISO directory (setting isoDir, default ${ISO_DIR}), sorted.`,
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      async run(ctx, { server_hostname }) {
        const node = ctx.node(server_hostname);
        return parseIsoList((await script(node, listIsos(isoDirOf(node)), '')).stdout);
      },
    }),
    method({
      name: 'list_image_details',
      description: 'The images of list_images with size (bytes) and mtime (seconds since the epoch).',
      auth: 'session',
      permission: view,
      cacheable: true,
      node: 'server_hostname',
      params: [server] as const,
      async run(ctx, { server_hostname }) {
        const node = ctx.node(server_hostname);
        return parseIsoDetails((await script(node, listIsoDetails(isoDirOf(node)), '')).stdout);
      },
    }),
    method({
      name: 'delete_image',
      description: 'Deletes an ISO image. Refused for anything but a regular file inside the ISO directory (symlinks out of it included) and while a libvirt guest has it as a disk or cdrom. Returns 0.',
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, image] as const,
      async run(ctx, { server_hostname, image_name }) {
        const node = ctx.node(server_hostname);
        const real = parseResolved((await script(node, resolveImage(isoDirOf(node), image_name), image_name)).stdout);
        const disks = parseGuestDisks((await node.exec(guestDisks(node.settings.libvirtUri ?? 'qemu:///system'))).stdout);
        const guest = userOf(disks, [`${isoDirOf(node)}/${image_name}`, `${real.dir}/${image_name}`, real.file]);
        if (guest) throw oms('IsoImageInUseError', { node: node.name, name: image_name, guest });
        await node.exec(removeImage(real.dir, image_name));
        return 0;
      },
    }),
    method({
      name: 'upload_image',
      description: `Uploads an ISO image given base64-encoded (at most ${RPC_UPLOAD_MAX_BYTES} bytes; larger images go through the HTTP upload). Written over SFTP to a temp name, then renamed; an existing name is refused. Returns {name, size}.`,
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, image, { name: 'data_base64', schema: base64 }] as const,
      async run(ctx, { server_hostname, image_name, data_base64 }) {
        const bytes = Buffer.from(data_base64, 'base64');
        return uploadImage(ctx, server_hostname, image_name, Readable.from([bytes]), RPC_UPLOAD_MAX_BYTES, bytes.length);
      },
    }),
    method({
      name: 'fetch_image',
      description: `Has the node download an ISO image from an http(s) URL (no redirects, no credentials in the URL) into the ISO directory: at most max_bytes (default and ceiling ${FETCH_MAX_BYTES}), to a temp name, then linked to its name; an existing name is refused. Runs as a task; returns {name, size} when done.`,
      auth: 'session',
      permission: admin,
      mutates: true,
      node: 'server_hostname',
      params: [server, { name: 'url', schema: imageUrl }, image, { name: 'max_bytes', schema: z.number().int().min(1).max(FETCH_MAX_BYTES), optional: true }] as const,
      async run(ctx, { server_hostname, url, image_name, max_bytes }) {
        const node = ctx.node(server_hostname);
        const max = max_bytes ?? FETCH_MAX_BYTES;
        const token = randomBytes(8).toString('hex');
        const { done } = ctx.app.tasks.start({ kind: 'iso.fetch', node: node.name, target: `iso:${image_name}`, user: ctx.principal?.userName }, async (task) => {
          try {
            // The task's signal: cancel_task stops the download on the node, not only the row.
            const r = await script(node, fetchImage(isoDirOf(node), image_name, url, max, token, FETCH_TIMEOUT_S), image_name, { timeoutMs: (FETCH_TIMEOUT_S + 60) * 1000, signal: task.signal });
            return { name: image_name, size: parseFetchedSize(r.stdout) };
          } catch (e) {
            if (!isOmsError(e) || e.omsName !== 'NodeCommandError') throw e;
            const code = Number(e.vars.exitCode);
            if (code === EXIT.tooLarge) throw oms('IsoImageTooLargeError', { limit: max });
            throw oms('IsoFetchError', { node: node.name, reason: code === EXIT.fetchFailed ? fetchReason(String(e.vars.stderr)) : `exit ${code}` });
          }
        });
        return done;
      },
    }),
  ],
  routes: [
    route({
      name: 'http_upload',
      description: `Streams an ISO image in the request body (at most ${HTTP_UPLOAD_MAX_BYTES} bytes, OMS_UPLOAD_MAX may lower it) to the node over SFTP, nothing buffered: to a temp name, then renamed; an existing name is refused. Runs as an iso.upload task with progress in bytes. Bounded by idle time (OMS_UPLOAD_IDLE_TIMEOUT), not total time. Returns {name, size}.`,
      method: 'PUT',
      path: '/isos/:server_hostname/:image_name',
      params: [server, image] as const,
      permission: admin,
      maxBodyBytes: HTTP_UPLOAD_MAX_BYTES,
      node: 'server_hostname',
      statuses: { IsoImageTooLargeError: 413, IsoImageExistsError: 409, IsoDirectoryError: 400, TaskCancelledError: 409 },
      run: (ctx, { server_hostname, image_name }, body) => uploadImage(ctx, server_hostname, image_name, body.stream, HTTP_UPLOAD_MAX_BYTES, body.length),
    }),
  ],
});
