import { availableParallelism } from 'os';
import { parseCommandLine } from '../src/cli/command-line';
import type { CommandLineProblem } from '../src/cli/command-line';
import { main as warden } from '../src/cli/warden-cli';
import { defaultRouters, parseDaemonArgs } from '../src/daemon/daemon-options';

const env = { HOME: '/home/x', TMPDIR: '/tmp' };

function usageMessage(argv: string[]): string {
  try {
    parseDaemonArgs(argv, env);
  } catch (e) {
    expect((e as { code?: string }).code).toBe('WARDEN_ERR_USAGE');
    return (e as Error).message.replace(' Run "wardend --help" for the options.', '');
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('wardend command line (util.parseArgs)', () => {
  it('reads --flag value, --flag=value, repeated --plugin and -h', () => {
    const o = parseDaemonArgs(['--control', '/run/w.sock', '--statedir=/s', '--plugin', 'a', '--plugin=./b.js', '--no-daemon', '-h'], env);
    expect(o).toMatchObject({ control: '/run/w.sock', statedir: '/s', plugins: ['a', './b.js'], noDaemon: true, help: true, version: false });
    expect(parseDaemonArgs(['--control-mode', '660', '--log-format', 'unit'], env)).toMatchObject({ controlMode: 0o660, logFormat: 'unit' });
  });

  it('refuses a bad command line with one sentence per problem (exit 2 in main)', () => {
    expect(usageMessage(['--frobnicate'])).toBe('Unknown option "--frobnicate".');
    expect(usageMessage(['-x'])).toBe('Unknown option "-x".');
    expect(usageMessage(['--control'])).toBe('--control needs a value.');
    expect(usageMessage(['--statedir='])).toBe('--statedir needs a value.');
    expect(usageMessage(['--no-daemon=yes'])).toBe('--no-daemon takes no value.');
    expect(usageMessage(['start'])).toBe('Unexpected argument "start".');
    expect(usageMessage(['--', '--no-daemon'])).toBe('Unexpected argument "--".');
    expect(usageMessage(['--control-mode', '9'])).toBe('--control-mode "9" is not an octal mode such as 600 or 660.');
    expect(usageMessage(['--routers', '0'])).toBe('--routers "0" is not a number of processes from 1 to 256.');
    expect(usageMessage(['--routers', '257'])).toBe('--routers "257" is not a number of processes from 1 to 256.');
    expect(usageMessage(['--routers', 'two'])).toBe('--routers "two" is not a number of processes from 1 to 256.');
  });

  it('runs a router process per two CPUs (rounded up) unless --routers says otherwise', () => {
    expect(parseDaemonArgs([], env).routers).toBe(Math.ceil(availableParallelism() / 2));
    expect([1, 2, 3, 4, 16].map((n) => defaultRouters(n))).toEqual([1, 1, 2, 2, 8]);
    expect(parseDaemonArgs(['--routers', '3'], env).routers).toBe(3);
  });
});

describe('warden command line (util.parseArgs)', () => {
  async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await warden(argv, env, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('takes options anywhere before --, words after -- as words, and keeps its usage sentences', async () => {
    expect((await run(['-h'])).out).toContain('Usage: warden');
    expect(await run(['config', '--control=nowhere', 'get'])).toMatchObject({ code: 2, err: expect.stringContaining('"nowhere" is invalid') });
    expect(await run(['--json=1', 'status'])).toMatchObject({
      code: 2,
      err: 'warden: --json takes no value\nRun "warden --help" for the commands and options.\n',
    });
    expect(await run(['config', 'get', '--', '--verbose', 'x'])).toMatchObject({ code: 2, err: expect.stringContaining('too many arguments') });
    expect(await run(['--control'])).toMatchObject({ code: 2, err: expect.stringContaining('--control needs a value: unix:/path/to/control.sock') });
    expect(await run(['status', '--verbose'])).toMatchObject({ code: 2, err: expect.stringContaining('unknown option "--verbose"') });
  });
});

describe('parseCommandLine', () => {
  it('reports each problem to the caller, in order', () => {
    const problems: CommandLineProblem[] = [];
    const collect = (p: CommandLineProblem): never => {
      problems.push(p);
      throw new Error('stop');
    };
    const options = { a: { type: 'string' }, b: { type: 'boolean', short: 'b' } } as const;
    for (const argv of [['--a'], ['--b=1'], ['-c'], ['word'], ['--a', 'x', '-b']]) {
      try {
        parseCommandLine(argv, options, collect);
      } catch {
        // collected
      }
    }
    expect(problems).toEqual([
      { kind: 'needs-value', option: '--a' },
      { kind: 'no-value', option: '--b' },
      { kind: 'unknown', option: '-c' },
      { kind: 'positional', value: 'word' },
    ]);
    expect(parseCommandLine(['w', '--a', 'x', '--', '--b'], options, collect, true)).toEqual({ values: { a: 'x' }, positionals: ['w', '--b'] });
  });
});
