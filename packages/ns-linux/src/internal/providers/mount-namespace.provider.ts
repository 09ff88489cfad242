import { PHASE } from '@warden/core';
import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/**
 * `isolation.namespaces.mount`: a mount namespace of its own. First thing inside it, every mount is made private
 * (recursively) so that nothing the app mounts reaches the host, and nothing the host mounts later appears inside.
 */
export class MountNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('mount', CLONE.NEWNS, (_app, plan) => plan.addChildOp({ op: 'make_rprivate', phase: PHASE.MOUNT_PROPAGATION }));
  }
}
