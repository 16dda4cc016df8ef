import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger, redactDeep, setLogContext, withLogContext } from './index';

function capture(): { logger: ReturnType<typeof createRootLogger>; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { logger: createRootLogger('info', sink), text: () => text };
}

describe('log redaction', () => {
  it('censors secret keys in any letter case and at any depth', () => {
    const { logger, text } = capture();
    logger.info(
      {
        job: {
          request: {
            source: { storage: { SecretKey: 'sk-deep-1', ACCESSKEY: 'ak-deep-2', Token: 'tok-3' } },
            headers: [{ Authorization: 'Basic dXNlcjpodW50ZXIy' }],
          },
        },
        Password: 'pw-top-4',
      },
      'importing',
    );
    const out = text();
    for (const secret of ['sk-deep-1', 'ak-deep-2', 'tok-3', 'dXNlcjpodW50ZXIy', 'pw-top-4'])
      expect(out).not.toContain(secret);
    expect(out).toContain('"SecretKey":"***"');
    expect(out).toContain('"source"'); // the shape stays, only values go
  });

  it('censors secrets inside errors and nested errors, and scrubs signed URLs in nested strings', () => {
    const { logger, text } = capture();
    const inner = Object.assign(new Error('read failed'), {
      config: { headers: { authorization: 'Bearer igw_live_5' } },
    });
    logger.error(
      { err: Object.assign(new Error('outer'), { credentials: { secretKey: 'sk-6' } }), cause: { inner } },
      'failed',
    );
    logger.warn({ a: { b: { c: { url: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=abcdef7&x=1' } } } }, 'slow');
    const out = text();
    for (const secret of ['igw_live_5', 'sk-6', 'abcdef7']) expect(out).not.toContain(secret);
    expect(out).toContain('read failed');
  });

  it('ends on cycles and very deep objects', () => {
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(redactDeep(cyclic)).toEqual({ name: 'x', self: '[circular]' });
    let deep: Record<string, unknown> = { token: 't' };
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(JSON.stringify(redactDeep(deep))).toContain('[too deep]');
  });
});

describe('log context', () => {
  it('adds the running context to every line through awaits, lets setLogContext fill it in later, and ends with it', async () => {
    const { logger, text } = capture();
    setLogContext({ requestId: 'outside' }); // no context: nothing to fill
    await withLogContext({ jobId: 'job-1' }, async () => {
      logger.info('before');
      await new Promise((r) => setTimeout(r, 5));
      setLogContext({ requestId: 'req-1' });
      logger.child({ c: 1 }).info('after');
      logger.info({ requestId: 'own' }, 'own field wins');
    });
    logger.info('outside');
    const lines = text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.msg, l.jobId, l.requestId])).toEqual([
      ['before', 'job-1', undefined],
      ['after', 'job-1', 'req-1'],
      ['own field wins', 'job-1', 'own'],
      ['outside', undefined, undefined],
    ]);
    expect(
      text()
        .split('\n')
        .every((l) => (l.match(/"requestId"/g) ?? []).length <= 1),
    ).toBe(true);
  });
});
