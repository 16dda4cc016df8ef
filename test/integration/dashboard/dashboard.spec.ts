import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  REPO_ROOT,
  startTestGateway,
  startTestWorker,
  type TestGateway,
  type TestWorker,
  uniqueName,
} from '@gw/testing';
import { createExampleCollection, EXAMPLES } from '../cli/helpers';

const CHROMIUM = '/usr/bin/chromium';
/**
 * Screenshots are always taken; they replace the committed ones in docs/screenshots only with
 * UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the checkout clean.
 */
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? resolve(REPO_ROOT, 'docs/screenshots')
    : join(tmpdir(), `igw-dashboard-screenshots-${process.pid}`);
const V2 = '/v2/vectordb/jobs/import';
/** A file name a caller controls: markup that would run a script if the page parsed it as HTML. */
const HOSTILE = `<img src=x onerror="window.__pwned=1">&amp;<b>bold</b>.parquet`;

let gw: TestGateway;
let worker: TestWorker;
let key: string;
let files: Server;
let filesUrl: string;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
const pageErrors: string[] = [];

/** `products.jsonl` with row 3's vector one value short: a row the schema refuses. */
function withBadRow(): Buffer {
  const lines = readFileSync(join(EXAMPLES, 'products.jsonl'), 'utf8').trimEnd().split('\n');
  const row = JSON.parse(lines[2]!) as { vector: number[] };
  row.vector = row.vector.slice(1);
  lines[2] = JSON.stringify(row);
  return Buffer.from(lines.join('\n') + '\n');
}

/** Serves the example files; `/hang/…` accepts and never answers (a job that stays Importing). */
function startFileServer(): Promise<Server> {
  const bad = withBadRow();
  const srv = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.startsWith('/hang/')) return; // left open until the server closes
    if (path === '/bad/products.jsonl') {
      res.writeHead(200, { 'Content-Length': String(bad.length), ETag: '"bad"' });
      res.end(req.method === 'HEAD' ? undefined : bad);
      return;
    }
    const file = resolve(EXAMPLES, `.${path}`);
    if (!file.startsWith(EXAMPLES) || !/\.(parquet|jsonl)$/.test(file) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(range ? 206 : 200, {
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ETag: `"${size}"`,
      'Last-Modified': new Date(0).toUTCString(),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok(srv)));
}

async function createJob(collection: string, url: string, options?: Record<string, string>): Promise<string> {
  const res = await call(gw, 'POST', `${V2}/create`, {
    key,
    body: { collectionName: collection, objectUrls: [[url]], ...(options === undefined ? {} : { options }) },
  });
  expect(res.body.code, res.text).toBe(0);
  return (res.body.data as { jobId: string }).jobId;
}

async function describeJob(jobId: string): Promise<{ gatewayState: string; reason: string }> {
  const res = await call(gw, 'POST', `${V2}/describe`, { key, body: { jobId } });
  return res.body.data as { gatewayState: string; reason: string };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) {
      const shown =
        page === undefined
          ? ''
          : await page
              .locator('body')
              .innerText()
              .catch(() => '');
      throw new Error(`timed out waiting for ${what}; the page shows:\n${shown}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rowsOf = (p: Page) => p.locator('#jobs tr[data-job]').evaluateAll((trs) => trs.map((t) => t.dataset.job));

async function shot(name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

async function signIn(withKey: string): Promise<void> {
  await page.goto(`${gw.url}/ui`);
  await page.locator('#key').fill(withKey);
  await page.locator('#login button[type=submit]').click();
}

describe('dashboard at /ui in headless Chromium', () => {
  let done: string; // a Completed job of `products`
  let hanging: string; // an Importing job of `slow`
  let products: string;
  let slow: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: the dashboard tests drive a real browser. Install it with \`apt-get install chromium\`.`,
      );
    }
    // The hanging job must stay Importing for the whole file, however slow the machine: no storage timeout.
    gw = await startTestGateway({ STORAGE_REQUEST_TIMEOUT_MS: '600000' });
    worker = await startTestWorker(gw.config);
    key = await gw.apiKey(['admin']);
    files = await startFileServer();
    filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
    products = uniqueName('ui');
    slow = uniqueName('ui_slow');
    await createExampleCollection(gw, key, products);
    await createExampleCollection(gw, key, slow);
    done = await createJob(products, `${filesUrl}/products.parquet`);
    hanging = await createJob(slow, `${filesUrl}/hang/products.parquet`);
    await waitFor('the first import to complete', async () => (await describeJob(done)).gatewayState === 'Completed');
    await waitFor('the hanging job to start', async () => (await describeJob(hanging)).gatewayState === 'Importing');

    userDataDir = mkdtempSync(join(tmpdir(), 'igw-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1100, height: 640 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    if (process.env.UPDATE_SCREENSHOTS !== '1') rmSync(SCREENSHOTS, { recursive: true, force: true });
    files?.closeAllConnections();
    files?.close();
    await worker?.close();
    await gw?.close();
  });

  it('serves the page without a key, with a CSP that allows only its own files', async () => {
    for (const [path, type] of [
      ['/ui', 'text/html'],
      ['/ui/', 'text/html'],
      ['/ui/app.js', 'text/javascript'],
      ['/ui/app.css', 'text/css'],
    ] as const) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    }
    expect((await fetch(`${gw.url}/ui/secret.txt`)).status).toBe(404);
    expect((await fetch(`${gw.url}/ui/..%2Fui.controller.ts`)).status).toBe(404);
  });

  it('shows an error for a wrong key and asks again, keeping nothing', async () => {
    await signIn('igw_not_a_real_key');
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe(
      "The gateway refused this key (HTTP 401, code 1800: user hasn't authenticated).",
    );
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shot('dashboard-wrong-key');
  });

  it('lists jobs once the key is entered and filters them by collection, state and time', async () => {
    await signIn(key);
    await page.locator(`#jobs tr[data-job="${hanging}"]`).waitFor();
    expect(await page.evaluate("sessionStorage.getItem('igw.dashboard.key')")).not.toBeNull();
    expect(await rowsOf(page)).toEqual([hanging, done]); // newest first
    expect(await page.locator(`#jobs tr[data-job="${done}"] .state`).textContent()).toBe('Completed');
    expect(await page.locator('#count').textContent()).toBe('1–2 of 2 jobs');
    await shot('dashboard-jobs');

    await page.locator('#f-collection').fill(products);
    await page.locator('#f-collection').press('Enter');
    await waitFor('the collection filter', async () => JSON.stringify(await rowsOf(page)) === JSON.stringify([done]));
    expect(page.url()).toContain(`collection=${products}`);

    await page.locator('#f-collection').fill('');
    await page.locator('#f-collection').press('Enter');
    await page.locator('#f-state').selectOption('Importing');
    await waitFor('the state filter', async () => JSON.stringify(await rowsOf(page)) === JSON.stringify([hanging]));

    await page.locator('#f-state').selectOption('');
    await page.locator('#f-range').selectOption('1h');
    await waitFor('the last-hour filter', async () => (await rowsOf(page)).length === 2);
    await page.locator('#f-range').selectOption('custom');
    await page.locator('#f-after').fill('2099-01-01T00:00');
    await page.locator('#f-after').dispatchEvent('change');
    await waitFor('an empty time range', async () => (await page.locator('#count').textContent()) === '0–0 of 0 jobs');
    expect(await page.locator('#jobs').textContent()).toBe('No jobs match these filters.');
    await page.locator('#f-range').selectOption('any');
    await waitFor('all jobs again', async () => (await rowsOf(page)).length === 2);
  });

  it('opens a job from the list and follows its progress to 100 % with rows/s, files and events', async () => {
    // A collection of its own: the same rows again into `products` would repeat its primary keys.
    const fresh = uniqueName('ui');
    await createExampleCollection(gw, key, fresh);
    const jobId = await createJob(fresh, `${filesUrl}/products.jsonl`);
    await page.goto(`${gw.url}/ui#/`);
    // auto-refresh brings the new job into the list
    await page.locator(`#jobs tr[data-job="${jobId}"] a`).click();
    await page.locator('#job-id').waitFor();
    expect(page.url()).toContain(`#/job/${jobId}`);
    await waitFor(
      'progress 100 %',
      async () => (await page.locator('#job-progress .pct').textContent()) === '100%',
      60_000,
    );
    expect(await page.locator('#job .state').first().textContent()).toBe('Completed');
    expect(await page.locator('#job-rows').textContent()).toBe('4,000 of 4,000');
    expect(await page.locator('#job-rate').textContent()).toMatch(/^[\d,.]+ rows\/s$/);
    expect(await page.locator('#files tbody tr').count()).toBe(1);
    expect(await page.locator('#files tbody tr td').first().textContent()).toBe(`${filesUrl}/products.jsonl`);
    expect(await page.locator('#files progress').evaluate((p) => (p as unknown as { value: number }).value)).toBe(100);
    const changes = await page.locator('#events tbody tr td:nth-child(2)').allTextContents();
    expect(changes).toEqual(['Pending', 'Pending → Importing', 'Importing → Completed']);
    expect(await page.locator('#cancel').count()).toBe(0); // nothing to cancel
    await shot('dashboard-job');
  });

  it('shows the phase timeline and downloads the rejected-rows report of a keep-going job', async () => {
    const fresh = uniqueName('ui_rej');
    await createExampleCollection(gw, key, fresh);
    const jobId = await createJob(fresh, `${filesUrl}/bad/products.jsonl`, { error_mode: 'continue' });
    await page.goto(`${gw.url}/ui#/job/${jobId}`);
    await waitFor('the job to complete', async () => (await describeJob(jobId)).gatewayState === 'Completed', 60_000);
    await waitFor('the rejected count', async () => (await page.locator('#job-rejected').textContent()) === '1');
    expect(await page.locator('#job-rows').textContent()).toBe('3,999 of 3,999');
    const phases = await page.locator('#phases tbody tr td:first-child').allTextContents();
    expect(phases.slice(0, 2)).toEqual(['listing', 'reading']);
    expect(phases).toContain('publishing');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#rejects-download').click()]);
    expect(download.suggestedFilename()).toBe(`${jobId}-rejected-rows.jsonl`);
    const lines = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ file: `${filesUrl}/bad/products.jsonl`, row: 3, field: 'vector' });
    await shot('dashboard-rejects');
  });

  it('cancels an importing job from its page', async () => {
    await page.goto(`${gw.url}/ui#/job/${hanging}`);
    await page.locator('#cancel').click();
    await page.locator('#cancel-confirm').click();
    await waitFor(
      'the Cancelled badge',
      async () => (await page.locator('#job .state').first().textContent()) === 'Cancelled',
    );
    expect(await page.locator('#cancel-result').textContent()).toBe('Cancel requested: the job is now Cancelled.');
    await page.locator('#job-reason').waitFor();
    expect(await page.locator('#job-reason').textContent()).toBe('cancelled by request');
    expect((await describeJob(hanging)).gatewayState).toBe('Cancelled');
    expect(await page.locator('#cancel').count()).toBe(0);
    await shot('dashboard-cancelled');
  });

  it('shows why a cancel was refused (a read-only key)', async () => {
    const reader = await gw.apiKey(['import:read']);
    const other = await createJob(slow, `${filesUrl}/hang/other.parquet`);
    await page.evaluate(`sessionStorage.setItem('igw.dashboard.key', ${JSON.stringify(reader)})`);
    await page.goto(`${gw.url}/ui#/job/${other}`);
    await page.locator('#cancel').click();
    await page.locator('#cancel-confirm').click();
    await page.locator('#cancel-result').waitFor();
    expect(await page.locator('#cancel-result').textContent()).toBe(
      'Cancel refused (HTTP 403, code 1401: privilege not permitted: requires import:write).',
    );
    expect(['Pending', 'Importing']).toContain((await describeJob(other)).gatewayState);
    await call(gw, 'POST', `${V2}/cancel`, { key, body: { jobId: other } });
    await page.evaluate(`sessionStorage.setItem('igw.dashboard.key', ${JSON.stringify(key)})`);
  });

  it('renders a hostile file name and reason as text, running nothing', async () => {
    const jobId = await createJob(products, `${filesUrl}/missing/${HOSTILE}`);
    await waitFor('the job to fail', async () => (await describeJob(jobId)).gatewayState === 'Failed');
    // The worker's reason names the URL percent-encoded; a reason is still caller-influenced text
    // (storage and parser messages quote what they were given), so one is planted verbatim.
    expect((await describeJob(jobId)).reason).toContain('/missing/%3Cimg%20src=x');
    const reason = `object not found: ${HOSTILE}`;
    await gw.db.query(`UPDATE import_jobs SET reason = $2 WHERE job_id = $1`, [jobId, reason]);
    await page.goto(`${gw.url}/ui#/job/${jobId}`);
    await page.locator('#job-reason').waitFor();
    expect(await page.locator('#job-reason').textContent()).toBe(reason);
    expect(await page.locator('#files tbody td.name').textContent()).toBe(`${filesUrl}/missing/${HOSTILE}`);
    expect(await page.locator('main img, main b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    await shot('dashboard-hostile');

    await page.goto(`${gw.url}/ui#/?state=Failed`);
    await page.locator(`#jobs tr[data-job="${jobId}"]`).waitFor();
    expect(await page.locator(`#jobs tr[data-job="${jobId}"] td.reason`).textContent()).toBe(reason);
    expect(await page.locator('main img, main b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
  });

  it('raised no script error in the page all along', () => {
    expect(pageErrors).toEqual([]);
  });
});
