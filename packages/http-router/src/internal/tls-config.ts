import { constants, createHash, createPrivateKey, randomBytes, X509Certificate } from 'crypto';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'tls';
import { jp, RouterConfigError, TLS_ERROR } from './errors';
import { sniNames } from './tls-names';

/** A certificate bundle the router can serve: the private key and the chain (leaf first), both PEM. */
export interface TlsCertificate {
  key: string | Buffer;
  cert: string | Buffer;
}

/** One certificate of a TLS listener. */
export interface TlsCertificateEntry {
  name: string;
  /** Lower-case names of the leaf (its DNS subjectAltNames, else its CN; see sniNames); `*.x` entries are wildcards. */
  hosts: string[];
  /** Secure context options: the key and chain with the listener's `conf_commands` and `session` settings. */
  options: SecureContextOptions;
  /**
   * @internal The tls.Server (never listening) that does the handshakes with this certificate, made by the router
   * on first use. One server per certificate, not one with an SNICallback: OpenSSL keeps a certificate per key type
   * in a connection, so switching from a default EC certificate to an RSA one in the SNI callback would leave the
   * EC one in use for clients that prefer ECDSA.
   */
  server: TlsServer | null;
}

/** A listener's compiled `tls` object. */
export interface CompiledTls {
  /** The certificates in config order; the first one is the default (clients without SNI, unknown names). */
  certs: TlsCertificateEntry[];
  /** `session.cache_size`: server-side session cache entries (0: no cache, Unit's default). */
  sessionCacheSize: number;
  /**
   * Hash of the `tls` object and the bundles it names: a reconfiguration that leaves it unchanged keeps the running
   * CompiledTls (its TLS servers, session cache and ticket keys) instead of this one.
   */
  signature: string;
}

/** A listener's `tls` object as the router's schema admits it (the schema owns these types and keys). */
export interface TlsConfig {
  certificate: string | string[];
  conf_commands?: Record<string, string>;
  session?: { cache_size?: number; timeout?: number; tickets?: boolean | string | string[] };
}

/** Unit's default `session.timeout`, seconds. */
const DEFAULT_SESSION_TIMEOUT = 300;

/** One session id context for every listener of this process (resumption stays within a listener's contexts). */
const SESSION_ID_CONTEXT = createHash('sha1').update(`warden:${process.pid}`).digest('hex').slice(0, 32);

const PROTOCOLS = new Map<string, SecureContextOptions['minVersion']>([
  ['tlsv1', 'TLSv1'],
  ['tlsv1.1', 'TLSv1.1'],
  ['tlsv1.2', 'TLSv1.2'],
  ['tlsv1.3', 'TLSv1.3'],
]);

/** The OpenSSL `conf_commands` Node can apply, by lower-case name. */
const CONF_COMMANDS =
  'CipherString, Ciphersuites, MinProtocol, MaxProtocol, Groups (or Curves), SignatureAlgorithms, Options (ServerPreference, -ServerPreference)';

/**
 * Compiles a listener's `tls` object (Unit's shape: `certificate` string or non-empty array, `conf_commands`,
 * `session {cache_size, timeout, tickets}`) against the available certificates. Every certificate's secure context
 * is made once now, so a key or chain OpenSSL refuses fails the prepare, not the first handshake. `certificates`
 * null: check the values only (no certificate is looked up; `certs` is empty).
 */
export function compileTls(v: TlsConfig, path: string, certificates: Record<string, TlsCertificate> | null): CompiledTls {
  const common = sessionOptions(v.session, jp(path, 'session'));
  const sessionCacheSize = common.cacheSize;
  const base: SecureContextOptions = { ...common.options, ...confCommands(v.conf_commands, jp(path, 'conf_commands')) };

  const cp = jp(path, 'certificate');
  const names = typeof v.certificate === 'string' ? [v.certificate] : v.certificate;
  if (names.length === 0) throw new RouterConfigError('The "certificate" array must contain at least one element.', cp, TLS_ERROR);
  if (certificates === null) return { certs: [], sessionCacheSize, signature: '' };
  const certs = names.map((name, i): TlsCertificateEntry => {
    const at = Array.isArray(v.certificate) ? jp(cp, i) : cp;
    const material = Object.prototype.hasOwnProperty.call(certificates, name) ? certificates[name] : undefined;
    if (material === undefined) throw new RouterConfigError(`Certificate "${name}" is not found.`, at);
    const options: SecureContextOptions = { ...base, key: material.key, cert: material.cert };
    let hosts: string[];
    try {
      const leaf = new X509Certificate(material.cert);
      // OpenSSL drops a key that does not match the certificate without a word: check it here.
      if (!leaf.checkPrivateKey(createPrivateKey(material.key))) throw new Error('the private key does not match the certificate');
      createSecureContext(options);
      hosts = sniNames(leaf.subject, leaf.subjectAltName);
    } catch (e) {
      throw new RouterConfigError(`The certificate "${name}" cannot be used: ${(e as Error).message}.`, at);
    }
    return { name, hosts, options, server: null };
  });
  const signature = createHash('sha256').update(JSON.stringify(v));
  for (const name of names) signature.update('\0' + String(certificates[name].key) + '\0' + String(certificates[name].cert));
  return { certs, sessionCacheSize, signature: signature.digest('hex') };
}

function sessionOptions(v: TlsConfig['session'], path: string): { options: SecureContextOptions; cacheSize: number } {
  const options: SecureContextOptions = { sessionIdContext: SESSION_ID_CONTEXT, sessionTimeout: DEFAULT_SESSION_TIMEOUT };
  let cacheSize = 0;
  let tickets: boolean | string | string[] = false;
  if (v !== undefined) {
    if (v.cache_size !== undefined) cacheSize = v.cache_size;
    // The schema owns the range (Unit's: greater than zero).
    if (v.timeout !== undefined) options.sessionTimeout = v.timeout;
    if (v.tickets !== undefined) tickets = v.tickets;
  }
  const tp = jp(path, 'tickets');
  if (tickets === false || (Array.isArray(tickets) && tickets.length === 0)) {
    // Unit's default: no session tickets; an empty key array is off too (nxt_tls_ticket_keys: SSL_OP_NO_TICKET).
    options.secureOptions = constants.SSL_OP_NO_TICKET;
  } else if (tickets === true) {
    options.ticketKeys = randomBytes(48);
  } else {
    const keys = typeof tickets === 'string' ? [tickets] : tickets;
    if (keys.length !== 1) {
      throw new RouterConfigError(
        `The "tickets" array holds ${keys.length} keys; this build takes exactly one (Node's TLS has no decrypt-only keys for rotation).`,
        tp,
        TLS_ERROR,
      );
    }
    options.ticketKeys = ticketKey(keys[0], Array.isArray(tickets) ? jp(tp, 0) : tp);
  }
  return { options, cacheSize };
}

function ticketKey(v: string, path: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw new RouterConfigError(`Invalid Base64 format for the ticket key "${v}".`, path, TLS_ERROR);
  const key = Buffer.from(v, 'base64');
  if (key.length !== 48 && key.length !== 80) {
    throw new RouterConfigError(`Invalid length ${key.length} of the ticket key "${v}".  Must be 48 or 80 bytes.`, path, TLS_ERROR);
  }
  if (key.length === 80) throw new RouterConfigError(`The ticket key "${v}" is 80 bytes long; this build takes 48-byte keys only.`, path, TLS_ERROR);
  return key;
}

function confCommands(v: TlsConfig['conf_commands'], path: string): SecureContextOptions {
  const out: SecureContextOptions = {};
  if (v === undefined) return out;
  let cipherString: string | undefined;
  let suites: string | undefined;
  for (const [name, value] of Object.entries(v)) {
    const p = jp(path, name);
    switch (name.toLowerCase()) {
      case 'cipherstring':
        cipherString = value;
        break;
      case 'ciphersuites':
        suites = value;
        break;
      case 'minprotocol':
      case 'maxprotocol': {
        const version = PROTOCOLS.get(value.toLowerCase());
        if (version === undefined) throw new RouterConfigError(`The "${name}" value "${value}" is not one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.`, p, TLS_ERROR);
        if (name.toLowerCase() === 'minprotocol') out.minVersion = version;
        else out.maxVersion = version;
        break;
      }
      case 'groups':
      case 'curves':
        out.ecdhCurve = value;
        break;
      case 'signaturealgorithms':
        out.sigalgs = value;
        break;
      case 'options':
        for (const opt of value.split(',').map((o) => o.trim().toLowerCase())) {
          if (opt === 'serverpreference') out.honorCipherOrder = true;
          else if (opt === '-serverpreference') out.honorCipherOrder = false;
          else
            throw new RouterConfigError(
              `The "Options" value "${opt}" is not supported by this build; it applies ServerPreference and -ServerPreference only.`,
              p,
              TLS_ERROR,
            );
        }
        break;
      default:
        throw new RouterConfigError(`The "conf_commands" command "${name}" is not supported by this build; it applies ${CONF_COMMANDS}.`, p, TLS_ERROR);
    }
  }
  // Node takes TLSv1.3 suites and older cipher lists in one string.
  const ciphers = [suites, cipherString].filter((c) => c !== undefined && c !== '').join(':');
  if (ciphers !== '') out.ciphers = ciphers;
  if (Object.keys(out).length > 0) {
    try {
      createSecureContext(out);
    } catch (e) {
      throw new RouterConfigError(`The "conf_commands" cannot be applied: ${(e as Error).message}.`, path, TLS_ERROR);
    }
  }
  return out;
}

/**
 * The certificate for an SNI name, as Unit picks it (nxt_openssl_servername): an exact name first, then a wildcard
 * (`*.example.com` covers one label: `a.example.com`, not `example.com` or `a.b.example.com`), else the first
 * certificate; an empty name or one starting with `.` gets the first. A name two certificates share goes to the later
 * one, as in Unit's name table.
 */
export function selectCertificate(tls: CompiledTls, servername: string): TlsCertificateEntry {
  const name = servername.toLowerCase();
  if (name === '' || name.startsWith('.')) return tls.certs[0];
  const certs = tls.certs;
  for (let i = certs.length - 1; i >= 0; i--) if (certs[i].hosts.includes(name)) return certs[i];
  const dot = name.indexOf('.', 1);
  if (dot > 0) {
    const wild = '*' + name.slice(dot);
    for (let i = certs.length - 1; i >= 0; i--) if (certs[i].hosts.includes(wild)) return certs[i];
  }
  return certs[0];
}
