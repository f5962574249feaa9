/**
 * kvmservices' own parameter types, beside the shared ones of src/rpc/fields.ts. Numbers are
 * taken as JSON numbers or digit strings (OMS clients send "10"), never coerced from booleans or
 * lists; names refuse '..' even where the shared pattern would let it through.
 */
import { z } from 'zod';
import { fileName, ifName, libvirtNetName } from '../../src/rpc/fields.ts';

/** A whole number in [min, max], from a number or a string of digits. */
export const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number().int(), z.string().regex(/^\d{1,12}$/, 'not a whole number').transform(Number)])
    .pipe(z.number().int().min(min).max(max));

/** A positive decimal (e.g. "0.5" GB), from a number or a string. */
export const decimalNumber = (max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d{1,9}(\.\d{1,6})?$/, 'not a number').transform(Number)])
    .pipe(z.number().positive().max(max));

/** Disk image names carry their format: `.qcow2` is qcow2, `.img` and `.raw` are raw. */
export const imageName = fileName.refine((s) => /\.(qcow2|img|raw)$/.test(s), 'disk image names end in .qcow2, .img or .raw');

/** Host bridge names: a Linux interface name, without the '..' the shared pattern allows. */
export const bridgeName = ifName.refine((s) => !s.includes('..'), 'not a bridge name');

/** libvirt network names. */
export const netName = libvirtNetName;

/** Snapshot names: what a path or shell cannot misread, as for guests. */
export const snapshotName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, 'not a snapshot name')
  .refine((s) => !s.includes('..'), 'not a snapshot name');

/** Snapshot descriptions: free text, bounded, no control characters but tab and newline. */
export const snapshotDescription = z
  .string()
  .max(1024, 'description longer than 1024 characters')
  .refine((s) => !/[\x00-\x08\x0b-\x1f\x7f]/.test(s), 'control characters in the description');
