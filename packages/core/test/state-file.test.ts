import { readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import pino from 'pino';
import { ConfigStore, LAST_GOOD_FILE } from '../src/control/config-store';
import { Controller } from '../src/control/controller';
import { DONE, harness } from './harness';

// The state dir across a restart: a first controller accepts configs, the file is damaged, a second controller (the
// restarted daemon) restores from the same dir.

const A = { settings: { http: { idle_timeout: 11 } } };
const B = { settings: { http: { idle_timeout: 22 } } };

/** A controller over `statedir` whose log lines are collected. */
function restarted(statedir: string) {
  const h = harness({ statedir });
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const controller = new Controller(h.container, h.validator, new ConfigStore(statedir), log);
  return { controller, lines, h };
}

const aside = (dir: string, what: string) => readdirSync(dir).filter((n) => n.startsWith(`conf.json.${what}-`));

describe('state file (conf.json) at start', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-state-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps conf.json.last-good equal to conf.json after every accepted change', async () => {
    const h = harness({ statedir: dir });
    expect((await h.req('PUT', '/config', JSON.stringify(A))).body).toEqual(DONE);
    expect((await h.req('PUT', '/config', JSON.stringify(B))).body).toEqual(DONE);
    expect(JSON.parse(readFileSync(join(dir, LAST_GOOD_FILE), 'utf8'))).toEqual(B);
    expect(readFileSync(join(dir, LAST_GOOD_FILE), 'utf8')).toBe(readFileSync(join(dir, 'conf.json'), 'utf8'));
  });

  it('moves a truncated conf.json aside as conf.json.corrupt-<time>, logs that path, and restores the last good copy', async () => {
    const h = harness({ statedir: dir });
    await h.req('PUT', '/config', JSON.stringify(A));
    const truncated = readFileSync(join(dir, 'conf.json')).subarray(0, 20);
    writeFileSync(join(dir, 'conf.json'), truncated);

    const r = restarted(dir);
    await r.controller.restore();
    expect(r.controller.config).toEqual(A);
    const [corrupt] = aside(dir, 'corrupt');
    expect(corrupt).toMatch(/^conf\.json\.corrupt-\d{8}T\d{6}Z$/);
    // The damaged bytes are kept as they were, and conf.json holds the restored config again.
    expect(readFileSync(join(dir, corrupt))).toEqual(truncated);
    expect(JSON.parse(readFileSync(join(dir, 'conf.json'), 'utf8'))).toEqual(A);
    const line = r.lines.find((l) => l.msg.includes('is corrupt'))!;
    expect(line.level).toBe(50);
    expect(line.msg).toContain(join(dir, corrupt));
    expect(line.msg).toContain(join(dir, LAST_GOOD_FILE));
    expect(line.movedTo).toBe(join(dir, corrupt));
  });

  it('without a last good copy starts empty, and the next PUT leaves the corrupt file where it was moved', async () => {
    writeFileSync(join(dir, 'conf.json'), '{"listeners": {');
    const r = restarted(dir);
    await r.controller.restore();
    expect(r.controller.config).toEqual({});
    const [corrupt] = aside(dir, 'corrupt');
    expect(r.lines.find((l) => l.msg.includes('is corrupt'))!.msg).toContain(`moved it to ${join(dir, corrupt)}; no last good copy`);
    await r.controller.apply(B);
    expect(readFileSync(join(dir, corrupt), 'utf8')).toBe('{"listeners": {');
    expect(JSON.parse(readFileSync(join(dir, 'conf.json'), 'utf8'))).toEqual(B);
  });

  it('a saved config that parses but is no longer accepted is copied aside and left in place for the next start', async () => {
    const rejected = { applications: { a: { type: 'cobol' } } };
    writeFileSync(join(dir, 'conf.json'), JSON.stringify(rejected));
    const r = restarted(dir);
    await r.controller.restore();
    expect(r.controller.config).toEqual({});
    const [copy] = aside(dir, 'rejected');
    expect(JSON.parse(readFileSync(join(dir, copy), 'utf8'))).toEqual(rejected);
    expect(JSON.parse(readFileSync(join(dir, 'conf.json'), 'utf8'))).toEqual(rejected);
    expect(r.lines.find((l) => l.msg.includes('was not accepted'))!.msg).toContain(join(dir, copy));
  });

  it('a state dir from before last-good copies gets one when its conf.json is restored', async () => {
    writeFileSync(join(dir, 'conf.json'), JSON.stringify(A));
    const r = restarted(dir);
    await r.controller.restore();
    expect(r.controller.config).toEqual(A);
    expect(JSON.parse(readFileSync(join(dir, LAST_GOOD_FILE), 'utf8'))).toEqual(A);
  });

  it('a second corrupt file on the same second gets its own name', () => {
    const store = new ConfigStore(dir);
    store.init();
    const now = new Date('2026-12-06T07:25:39.123Z');
    writeFileSync(join(dir, 'conf.json'), 'x');
    const first = store.loadAtStart(now);
    writeFileSync(join(dir, 'conf.json'), 'y');
    const second = store.loadAtStart(now);
    expect(first).toMatchObject({ kind: 'corrupt', corrupt: join(dir, 'conf.json.corrupt-20261206T072539Z') });
    expect(second).toMatchObject({ kind: 'corrupt', corrupt: join(dir, 'conf.json.corrupt-20261206T072539Z-1') });
  });
});
