import { closeSync } from 'fs';
import { listenSocket, type BoundSocket } from '@warden/shm-transport';
import type { Logger } from 'pino';
import type { ConfigComponent, PreparedChange, WardenConfig } from '../contracts';
import { ApplyError, ConfigValidationError } from '../contracts';
import { observabilityResponse } from '../control/control-api';
import type { ObservabilityEndpoints } from '../control/control-api';
import { ControlError } from '../control/control-error';
import { buildOverview } from './overview';
import type { Overview, RouterView } from './overview';
import { STATUS_PAGE_HTML } from './status-page';
import type { Supervisor } from './supervisor';
import type { WardenMetrics } from './warden-metrics';
import type { RouterStats } from '@warden/http-router';

/** `settings.metrics` (Warden extension): where else than the control socket the read-only endpoints answer. */
export interface MetricsSettings {
  /** `IP:port` of a plain HTTP listener serving `GET /metrics`, `/ui` and `/ui/overview.json` (nothing else). */
  listen?: string;
}

/** What the observability endpoints need of the router processes (RouterFleet). */
export interface ObservedRouters {
  /** Fetches every router's counters. */
  refresh(): Promise<void>;
  /** The router processes as the overview shows them. */
  routerViews(): RouterView[];
  /** Hands `settings.metrics.listen`'s socket (or none) to every router; resolves once they all took it. */
  setMetricsListener(fd: number | null): Promise<void>;
}

/**
 * The observability endpoints (metrics exposition, status page, its JSON) and the optional listener of
 * `settings.metrics.listen`, which follows the config transactionally like the router's listeners: bound at prepare
 * (a bad or busy address fails the apply), switched at commit, closed at rollback.
 */
export class Observability implements ObservabilityEndpoints, ConfigComponent {
  readonly name = 'metrics';
  readonly order = 30;
  /** Binds its own listener only. */
  readonly independentPrepare = true;
  private socket: BoundSocket | null = null;
  private address: string | null = null;
  private config: WardenConfig = {};

  constructor(
    private readonly counters: WardenMetrics,
    private readonly supervisor: Supervisor,
    private readonly connections: () => RouterStats['connections'],
    private readonly log: Logger,
    /** The router processes: they count requests and connections (main sums them) and serve the metrics listener. */
    private readonly routers: ObservedRouters,
  ) {}

  async metrics(): Promise<{ contentType: string; text: string }> {
    await this.routers.refresh();
    return this.counters.exposition();
  }

  async overview(config: WardenConfig): Promise<Overview> {
    await this.routers.refresh();
    return buildOverview({
      config: () => config,
      supervisor: this.supervisor,
      metrics: this.counters,
      connections: this.connections,
      routers: () => this.routers.routerViews(),
    });
  }

  page(): string {
    return STATUS_PAGE_HTML;
  }

  /** One request to the read-only endpoints, as the routers forward it from the metrics listener. */
  async respond(method: string, path: string): Promise<{ status: number; body: string; contentType: string }> {
    try {
      const r = await observabilityResponse(this, () => this.config, method, path);
      if (r === undefined) return { status: 404, body: '{"error": "Invalid path."}\n', contentType: 'application/json' };
      return { status: r.status, body: String(r.body), contentType: r.contentType ?? 'application/json' };
    } catch (err) {
      if (err instanceof ControlError) return { status: err.response.status, body: JSON.stringify(err.response.body), contentType: 'application/json' };
      return { status: 500, body: '{"error": "Internal server error."}', contentType: 'application/json' };
    }
  }

  /**
   * `settings.metrics.listen`: main binds the address (a bad or busy one fails the apply) and, at commit, hands the
   * socket to the router processes, which accept and parse the requests as wardend's unprivileged user and ask main
   * for the answers (`respond`). Nothing that parses a client's bytes runs in main.
   */
  async prepare(next: WardenConfig): Promise<PreparedChange> {
    const listen = metricsListen(next);
    if (listen === this.address) {
      return { commit: async () => void (this.config = next), rollback: async () => {} };
    }
    let fresh: BoundSocket | null = null;
    if (listen !== null) {
      const { host, port } = parseListen(listen);
      try {
        fresh = listenSocket({ host, port });
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new ApplyError(
          `settings.metrics.listen ${listen}: ${err.message}`,
          undefined,
          'listen',
          typeof err.errno === 'number' ? Math.abs(err.errno) : undefined,
        );
      }
    }
    return {
      commit: async () => {
        const old = this.socket;
        this.socket = fresh;
        this.address = listen;
        this.config = next;
        await this.routers.setMetricsListener(fresh?.fd ?? null);
        if (listen !== null) this.log.info({ listen }, 'metrics and status page listening');
        if (old) closeSync(old.fd);
      },
      rollback: async () => {
        if (fresh) closeSync(fresh.fd);
      },
    };
  }

  /** The bound port of the metrics listener (tests with port 0). */
  boundPort(): number | undefined {
    return this.socket?.port;
  }

  async shutdown(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    this.address = null;
    if (s) closeSync(s.fd);
  }
}

function metricsListen(config: WardenConfig): string | null {
  const m = (config.settings as { metrics?: MetricsSettings } | undefined)?.metrics;
  return m?.listen ?? null;
}

/** `IP:port` (IPv6 in brackets), as a listener name; anything else is a config error naming the path. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3}|\*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : -1;
  if (!m || port > 65535) {
    throw new ConfigValidationError(
      `The "listen" address "${listen}" is not IP:port (e.g. "127.0.0.1:9100" or "[::1]:9100").`,
      '/settings/metrics/listen',
      'WARDEN_ERR_CONFIG_METRICS_LISTEN',
    );
  }
  const host = m[1] ?? (m[2] === '*' ? '0.0.0.0' : m[2]!);
  return { host, port };
}
