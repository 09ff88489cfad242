/**
 * The DNS entries of a certificate's subjectAltName as Node prints it (`X509Certificate.subjectAltName`:
 * `DNS:a.example, DNS:"quoted, name", IP Address:127.0.0.1`), in order; undefined when there is no such extension.
 */
export function subjectAltDnsNames(san: string | undefined): string[] | undefined {
  if (san === undefined) return undefined;
  const names: string[] = [];
  for (const m of san.matchAll(/(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const v = m[1];
    if (!v.startsWith('"')) names.push(v);
    else {
      try {
        names.push(JSON.parse(v) as string);
      } catch {
        /* malformed quoting: not a name a client could ask for */
      }
    }
  }
  return names;
}

/**
 * The first CN of a distinguished name as Node prints it (`X509Certificate.subject`, one `KEY=value` a line);
 * Node gives undefined for an empty subject.
 */
export function commonName(dn: string | undefined): string | undefined {
  if (dn === undefined) return undefined;
  for (const line of dn.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/**
 * The lower-case names a certificate is chosen by for SNI, as Unit takes them (nxt_openssl_cert_get_names): the DNS
 * entries of its subjectAltName when it has that extension (the CN then does not count), else its CN. A wildcard is
 * kept only in the `*.rest` form.
 */
export function sniNames(subject: string | undefined, subjectAltName: string | undefined): string[] {
  const dns = subjectAltDnsNames(subjectAltName);
  const cn = commonName(subject);
  const names = dns ?? (cn === undefined ? [] : [cn]);
  const out: string[] = [];
  for (const n of names) {
    const name = n.toLowerCase();
    if (name === '' || (name.startsWith('*') && !name.startsWith('*.')) || name === '*.' || out.includes(name)) continue;
    out.push(name);
  }
  return out;
}
