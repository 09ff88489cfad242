import type { Logger } from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { TOKENS } from '../contracts';
import { CERTIFICATE_STORE, CertificateStore } from '../control/certificate-store';
import { SCRIPT_STORE, ScriptStore } from '../control/script-store';
import type { DaemonOptions } from '../daemon/daemon-options';
import { planContextDefaultsFor, planContextFor } from '../config/plan-context';
import { resolveCredentials } from '../isolation';
import { RouterFleet } from './fleet/router-fleet';
import { Supervisor } from './supervisor';
import { OBSERVABILITY } from '../control/control-api';
import { Observability } from './observability';
import { WardenMetrics } from './warden-metrics';

export { Supervisor, canonicalJson } from './supervisor';
export { AppGateway } from './app-gateway';
export { RouterFleet } from './fleet/router-fleet';
export { poolPolicy } from './app-pool';
export type { PoolPolicy } from './app-pool';

/**
 * Registers the running server's components in the container: the supervisor (application pools; also the
 * AppControl behind the restart endpoint), the certificate store (`/certificates`, in `<statedir>/certs`), the
 * JavaScript modules (`/js_modules`, in `<statedir>/scripts`) and the router (listeners and routes, TLS from the store), which hands requests to the pools through the gateway.
 * Called by the daemon after plugins are loaded and before the first config is applied.
 */
export function registerRuntime(container: DependencyContainer): void {
  const log = container.resolve<Logger>(TOKENS.Logger);
  const options = container.resolve<DaemonOptions>(TOKENS.DaemonOptions);
  const metrics = new WardenMetrics();
  const { statedir } = options;
  const certificates = new CertificateStore(statedir, log.child({ component: 'certificates' }));
  container.register(CERTIFICATE_STORE, { useValue: certificates });
  const scripts = new ScriptStore(statedir, log.child({ component: 'js_modules' }));
  container.register(SCRIPT_STORE, { useValue: scripts });
  const fleet = new RouterFleet(options.routers, routerIdentity(options), log, certificates, scripts);
  const supervisor = new Supervisor(container, log.child({ component: 'supervisor' }), {
    contextFor: planContextFor(container),
    metrics,
    fleet,
  });
  container.register(TOKENS.ConfigComponent, { useValue: supervisor });
  container.register(TOKENS.ConfigComponent, { useValue: fleet });
  const connections = () => fleet.connections();
  metrics.attach({
    connections,
    requests: () => fleet.requests(),
    apps: () => [...supervisor.runningPools()].map(([name, pool]) => ({ name, processes: pool.workers, starting: 0 })),
  });
  const observability = new Observability(metrics, supervisor, connections, log.child({ component: 'metrics' }), fleet);
  fleet.observer = (method, path) => observability.respond(method, path);
  container.register(TOKENS.ConfigComponent, { useValue: observability });
  container.register(OBSERVABILITY, { useValue: observability });
  container.register(TOKENS.AppControl, { useValue: supervisor });
}

/**
 * Whom the router processes run as: wardend's `--user`/`--group` (default nobody and its group) when wardend runs as
 * root, as Unit's router runs as Unit's `--user`; otherwise wardend's own user (nothing to drop).
 */
function routerIdentity(options: Pick<DaemonOptions, 'user' | 'group' | 'tmpdir'>): { uid: number; gid: number; groups: number[] } {
  const uid = process.geteuid?.() ?? 0;
  if (uid !== 0) return { uid, gid: process.getegid?.() ?? 0, groups: [] };
  const d = planContextDefaultsFor(options);
  const c = resolveCredentials(d.defaultUser, d.defaultGroup);
  return { uid: c.uid, gid: c.gid, groups: c.groups ?? [] };
}
