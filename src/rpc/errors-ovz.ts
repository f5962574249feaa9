/** Error catalogue block: Containers (ovzservices, kvmplusovzservices): codes 700-799. Merged into the one catalogue in errors.ts. */
import { spec, type ErrorSpec } from './error-spec.ts';

export const ovzErrors = {
  // The OMS document's own name for a node that cannot take part in a migration.
  OpenVZMigrationNotCapable: spec(700, 'Node {node} is not capable to be {role} of CT migration: {reason}'),
  OpenVZMigrationError: spec(701, 'Migration of container {vm_id} from {source} to {target} failed: {reason}; the container stays on {source}'),
  OpenVZUnknownContainerError: spec(702, 'Unknown container {vm_id} on {node}'),
  OpenVZContainerExistsError: spec(703, 'Container {vm_id} already exists on {node}'),
  OpenVZUnknownTemplateError: spec(704, 'Unknown container template {template} on {node}'),
  OpenVZTemplateExistsError: spec(705, 'Container template {template} already exists on {node}'),
  OpenVZStartError: spec(706, 'Container {vm_id} on {node} did not start: {reason}'),
  OpenVZStopError: spec(707, 'Container {vm_id} on {node} did not stop: {reason}'),
  OpenVZNotCapable: spec(708, 'Node {node} cannot run containers: {reason}'),
  OpenVZDeployError: spec(709, 'Deploying template {template} as container {vm_id} on {node} failed: {reason}'),
  OpenVZTemplateCreateError: spec(710, 'Creating template {template} from container {vm_id} on {node} failed: {reason}'),
  OpenVZNotRunningError: spec(711, 'Container {vm_id} on {node} is not running'),
} as const satisfies Record<string, ErrorSpec>;
