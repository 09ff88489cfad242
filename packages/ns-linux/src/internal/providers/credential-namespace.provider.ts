import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/** `isolation.namespaces.credential`: the user namespace (Unit's credential): id maps come from the uidmap/gidmap extra. */
export class CredentialNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('credential', CLONE.NEWUSER);
  }
}
