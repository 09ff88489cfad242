// Every JavaScript example in the package READMEs runs (the shell, JSON and Go blocks: readme-blocks.test.ts): each
// ```js block (indented ones in list items too) is written to a file in a private
// directory and run with node (the workspace packages resolve through NODE_PATH, as installed packages would). A
// block that opens a port (8080 or 8400 in the text) gets a free port instead and must answer HTTP there; any other
// block must exit 0. A block that is not meant to run says so on the line before its fence:
// `<!-- example: not run (why) -->`.
import { mkdtempSync, readdirSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { spawnCollected } from './support/child';
import { fencedBlocks, type Block } from './support/markdown';
import { ROOT, cleanup, freePort, http, waitUntil } from './support/wardend';

const READMES = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p, 'README.md'));
const EXAMPLES = READMES.flatMap((f) => fencedBlocks(f)).filter((b) => b.lang === 'js');
const label = (e: Block) => `${e.file.slice(ROOT.length + 1)}:${e.line}`;

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
      const { child, out, exited } = spawnCollected(process.execPath, ['example.js'], {
        cwd: dir,
        env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), PORT: '' },
      });
      try {
        if (!serves) {
          expect({ exit: await exited, out: out() }).toEqual({ exit: { code: 0, signal: null }, out: expect.any(String) });
          return;
        }
        let answer: { status: number; body: Buffer } | undefined;
        await waitUntil(async () => {
          if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}):\n${out()}`);
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
