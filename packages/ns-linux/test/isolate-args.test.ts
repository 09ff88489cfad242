import { parseArgs } from '../src/cli/warden-isolate';

function usage(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect((e as { code?: string }).code).toBe('WARDEN_ERR_ISOLATE_USAGE');
    return (e as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('warden-isolate command line (util.parseArgs)', () => {
  it('reads the options before -- and the command after it, --flag=value and repeated --plugin included', () => {
    expect(parseArgs(['--isolation', '{"namespaces":{"pid":true}}', '--user=nobody', '--plugin', 'a', '--plugin=./b', '--', 'sh', '-c', 'echo -h'])).toEqual({
      isolation: { namespaces: { pid: true } },
      user: 'nobody',
      group: undefined,
      plugins: ['a', './b'],
      command: ['sh', '-c', 'echo -h'],
    });
    expect(parseArgs(['--isolation', '{}', '-h'])).toBe('help');
    expect(parseArgs(['--help'])).toBe('help');
  });

  it('refuses a bad command line with the sentences it always had', () => {
    expect(usage(['--', 'true'])).toBe('--isolation is required');
    expect(usage(['--isolation'])).toBe('--isolation needs a value');
    expect(usage(['--isolation', '{', '--', 'true'])).toMatch(/^--isolation is not valid JSON: /);
    expect(usage(['--isolation', '[]', '--', 'true'])).toBe('--isolation must be a JSON object');
    expect(usage(['--isolation', '{}'])).toBe('no COMMAND given after --');
    expect(usage(['--isolation', '{}', 'true'])).toBe('unknown option true');
    expect(usage(['--bogus', '--', 'true'])).toBe('unknown option --bogus');
    expect(usage(['--help=1'])).toBe('unknown option --help=1');
  });
});
