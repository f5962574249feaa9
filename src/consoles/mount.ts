/**
 * One call wires consoles into a gateway (src/server.ts, test/helpers/gateway.ts):
 *   const consoles = mountConsoles(app);
 *   createHttpApp(app, consoles.routes);                       // static /web-vnc/ pages
 *   if (consoles.handles(path)) consoles.handleUpgrade(req, socket, head);
 *   consoles.close();                                         // on shutdown
 */
import { join, resolve } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import type { AppServices } from '../rpc/context.ts';
import { CONSOLE_WS_PATH, ConsoleHub } from './hub.ts';

const root = resolve(import.meta.dirname, '..', '..');

export interface MountedConsoles {
  readonly hub: ConsoleHub;
  /** Static routes: the pages, and the noVNC and xterm.js files they load, same origin. */
  routes(router: express.Router): void;
  handles(path: string): boolean;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function mountConsoles(app: AppServices): MountedConsoles {
  const hub = new ConsoleHub(app);
  const files = (dir: string, index: string | false = false) => express.static(dir, { index, fallthrough: true, dotfiles: 'deny', redirect: false });
  return {
    hub,
    routes(router) {
      router.use('/web-vnc/novnc/core', files(join(root, 'node_modules/@novnc/novnc/core')));
      router.use('/web-vnc/novnc/vendor', files(join(root, 'node_modules/@novnc/novnc/vendor')));
      router.use('/web-vnc/xterm', files(join(root, 'node_modules/@xterm/xterm')));
      router.use('/web-vnc/xterm-fit', files(join(root, 'node_modules/@xterm/addon-fit/lib')));
      router.use('/web-vnc', files(join(root, 'web-vnc'), 'vnc.html'));
    },
    handles: (path) => path === CONSOLE_WS_PATH,
    handleUpgrade: (req, socket, head) => hub.handleUpgrade(req, socket, head),
    close: () => hub.close(),
  };
}
