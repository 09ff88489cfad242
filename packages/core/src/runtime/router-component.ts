import type { Logger } from 'pino';
import { HttpRouter, RouterConfigError } from '@warden/http-router';
import type { FileIdentity, RequestDoneHook, RouterStats, TlsCertificate } from '@warden/http-router';
import type { ConfigComponent, PreparedChange, WardenConfig } from '../contracts';
import { ApplyError, ConfigValidationError } from '../contracts';
import { certificateRefs } from '../control/certificate-store';
import type { CertificateStore } from '../control/certificate-store';
import type { AppGateway } from './app-gateway';

/** The listeners and routes of the running config, as one component of the transactional apply. */
export class RouterComponent implements ConfigComponent {
  readonly name = 'router';
  readonly order = 20;
  private readonly router: HttpRouter;

  constructor(
    gateway: AppGateway,
    log: Logger,
    private readonly certificates?: CertificateStore,
    fileIdentity?: FileIdentity,
    onRequestDone?: RequestDoneHook,
  ) {
    // The controller validated every config with the whole schema (the router's included) before prepare.
    this.router = new HttpRouter({ gateway, logger: log.child({ component: 'router' }), fileIdentity, onRequestDone, schemaChecked: true });
  }

  /** Unit's connection counters. */
  connections(): RouterStats['connections'] {
    return this.router.stats().connections;
  }

  async prepare(next: WardenConfig): Promise<PreparedChange> {
    try {
      return await this.router.prepare({
        listeners: next.listeners,
        routes: next.routes,
        upstreams: next.upstreams,
        settings: next.settings,
        access_log: next.access_log,
        applications: next.applications,
        certificates: this.material(next),
      });
    } catch (err) {
      if (err instanceof RouterConfigError) throw new ConfigValidationError(err.message, err.path, err.code);
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
      const where = e.address !== undefined ? ` ${e.address}:${e.port}` : '';
      throw new ApplyError(`listener${where}: ${e.message}`, undefined, 'listen', typeof e.errno === 'number' ? Math.abs(e.errno) : undefined);
    }
  }

  /** The bundles the listeners of `next` name, as PEM for the router (names as written in the config). */
  private material(next: WardenConfig): Record<string, TlsCertificate> {
    const out: Record<string, TlsCertificate> = {};
    for (const ref of certificateRefs(next)) {
      const c = this.certificates?.get(ref.name);
      if (c !== undefined) out[ref.name] = { key: c.bundle.keyPem, cert: c.bundle.chainPem };
    }
    return out;
  }

  status(): Record<string, unknown> {
    const s = this.router.stats();
    return { connections: s.connections, requests: { total: s.requests.total } };
  }

  /** SIGUSR1: the access log is reopened at its path. */
  async reopenLogs(): Promise<void> {
    await this.router.reopenAccessLog();
  }

  async shutdown(): Promise<void> {
    await this.router.close();
  }
}
