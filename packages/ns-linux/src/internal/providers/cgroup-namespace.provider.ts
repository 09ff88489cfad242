import { PHASE } from '@warden/core';
import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/**
 * `isolation.namespaces.cgroup`: the cgroup namespace: the app sees its own cgroup as the root of the hierarchy.
 * Not created at the clone (its root would be wardend's cgroup) but by an `unshare` op after the release, when the
 * prototype is in the app's cgroup.
 */
export class CgroupNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('cgroup', CLONE.NEWCGROUP, undefined, (_app, plan) => plan.addChildOp({ op: 'unshare', phase: PHASE.NAMESPACE_SETUP, flags: CLONE.NEWCGROUP }));
  }
}
