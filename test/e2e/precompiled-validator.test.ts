// The build precompiles wardend's config validators for the default plugins' schema (ajv standalone code, named by
// the schema text's hash): an idle wardend then neither spends a second of CPU compiling the schema at start-up nor
// keeps the ~16 MB that compiling leaves resident. These tests pin that the build made them, that wardend uses them,
// and that they answer exactly as a validator compiled at start-up does.
import { execFileSync } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';
import Ajv2020 from 'ajv/dist/2020';
import { ROOT } from './support/wardend';

// The built module (dist), where the precompiled files live beside it; the source tree has none.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const validatorModule = require(join(ROOT, 'packages/core/dist/config/config-validator')) as {
  AJV_OPTIONS: object;
  precompiledPath(key: string): string;
  isolationSchema(schema: object): object;
  isPrecompiled(schema: object): boolean;
  compile(key: string, schema: object): unknown;
};
type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };

const schemaText = execFileSync(process.execPath, [join(ROOT, 'packages/core/bin/wardend.js'), '--print-schema'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
const schema = JSON.parse(schemaText) as object;
const key = JSON.stringify(schema);

const invalid: unknown[] = [
  { listeners: { '127.0.0.1:1': { pass: 5 } } },
  { applications: { a: { type: 'external' } } },
  { applications: { a: { type: 'external', executable: '/bin/x', processes: { max: 'two' } } } },
  { applications: { a: { type: 'external', executable: '/bin/x', isolation: { namespaces: { pid: 'yes' } } } } },
  { routes: [{ match: { method: 7 }, action: { share: 1 } }], settings: { http: { header_read_timeout: -1 } } },
  { access_log: { path: 3 }, unknown_key: true },
  [],
  'text',
];

describe('precompiled config validators', () => {
  it('are made by the build for the default plugins, for whole configs and for an isolation object', () => {
    expect(existsSync(validatorModule.precompiledPath(key))).toBe(true);
    expect(existsSync(validatorModule.precompiledPath(`isolation:${key}`))).toBe(true);
    expect(validatorModule.isPrecompiled(schema)).toBe(true);
  });

  it('are what wardend validates with', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(validatorModule.compile(key, schema)).toBe(require(validatorModule.precompiledPath(key)));
  });

  it('are used only for the schema text they were made from', () => {
    expect(validatorModule.isPrecompiled({ ...schema, title: 'another plugin set' })).toBe(false);
  });

  it('accept and reject exactly what a validator compiled at start-up does, with the same errors', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pre = require(validatorModule.precompiledPath(key)) as Validate;
    const live = new Ajv2020(validatorModule.AJV_OPTIONS).compile(schema) as Validate;
    for (const config of [...invalid, { listeners: {}, applications: {}, routes: [] }]) {
      expect(pre(config)).toBe(live(config));
      expect(JSON.parse(JSON.stringify(pre.errors ?? null))).toEqual(JSON.parse(JSON.stringify(live.errors ?? null)));
    }
  });

  it('check an isolation object on its own as the start-up one does', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pre = require(validatorModule.precompiledPath(`isolation:${key}`)) as Validate;
    const live = new Ajv2020(validatorModule.AJV_OPTIONS).compile(validatorModule.isolationSchema(schema)) as Validate;
    for (const iso of [{ namespaces: { pid: 1 } }, { uidmap: [{ container: 0 }] }, { namespaces: { pid: true } }, 'x']) {
      expect(pre(iso)).toBe(live(iso));
      expect(JSON.parse(JSON.stringify(pre.errors ?? null))).toEqual(JSON.parse(JSON.stringify(live.errors ?? null)));
    }
  });
});
