/** Error catalogue block: Consoles: VNC, SSH and serial (kvmservices VNC methods, sshservices): codes 600-699. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const consoleErrors = {
  // OMS KVMService (names exactly as the OMS document spells them, "Aready" included).
  VNCAreadySetUpError: spec(600, 'A VNC connection to {vm} on {node} is already set up in this session (port {port})'),
  VNCAreadySetUpAnotherSessionError: spec(601, 'A VNC connection to {vm} on {node} is already set up by another session'),
  VNCRemoteSetUpError: spec(602, 'The VNC server of {vm} on {node} is not available: {reason}'),
  VNCPoolSpotSetUpError: spec(603, 'No free VNC connection spot (all {size} in use)'),
  VNCTunnelSetUpError: spec(604, 'The tunnel to the VNC server of {vm} on {node} could not be opened: {reason}'),
  VNCRemoveError: spec(605, 'No VNC connection {what} in this session'),
  VNCConnectionCheckError: spec(606, 'VNC connection {port} is not usable in this session: {reason}'),
  VNCSpotPortError: spec(607, 'The gateway cannot listen on port {port} for a VNC connection: {reason}'),

  // OMS SSHService.
  SSHAlreadySetUpError: spec(620, 'An SSH connection to {node} is already set up in this session (port {port})'),
  SSHAlreadySetUpAnotherSessionError: spec(621, 'An SSH connection to {node} is already set up by another session'),
  SSHRemoteSetUpError: spec(622, 'Node {node} cannot give a shell: {reason}'),
  SSHPoolSpotSetUpError: spec(623, 'No free SSH connection spot (all {size} in use)'),
  SSHTunnelSetUpError: spec(624, 'The SSH terminal to {node} could not be opened: {reason}'),
  SSHRemoveError: spec(625, 'SSH connections of this session could not be removed: {reason}'),
  SSHConnectionCheckError: spec(626, 'SSH connection {port} is not usable in this session: {reason}'),
  SSHSpotPortError: spec(627, 'The gateway cannot listen on port {port} for an SSH connection: {reason}'),

  // Serial consoles (kvmservices.open_console/close_console, after CloudSigma's open_console).
  ConsoleAlreadyOpenAnotherSessionError: spec(640, 'The serial console of {vm} on {node} is open in another session'),
  ConsoleRemoteSetUpError: spec(641, 'The serial console of {vm} on {node} is not available: {reason}'),
  ConsolePoolSpotSetUpError: spec(642, 'No free serial console spot (all {size} in use)'),
  ConsoleNotOpenError: spec(643, 'The serial console of {vm} on {node} is not open in this session'),
} as const satisfies Record<string, ErrorSpec>;
