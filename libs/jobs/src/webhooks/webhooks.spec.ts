import { describe, expect, it } from 'vitest';
import { loadConfig } from '@gw/config';
import { signWebhook, verifyWebhookSignature } from './webhook-signature';
import { redactWebhookUrl, webhookTargets } from './webhook-targets';
import { webhooksField } from './webhooks-field';

const KEY = 'a'.repeat(64);
const strict = loadConfig({ GATEWAY_SECRET_KEY: KEY, WEBHOOK_URL: 'https://ops.example.com/all?token=s3cr3t' });

describe('webhook targets at create', () => {
  it('snapshots the job URL and the global WEBHOOK_URL', () => {
    expect(webhookTargets('https://hooks.example.com/a', strict)).toEqual([
      { target: 'job', url: 'https://hooks.example.com/a' },
      { target: 'global', url: 'https://ops.example.com/all?token=s3cr3t' },
    ]);
    expect(webhookTargets(undefined, loadConfig({ GATEWAY_SECRET_KEY: KEY }))).toEqual([]);
  });

  it.each([
    ['http://hooks.example.com/a', 'options.webhook_url must be an https URL (plain http needs STORAGE_ALLOW_HTTP)'],
    ['https://169.254.169.254/latest', 'options.webhook_url host is not allowed: 169.254.169.254'],
    ['https://10.0.0.7/hook', 'options.webhook_url host is not allowed: 10.0.0.7'],
    ['https://[::ffff:127.0.0.1]/hook', 'options.webhook_url host is not allowed: [::ffff:7f00:1]'],
    ['https://localhost:8080/hook', 'options.webhook_url host is not allowed: localhost'],
    ['https://metadata.google.internal/x', 'options.webhook_url host is not allowed: metadata.google.internal'],
  ])('refuses %s at create (1100)', (url, message) => {
    expect(() => webhookTargets(url, strict)).toThrow(`invalid parameter: ${message}`);
  });

  it('allows loopback receivers only where storage allows them (tests, on-premises)', () => {
    const open = loadConfig({
      GATEWAY_SECRET_KEY: KEY,
      STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
      STORAGE_ALLOW_HTTP: 'true',
    });
    expect(webhookTargets('http://127.0.0.1:9999/hook', open)).toEqual([
      { target: 'job', url: 'http://127.0.0.1:9999/hook' },
    ]);
    // Metadata stays refused even then, as for storage.
    expect(() => webhookTargets('http://169.254.169.254/', open)).toThrow(/host is not allowed: 169\.254\.169\.254/);
  });

  it('shows URLs without credentials, query or fragment', () => {
    expect(redactWebhookUrl('https://u:p@hooks.example.com:8443/a/b?token=x#f')).toBe(
      'https://hooks.example.com:8443/a/b?…',
    );
    expect(redactWebhookUrl('https://hooks.example.com/a')).toBe('https://hooks.example.com/a');
  });
});

describe('webhook signature', () => {
  it('signs t.body with HMAC-SHA256 and verifies only the same body, secret and a recent time', () => {
    const body = '{"jobId":"j1","state":"Completed"}';
    const header = signWebhook('whsec-0123456789abcdef', body, 1_800_000_000);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('whsec-0123456789abcdef', body, header, 1_800_000_010)).toBe(true);
    expect(verifyWebhookSignature('whsec-0123456789abcdef', body + ' ', header, 1_800_000_010)).toBe(false);
    expect(verifyWebhookSignature('whsec-other-secret-xx', body, header, 1_800_000_010)).toBe(false);
    expect(verifyWebhookSignature('whsec-0123456789abcdef', body, header, 1_800_000_000 + 301)).toBe(false);
  });
});

describe('describe webhooks field', () => {
  const request = { webhooks: [{ target: 'job', url: 'https://hooks.example.com/a?token=x' }] };
  it('lists targets as Waiting while the job runs, with the URL redacted', () => {
    expect(webhooksField({ job: { state: 'Importing', request }, webhooks: [] })).toEqual({
      webhooks: [
        {
          target: 'job',
          url: 'https://hooks.example.com/a?…',
          state: 'Waiting',
          attempts: 0,
          lastStatus: null,
          lastError: '',
          deliverTime: '',
        },
      ],
    });
  });

  it('is absent for jobs without targets and in the body a webhook carries', () => {
    expect(webhooksField({ job: { state: 'Completed', request: {} }, webhooks: [] })).toEqual({});
    expect(webhooksField({ job: { state: 'Importing', request } })).toEqual({});
  });
});
