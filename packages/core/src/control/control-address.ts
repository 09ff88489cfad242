import { WardenError } from '../contracts/errors';

/** Where the control API listens: `unix:/path` or `IP:port` (`[v6]:port`). */
export type ControlAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/**
 * Parses `--control`'s value: `unix:/path`, a bare absolute path (taken as a unix socket, as users type it), or
 * `IP:port`. Throws WardenError for anything else.
 */
export function parseControlAddress(value: string): ControlAddress {
  if (value.startsWith('/')) return { kind: 'unix', path: value };
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    if (!path) throw new WardenError('WARDEN_ERR_CONTROL_ADDRESS', `The control address "${value}" has no socket path. Use unix:/path/to/control.sock.`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new WardenError(
      'WARDEN_ERR_CONTROL_ADDRESS',
      `The control address "${value}" is invalid. Use unix:/path/to/control.sock, /path/to/control.sock or IP:port (e.g. 127.0.0.1:8080).`,
    );
  }
  return { kind: 'tcp', host: m[1] ?? m[2], port };
}
