// The import-gateway dashboard (docs/dashboard.md): one ES module, no dependencies, no network
// beyond this gateway's own JSON routes. Every value from the API is put into the page as text
// (DOM nodes, textContent, attributes set one by one): job reasons and file names come from
// callers and object stores, so nothing here ever parses data as HTML.

const KEY_STORAGE = 'igw.dashboard.key';
const REFRESH_STORAGE = 'igw.dashboard.refresh';
const REFRESH_MS = 2000;
const PAGE_SIZE = 25;
const JOBS = '/v2/vectordb/jobs/import';
const ACTIVE = new Set(['Pending', 'Importing']);
const STATES = ['Pending', 'Importing', 'Completed', 'Failed', 'Cancelled'];
const RANGES = [
  ['any', 'any time'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['custom', 'between…'],
];
const RANGE_MS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 };

/** Element properties set as properties (not attributes). */
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'max']);

/** Builds an element; string children become text nodes, never markup. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (PROPS.has(k)) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// ---- the key ---------------------------------------------------------------------------------

const getKey = () => sessionStorage.getItem(KEY_STORAGE);

function setKey(key) {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
  document.getElementById('forget').hidden = key === null;
  document.getElementById('who').textContent = key === null ? '' : 'API key in use (this tab only)';
}

const autoRefresh = () => sessionStorage.getItem(REFRESH_STORAGE) !== 'off';

// ---- the API ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  toString() {
    const http = this.status > 0 && this.status !== 200 ? `HTTP ${this.status}, ` : '';
    return this.code === -1 ? this.message : `${http}code ${this.code}: ${this.message}`;
  }
}

/** POSTs a JSON body to a job route with the key; answers `data` or throws an ApiError. */
async function api(route, body) {
  let res;
  try {
    res = await fetch(`${JOBS}/${route}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${getKey() ?? ''}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, -1, `Cannot reach the gateway (${e.message}).`);
  }
  let envelope;
  try {
    envelope = await res.json();
  } catch {
    throw new ApiError(res.status, -1, `Unexpected answer from the gateway (HTTP ${res.status}).`);
  }
  if (envelope.code !== 0) throw new ApiError(res.status, envelope.code, String(envelope.message ?? ''));
  return envelope.data;
}

/**
 * Fetches every page of a job's rejected-rows report (JSONL, `Gateway-Rejects-Next` cursor) with the
 * key, and hands it to the browser as a file download.
 */
async function downloadRejects(jobId) {
  const parts = [];
  let after = '';
  for (let page = 0; page < 1000; page++) {
    const q = new URLSearchParams({ jobId, limit: '10000', ...(after ? { after } : {}) });
    let res;
    try {
      res = await fetch(`${JOBS}/rejects?${q}`, {
        headers: { Authorization: `Bearer ${getKey() ?? ''}` },
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, -1, `Cannot reach the gateway (${e.message}).`);
    }
    if (!(res.headers.get('content-type') ?? '').includes('ndjson')) {
      const envelope = await res.json().catch(() => ({ code: -1, message: `HTTP ${res.status}` }));
      throw new ApiError(res.status, envelope.code, String(envelope.message ?? ''));
    }
    parts.push(await res.text());
    after = res.headers.get('Gateway-Rejects-Next') ?? '';
    if (!after) break;
  }
  const url = URL.createObjectURL(new Blob(parts, { type: 'application/x-ndjson' }));
  const a = h('a', { href: url, download: `${jobId}-rejected-rows.jsonl`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---- page plumbing ---------------------------------------------------------------------------

function showError(err) {
  const box = document.getElementById('error');
  box.textContent = String(err);
  box.hidden = false;
}

function clearError() {
  const box = document.getElementById('error');
  box.textContent = '';
  box.hidden = true;
}

/** A refused key ends the session: back to the key form, saying why. */
function handleError(err) {
  if (err instanceof ApiError && err.status === 401) {
    setKey(null);
    showLogin(`The gateway refused this key (${err}).`);
    return;
  }
  showError(err);
}

let generation = 0;
let timer;

/** Calls `tick` now and every REFRESH_MS while this view is shown and auto-refresh is on. */
function poll(tick) {
  const mine = ++generation;
  clearTimeout(timer);
  const run = async () => {
    if (mine !== generation) return;
    if (document.hidden && autoRefresh()) {
      // A background tab asks nothing; it catches up within REFRESH_MS of being shown again.
      timer = setTimeout(run, REFRESH_MS);
      return;
    }
    const again = await tick();
    if (mine !== generation || again === false) return;
    if (autoRefresh()) timer = setTimeout(run, REFRESH_MS);
  };
  void run();
}

function stopPolling() {
  generation++;
  clearTimeout(timer);
}

function mount(...nodes) {
  document.getElementById('main').replaceChildren(...nodes);
}

// ---- formatting ------------------------------------------------------------------------------

const fmtInt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');

function fmtBytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function fmtRate(r) {
  if (r === undefined) return '—';
  return `${r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1)} rows/s`;
}

const badge = (state) => h('span', { class: `state state-${state}`, 'data-state': state }, state);

function bar(pct, label) {
  const p = typeof pct === 'number' ? pct : 0;
  return h(
    'span',
    { class: 'bar' },
    h('progress', { max: 100, value: p, 'aria-label': label }),
    ' ',
    h('span', { class: 'pct' }, `${p}%`),
  );
}

const jobHref = (jobId) => `#/job/${encodeURIComponent(jobId)}`;

// ---- the key form ----------------------------------------------------------------------------

function showLogin(message) {
  stopPolling();
  clearError();
  if (message) showError(message);
  const input = h('input', {
    id: 'key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'igw_…',
    required: true,
  });
  const submit = async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!/^[\x21-\x7e]+$/.test(key)) {
      showError('An API key is printable ASCII without spaces.');
      return;
    }
    setKey(key);
    try {
      // Any answer but 401 means the key is known; a key limited elsewhere sees that on the list.
      await api('list', { pageSize: 1 });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        handleError(err);
        return;
      }
    }
    clearError();
    route();
  };
  mount(
    h(
      'form',
      { class: 'card login', id: 'login', onsubmit: submit },
      h('h1', {}, 'Sign in with an API key'),
      h(
        'p',
        { class: 'muted' },
        'The key stays in this browser tab (sessionStorage) and is sent as the Authorization: Bearer header ' +
          'to the gateway’s JSON routes. It needs the import:read scope, and import:write to cancel jobs.',
      ),
      h('label', { for: 'key' }, 'API key'),
      input,
      h('button', { class: 'primary', type: 'submit' }, 'Open dashboard'),
    ),
  );
  input.focus();
}

// ---- the job list ----------------------------------------------------------------------------

let lastListHash = '#/';

function listParams(query) {
  const page = Number.parseInt(query.get('page') ?? '1', 10);
  return {
    db: query.get('db') || 'default',
    collection: query.get('collection') ?? '',
    state: query.get('state') ?? '',
    range: query.get('range') ?? 'any',
    after: query.get('after') ?? '',
    before: query.get('before') ?? '',
    page: Number.isFinite(page) && page > 0 ? page : 1,
  };
}

function listHash(p) {
  const q = new URLSearchParams();
  if (p.db !== 'default') q.set('db', p.db);
  for (const k of ['collection', 'state']) if (p[k]) q.set(k, p[k]);
  if (p.range !== 'any') q.set('range', p.range);
  if (p.range === 'custom') {
    if (p.after) q.set('after', p.after);
    if (p.before) q.set('before', p.before);
  }
  if (p.page > 1) q.set('page', String(p.page));
  const s = q.toString();
  return s === '' ? '#/' : `#/?${s}`;
}

/** The list request of these filters (the time range as createdAfter/createdBefore, RFC 3339). */
function listBody(p) {
  const body = { dbName: p.db, pageSize: PAGE_SIZE, currentPage: p.page };
  if (p.collection) body.collectionName = p.collection;
  if (p.state) body.state = p.state;
  if (RANGE_MS[p.range] !== undefined) body.createdAfter = new Date(Date.now() - RANGE_MS[p.range]).toISOString();
  if (p.range === 'custom') {
    // datetime-local values are local times without a zone; Date reads them as local.
    const after = new Date(p.after);
    const before = new Date(p.before);
    if (p.after && !Number.isNaN(after.getTime())) body.createdAfter = after.toISOString();
    if (p.before && !Number.isNaN(before.getTime())) body.createdBefore = before.toISOString();
  }
  return body;
}

function showList(query) {
  const p = listParams(query);
  lastListHash = listHash(p);
  const go = (changes) => {
    location.hash = listHash({ ...p, page: 1, ...changes });
  };
  const field = (label, control) => h('label', {}, label, control);
  const collection = h('input', {
    id: 'f-collection',
    type: 'search',
    value: p.collection,
    placeholder: 'all collections',
    onchange: (e) => go({ collection: e.target.value.trim() }),
  });
  const db = h('input', {
    id: 'f-db',
    type: 'text',
    value: p.db,
    size: 10,
    onchange: (e) => go({ db: e.target.value.trim() || 'default' }),
  });
  const state = h(
    'select',
    { id: 'f-state', onchange: (e) => go({ state: e.target.value }) },
    h('option', { value: '' }, 'all states'),
    STATES.map((s) => h('option', { value: s }, s)),
  );
  const range = h(
    'select',
    { id: 'f-range', onchange: (e) => go({ range: e.target.value }) },
    RANGES.map(([v, label]) => h('option', { value: v }, label)),
  );
  state.value = p.state;
  range.value = p.range;
  const custom =
    p.range === 'custom'
      ? [
          field(
            'created after',
            h('input', {
              id: 'f-after',
              type: 'datetime-local',
              value: p.after,
              onchange: (e) => go({ after: e.target.value }),
            }),
          ),
          field(
            'created before',
            h('input', {
              id: 'f-before',
              type: 'datetime-local',
              value: p.before,
              onchange: (e) => go({ before: e.target.value }),
            }),
          ),
        ]
      : [];
  const refresh = h('input', {
    id: 'f-refresh',
    type: 'checkbox',
    checked: autoRefresh(),
    onchange: (e) => {
      sessionStorage.setItem(REFRESH_STORAGE, e.target.checked ? 'on' : 'off');
      route();
    },
  });
  const tbody = h('tbody', { id: 'jobs' });
  const summary = h('span', { id: 'count' }, 'loading…');
  const prev = h(
    'button',
    { type: 'button', id: 'prev', disabled: true, onclick: () => go({ page: p.page - 1 }) },
    '← newer',
  );
  const next = h(
    'button',
    { type: 'button', id: 'next', disabled: true, onclick: () => go({ page: p.page + 1 }) },
    'older →',
  );
  mount(
    h('h1', {}, 'Import jobs'),
    h(
      'form',
      { class: 'filters', id: 'filters', onsubmit: (e) => e.preventDefault() },
      field('database', db),
      field('collection', collection),
      field('state', state),
      field('created', range),
      custom,
      h('label', { class: 'inline' }, refresh, ' auto-refresh'),
    ),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Job', 'Collection', 'State', 'Progress', 'Created', 'Reason'].map((t) => h('th', {}, t)),
        ),
      ),
      tbody,
    ),
    h('div', { class: 'pager' }, prev, summary, next),
  );

  poll(async () => {
    try {
      const data = await api('list', listBody(p));
      clearError();
      const records = Array.isArray(data.records) ? data.records : [];
      tbody.replaceChildren(
        ...records.map((r) =>
          h(
            'tr',
            { 'data-job': r.jobId },
            h('td', { class: 'mono' }, h('a', { href: jobHref(r.jobId) }, r.jobId)),
            h('td', { class: 'name' }, r.collectionName),
            h('td', {}, badge(r.gatewayState ?? r.state)),
            h('td', {}, bar(r.progress, `progress of ${r.jobId}`)),
            h('td', { class: 'time' }, fmtTime(r.createTime)),
            h('td', { class: 'reason' }, r.reason ?? ''),
          ),
        ),
      );
      if (records.length === 0) {
        tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No jobs match these filters.')));
      }
      const count = typeof data.count === 'number' ? data.count : records.length;
      const first = count === 0 ? 0 : (p.page - 1) * PAGE_SIZE + 1;
      summary.textContent = `${fmtInt(first)}–${fmtInt((p.page - 1) * PAGE_SIZE + records.length)} of ${fmtInt(count)} jobs`;
      prev.disabled = p.page <= 1;
      next.disabled = p.page * PAGE_SIZE >= count;
    } catch (err) {
      handleError(err);
      return !(err instanceof ApiError && err.status === 401);
    }
    return true;
  });
}

// ---- one job ---------------------------------------------------------------------------------

/** Rows per second: the whole import (first start to completion, or now), from the events' times. */
function averageRate(job, { events, startTime }) {
  const started = events.find((e) => e.toState === 'Importing');
  const start = Date.parse(started?.time ?? startTime ?? '');
  if (Number.isNaN(start) || !(job.importedRows > 0)) return undefined;
  const ended = [...events].reverse().find((e) => e.toState === 'Completed');
  const end = ended ? Date.parse(ended.time) : Date.now();
  return job.importedRows / Math.max((end - start) / 1000, 0.001);
}

function showJob(jobId) {
  const back = h('a', { href: lastListHash }, '← all jobs');
  const title = h('h1', { class: 'mono', id: 'job-id' }, jobId);
  const body = h('div', { id: 'job' }, h('p', { class: 'muted' }, 'loading…'));
  mount(h('p', {}, back), title, body);
  let sample;
  let confirming = false;
  let cancelMessage = '';
  let cancelFailed = false;

  const render = (d, ev) => {
    const state = d.gatewayState ?? d.state;
    const rate = averageRate(d, ev);
    let now;
    if (state === 'Importing' && sample !== undefined && sample.rows <= d.importedRows) {
      const dt = (performance.now() - sample.t) / 1000;
      if (dt > 0 && d.importedRows > sample.rows) now = (d.importedRows - sample.rows) / dt;
    }
    sample = { t: performance.now(), rows: d.importedRows };

    const fact = (label, value, id) => [h('dt', {}, label), h('dd', id ? { id } : {}, value)];
    const actions = h('div', { class: 'actions' });
    if (ACTIVE.has(state)) {
      if (!confirming) {
        actions.append(
          h(
            'button',
            {
              type: 'button',
              id: 'cancel',
              class: 'danger',
              onclick: () => {
                confirming = true;
                render(d, ev);
              },
            },
            'Cancel job',
          ),
        );
      } else {
        actions.append(
          h('span', {}, 'Cancel this job? Rows it staged are discarded.'),
          h(
            'button',
            { type: 'button', id: 'cancel-confirm', class: 'danger', onclick: () => void doCancel() },
            'Yes, cancel',
          ),
          h(
            'button',
            {
              type: 'button',
              id: 'cancel-keep',
              onclick: () => {
                confirming = false;
                render(d, ev);
              },
            },
            'No, keep it',
          ),
        );
      }
    }
    if (typeof d.rejectedRows === 'number' && d.rejectedRows > 0) {
      actions.append(
        h(
          'button',
          {
            type: 'button',
            id: 'rejects-download',
            onclick: () => void downloadRejects(jobId).catch(handleError),
          },
          'Download rejected rows (JSONL)',
        ),
      );
    }
    if (cancelMessage) {
      actions.append(h('span', { class: cancelFailed ? 'failed' : 'muted', id: 'cancel-result' }, cancelMessage));
    }

    const files = Array.isArray(d.details) ? d.details : [];
    body.replaceChildren(
      h('div', { class: 'card' }, [
        h(
          'p',
          {},
          badge(state),
          ' ',
          state !== d.state ? h('span', { class: 'muted' }, `(Milvus state ${d.state})`) : '',
        ),
        h('div', { class: 'big', id: 'job-progress' }, bar(d.progress, 'job progress')),
        h(
          'dl',
          { class: 'facts' },
          fact('Collection', d.collectionName, 'job-collection'),
          fact('Rows', `${fmtInt(d.importedRows)} of ${fmtInt(d.totalRows)}`, 'job-rows'),
          fact(
            'Rate',
            now !== undefined ? `${fmtRate(rate)} average · ${fmtRate(now)} now` : fmtRate(rate),
            'job-rate',
          ),
          fact('Size', fmtBytes(d.fileSize)),
          fact('Created', fmtTime(d.createTime)),
          fact('Started', fmtTime(ev.startTime)),
          fact('Completed', fmtTime(d.completeTime)),
          typeof d.rejectedRows === 'number' ? fact('Rejected rows', fmtInt(d.rejectedRows), 'job-rejected') : [],
          typeof d.conflictRows === 'number' ? fact('Key conflicts', fmtInt(d.conflictRows), 'job-conflicts') : [],
          d.indexState
            ? fact('Index', d.indexReason ? `${d.indexState} — ${d.indexReason}` : d.indexState, 'job-index')
            : [],
        ),
        d.reason ? [h('h2', {}, 'Reason'), h('div', { class: 'reason-box', id: 'job-reason' }, d.reason)] : [],
        actions,
      ]),
      h('h2', {}, `Files (${files.length})`),
      h(
        'table',
        { id: 'files' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['File', 'Size', 'State', 'Progress', 'Rows', 'Reason'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          files.map((f, i) =>
            h(
              'tr',
              { 'data-file': i },
              h('td', { class: 'name mono' }, f.fileName),
              h('td', { class: 'num' }, fmtBytes(f.fileSize)),
              h('td', {}, badge(f.state)),
              h('td', {}, bar(f.progress, `progress of file ${i + 1}`)),
              h('td', { class: 'num' }, `${fmtInt(f.importedRows)} / ${fmtInt(f.totalRows)}`),
              h('td', { class: 'reason' }, f.reason ?? ''),
            ),
          ),
        ),
      ),
      ...(Array.isArray(d.phases) && d.phases.length > 0
        ? [
            h('h2', {}, 'Phases'),
            h(
              'table',
              { id: 'phases' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Phase', 'State', 'Started', 'Ended', 'Rows', 'Rows/s', 'Message'].map((t) => h('th', {}, t)),
                ),
              ),
              h(
                'tbody',
                {},
                d.phases.map((p) =>
                  h(
                    'tr',
                    { 'data-phase': p.phase },
                    h('td', {}, p.phase),
                    h('td', {}, badge(p.state)),
                    h('td', { class: 'time' }, fmtTime(p.startTime)),
                    h('td', { class: 'time' }, fmtTime(p.endTime)),
                    h('td', { class: 'num' }, fmtInt(p.rows)),
                    h('td', { class: 'num' }, typeof p.rowsPerSecond === 'number' ? fmtRate(p.rowsPerSecond) : '—'),
                    h('td', { class: 'reason' }, p.message ?? ''),
                  ),
                ),
              ),
            ),
          ]
        : []),
      h('h2', {}, 'Events'),
      h(
        'table',
        { id: 'events' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Time', 'Change', 'Message', 'By'].map((t) => h('th', {}, t)),
          ),
        ),
        h(
          'tbody',
          {},
          ev.events.map((e) =>
            h(
              'tr',
              {},
              h('td', { class: 'time' }, fmtTime(e.time)),
              h('td', {}, e.fromState ? `${e.fromState} → ${e.toState}` : e.toState),
              h('td', { class: 'reason' }, e.message),
              h('td', { class: 'mono' }, e.actor),
            ),
          ),
        ),
      ),
    );
  };

  const load = async () => {
    const [d, ev] = await Promise.all([api('describe', { jobId }), api('events', { jobId })]);
    clearError();
    render(d, ev);
    return d;
  };

  const doCancel = async () => {
    confirming = false;
    try {
      const d = await api('cancel', { jobId });
      cancelFailed = false;
      cancelMessage = `Cancel requested: the job is now ${d.gatewayState ?? d.state}.`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        handleError(err);
        return;
      }
      // Shown beside the button, where the refresh that follows does not clear it.
      cancelFailed = true;
      cancelMessage = `Cancel refused (${err}).`;
    }
    poll(tick);
  };

  const tick = async () => {
    try {
      const d = await load();
      // A job that ended changes no more: stop asking.
      return ACTIVE.has(d.gatewayState ?? d.state);
    } catch (err) {
      handleError(err);
      return !(err instanceof ApiError && err.status === 401);
    }
  };
  poll(tick);
}

// ---- routing ---------------------------------------------------------------------------------

function route() {
  if (getKey() === null) {
    showLogin();
    return;
  }
  setKey(getKey());
  const hash = location.hash.replace(/^#/, '') || '/';
  const job = /^\/job\/([^/?]+)$/.exec(hash);
  if (job) {
    let id;
    try {
      id = decodeURIComponent(job[1]);
    } catch {
      id = job[1];
    }
    showJob(id);
    return;
  }
  const q = hash.indexOf('?');
  showList(new URLSearchParams(q >= 0 ? hash.slice(q + 1) : ''));
}

document.getElementById('forget').addEventListener('click', () => {
  setKey(null);
  showLogin();
});
window.addEventListener('hashchange', () => {
  clearError();
  route();
});
route();
