import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';

const SRC = join(__dirname, '..', 'src');
const FORBIDDEN = ['@warden/ns-linux', '@warden/app-types', '@warden/unit-http'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  it('core never imports the plugin packages statically (they are loaded by name at start)', () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const text = readFileSync(file, 'utf8');
      for (const pkg of FORBIDDEN) {
        const esc = pkg.replace(/[/@-]/g, '\\$&');
        const patterns = [
          new RegExp(`\\bfrom\\s+['"]${esc}(/[^'"]*)?['"]`),
          new RegExp(`\\bimport\\s+['"]${esc}(/[^'"]*)?['"]`),
          new RegExp(`\\brequire(\\.resolve)?\\s*\\(\\s*['"\`]${esc}(/[^'"\`]*)?['"\`]`),
          new RegExp(`\\bimport\\s*\\(\\s*['"\`]${esc}(/[^'"\`]*)?['"\`]`),
        ];
        if (patterns.some((re) => re.test(text))) offenders.push(`${relative(SRC, file)} imports ${pkg}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the scan itself detects a static import', () => {
    const re = /\bfrom\s+['"]@warden\/ns-linux(\/[^'"]*)?['"]/;
    expect(re.test(`import { x } from '@warden/ns-linux';`)).toBe(true);
    expect(re.test(`const DEFAULT = ['@warden/ns-linux'];`)).toBe(false);
  });
});
