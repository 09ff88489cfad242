import { createPrivateKey, X509Certificate } from 'crypto';
import type { KeyObject } from 'crypto';
import { subjectAltDnsNames as dnsNames } from '@warden/http-router';
import { WardenError } from '../contracts';

/** A PEM bundle that cannot be used as a certificate chain; `message` says why (the control API's `detail`). */
export class CertificateBundleError extends WardenError {
  constructor(message: string) {
    super('WARDEN_ERR_CERTIFICATE_INVALID', message);
    this.name = 'CertificateBundleError';
  }
}

/** Unit's description of one certificate of a chain (`GET /certificates/<name>/chain/<i>`). */
export interface CertificateDetails {
  subject: Record<string, unknown>;
  issuer: Record<string, unknown>;
  validity: { since: string; until: string };
}

/** Unit's description of a stored bundle (`GET /certificates/<name>`). */
export interface BundleInfo {
  key: string | null;
  chain: CertificateDetails[];
}

/** A parsed, checked bundle: the private key and the chain (leaf first, as uploaded) as PEM, and their description. */
export interface CertificateBundle {
  /** The private key in PEM (as uploaded). */
  keyPem: string;
  /** The chain in PEM, in upload order. */
  chainPem: string;
  info: BundleInfo;
}

const PEM_BLOCK = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const CERT_TYPES = new Set(['CERTIFICATE', 'X509 CERTIFICATE']);
const KEY_TYPES = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY']);

/**
 * Parses an uploaded PEM bundle as Unit does: certificates and one private key in any order (text between the
 * blocks is ignored), at least one of each. Stricter than Unit in one point: the key must belong to the first
 * certificate (the leaf), so a bundle that could never serve TLS is refused at upload rather than at the listener.
 */
export function parseBundle(data: Buffer): CertificateBundle {
  const text = data.toString('latin1');
  const chain: X509Certificate[] = [];
  const chainPem: string[] = [];
  let key: KeyObject | undefined;
  let keyPem = '';
  let blocks = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    blocks++;
    const type = m[1];
    const pem = m[0] + '\n';
    if (CERT_TYPES.has(type)) {
      try {
        chain.push(new X509Certificate(pem));
      } catch (e) {
        throw new CertificateBundleError(`certificate ${chain.length + 1} of the bundle cannot be parsed: ${(e as Error).message}.`);
      }
      chainPem.push(pem);
    } else if (KEY_TYPES.has(type)) {
      if (key !== undefined) throw new CertificateBundleError('the bundle holds more than one private key.');
      try {
        key = createPrivateKey(pem);
      } catch (e) {
        throw new CertificateBundleError(`the private key cannot be parsed: ${(e as Error).message}.`);
      }
      keyPem = pem;
    } else if (type === 'ENCRYPTED PRIVATE KEY') {
      throw new CertificateBundleError('encrypted private keys are not supported; upload the key unencrypted.');
    } else {
      throw new CertificateBundleError(`unsupported PEM block "${type}".`);
    }
  }
  if (blocks === 0 && text.includes('-----BEGIN ')) throw new CertificateBundleError('a PEM block is not terminated.');
  if (key === undefined) throw new CertificateBundleError('no private key found in the bundle.');
  if (chain.length === 0) throw new CertificateBundleError('no certificate found in the bundle.');
  if (!chain[0].checkPrivateKey(key)) {
    throw new CertificateBundleError('the private key does not match the first certificate of the chain (put the server certificate first).');
  }
  return { keyPem, chainPem: chainPem.join(''), info: { key: keyDescription(key), chain: chain.map(details) } };
}

/** Unit's key description: `RSA (2048 bits)`, `ECDH`, `DH (n bits)` or `unknown`. */
function keyDescription(key: KeyObject): string {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  switch (key.asymmetricKeyType as string | undefined) {
    case 'rsa':
      return `RSA (${bits} bits)`;
    case 'ec':
      return 'ECDH';
    case 'dh':
      return bits === undefined ? 'DH' : `DH (${bits} bits)`;
    default:
      return 'unknown';
  }
}

const NAME_FIELDS: Array<[string, string]> = [
  ['CN', 'common_name'],
  ['C', 'country'],
  ['ST', 'state_or_province'],
  ['L', 'locality'],
  ['O', 'organization'],
  ['OU', 'department'],
];

function details(cert: X509Certificate): CertificateDetails {
  return {
    subject: nameDetails(cert.subject, dnsNames(cert.subjectAltName)),
    issuer: nameDetails(cert.issuer, undefined),
    validity: { since: cert.validFrom, until: cert.validTo },
  };
}

/**
 * Unit's name object: the first value of each known attribute, with `alt_names` right after `common_name`. `dn` is
 * undefined for an empty subject or issuer (Node gives no string then): the object holds `alt_names` only, if any.
 */
function nameDetails(dn: string | undefined, altNames: string[] | undefined): Record<string, unknown> {
  const first = new Map<string, string>();
  for (const line of dn === undefined ? [] : dn.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const attr = line.slice(0, eq);
    if (!first.has(attr)) first.set(attr, line.slice(eq + 1));
  }
  const out: Record<string, unknown> = {};
  NAME_FIELDS.forEach(([attr, name], i) => {
    if (i === 1 && altNames !== undefined) out.alt_names = altNames;
    const v = first.get(attr);
    if (v !== undefined) out[name] = v;
  });
  return out;
}
