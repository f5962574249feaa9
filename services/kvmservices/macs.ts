/**
 * Guest NIC MAC addresses: the accepted form, and new ones in the QEMU/KVM range. Pure: no I/O,
 * no state (the random source is a parameter).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** The prefix libvirt and QEMU give their guests' NICs (a locally administered unicast OUI). */
export const KVM_OUI = '52:54:00';

/**
 * Bit 0 of the first octet marks a group (multicast) address, ff:ff:ff:ff:ff:ff included: a NIC
 * with one would receive other hosts' traffic or none, and Linux refuses it on a tap.
 */
export const isMulticast = (mac: string): boolean => (parseInt(mac.slice(0, 2), 16) & 1) === 1;

/** A unicast MAC, six hex pairs with colons; written lower case, as libvirt reports them. */
export const macAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'not a MAC address (six hex pairs with colons, e.g. 52:54:00:12:34:56)')
  .transform((m) => m.toLowerCase())
  .refine((m) => !isMulticast(m), 'a multicast or broadcast MAC address cannot be a NIC\'s own')
  .refine((m) => m !== '00:00:00:00:00:00', 'the all-zero MAC address cannot be a NIC\'s own');

/**
 * A MAC in KVM_OUI that none of `used` has. 2^24 addresses per node: a collision is unlikely but
 * checked, and after many tries (a node full beyond reason) it gives up rather than loop.
 */
export function newMac(used: ReadonlySet<string>, random: (n: number) => Uint8Array = randomBytes): string {
  for (let i = 0; i < 64; i++) {
    const b = random(3);
    const mac = `${KVM_OUI}:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
    if (!used.has(mac)) return mac;
  }
  throw new Error('no free MAC address found after 64 tries');
}
