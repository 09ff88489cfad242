import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/** `isolation.namespaces.ipc`: Warden's ipc namespace (not in Unit): System V IPC and POSIX message queues of its own. */
export class IpcNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('ipc', CLONE.NEWIPC);
  }
}
