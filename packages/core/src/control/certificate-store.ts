import { mkdirSync, readdirSync, readFileSync, statSync, unlinkSync } from 'fs';
import { join } from 'path';
import type { Logger } from 'pino';
import type { WardenConfig } from '../contracts';
import { WardenError } from '../contracts';
import { ptr } from '../config/cross-checks';
import { fsyncDir, writeFileAtomic } from './atomic-file';
import { parseBundle } from './certificate-bundle';
import type { BundleInfo, CertificateBundle } from './certificate-bundle';

/** Container token of the daemon's CertificateStore (core-internal: the runtime and the controller share it). */
export const CERTIFICATE_STORE = 'warden:CertificateStore';

/** Sub-directory of the state dir that holds the uploaded bundles, one file per name. */
export const CERTS_DIR = 'certs';

const TMP_PREFIX = `${CERTS_DIR}.tmp-`;

/** One stored bundle under the name it was uploaded with. */
export interface StoredCertificate {
  name: string;
  bundle: CertificateBundle;
}

/** Where a listener of a config names a certificate. */
export interface CertificateRef {
  /** The name as written in the config. */
  name: string;
  listener: string;
  /** JSON pointer of the value. */
  path: string;
}

/**
 * The uploaded certificate bundles (`/certificates`): kept parsed in memory and on disk in `<statedir>/certs/<name>`
 * (mode 0600, written atomically: temp file in the state dir, fsync, rename, fsync of the directory). Names are
 * looked up case-insensitively, as Unit does. At start every file is loaded again; a file that no longer parses is
 * logged and skipped, as in Unit.
 */
export class CertificateStore {
  readonly dir: string;
  private readonly byKey = new Map<string, StoredCertificate>();

  constructor(
    readonly stateDir: string,
    private readonly log?: Logger,
  ) {
    this.dir = join(stateDir, CERTS_DIR);
  }

  /** Creates the directory (0700), removes temp files a crashed writer left, and loads every stored bundle. */
  init(): void {
    let names: string[];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      for (const f of readdirSync(this.stateDir)) if (f.startsWith(TMP_PREFIX)) unlinkSync(join(this.stateDir, f));
      names = readdirSync(this.dir);
    } catch (e) {
      throw new WardenError(
        'WARDEN_ERR_STATE_DIR',
        `Cannot use the certificate store ${this.dir}: ${(e as Error).message}. Check --statedir and its permissions.`,
      );
    }
    this.byKey.clear();
    for (const name of names) {
      const file = join(this.dir, name);
      try {
        if (!statSync(file).isFile()) continue;
        this.byKey.set(key(name), { name, bundle: parseBundle(readFileSync(file)) });
      } catch (e) {
        this.log?.error({ err: e, file }, 'a stored certificate bundle cannot be loaded; it is skipped');
      }
    }
    if (this.byKey.size > 0) this.log?.info({ certificates: this.names() }, 'certificates loaded');
  }

  /** The stored bundle of that name (any case), or undefined. */
  get(name: string): StoredCertificate | undefined {
    return this.byKey.get(key(name));
  }

  /** Stored names as uploaded. */
  names(): string[] {
    return [...this.byKey.values()].map((c) => c.name);
  }

  /** Unit's `/certificates` object: name → key and chain details. */
  info(): Record<string, BundleInfo> {
    const out: Record<string, BundleInfo> = {};
    for (const c of this.byKey.values()) out[c.name] = c.bundle.info;
    return out;
  }

  /**
   * Parses and stores a new bundle. Throws CertificateBundleError for a bundle that cannot be used, or the
   * filesystem error when it cannot be written (nothing is kept then). The caller checks that the name is free.
   */
  add(name: string, data: Buffer): StoredCertificate {
    const bundle = parseBundle(data);
    writeFileAtomic(join(this.dir, name), data, join(this.stateDir, `${TMP_PREFIX}${process.pid}`));
    const stored = { name, bundle };
    this.byKey.set(key(name), stored);
    return stored;
  }

  /** Removes a bundle; false when there is none of that name. */
  remove(name: string): boolean {
    const c = this.get(name);
    if (!c) return false;
    try {
      unlinkSync(join(this.dir, c.name));
      fsyncDir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.byKey.delete(key(name));
    return true;
  }
}

function key(name: string): string {
  return name.toLowerCase();
}

/** Every certificate name the listeners of `config` use (`tls.certificate`, string or array). */
export function certificateRefs(config: WardenConfig): CertificateRef[] {
  const refs: CertificateRef[] = [];
  for (const [listener, l] of Object.entries(config.listeners ?? {})) {
    const tls = (l as { tls?: { certificate?: unknown } } | null)?.tls;
    const cert = tls?.certificate;
    const base = ptr('listeners', listener, 'tls', 'certificate');
    if (typeof cert === 'string') refs.push({ name: cert, listener, path: base });
    else if (Array.isArray(cert)) cert.forEach((c, i) => typeof c === 'string' && refs.push({ name: c, listener, path: `${base}/${i}` }));
  }
  return refs;
}

/** Names Unit accepts for a bundle in the store: not empty, no `/` or NUL, not `.` or `..`. */
export function validCertificateName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}
