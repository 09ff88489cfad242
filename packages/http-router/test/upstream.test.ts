import { Upstream } from '../src/internal/upstream';

const t = (name: string) => ({ host: name, port: 1, socketPath: undefined, text: name });

describe('Upstream (smooth weighted round robin)', () => {
  it('spreads a 5:1:1 group as nginx does: a a b a c a a', () => {
    const u = new Upstream('u', [
      { target: t('a'), weight: 5 },
      { target: t('b'), weight: 1 },
      { target: t('c'), weight: 1 },
    ]);
    expect(Array.from({ length: 7 }, () => u.pick()!.host).join(' ')).toBe('a a b a c a a');
  });

  it('alternates equal weights and never picks weight 0', () => {
    const u = new Upstream('u', [
      { target: t('a'), weight: 1 },
      { target: t('z'), weight: 0 },
      { target: t('b'), weight: 1 },
    ]);
    expect(Array.from({ length: 4 }, () => u.pick()!.host)).toEqual(['a', 'b', 'a', 'b']);
  });

  it('keeps fractional weights proportional', () => {
    const u = new Upstream('u', [
      { target: t('a'), weight: 0.5 },
      { target: t('b'), weight: 1.5 },
    ]);
    const picks = Array.from({ length: 400 }, () => u.pick()!.host);
    expect(picks.filter((p) => p === 'b').length).toBe(300);
  });

  it('has nothing to pick when every weight is 0', () => {
    expect(new Upstream('u', [{ target: t('a'), weight: 0 }]).pick()).toBeNull();
  });
});
