import { readFileSync } from 'fs';
import { join } from 'path';
import { parseBundle } from '../src/control/certificate-bundle';
import { harness } from './harness';

const FIXTURES = join(__dirname, '../../http-router/test/fixtures/tls');
/** Self-signed, empty subject (`openssl req -subj /`), SAN nosubject.example.test (see fixtures/tls/make.sh). */
const EMPTY_SUBJECT = readFileSync(join(FIXTURES, 'd.pem'));

describe('certificates with an empty subject', () => {
  it('parses: the subject holds only alt_names, the issuer is empty', () => {
    const b = parseBundle(EMPTY_SUBJECT);
    expect(b.info.key).toBe('ECDH');
    expect(b.info.chain[0].subject).toEqual({ alt_names: ['nosubject.example.test'] });
    expect(b.info.chain[0].issuer).toEqual({});
  });

  it('uploads through the control API (Unit: test_tls_sni_empty_cn)', async () => {
    const h = harness({ certificates: true });
    try {
      expect(await h.req('PUT', '/certificates/empty', EMPTY_SUBJECT)).toEqual({ status: 200, body: { success: 'Certificate chain uploaded.' } });
      const got = (await h.req('GET', '/certificates/empty/chain/0/subject')).body;
      expect(got).toEqual({ alt_names: ['nosubject.example.test'] });
    } finally {
      h.cleanup();
    }
  });
});
