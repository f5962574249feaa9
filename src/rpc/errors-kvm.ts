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
  // 540-549: network installs (create_vm_from_location); 518-539 left for the other kvm errors.
  /** No kernel/initrd found in the tree, or the node could not fetch them (curl's reason). */
  InstallTreeError: spec(540, 'Install tree {location} for {node}: {reason}'),
  /** A node-path tree outside the ISO directory (also through a symlink). */
  InstallTreePathError: spec(541, 'Install tree {path} on {node} is not inside the ISO directory {dir}'),
  // Snapshots (services/kvmservices/snapshots.ts): 560-569.
  /** Refused before libvirt is asked: a raw file or a block device cannot hold an internal snapshot. */
  SnapshotUnsupportedError: spec(560, 'VM {vm} on {node} cannot take snapshots: disk {disk} ({path}) {reason}'),
  UnknownSnapshotError: spec(561, 'VM {vm} on {node} has no snapshot {snapshot}'),
  SnapshotExistsError: spec(562, 'VM {vm} on {node} already has a snapshot {snapshot}'),
  // 570-579: NICs and libvirt networks (guest NICs, NAT networks).
  MacInUseError: spec(570, 'MAC address {mac} is already used by VM {vm} on {node}'),
  NetworkOverlapError: spec(571, 'Subnet {subnet} overlaps {other} on {node}'),
  NetworkInactiveError: spec(572, 'libvirt network {network} on {node} is not active: {reason}'),
  // 580-589: drives by channel, media, firmware (drive-methods.ts, create-methods.ts).
  /** A drive channel (controller:unit of a bus) already holds a drive. */
  DriveChannelInUseError: spec(580, 'VM {vm} on {node}: {reason}'),
  // 590-599: moving a guest between nodes (migrate_vm, services/kvmservices/migrate.ts).
  /** The target node does not answer (link, sshd, libvirtd): nothing was changed anywhere. */
  MigrationTargetUnreachableError: spec(590, 'VM {vm} cannot move to {node}: the node cannot be reached ({reason}); it stays on {source}'),
  /** The target's directory for the disks has less free space than the disks' sizes. */
  MigrationSpaceError: spec(591, 'VM {vm} cannot move to {node}: {dir} has {free} free, its disks need {need}; it stays on {source}'),
  /** A guest of that name, or a file at one of its disk paths, is on the target already (never overwritten). */
  MigrationNameTakenError: spec(592, 'VM {vm} cannot move to {node}: {what} already exists there; it stays on {source}'),
  /** Live migration asked for, and one of the nodes or the guest cannot take part: the reason says which. */
  LiveMigrationNotPossibleError: spec(593, 'VM {vm} cannot move live from {source} to {target}: {reason}'),
  /** The guest cannot be moved at all as it is (same node, block disks, snapshots, UEFI variables, paused ...). */
  MigrationNotCapableError: spec(594, 'VM {vm} cannot move from {source} to {target}: {reason}'),
  /** A step failed after the move began; what was made on the target was removed, the guest is back as it was. */
  MigrationError: spec(595, 'Migration of VM {vm} from {source} to {target} failed: {reason}; it stays on {source}, as it was'),
} as const satisfies Record<string, ErrorSpec>;
