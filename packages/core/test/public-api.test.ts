import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { request } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import * as ts from 'typescript';
import * as core from '../src';
import { buildCore, CORE_DIR } from './process-helpers';

/**
 * `@warden/core`'s public API, pinned: a plugin author or an embedder may rely on each name here. Adding one is a
 * decision (update this list and the README's API section); tests reach everything else through
 * `@warden/core/internal`.
 */
const PUBLIC_VALUES = [
  'ApplyError',
  'ConfigValidationError',
  'ConfigValidator',
  'DEFAULT_PLUGINS',
  'PHASE',
  'TOKENS',
  'WardenError',
  'buildPlanContext',
  'buildSpawnPlan',
  'defaultPaths',
  'isWardenError',
  'loadPlugins',
  'parseDaemonArgs',
  'planContextDefaults',
  'startWarden',
  // The spawn plan's vocabulary (a plugin adds child ops and orders them by named step).
  'CHILD_OPS',
  'ChildOpError',
  'PHASE_ORDER',
  'encodeChildOp',
  // Starting a process without fork() (a spawner plugin's helper), and reading its output with bounded lines.
  'spawnProcess',
  'outputLines',
  'MAX_OUTPUT_LINE',
];
const PUBLIC_TYPES = [
  'AppConfig',
  'AppControl',
  'AppLauncher',
  'AppProcess',
  'AppPrototype',
  'ChildOp',
  'ConfigComponent',
  'Credentials',
  'DaemonOptions',
  'IdMapEntry',
  'IsolationConfig',
  'IsolationExtra',
  'JsonSchema',
  'LaunchSpec',
  'ListenerConfig',
  'LoadedPlugin',
  'NamespaceProvider',
  'ParentHook',
  'PlanContext',
  'PlanContextDefaults',
  'PluginRequest',
  'PreparedChange',
  'ProcessSpawner',
  'SpawnPlan',
  'SpawnPlanBuilder',
  'Warden',
  'WardenConfig',
  'WardenOptions',
  'WardenPlugin',
  'ArgKind',
  'ChildOpName',
  'ChildPhase',
  'ParentPhase',
  'Phase',
  'SpawnOptions',
  'SpawnedProcess',
];

/** Every name `src/index.ts` exports, values and types apart, as the compiler sees them. */
function declaredExports(): { values: string[]; types: string[] } {
  const index = join(CORE_DIR, 'src', 'index.ts');
  const program = ts.createProgram([index], { strict: true, experimentalDecorators: true, types: ['node'], noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const values: string[] = [];
  const types: string[] = [];
  for (const s of checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(s.name);
  }
  return { values: values.sort(), types: types.sort() };
}

describe('public API of @warden/core', () => {
  it('exports exactly the pinned values at run time', () => {
    expect(Object.keys(core).sort()).toEqual([...PUBLIC_VALUES].sort());
  });

  it('declares exactly the pinned values and types', () => {
    expect(declaredExports()).toEqual({ values: [...PUBLIC_VALUES].sort(), types: [...PUBLIC_TYPES].sort() });
  });

  it('keeps the internals out of the API but reachable through the @warden/core/internal subpath', () => {
    buildCore();
    const pkg = JSON.parse(readFileSync(join(CORE_DIR, 'package.json'), 'utf8'));
    expect(pkg.exports['./internal'].default).toBe('./dist/internal/index.js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const internal = require(join(CORE_DIR, pkg.exports['./internal'].default));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const published = require(join(CORE_DIR, pkg.exports['.'].default));
    for (const name of ['ControlApi', 'Controller', 'resolveCredentials', 'validateIsolation', 'registerRuntime']) {
      expect(typeof internal[name]).toBe('function');
      expect(published[name]).toBeUndefined();
    }
    expect(Object.keys(published).sort()).toEqual([...PUBLIC_VALUES].sort());
  });

  it('startWarden runs wardend in the caller process with defaults for the options left out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-embed-'));
    const socket = join(dir, 'control.sock');
    const warden = await core.startWarden(
      { control: `unix:${socket}`, statedir: join(dir, 'state'), tmpdir: dir, noDefaultPlugins: true },
      { log: pino({ level: 'silent' }) },
    );
    try {
      expect(warden.control).toBe(`unix:${socket}`);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: socket, path: '/config', method: 'PUT' }, (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (c) => (text += c))
            .on('end', () => resolve(text));
        });
        req.on('error', reject).end('{"listeners": {}, "applications": {}}');
      });
      expect(JSON.parse(body)).toEqual({ success: 'Reconfiguration done.' });
      expect(warden.controller.config).toEqual({ listeners: {}, applications: {} });
    } finally {
      await warden.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
