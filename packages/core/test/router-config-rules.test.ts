import { mkdtempSync, rmSync } from 'fs';
import { request } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import { HttpRouter, RouterConfigError, type ApplicationGateway, type RouterConfig } from '@warden/http-router';
import type { ConfigComponent, PreparedChange, WardenConfig } from '../src/contracts';
import { ConfigValidationError } from '../src/contracts';
import { DONE, harness } from './harness';

/**
 * Listener addresses, `pass` targets and the router's other rules have one owner (@warden/http-router's schema and
 * checkRouterConfig): the control API answers what the router will run, before any component starts anything.
 * Each case below was decided differently by core's copy of a rule and the router's before (issue 14, item 1);
 * now it is decided as NGINX Unit 1.35 does.
 */

/** A gateway that answers every request with the application's name. */
const namingGateway = {
  handle(app: string, _target: string | undefined, _req: unknown, res: { writeHead(s: number, h: string[]): void; end(b: string): void }) {
    res.writeHead(200, ['Content-Type', 'text/plain']);
    res.end(`app=${app}`);
  },
} as unknown as ApplicationGateway;

/**
 * The router in this process behind the control API, with the naming gateway (wardend's own routers are separate
 * processes that dispatch to real app processes; these rules are the router's, whichever process runs it).
 */
class NamingRouter implements ConfigComponent {
  readonly name = 'router';
  readonly order = 20;
  private readonly router = new HttpRouter({ gateway: namingGateway, logger: pino({ level: 'silent' }), schemaChecked: true });
  async prepare(next: WardenConfig): Promise<PreparedChange> {
    try {
      return await this.router.prepare(next as RouterConfig);
    } catch (e) {
      if (e instanceof RouterConfigError) throw new ConfigValidationError(e.message, e.path, e.code);
      throw e;
    }
  }
  async shutdown(): Promise<void> {
    await this.router.close();
  }
}

/** Records whether any component was asked to prepare (as the supervisor would start applications). */
class PrepareSpy implements ConfigComponent {
  readonly name = 'spy';
  readonly order = 10;
  prepared = 0;
  async prepare(): Promise<PreparedChange> {
    this.prepared++;
    return { commit: async () => undefined, rollback: async () => undefined };
  }
  async shutdown(): Promise<void> {}
}

function getOverUnixSocket(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('router rules through the control API (one owner, decided as Unit)', () => {
  let dir: string;
  let spy: PrepareSpy;
  let router: NamingRouter;
  let h: ReturnType<typeof harness>;
  const put = (v: unknown) => h.req('PUT', '/config', JSON.stringify(v));
  const invalid = (detail: string) => ({ status: 400, body: { error: 'Invalid configuration.', detail } });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-rules-'));
    spy = new PrepareSpy();
    router = new NamingRouter();
    h = harness({ components: [spy, router] });
  });
  afterEach(async () => {
    await router.shutdown();
    h.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a unix:/path listener and serves HTTP on that socket (Unit parses unix: addresses)', async () => {
    const sock = join(dir, 'a.sock');
    expect(await put({ listeners: { [`unix:${sock}`]: { pass: 'routes' } }, routes: [{ action: { return: 204 } }] })).toEqual({ status: 200, body: DONE });
    expect((await getOverUnixSocket(sock, '/')).status).toBe(204);
  });

  it('accepts a unix:@abstract listener (Linux abstract socket name)', async () => {
    const name = `warden-rules-${process.pid}-${Date.now()}`;
    expect(await put({ listeners: { [`unix:@${name}`]: { pass: 'routes' } }, routes: [{ action: { return: 204 } }] })).toEqual({ status: 200, body: DONE });
    expect((await getOverUnixSocket(`\0${name}`, '/')).status).toBe(204);
  });

  it('refuses a bare port "8080" as a listener name with Unit\'s sentence, before any component prepares', async () => {
    expect(await put({ listeners: { '8080': { pass: 'routes' } }, routes: [] })).toEqual(
      invalid('WARDEN_ERR_CONFIG_LISTENER at /listeners/8080: The listener address "8080" is invalid.'),
    );
    expect(spy.prepared).toBe(0);
  });

  it('refuses port 0 in a listener name, as Unit does (nxt_sockaddr_parse takes ports 1-65535)', async () => {
    expect(await put({ listeners: { '127.0.0.1:0': { pass: 'routes' } }, routes: [] })).toEqual(
      invalid('WARDEN_ERR_CONFIG_LISTENER at /listeners/127.0.0.1:0: The listener address "127.0.0.1:0" is invalid.'),
    );
    expect(spy.prepared).toBe(0);
  });

  it('percent-decodes "applications/my%20app" to the application "my app", and requests reach it', async () => {
    const sock = join(dir, 'app.sock');
    const app = { type: 'external', executable: '/bin/true' };
    expect(await put({ listeners: { [`unix:${sock}`]: { pass: 'applications/my%20app' } }, applications: { 'my app': app } })).toEqual({
      status: 200,
      body: DONE,
    });
    expect(await getOverUnixSocket(sock, '/')).toEqual({ status: 200, body: 'app=my app' });
  });

  it('refuses "applications/my%20app" when only an application literally named "my%20app" exists, with the pass code', async () => {
    const app = { type: 'external', executable: '/bin/true' };
    expect(await put({ listeners: { [`unix:${join(dir, 'b.sock')}`]: { pass: 'applications/my%20app' } }, applications: { 'my%20app': app } })).toEqual(
      invalid(
        `WARDEN_ERR_CONFIG_PASS at /listeners/unix:${join(dir, 'b.sock').replace(/~/g, '~0').replace(/\//g, '~1')}/pass: Request "pass" points to invalid location "applications/my%20app".`,
      ),
    );
    expect(spy.prepared).toBe(0);
  });

  it('refuses a route the router cannot run (an unknown variable) before any component prepares', async () => {
    expect(await put({ routes: [{ action: { return: 301, location: '$nope' } }] })).toEqual(
      invalid('WARDEN_ERR_CONFIG_VARIABLE at /routes/0/action/location: Unknown variable "nope"'),
    );
    expect(spy.prepared).toBe(0);
  });
});
