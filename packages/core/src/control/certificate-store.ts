import type { Logger } from 'pino';
import type { WardenConfig } from '../contracts';
import { ptr } from '../config/cross-checks';
import { parseBundle } from './certificate-bundle';
import { NamedStore, validStoreName } from './named-store';
import type { BundleInfo, CertificateBundle } from './certificate-bundle';

/** Container token of the daemon's CertificateStore (core-internal: the runtime and the controller share it). */
export const CERTIFICATE_STORE = 'warden:CertificateStore';

/** Sub-directory of the state dir that holds the uploaded bundles, one file per name. */
export const CERTS_DIR = 'certs';

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
 * The uploaded certificate bundles (`/certificates`), in `<statedir>/certs/<name>` (a NamedStore: parsed in memory,
 * written atomically, names looked up case-insensitively, files that no longer parse skipped at start, as in Unit).
 */
export class CertificateStore {
  private readonly store: NamedStore<CertificateBundle>;

  constructor(stateDir: string, log?: Logger) {
    this.store = new NamedStore(stateDir, CERTS_DIR, (data) => parseBundle(data), 'certificate bundle', log);
  }

  get dir(): string {
    return this.store.dir;
  }

  /** Creates the directory (0700), removes temp files a crashed writer left, and loads every stored bundle. */
  init(): void {
    this.store.init();
  }

  /** The stored bundle of that name (any case), or undefined. */
  get(name: string): StoredCertificate | undefined {
    const item = this.store.get(name);
    return item === undefined ? undefined : { name: item.name, bundle: item.value };
  }

  /** Whether an item of that name (any case) is stored. */
  has(name: string): boolean {
    return this.store.get(name) !== undefined;
  }

  /** Stored names as uploaded. */
  names(): string[] {
    return this.store.names();
  }

  /** Unit's `/certificates` object: name → key and chain details. */
  info(): Record<string, BundleInfo> {
    const out: Record<string, BundleInfo> = {};
    for (const c of this.store.items()) out[c.name] = c.value.info;
    return out;
  }

  /**
   * Parses and stores a new bundle. Throws CertificateBundleError for a bundle that cannot be used, or the
   * filesystem error when it cannot be written (nothing is kept then). The caller checks that the name is free.
   */
  add(name: string, data: Buffer): StoredCertificate {
    return { name, bundle: this.store.add(name, data).value };
  }

  /** Removes a bundle; false when there is none of that name. */
  remove(name: string): boolean {
    return this.store.remove(name);
  }
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
export const validCertificateName = validStoreName;
