import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './boot';

describe('isLoopbackHost', () => {
  it('accepts 127.0.0.0/8, ::1 (bracketed or IPv4-mapped) and localhost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])
      expect(isLoopbackHost(h), h).toBe(true);
  });
  it('refuses wildcard and routable addresses', () => {
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.0.0.1.example.com', 'localhost.example.com', ''])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});
