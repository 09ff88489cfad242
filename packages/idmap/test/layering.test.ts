import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []);
}

describe('@warden/idmap is a leaf package', () => {
  it('imports no other @warden package and has no dependencies', () => {
    const root = path.resolve(__dirname, '../src');
    for (const file of sources(root)) {
      expect([file, readFileSync(file, 'utf8').match(/from '@warden\/[^']+'/g)]).toEqual([file, null]);
    }
    expect(require('../package.json').dependencies ?? {}).toEqual({});
  });
});
