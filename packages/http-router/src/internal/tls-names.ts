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

/** The first CN of a distinguished name as Node prints it (`X509Certificate.subject`, one `KEY=value` a line). */
export function commonName(dn: string): string | undefined {
  for (const line of dn.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}
