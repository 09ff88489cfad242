import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { TOKENS } from '../contracts';
import { CERTIFICATE_STORE, CertificateStore } from '../control/certificate-store';
import type { DaemonOptions } from '../daemon/daemon-options';
import { planContextFor } from '../daemon/warden';
import { AppGateway } from './app-gateway';
import { RouterComponent } from './router-component';
import { Supervisor } from './supervisor';

export { Supervisor, canonicalJson } from './supervisor';
export { AppGateway } from './app-gateway';
export { RouterComponent } from './router-component';
export { poolPolicy } from './app-pool';
export type { PoolPolicy } from './app-pool';

/**
 * Registers the running server's components in the container: the supervisor (application pools; also the
 * AppControl behind the restart endpoint), the certificate store (`/certificates`, in `<statedir>/certs`) and the
 * router (listeners and routes, TLS from the store), which hands requests to the pools through the gateway.
 * Called by the daemon after plugins are loaded and before the first config is applied.
 */
export function registerRuntime(container: DependencyContainer): void {
  const log = container.resolve<Logger>(TOKENS.Logger);
  const supervisor = new Supervisor(container, log.child({ component: 'supervisor' }), {
    contextFor: planContextFor(container),
  });
  const gateway = new AppGateway(supervisor);
  const { statedir } = container.resolve<DaemonOptions>(TOKENS.DaemonOptions);
  const certificates = new CertificateStore(statedir, log.child({ component: 'certificates' }));
  container.register(CERTIFICATE_STORE, { useValue: certificates });
  container.register(TOKENS.ConfigComponent, { useValue: supervisor });
  container.register(TOKENS.ConfigComponent, { useValue: new RouterComponent(gateway, log, certificates) });
  container.register(TOKENS.AppControl, { useValue: supervisor });
}
