/** Error catalogue block: KVM guests, libvirt networks (kvmservices): codes 500-599. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const kvmErrors = {
  UnknownVmError: spec(500, 'Unknown VM {vm} on {node}'),
  /** libvirt refused: its own message (virsh's most specific error line), never a stack. */
  LibvirtError: spec(501, 'libvirt on {node}: {message}'),
  VmExistsError: spec(502, 'VM {vm} already exists on {node}'),
  /** The operation needs another power state, e.g. editing or templating a running guest. */
  VmStateError: spec(503, 'VM {vm} on {node} is {state}: {reason}'),
  UnknownTemplateError: spec(504, 'Unknown template {template} on {node}'),
  TemplateExistsError: spec(505, 'Template {template} already exists on {node}'),
  UnknownImageError: spec(506, 'Unknown disk image {image} on {node}'),
  ImageExistsError: spec(507, 'Disk image {image} already exists on {node}'),
  ImageInUseError: spec(508, 'Disk image {image} on {node} is used by VM {vm}'),
  // 509 was UnknownIsoError: a missing ISO is UnknownIsoImageError (840) in every service.
  ShutdownTimeoutError: spec(510, 'VM {vm} on {node} did not shut down within {seconds} s (ACPI request not answered); it is {state}'),
  NodeStorageError: spec(511, 'Storage command failed on {node}: {message}'),
  UnknownNetworkError: spec(512, 'Unknown libvirt network {network} on {node}'),
  NetworkExistsError: spec(513, 'libvirt network {network} already exists on {node}'),
  UnknownDeviceError: spec(514, 'VM {vm} on {node} has no {kind} {device}'),
  InvalidSettingsError: spec(515, 'Invalid settings for {what}: {reason}'),
  NotBlockDeviceError: spec(516, '{path} on {node} is not a block device'),
  UnknownBridgeError: spec(517, 'No bridge {bridge} on {node}'),
  // 580-589: drives by channel, media, firmware (drive-methods.ts, create-methods.ts).
  /** A drive channel (controller:unit of a bus) already holds a drive. */
  DriveChannelInUseError: spec(580, 'VM {vm} on {node}: {reason}'),
} as const satisfies Record<string, ErrorSpec>;
