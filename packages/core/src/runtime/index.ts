import type { Logger } from 'pino';
import type { FileIdentity } from '@warden/http-router';
import type { DependencyContainer } from 'tsyringe';
import { TOKENS } from '../contracts';
import { CERTIFICATE_STORE, CertificateStore } from '../control/certificate-store';
import type { DaemonOptions } from '../daemon/daemon-options';
import { planContextDefaultsFor, planContextFor } from '../config/plan-context';
import { resolveCredentials } from '../isolation';
import { AppGateway } from './app-gateway';
import { RouterComponent } from './router-component';
import { Supervisor } from './supervisor';
import { OBSERVABILITY } from '../control/control-api';
import { Observability } from './observability';
import { WardenMetrics } from './warden-metrics';

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
  const metrics = new WardenMetrics();
  const supervisor = new Supervisor(container, log.child({ component: 'supervisor' }), {
    contextFor: planContextFor(container),
    metrics,
  });
  const gateway = new AppGateway(supervisor);
  const { statedir } = container.resolve<DaemonOptions>(TOKENS.DaemonOptions);
  const certificates = new CertificateStore(statedir, log.child({ component: 'certificates' }));
  container.register(CERTIFICATE_STORE, { useValue: certificates });
  container.register(TOKENS.ConfigComponent, { useValue: supervisor });
  const identity = staticFileIdentity(container.resolve<DaemonOptions>(TOKENS.DaemonOptions));
  const router = new RouterComponent(gateway, log, certificates, identity, metrics.requestDone);
  container.register(TOKENS.ConfigComponent, { useValue: router });
  const connections = () => router.connections();
  metrics.attach({
    connections,
    apps: () => [...supervisor.runningPools()].map(([name, pool]) => ({ name, processes: pool.workers, starting: 0 })),
  });
  const observability = new Observability(metrics, supervisor, connections, log.child({ component: 'metrics' }));
  container.register(TOKENS.ConfigComponent, { useValue: observability });
  container.register(OBSERVABILITY, { useValue: observability });
  container.register(TOKENS.AppControl, { useValue: supervisor });
}

/**
 * Whom `share` serves files as. Unit's and nginx's routers open files as the unprivileged user; until wardend's
 * router runs as `--user` itself, wardend as root serves only what that user (`--user`/`--group`, default
 * nobody/nogroup, with its supplementary groups) could open. Unprivileged, wardend's own permissions decide.
 */
function staticFileIdentity(options: Pick<DaemonOptions, 'user' | 'group' | 'tmpdir'>): FileIdentity | undefined {
  if ((process.geteuid?.() ?? 0) !== 0) return undefined;
  const d = planContextDefaultsFor(options);
  const c = resolveCredentials(d.defaultUser, d.defaultGroup);
  return c.uid === 0 ? undefined : { uid: c.uid, gid: c.gid, groups: c.groups }; // `--user root`: nothing to check
}
