// A guest that reacts to the ACPI power button, for tests that must see a guest really restart.
//
// The lab has no guest OS image (the lab ISO is not bootable), and a guest without an OS ignores
// the power button, so `virsh reboot` (ACPI) would change nothing there and a test could not tell
// a reboot from a no-op. This is the 512-byte boot sector assembled from acpi-guest.S beside this
// file: it prints a line on COM1 at every boot, and on the power button it powers off through
// ACPI S5 as an OS does (libvirt then resets it: that is a reboot). `acpiGuestImage()` is checked
// against a fresh assembly of acpi-guest.S when binutils are installed (see acpiGuestSourceMatches).

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Code and strings of the boot sector (the rest is zeros up to the 0x55 0xaa signature). */
const CODE =
  '+vwxwI7YjtC8AHy+YXzoPABmuEALAIC6+Axm77r8DGbtg+DAicONVwLtDQAB7/v0idrtqQABdPf6vn186A4AjVcE7SX/ww0AIO/06/26/QPsqCB0+6yEwHQGuvgD7uvtww0KbGFidC1hY3BpLWd1ZXN0OiBib290ZWQNCgBsYWJ0LWFjcGktZ3Vlc3Q6IHBvd2VyIGJ1dHRvbiwgcG93ZXJpbmcgb2ZmDQoAAAAAAAA=';

/** The line the guest prints on its serial port each time it boots. */
export const BOOTED = 'labt-acpi-guest: booted';
/** The line it prints when it hears the ACPI power button, before powering off. */
export const POWER_BUTTON = 'labt-acpi-guest: power button, powering off';

export function acpiGuestImage(): Buffer {
  const img = Buffer.alloc(512);
  Buffer.from(CODE, 'base64').copy(img);
  img[510] = 0x55;
  img[511] = 0xaa;
  return img;
}

/**
 * Assembles acpi-guest.S (GNU as/ld) and compares it with acpiGuestImage(). Resolves undefined
 * when binutils are not installed, so a test can skip the comparison on such a machine.
 */
export async function acpiGuestSourceMatches(): Promise<boolean | undefined> {
  const run = promisify(execFile);
  const dir = await mkdtemp(join(tmpdir(), 'labt-acpi-'));
  try {
    const src = fileURLToPath(new URL('./acpi-guest.S', import.meta.url));
    try {
      await run('as', ['--32', '-o', join(dir, 'g.o'), src]);
      await run('ld', ['-m', 'elf_i386', '-Ttext', '0x7c00', '--oformat', 'binary', '-o', join(dir, 'g.img'), join(dir, 'g.o')]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return (await readFile(join(dir, 'g.img'))).equals(acpiGuestImage());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
