import { constants } from 'os';

/**
 * NGINX Unit's error-log line format, for `wardend --log-format unit`:
 *
 *     2026/12/06 07:25:39 [info] 1234#1234 controller started
 *
 * local time, the level in brackets (Unit's levels: alert, error, warn, notice, info, debug), `pid#tid` (Unit's
 * thread id; wardend is one thread, so the pid twice) and the message. Where Unit logs the same event, the message is
 * Unit's wording (from its sources, 1.35): `controller started`, `router started`, `"app" application started` (with
 * the app process's pid, as Unit's app process logs it itself), `process N exited with code C` (notice) or `... on
 * signal S` (alert), `failed to apply new conf` (alert), `failed to restore previous configuration: ...`,
 * `signal signo:N (SIG) received, ignored`, `signal N (SIG) received, ...`. Every other record keeps Warden's message
 * with its fields appended as `key=value`; app output lines read `"app" stdout: ...` / `"app" stderr: ...`. A record
 * with a `unitLevel` field (one of Unit's levels) is written at that level: the router's `log_route` lines, which
 * Unit writes at notice, a level pino does not have.
 */
export function unitLogLine(rec: LogRecord): string {
  const unit = unitMessage(rec);
  const named = typeof rec.unitLevel === 'string' && UNIT_LEVELS.has(rec.unitLevel) ? rec.unitLevel : undefined;
  const level = unit?.level ?? named ?? LEVELS.get(rec.level) ?? 'info';
  const pid = unit?.pid ?? rec.pid ?? process.pid;
  const text = unit?.text ?? genericMessage(rec);
  return `${unitTime(rec.time)} [${level}] ${pid}#${pid} ${text.replace(/\r?\n/g, '\\n')}\n`;
}

/** A pino record as parsed from its JSON line. */
export interface LogRecord {
  level: number;
  time?: number;
  pid?: number;
  msg?: string;
  [field: string]: unknown;
}

/** pino levels → Unit's levels (fatal is Unit's `alert`, its most severe). */
const LEVELS = new Map<number, string>([
  [10, 'debug'],
  [20, 'debug'],
  [30, 'info'],
  [40, 'warn'],
  [50, 'error'],
  [60, 'alert'],
]);

/** Unit's levels, which a record may name in `unitLevel` where pino has none (notice: the router's log_route lines). */
const UNIT_LEVELS = new Set(['debug', 'info', 'notice', 'warn', 'error', 'alert']);

/** Fields every record has, or that the text already shows. */
const HIDDEN = new Set(['unitLevel', 'level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'app', 'stream']);

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;

/** Unit's message (and level, and pid) for the events Unit logs too; undefined for the others. */
function unitMessage(rec: LogRecord): { text: string; level?: string; pid?: number } | undefined {
  const msg = rec.msg ?? '';
  const app = typeof rec.app === 'string' ? rec.app : undefined;
  const appPid = typeof rec.app_pid === 'number' ? rec.app_pid : undefined;
  if (msg === 'controller started' || msg === 'router started') return { text: msg };
  if (msg === 'app process started' && app !== undefined) return { text: `"${app}" application started`, pid: appPid };
  if ((msg === 'app process exited' || msg.startsWith('app process exited unexpectedly')) && appPid !== undefined) {
    if (typeof rec.signal === 'string' && rec.signal) {
      return { text: `process ${appPid} exited on signal ${SIGNAL_NUMBERS[rec.signal] ?? rec.signal}`, level: 'alert' };
    }
    return { text: `process ${appPid} exited with code ${rec.code ?? 0}`, level: 'notice' };
  }
  if (msg === 'signal received' && typeof rec.signal === 'string') {
    const n = SIGNAL_NUMBERS[rec.signal] ?? 0;
    if (rec.action === 'ignored') return { text: `signal signo:${n} (${rec.signal}) received, ignored`, level: 'notice' };
    return { text: `signal ${n} (${rec.signal}) received, ${String(rec.action ?? 'handled')}`, level: 'notice' };
  }
  if (msg === 'configuration change failed; rolling back') {
    return { text: `failed to apply new conf${errorText(rec.err) ? `: ${errorText(rec.err)}` : ''}`, level: 'alert' };
  }
  if (typeof rec.movedTo === 'string') {
    const then = typeof rec.lastGood === 'string' ? `restoring the last good copy ${rec.lastGood}` : 'starting with an empty configuration';
    return {
      text: `failed to restore previous configuration: file is corrupted (${String(rec.reason)}); moved ${String(rec.file)} to ${rec.movedTo}; ${then}`,
      level: 'alert',
    };
  }
  if (/^the (saved|last good) configuration .*was not accepted/.test(msg)) {
    const r = rec.reason as { error?: string; detail?: string } | undefined;
    const why = [r?.error, r?.detail].filter(Boolean).join(' ');
    const kept = typeof rec.keptAs === 'string' ? ` (a copy is kept as ${rec.keptAs})` : '';
    return { text: `the previous configuration is invalid: ${why}${kept}`, level: 'alert' };
  }
  return undefined;
}

/** Warden's message with its fields: `"app" message key=value ...`; app output: `"app" stdout: line`. */
function genericMessage(rec: LogRecord): string {
  const app = typeof rec.app === 'string' ? `"${rec.app}" ` : '';
  if (rec.stream === 'stdout' || rec.stream === 'stderr') return `${app}${rec.stream}: ${rec.msg ?? ''}`;
  let text = `${app}${rec.msg ?? ''}`;
  for (const [key, value] of Object.entries(rec)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    text += ` ${key}=${fieldText(key === 'err' ? errorText(value) : value)}`;
  }
  return text;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/** An error as pino serialises it (`{type, message, stack, code}`), or a string, as one line. */
function errorText(err: unknown): string {
  if (err === undefined || err === null) return '';
  if (typeof err === 'string') return err;
  const e = err as { message?: string; code?: string };
  const message = e.message ?? JSON.stringify(err);
  return e.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/** `YYYY/MM/DD HH:MM:SS` in local time, as Unit writes it. */
function unitTime(ms = Date.now()): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
