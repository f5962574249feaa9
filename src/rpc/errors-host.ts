/** Error catalogue block: Host services (netinterfaceservices, lvmservices, isoservices, statsservices history): codes 800-899. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const hostErrors = {
  // Host networking (netinterfaceservices): 800-819.
  UnknownInterfaceError: spec(800, 'Interface {interface} does not exist on node {node}'),
  NotABridgeError: spec(801, 'Interface {interface} on node {node} is not a bridge'),
  BridgeExistsError: spec(802, 'Interface {interface} already exists on node {node}'),
  BridgeMemberError: spec(803, 'Interface {member} cannot be changed in bridge {bridge} on node {node}: {reason}'),
  RouteExistsError: spec(804, 'Node {node} already has a route to {destination}/{prefix}'),
  UnknownRouteError: spec(805, 'Node {node} has no route {destination}/{prefix} via {gateway} dev {interface}'),
  SshPathError: spec(806, "Refused: {what} carries the gateway's SSH connection to node {node}; pass force = true to do it anyway"),
  NetworkChangeError: spec(807, 'Node {node} refused the network change: {reason}'),
  NotStaticRouteError: spec(808, 'The route {destination}/{prefix} on node {node} belongs to an interface address ({protocol}); change the address instead'),
  NetworkConfigDirectoryError: spec(809, 'The network configuration directory {dir} is missing on node {node}'),

  // LVM (lvmservices): 820-839.
  UnknownVolumeGroupError: spec(820, 'Volume group {vg} does not exist on node {node}'),
  UnknownLogicalVolumeError: spec(821, 'Logical volume {vg}/{lv} does not exist on node {node}'),
  LogicalVolumeExistsError: spec(822, 'Logical volume {vg}/{lv} already exists on node {node}'),
  InsufficientSpaceError: spec(823, 'Volume group {vg} on node {node} has {free} bytes free; {needed} bytes needed'),
  VolumeInUseError: spec(824, 'Logical volume {vg}/{lv} on node {node} is used by guest {guest}'),
  LvmCommandError: spec(825, 'LVM on node {node} failed: {reason}'),
  VolumeShrinkError: spec(826, 'Shrinking {vg}/{lv} from {from} to {to} bytes destroys data; pass force = true to do it anyway'),

  // ISO images (isoservices): 840-859.
  UnknownIsoImageError: spec(840, 'ISO image {name} does not exist on node {node}'),
  IsoImageExistsError: spec(841, 'ISO image {name} already exists on node {node}'),
  IsoImagePathError: spec(842, 'ISO image {name} on node {node} is not a regular file inside the ISO directory'),
  IsoImageTooLargeError: spec(843, 'ISO image larger than the limit of {limit} bytes'),
  IsoFetchError: spec(844, 'Node {node} could not fetch the image: {reason}'),
  IsoUploadError: spec(845, 'Upload to node {node} failed: {reason}'),
  IsoDirectoryError: spec(846, 'The ISO directory {dir} is missing on node {node}'),
  IsoImageInUseError: spec(847, 'ISO image {name} on node {node} is used by guest {guest}'),

  // Health history (statsservices.get_history): 860-869.
  UnknownMetricError: spec(860, 'Unknown metric {metric} (known: {known})'),
  HistoryRangeError: spec(861, 'Bad history range: {reason}'),
  TooManyPointsError: spec(862, 'The history from {from} to {to} at a step of {step} s has {points} points; at most {max} per call (use a larger step or a shorter range)'),
} as const satisfies Record<string, ErrorSpec>;
