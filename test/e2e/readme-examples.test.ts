// Every JavaScript example in the package READMEs runs: each ```js block is written to a file in a private
// directory and run with node (the workspace packages resolve through NODE_PATH, as installed packages would). A
// block that opens a port (8080 or 8400 in the text) gets a free port instead and must answer HTTP there; any other
// block must exit 0. A block that is not meant to run says so on the line before its fence:
// `<!-- example: not run (why) -->`.
import { spawn } from 'child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, waitUntil } from './support/wardend';

interface Example {
  file: string;
  line: number;
  code: string;
  /** The reason given by a `not run` marker, else null. */
  notRun: string | null;
}

/** The fenced ```js blocks of a Markdown file, with the `not run` marker of each. */
export function jsExamples(file: string): Example[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```js') continue;
    const end = lines.indexOf('```', i + 1);
    const marker = /^<!-- example: not run \((.+)\) -->$/.exec(lines[i - 1] ?? '');
    out.push({ file, line: i + 1, code: lines.slice(i + 1, end).join('\n'), notRun: marker ? marker[1]! : null });
    i = end;
  }
  return out;
}

const READMES = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'README.md'));
const EXAMPLES = READMES.flatMap((f) => jsExamples(f));
const label = (e: Example) => `${e.file.slice(ROOT.length + 1)}:${e.line}`;

describe('README examples', () => {
  it('finds the JavaScript examples of the package READMEs', () => {
    expect(EXAMPLES.filter((e) => e.notRun === null).length).toBeGreaterThanOrEqual(5);
  });

  const runnable = EXAMPLES.filter((e) => e.notRun === null).map((e) => [label(e), e] as const);
  it.each(runnable)(
    '%s runs',
    async (_where, example) => {
      const dir = mkdtempSync(join(tmpdir(), 'warden-readme-'));
      const port = await freePort();
      const serves = /\b(8080|8400)\b/.test(example.code);
      const code = example.code.replace(/\b(8080|8400)\b/g, String(port));
      writeFileSync(join(dir, 'example.js'), code);
      const child = spawn(process.execPath, ['example.js'], {
        cwd: dir,
        env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), PORT: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      try {
        if (!serves) {
          expect({ code: await exited, out }).toEqual({ code: 0, out: expect.any(String) });
          return;
        }
        let answer: { status: number; body: Buffer } | undefined;
        await waitUntil(async () => {
          if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${out}`);
          answer = await http(port, '/', { headers: { Connection: 'close' } }).catch(() => undefined);
          return answer !== undefined;
        }, `the example answering on port ${port}`);
        expect(answer!.status).toBe(200);
        if (code.includes("'/static/*'")) {
          // The http-router example's share serves a file that exists.
          const file = await http(port, '/static/hello.txt', { headers: { Connection: 'close' } });
          expect({ status: file.status, body: file.body.toString() }).toEqual({ status: 200, body: 'hello from a file\n' });
        }
      } finally {
        child.kill('SIGINT');
        if (child.exitCode === null) await exited;
        cleanup(dir);
      }
    },
    30000,
  );
});
