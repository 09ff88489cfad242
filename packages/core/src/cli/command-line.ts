import { parseArgs } from 'util';
import type { ParseArgsConfig } from 'util';

/** The options of a command line, as `util.parseArgs` declares them. */
export type CommandLineOptions = NonNullable<ParseArgsConfig['options']>;

/** What is wrong with a command line; each command words it in its own style (and throws). */
export type CommandLineProblem =
  { kind: 'unknown'; option: string } | { kind: 'needs-value'; option: string } | { kind: 'no-value'; option: string } | { kind: 'positional'; value: string };

/** A parsed command line: option values by name (repeatable options as arrays) and the positional words in order. */
export interface CommandLine {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses `argv` with `util.parseArgs` (`--flag value`, `--flag=value`, declared short aliases, `--` ending the
 * options) and reports each problem through `fail`, which must throw: an undeclared option, a string option without
 * a value (or with an empty one), a boolean given a value, and, unless `positionals` is true, any positional word
 * (`--` included).
 */
export function parseCommandLine(argv: string[], options: CommandLineOptions, fail: (problem: CommandLineProblem) => never, positionals = false): CommandLine {
  const parsed = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  for (const t of parsed.tokens) {
    if (t.kind === 'option-terminator') {
      if (!positionals) fail({ kind: 'positional', value: '--' });
    } else if (t.kind === 'positional') {
      if (!positionals) fail({ kind: 'positional', value: t.value });
    } else {
      const spec = Object.prototype.hasOwnProperty.call(options, t.name) ? options[t.name] : undefined;
      const declared = spec && (t.rawName === `--${t.name}` || (spec.short !== undefined && t.rawName === `-${spec.short}`));
      if (!declared) fail({ kind: 'unknown', option: t.rawName });
      if (spec.type === 'boolean' && t.value !== undefined) fail({ kind: 'no-value', option: t.rawName });
      if (spec.type === 'string' && !t.value) fail({ kind: 'needs-value', option: t.rawName });
    }
  }
  return { values: parsed.values as CommandLine['values'], positionals: parsed.positionals };
}
