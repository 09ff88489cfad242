import { PHASE } from '@warden/core';
import { CLONE } from '../clone-flags';
import { BooleanNamespaceProvider } from './boolean-namespace';

/** `isolation.namespaces.network`: a network namespace with only `lo`, which is brought up. */
export class NetworkNamespaceProvider extends BooleanNamespaceProvider {
  constructor() {
    super('network', CLONE.NEWNET, (_app, plan) => plan.addChildOp({ op: 'loopback_up', phase: PHASE.HOST }));
  }
}
