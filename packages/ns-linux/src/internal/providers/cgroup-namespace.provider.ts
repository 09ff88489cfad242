import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/** `isolation.namespaces.cgroup`: the cgroup namespace: the app sees its own cgroup as the root of the hierarchy (created after cgroup placement). */
export class CgroupNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('cgroup', CLONE.NEWCGROUP);
  }
}
