import { createHash, randomBytes } from 'crypto';
import { http } from './wardend';

/**
 * Checks that the hello-cjs fixture app (packages/app-types/test/fixtures/hello-cjs.js) behind `port` answers GET
 * /hello and a 1 MiB POST /sum with the body's size and digest.
 */
export async function expectNodeHelloServes(port: number): Promise<void> {
  const hello = await http(port, '/hello');
  expect(hello.status).toBe(200);
  expect(hello.body.toString()).toMatch(/^hello from cjs \d+/);
  const body = randomBytes(1 << 20);
  const sum = JSON.parse((await http(port, '/sum', { method: 'POST', body })).body.toString());
  expect(sum).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
}
