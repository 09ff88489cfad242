import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/**
 * `isolation.namespaces.uname`: a UTS namespace. The hostname stays the host's unless `isolation.hostname` (an
 * extension, see HostnameExtra) sets it.
 */
export class UnameNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('uname', CLONE.NEWUTS);
  }
}
