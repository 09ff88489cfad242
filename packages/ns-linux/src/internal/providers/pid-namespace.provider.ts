import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/** `isolation.namespaces.pid`: the pid namespace: the prototype is PID 1, the first app process PID 2. */
export class PidNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('pid', CLONE.NEWPID);
  }
}
