import { createServer } from 'http';
import type { Server } from 'http';
import type { Logger } from 'pino';
import type { ConfigComponent, PreparedChange, WardenConfig } from '../contracts';
import { ApplyError, ConfigValidationError } from '../contracts';
import { observabilityResponse } from '../control/control-api';
import type { ObservabilityEndpoints } from '../control/control-api';
import { ControlError } from '../control/control-error';
import { buildOverview } from './overview';
import type { Overview } from './overview';
import { STATUS_PAGE_HTML } from './status-page';
import type { Supervisor } from './supervisor';
import type { WardenMetrics } from './warden-metrics';
import type { RouterStats } from '@warden/http-router';

/** `settings.metrics` (Warden extension): where else than the control socket the read-only endpoints answer. */
export interface MetricsSettings {
  /** `IP:port` of a plain HTTP listener serving `GET /metrics`, `/ui` and `/ui/overview.json` (nothing else). */
  listen?: string;
}

/**
 * The observability endpoints (metrics exposition, status page, its JSON) and the optional listener of
 * `settings.metrics.listen`, which follows the config transactionally like the router's listeners: bound at prepare
 * (a bad or busy address fails the apply), switched at commit, closed at rollback.
 */
export class Observability implements ObservabilityEndpoints, ConfigComponent {
  readonly name = 'metrics';
  readonly order = 30;
  private server: Server | null = null;
  private address: string | null = null;
  private config: WardenConfig = {};

  constructor(
    private readonly counters: WardenMetrics,
    private readonly supervisor: Supervisor,
    private readonly connections: () => RouterStats['connections'],
    private readonly log: Logger,
    /** Fetches the routers' counters (they count requests and connections; main sums them). */
    private readonly refreshCounters: () => Promise<void> = async () => {},
  ) {}

  async metrics(): Promise<{ contentType: string; text: string }> {
    await this.refreshCounters();
    return this.counters.exposition();
  }

  async overview(config: WardenConfig): Promise<Overview> {
    await this.refreshCounters();
    return buildOverview({ config: () => config, supervisor: this.supervisor, metrics: this.counters, connections: this.connections });
  }

  page(): string {
    return STATUS_PAGE_HTML;
  }

  async prepare(next: WardenConfig): Promise<PreparedChange> {
    const listen = metricsListen(next);
    if (listen === this.address) {
      return { commit: async () => void (this.config = next), rollback: async () => {} };
    }
    let fresh: Server | null = null;
    if (listen !== null) {
      const { host, port } = parseListen(listen);
      fresh = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0]!;
        observabilityResponse(this, () => this.config, req.method ?? 'GET', path).then(
          (r) => {
            const status = r?.status ?? 404;
            const body = r ? String(r.body) : '{"error": "Invalid path."}\n';
            res.writeHead(status, { 'Content-Type': r?.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body), Server: 'Warden' });
            res.end(req.method === 'HEAD' ? undefined : body);
          },
          (err: unknown) => {
            const status = err instanceof ControlError ? err.response.status : 500;
            res.writeHead(status, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify(err instanceof ControlError ? err.response.body : { error: 'Internal server error.' }));
          },
        );
      });
      const server = fresh;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            new ApplyError(`settings.metrics.listen ${listen}: ${e.message}`, undefined, 'listen', typeof e.errno === 'number' ? Math.abs(e.errno) : undefined),
          ),
        );
        server.listen(port, host, () => resolve());
      });
      server.on('error', (err) => this.log.error({ err, listen }, 'metrics listener error'));
    }
    return {
      commit: async () => {
        const old = this.server;
        this.server = fresh;
        this.address = listen;
        this.config = next;
        if (listen !== null) this.log.info({ listen }, 'metrics and status page listening');
        old?.close();
        old?.closeAllConnections();
      },
      rollback: async () => {
        fresh?.close();
        fresh?.closeAllConnections();
      },
    };
  }

  /** The bound port of the metrics listener (tests with port 0). */
  boundPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    this.server = null;
    this.address = null;
    s?.close();
    s?.closeAllConnections();
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
