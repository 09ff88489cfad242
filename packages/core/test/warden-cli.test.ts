import { spawn } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import { ApplyError } from '../src/contracts';
import { ControlServer } from '../src/control/control-server';
import { defaultPaths } from '../src/daemon/daemon-options';
import { harness } from './harness';
import { buildCore, CORE_DIR } from './process-helpers';

// The `warden` CLI as a user runs it: the built bin/warden.js as a child process, talking to an in-process control
// server (the same ControlApi/ControlServer wardend runs) on a temp unix socket or 127.0.0.1:0.

const WARDEN = join(CORE_DIR, 'bin', 'warden.js');
const silent = pino({ level: 'silent' });

let dir: string;
let servers: ControlServer[];
let h: ReturnType<typeof harness>;
let control: string;
let restarted: string[];

beforeAll(() => buildCore(), 180_000);
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-cli-'));
  servers = [];
  restarted = [];
  h = harness({
    statedir: join(dir, 'state'),
    certificates: true,
    scripts: true,
    appControl: {
      has: () => true,
      restart: async (app) => {
        if (app === 'broken') throw new ApplyError('the new process exited during start-up', app, 'ready');
        restarted.push(app);
      },
    },
  });
  control = await serve({ kind: 'unix', path: join(dir, 'control.sock') });
});
afterEach(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(address: { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number }): Promise<string> {
  const s = new ControlServer(h.api, silent);
  servers.push(s);
  await s.listen(address);
  return s.boundAddress!;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/warden.js ...args` with WARDEN_CONTROL pointing at the test server and TMPDIR at the test dir. */
function warden(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, WARDEN_CONTROL: control, TMPDIR: dir, ...opts.env };
  delete env.VISUAL;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const proc = spawn(process.execPath, [WARDEN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdin.on('error', () => undefined);
  proc.stdin.end(opts.stdin ?? '');
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const base = {
  settings: { http: { idle_timeout: 30 } },
  routes: [{ action: { return: 200 } }],
  listeners: { '*:8080': { pass: 'routes' } },
};

async function load(config: unknown = base): Promise<void> {
  const r = await h.req('PUT', '/config', JSON.stringify(config));
  expect(r.status).toBe(200);
}

describe('warden CLI: command line', () => {
  it('prints the help, naming the default control socket wardend itself uses, and exits 0', async () => {
    const r = await warden(['--help'], { env: { WARDEN_CONTROL: undefined } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: warden [--control ADDR] [--json] COMMAND');
    expect(r.stdout).toContain('config edit [PATH]');
    expect(r.stdout).toContain(`else ${defaultPaths({ ...process.env, TMPDIR: dir }).control})`);
  });

  it('exits 2 with a reason on usage errors', async () => {
    const cases: [string[], string][] = [
      [[], 'warden: no command given\n'],
      [['frobnicate'], 'warden: unknown command "frobnicate"\n'],
      [['config'], 'warden: config needs a subcommand: get, put, post, delete or edit\n'],
      [['config', 'get', '--verbose'], 'warden: unknown option "--verbose"\n'],
      [['config', 'put'], 'warden: missing argument: warden config put [PATH] FILE|-\n'],
      [['config', 'get', 'a', 'b'], 'warden: too many arguments: warden config get [PATH]\n'],
      [['config', 'delete'], 'warden: missing argument: warden config delete PATH\n'],
      [['restart'], 'warden: missing argument: warden restart APP\n'],
      [['cert'], 'warden: cert needs a subcommand: list, get, put or delete\n'],
      [['cert', 'put', 'a'], 'warden: missing argument: warden cert put NAME FILE|-\n'],
      [['--control'], 'warden: --control needs a value: unix:/path/to/control.sock or IP:port\n'],
    ];
    const runs = await Promise.all(cases.map(([args]) => warden(args)));
    expect(cases.map(([args], i) => ({ args, code: runs[i].code, stderr: runs[i].stderr }))).toEqual(
      cases.map(([args, message]) => ({ args, code: 2, stderr: message + 'Run "warden --help" for the commands and options.\n' })),
    );
    const bad = await warden(['--control', 'nowhere', 'status']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('warden: the control address "nowhere" is invalid; use unix:/path/to/control.sock or IP:port (e.g. 127.0.0.1:8080)\n');
    const missing = await warden(['config', 'put', join(dir, 'absent.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`warden: cannot read ${join(dir, 'absent.json')}: no such file\n`);
  });

  it('says it cannot reach wardend, with the address and errno, and exits 1', async () => {
    const sock = join(dir, 'none', 'control.sock');
    const r = await warden(['--control', `unix:${sock}`, 'status']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`warden: cannot reach wardend at unix:${sock} (is it running? ENOENT)\n`);
  });

  it("takes the address from --control, else WARDEN_CONTROL, else wardend's default socket", async () => {
    await load();
    const viaOption = await warden(['--control', control, 'config', 'get', 'settings/http/idle_timeout'], {
      env: { WARDEN_CONTROL: 'unix:/nonexistent/x.sock' },
    });
    expect(viaOption).toEqual({ code: 0, stdout: '30\n', stderr: '' });
    const viaEnv = await warden(['config', 'get', 'settings/http/idle_timeout']);
    expect(viaEnv).toEqual({ code: 0, stdout: '30\n', stderr: '' });
    const env = { ...process.env, TMPDIR: dir, XDG_RUNTIME_DIR: join(dir, 'run'), WARDEN_CONTROL: undefined };
    const fallback = defaultPaths(env).control;
    if (existsSync(fallback.slice('unix:'.length))) return; // a real wardend runs here; do not talk to it
    const viaDefault = await warden(['status'], { env });
    expect(viaDefault.code).toBe(1);
    expect(viaDefault.stderr).toBe(`warden: cannot reach wardend at ${fallback} (is it running? ENOENT)\n`);
  });

  it('talks to a control API on IP:port too', async () => {
    const tcp = await serve({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const r = await warden(['--control', tcp, 'status', 'requests']);
    expect(r).toEqual({ code: 0, stdout: JSON.stringify({ total: 0 }, null, 2) + '\n', stderr: '' });
  });
});

describe('warden CLI: cert list/get/put/delete', () => {
  const bundle = join(CORE_DIR, '../http-router/test/fixtures/tls/a.pem');

  it('uploads a bundle from a file or stdin, lists it, gets a value inside it and deletes it', async () => {
    expect(await warden(['cert', 'put', 'a', bundle])).toEqual({ code: 0, stdout: 'Certificate chain uploaded.\n', stderr: '' });
    expect((await warden(['cert', 'put', 'b', '-'], { stdin: readFileSync(bundle, 'latin1') })).code).toBe(0);
    expect(Object.keys(JSON.parse((await warden(['cert', 'list'])).stdout))).toEqual(['a', 'b']);
    expect(await warden(['cert', 'get', 'a', 'chain/0/subject/common_name'])).toEqual({ code: 0, stdout: '"a.example.test"\n', stderr: '' });
    expect(await warden(['cert', 'delete', 'b'])).toEqual({ code: 0, stdout: 'Certificate deleted.\n', stderr: '' });
    expect(Object.keys(JSON.parse((await warden(['cert', 'list'])).stdout))).toEqual(['a']);
  });

  it('shows why a bundle is refused and exits 1', async () => {
    const r = await warden(['cert', 'put', 'x', '-'], { stdin: 'not a bundle' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Invalid certificate');
    expect(r.stderr).toContain('no private key found');
  });
});

describe('warden CLI: js list/get/put/delete', () => {
  const module = "export default { route() { return 'next'; } };\n";

  it('uploads a module from a file or stdin, lists it, prints its text and deletes it', async () => {
    expect(await warden(['js', 'put', 'next', file('next.js', module)])).toEqual({ code: 0, stdout: 'Script uploaded.\n', stderr: '' });
    expect((await warden(['js', 'put', 'other', '-'], { stdin: module })).code).toBe(0);
    expect(Object.keys(JSON.parse((await warden(['js', 'list'])).stdout))).toEqual(['next', 'other']);
    expect(await warden(['js', 'get', 'next'])).toEqual({ code: 0, stdout: module, stderr: '' });
    expect(await warden(['js', 'delete', 'other'])).toEqual({ code: 0, stdout: 'Script deleted.\n', stderr: '' });
    expect(Object.keys(JSON.parse((await warden(['js', 'list'])).stdout))).toEqual(['next']);
  });

  it('shows why a module is refused and exits 1; usage errors exit 2', async () => {
    const r = await warden(['js', 'put', 'x', '-'], { stdin: 'export default {' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Compilation of the JS module failed');
    expect(r.stderr).toContain('SyntaxError');
    expect(await warden(['js'])).toEqual({ code: 2, stdout: '', stderr: expect.stringContaining('warden: js needs a subcommand: list, get, put or delete\n') });
    expect((await warden(['js', 'get', 'a', 'b'])).stderr).toContain('warden: too many arguments: warden js get NAME\n');
  });
});

describe('warden CLI: config get/put/post/delete', () => {
  it('puts a file as the whole config and gets it back pretty-printed; --json prints the raw answer', async () => {
    const put = await warden(['config', 'put', file('c.json', JSON.stringify(base))]);
    expect(put).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config).toEqual(base);
    const get = await warden(['config', 'get']);
    expect(get).toEqual({ code: 0, stdout: JSON.stringify(base, null, 2) + '\n', stderr: '' });
    const raw = await warden(['--json', 'config', 'get', 'settings']);
    expect(raw).toEqual({ code: 0, stdout: '{\n\t"http": {\n\t\t"idle_timeout": 30\n\t}\n}\n', stderr: '' });
    const putRaw = await warden(['config', 'put', 'settings/http/idle_timeout', file('n.json', '31'), '--json']);
    expect(putRaw).toEqual({ code: 0, stdout: '{\n\t"success": "Reconfiguration done."\n}\n', stderr: '' });
  });

  it('writes keys of a PATH literally (listener names with ":" and "*")', async () => {
    await load();
    expect(await warden(['config', 'get', '/listeners/*:8080/pass'])).toEqual({ code: 0, stdout: '"routes"\n', stderr: '' });
    const put = await warden(['config', 'put', 'listeners/127.0.0.1:8300', '-'], { stdin: '{"pass": "routes"}' });
    expect(put.code).toBe(0);
    expect(h.controller.config.listeners).toEqual({ '*:8080': { pass: 'routes' }, '127.0.0.1:8300': { pass: 'routes' } });
  });

  it('reads stdin for "-", appends with post, removes with delete', async () => {
    await load();
    const put = await warden(['config', 'put', 'settings', '-'], { stdin: '// comments are fine\n{"http": {"idle_timeout": 7}}' });
    expect(put).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config.settings).toEqual({ http: { idle_timeout: 7 } });
    const post = await warden(['config', 'post', 'routes', '-'], { stdin: '{"action": {"return": 204}}' });
    expect(post).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config.routes).toEqual([{ action: { return: 200 } }, { action: { return: 204 } }]);
    expect((await warden(['config', 'get', 'routes/1/action/return'])).stdout).toBe('204\n');
    const del = await warden(['config', 'delete', 'routes/1']);
    expect(del).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config.routes).toEqual([{ action: { return: 200 } }]);
    const gone = await warden(['config', 'get', 'routes/1']);
    expect(gone).toEqual({ code: 1, stdout: '', stderr: "warden: Value doesn't exist: GET /config/routes/1\n" });
    const reset = await warden(['config', 'delete', '/']);
    expect(reset.code).toBe(0);
    expect(h.controller.config).toEqual({});
  });

  it('shows "Invalid configuration" with the detail, JSON path and code, exits 1, and changes nothing', async () => {
    await load();
    const bad = file('bad.json', JSON.stringify({ type: 'external', arguments: ['x'] }));
    const r = await warden(['config', 'put', 'applications/a', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // put applications/a when /applications does not exist yet: the parent is missing
    expect(r.stderr).toBe("warden: Value doesn't exist: PUT /config/applications/a\n");
    const whole = file('whole.json', JSON.stringify({ ...base, applications: { a: { type: 'external' } } }));
    const r2 = await warden(['config', 'put', whole]);
    expect(r2).toEqual({
      code: 1,
      stdout: '',
      stderr: 'warden: Invalid configuration: Required parameter "executable" is missing.\n  at /applications/a (WARDEN_ERR_CONFIG_REQUIRED)\n',
    });
    expect(h.controller.config).toEqual(base);
    const json = await warden(['--json', 'config', 'put', whole]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: 'Invalid configuration.',
      detail: 'WARDEN_ERR_CONFIG_REQUIRED at /applications/a: Required parameter "executable" is missing.',
    });
  });

  it('points at the line and column of invalid JSON in the file (and in stdin)', async () => {
    const bad = file('bad.json', '{\n  "settings": {\n    "http": {"idle_timeout": 5,}\n  }\n}\n');
    const r = await warden(['config', 'put', bad]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^warden: Invalid JSON: A double quote \(".*/);
    expect(lines[1]).toBe(`  at ${bad}, line 3, column 32:`);
    expect(lines[2]).toBe('        "http": {"idle_timeout": 5,}');
    expect(lines[3]).toBe('    ' + ' '.repeat(31) + '^');
    const s = await warden(['config', 'put', '-'], { stdin: '[1 2]' });
    expect(s.code).toBe(1);
    expect(s.stderr).toContain('  at <stdin>, line 1, column 4:\n    [1 2]\n       ^\n');
    expect(h.controller.config).toEqual({});
  });

  it('refuses post on a non-array with Unit\'s "Method isn\'t allowed"', async () => {
    await load();
    const r = await warden(['config', 'post', 'settings', '-'], { stdin: '{}' });
    expect(r).toEqual({ code: 1, stdout: '', stderr: "warden: Method isn't allowed: POST /config/settings\n" });
  });
});

describe('warden CLI: status and restart', () => {
  it('prints the status, or the part of it at PATH; a bad path exits 1', async () => {
    await load({ applications: { a: { type: 'external', executable: '/bin/true' } } });
    const all = await warden(['status']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual(h.controller.status());
    const part = await warden(['status', 'connections']);
    expect(JSON.parse(part.stdout)).toEqual(h.controller.status().connections);
    const bad = await warden(['status', 'nothing/here']);
    expect(bad).toEqual({ code: 1, stdout: '', stderr: 'warden: Invalid path: GET /status/nothing/here\n' });
  });

  it('restarts an application; an unknown one or a failed restart exits 1 with the reason', async () => {
    await load({
      applications: { a: { type: 'external', executable: '/bin/true' }, broken: { type: 'external', executable: '/bin/true' } },
    });
    expect(await warden(['restart', 'a'])).toEqual({ code: 0, stdout: 'Application "a" restarted.\n', stderr: '' });
    expect(restarted).toEqual(['a']);
    expect(await warden(['restart', 'zz'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'warden: Value doesn\'t exist: GET /control/applications/zz/restart\n  there is no application "zz" in /config/applications\n',
    });
    expect(await warden(['restart', 'broken'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'warden: Failed to restart app: the new process exited during start-up\n  in application "broken", step "ready" (WARDEN_ERR_APPLY)\n',
    });
    expect(restarted).toEqual(['a']);
  });
});

describe('warden CLI: config edit', () => {
  // The "editor": a node script that rewrites the file according to EDIT_MODE (a list, one mode per invocation).
  const editorScript = () =>
    file(
      'editor.js',
      `const fs = require('fs');
const f = process.argv[2];
const modes = process.env.EDIT_MODE.split(',');
const countFile = ${JSON.stringify(join(dir, 'edits'))};
const n = fs.existsSync(countFile) ? Number(fs.readFileSync(countFile, 'utf8')) : 0;
fs.writeFileSync(countFile, String(n + 1));
const mode = modes[Math.min(n, modes.length - 1)];
const text = fs.readFileSync(f, 'utf8');
if (mode === 'valid') {
  fs.writeFileSync(f, '// edited\\n' + text.replace(/"idle_timeout": 30,?/, '"idle_timeout": 42'));
} else if (mode === 'bad-json') {
  fs.writeFileSync(f, text.replace('"idle_timeout": 30', '"idle_timeout": 30,'));
} else if (mode === 'bad-config') {
  const c = JSON.parse(text);
  c.applications = { a: { type: 'external' } };
  fs.writeFileSync(f, JSON.stringify(c, null, 2));
} else if (mode === 'fail') {
  process.exit(3);
}
`,
    );
  const editEnv = (modes: string) => ({ EDITOR: `"${process.execPath}" "${editorScript()}"`, EDIT_MODE: modes });
  const editDirs = () => readdirSync(dir).filter((n) => n.startsWith('warden-edit-'));
  const edits = () => Number(readFileSync(join(dir, 'edits'), 'utf8'));

  it('opens $EDITOR on the config, checks the JSON, PUTs it and removes the temp file', async () => {
    await load();
    const r = await warden(['config', 'edit'], { env: editEnv('valid') });
    expect(r).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config).toEqual({ ...base, settings: { http: { idle_timeout: 42 } } });
    expect(editDirs()).toEqual([]);
  });

  it('edits the value at a PATH only', async () => {
    await load();
    const editor = file('sub-editor.js', `const fs = require('fs'); fs.writeFileSync(process.argv[2], '{"idle_timeout": 11}');`);
    const r = await warden(['config', 'edit', 'settings/http'], { env: { EDITOR: `"${process.execPath}" "${editor}"` } });
    expect(r).toEqual({ code: 0, stdout: 'Reconfiguration done.\n', stderr: '' });
    expect(h.controller.config.settings).toEqual({ http: { idle_timeout: 11 } });
  });

  it('rejects invalid JSON locally with line and column, sends nothing and keeps the edit when not re-editing', async () => {
    await load();
    const r = await warden(['config', 'edit'], { env: editEnv('bad-json') }); // stdin at end: no re-edit
    expect(r.code).toBe(1);
    const kept = editDirs();
    expect(kept).toHaveLength(1);
    const tmp = join(dir, kept[0], 'config.json');
    expect(r.stderr).toContain('warden: Invalid JSON: A double quote (") is expected here.');
    expect(r.stderr).toMatch(new RegExp(`  at ${tmp.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, line \\d+, column \\d+:\\n`));
    expect(r.stderr).toContain('Edit again? [Y/n] \n');
    expect(r.stderr).toContain(`warden: your edit is kept in ${tmp}; apply it later with "warden config put ${tmp}"\n`);
    expect(readFileSync(tmp, 'utf8')).toContain('"idle_timeout": 30,');
    expect(h.controller.config).toEqual(base);
  });

  it('shows the server\'s "Invalid configuration" readably and keeps the edit when the answer is no', async () => {
    await load();
    const r = await warden(['config', 'edit'], { env: editEnv('bad-config'), stdin: 'n\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'warden: Invalid configuration: Required parameter "executable" is missing.\n  at /applications/a (WARDEN_ERR_CONFIG_REQUIRED)\nEdit again? [Y/n] \n',
    );
    const kept = editDirs();
    expect(kept).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, kept[0], 'config.json'), 'utf8')).applications).toEqual({ a: { type: 'external' } });
    expect(edits()).toBe(1);
    expect(h.controller.config).toEqual(base);
  });

  it('re-opens the editor on "y" and applies the corrected edit', async () => {
    await load();
    const r = await warden(['config', 'edit'], { env: editEnv('bad-json,valid'), stdin: 'y\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warden: Invalid JSON:');
    expect(r.stdout).toBe('Reconfiguration done.\n');
    expect(edits()).toBe(2);
    expect(h.controller.config.settings).toEqual({ http: { idle_timeout: 42 } });
    expect(editDirs()).toEqual([]);
  });

  it('sends nothing when the file is unchanged or the editor fails', async () => {
    await load();
    const same = await warden(['config', 'edit'], { env: editEnv('none') });
    expect(same).toEqual({ code: 0, stdout: '', stderr: 'warden: no changes; nothing was sent\n' });
    const failed = await warden(['config', 'edit'], { env: editEnv('fail') });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^warden: the editor ".*" failed \(exit status 3\); nothing was sent\n$/);
    expect(editDirs()).toEqual([]);
    expect(h.controller.config).toEqual(base);
  });

  it('reports a missing PATH without opening the editor', async () => {
    await load();
    const r = await warden(['config', 'edit', 'applications'], { env: editEnv('valid') });
    expect(r).toEqual({ code: 1, stdout: '', stderr: "warden: Value doesn't exist: GET /config/applications\n" });
    expect(existsSync(join(dir, 'edits'))).toBe(false);
  });
});
