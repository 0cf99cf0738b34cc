// Browser tests of the web console: Debian's headless Chromium, driven by
// playwright-core, against a real consortium (the run folder named by
// GOVSHARE_RUN: endpoints.json, credentials.json and passwords.json). It seeds a scenario
// through the REST API, signs people in with their passwords, opens every
// page, checks the figures the page shows against the API's own answers,
// clicks Verify, and keeps a screenshot of each page in GOVSHARE_SCREENSHOTS
// (default <run>/screenshots).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { loadRun, seed, api } from './seed.mjs';

const RUN = process.env.GOVSHARE_RUN;
if (!RUN) throw new Error('set GOVSHARE_RUN to the run folder that holds endpoints.json and credentials.json');
const SHOTS = process.env.GOVSHARE_SCREENSHOTS || path.join(RUN, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T = { timeout: 180_000 };

let run;
let seeded;
let context;
let userDataDir;
const problems = []; // uncaught page errors, CSP violations, requests leaving the gateway

before(async () => {
  run = loadRun(RUN);
  mkdirSync(SHOTS, { recursive: true });
  seeded = await seed(run);
  userDataDir = mkdtempSync(path.join(os.tmpdir(), 'govshare-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    // HTTPS gateways: Chromium trusts the roots in this home's NSS database
    // (scripts/browser-test.sh), never "ignore certificate errors".
    env: process.env.GOVSHARE_BROWSER_HOME ? { ...process.env, HOME: process.env.GOVSHARE_BROWSER_HOME } : process.env,
  });
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

// --- helpers ---------------------------------------------------------------

const num = (text) => Number(String(text).replace(/[,\s*]/g, ''));
const period = () => new Date().toISOString().slice(0, 7);
const addMonths = (p, n) => {
  const [y, m] = p.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1 + n, 1)).toISOString().slice(0, 7);
};

// all reads a whole list through the API, following nextCursor.
async function all(msp, role, route, params = {}) {
  const items = [];
  let cursor = '';
  do {
    const q = new URLSearchParams({ ...params, limit: '1000', ...(cursor ? { cursor } : {}) });
    const { body } = await api(run, msp, role, 'GET', `${route}?${q}`);
    items.push(...body.items);
    cursor = body.nextCursor || '';
  } while (cursor);
  return items;
}

async function newPage(msp) {
  const origin = run.gateway(msp);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Uncaught/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:')) problems.push(`request outside the gateway: ${u}`);
  });
  return page;
}

async function signIn(page, msp, role) {
  await page.goto(run.gateway(msp) + '/');
  assert.equal(new URL(page.url()).pathname, '/console/', 'GET / redirects to the console');
  await page.waitForSelector('[data-test=signin]');
  const { user, password } = run.password(msp, role);
  await page.fill('[data-test=user]', user);
  await page.fill('[data-test=password]', password);
  await page.click('[data-test=signin-submit]');
  await page.waitForSelector('main[data-page=overview][data-state=ready]');
}

// show opens a page by its address and waits until it has rendered afresh.
async function show(page, hash) {
  await page.evaluate(() => { document.getElementById('main').dataset.state = 'stale'; });
  await page.evaluate((h) => {
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = h;
  }, '#/' + hash);
  const id = hash.split('?')[0];
  await page.waitForSelector(`main[data-page=${id}][data-state=ready]`, { timeout: 60_000 });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

function noProblems() {
  assert.deepEqual(problems.splice(0), [], 'no page errors, CSP violations or outside requests');
}

async function apiOrError(msp, role, route) {
  try {
    return { ok: true, body: (await api(run, msp, role, 'GET', route)).body };
  } catch (err) {
    const m = /: (\d{3}) (.*)$/s.exec(err.message);
    if (!m) throw err;
    const body = JSON.parse(m[2]);
    return { ok: false, status: Number(m[1]), message: body.error.message, notAvailable: Number(m[1]) === 404 && /^no route/i.test(body.error.message) };
  }
}

// --- the auditor's session --------------------------------------------------

const BU = 'BureauMSP';
let auditor;

// signedInAuditor is the auditor's tab, signed in by the first test that
// needs it, so that each test also runs alone (--test-name-pattern).
async function signedInAuditor() {
  if (!auditor) {
    auditor = await newPage(BU);
    await signIn(auditor, BU, 'auditor');
  }
  return auditor;
}

test('sign-in refuses a wrong password and an unknown token, and names the person of a known one', T, async () => {
  auditor = await newPage(BU);
  await auditor.goto(run.gateway(BU) + '/');
  await auditor.evaluate(() => sessionStorage.clear());
  await auditor.reload();
  await auditor.waitForSelector('[data-test=signin]');
  await auditor.fill('[data-test=user]', run.password(BU, 'auditor').user);
  await auditor.fill('[data-test=password]', 'not-the-password');
  await auditor.click('[data-test=signin-submit]');
  await auditor.waitForSelector('.signin-error .notice');
  assert.match(await auditor.textContent('.signin-error'), /user name or the password is wrong/);
  await shot(auditor, 'signin');

  // The fallback: a long-lived token from credentials.json.
  await auditor.click('.signin-token summary');
  await auditor.fill('[data-test=token]', 'not-a-token');
  await auditor.click('[data-test=signin-submit]');
  await auditor.waitForFunction(() => /not known/.test(document.querySelector('.signin-error').textContent));
  await auditor.fill('[data-test=token]', run.token(BU, 'auditor'));
  await auditor.click('[data-test=signin-submit]');
  await auditor.waitForSelector('main[data-page=overview][data-state=ready]');
  await auditor.click('#sign-out');
  await auditor.waitForSelector('[data-test=signin]');

  await signIn(auditor, BU, 'auditor');
  const me = (await api(run, BU, 'auditor', 'GET', '/v1/me')).body;
  assert.deepEqual(me, { mspId: BU, user: 'auditor1', role: 'auditor' });
  assert.match(await auditor.textContent('[data-test=who]'), /auditor1 · auditor · .*\(BureauMSP\)/);
  const nav = await auditor.$$eval('#nav a', (as) => as.map((a) => a.dataset.nav));
  assert.deepEqual(nav, ['overview', 'leaderboard', 'flows', 'provenance', 'findings', 'metering', 'catalog']);
  noProblems();
});

test('overview: departments, datasets, requests by status and recent events agree with the API', T, async () => {
  await signedInAuditor();
  await show(auditor, 'overview');
  const depts = (await api(run, BU, 'auditor', 'GET', '/v1/departments')).body.items;
  const datasets = await all(BU, 'auditor', '/v1/datasets');
  assert.equal(num(await auditor.textContent('[data-test=stat-departments]')), depts.length);
  assert.equal(num(await auditor.textContent('[data-test=stat-datasets]')), datasets.length);
  assert.equal(await auditor.$$eval('[data-test=departments] tbody tr', (r) => r.length), depts.length);

  let total = 0;
  for (const status of ['pending', 'approved', 'rejected', 'revoked', 'expired']) {
    const n = (await all(BU, 'auditor', '/v1/requests', { status })).length;
    total += n;
    const shown = await auditor.getAttribute(`[data-test=requests-by-status] g[data-label=${status}]`, 'data-value');
    assert.equal(Number(shown), n, `requests ${status}`);
  }
  assert.ok(total >= 5, 'the seeded requests are counted');
  assert.equal(num(await auditor.textContent('[data-test=stat-requests]')), total);

  const ready = await (await fetch(run.gateway(BU) + '/readyz')).json();
  assert.ok(num(await auditor.textContent('[data-test=stat-height]')) <= ready.index.height);

  // The newest event of the consortium heads the recent events.
  const events = (await Promise.all(depts.map((d) => all(BU, 'auditor', '/v1/audit/trace', { department: d.mspId })))).flat();
  const newest = events.reduce((a, b) => (b.blockNumber > a.blockNumber || (b.blockNumber === a.blockNumber && b.txIndex > a.txIndex) ? b : a));
  const firstTx = await auditor.getAttribute('[data-test=recent] tbody tr:first-child code', 'title');
  assert.equal(firstTx, newest.txId);
  await shot(auditor, 'overview');
  noProblems();
});

test('catalog: the filters give what the API gives, and a row opens its entry', T, async () => {
  await signedInAuditor();
  await show(auditor, 'catalog');
  await auditor.selectOption('[data-test=catalog-filters] select[name=owner]', 'Dept1MSP');
  await auditor.selectOption('[data-test=catalog-filters] select[name=grade]', '2');
  await auditor.evaluate(() => { document.getElementById('main').dataset.state = 'stale'; });
  await auditor.click('[data-test=catalog-filters] button[type=submit]');
  await auditor.waitForSelector('main[data-page=catalog][data-state=ready]');
  assert.match(auditor.url(), /owner=Dept1MSP/);
  const want = await all(BU, 'auditor', '/v1/datasets', { owner: 'Dept1MSP', grade: '2' });
  assert.equal(num((await auditor.textContent('[data-test=catalog-count]')).split(' ')[0]), want.length);
  const keys = await auditor.$$eval('[data-test=catalog] tbody tr', (rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual([...keys].sort(), want.map((d) => d.id).sort());
  assert.ok(keys.includes(seeded.ids.households));

  await auditor.click(`[data-test=catalog] tr[data-key="${seeded.ids.households}"]`);
  await auditor.waitForSelector('[data-test=dataset-detail] dl');
  const detail = await auditor.textContent('[data-test=dataset-detail]');
  assert.match(detail, /Registered households/);
  assert.match(detail, /householdId, district, members/);
  await shot(auditor, 'catalog');
  noProblems();
});

test('metering: the totals and the chart agree with the API', T, async () => {
  await signedInAuditor();
  const today = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  await show(auditor, `metering?bucket=day&from=${from}&to=${today}&measure=calls`);
  const to = new Date(Date.parse(today + 'T00:00:00Z') + 86400000).toISOString().replace('.000', '');
  const rows = (await api(run, BU, 'auditor', 'GET', `/v1/metering?bucket=day&from=${from}T00:00:00Z&to=${to}`)).body.items;
  const sum = (m, k) => rows.filter((r) => m === 'total' || r.department === m).reduce((a, r) => a + r[k], 0);
  assert.ok(sum('Dept2MSP', 'calls') >= 6, 'the seeded use is metered');
  for (const m of ['Dept1MSP', 'Dept2MSP', 'Dept3MSP', 'BureauMSP', 'total']) {
    for (const k of ['calls', 'records', 'deliveries', 'contributions']) {
      const shown = num(await auditor.textContent(`[data-test=metering-totals] tr[data-key=${m}] [data-test=m-${k}]`));
      assert.equal(shown, sum(m, k), `${k} of ${m}`);
    }
  }
  const chartTotal = async () => (await auditor.$$eval('[data-test=metering-chart] g[data-total]', (gs) => gs.map((g) => Number(g.dataset.total)))).reduce((a, b) => a + b, 0);
  assert.equal(await chartTotal(), sum('total', 'calls'));
  await auditor.selectOption('select[name=measure]', 'records');
  await auditor.waitForFunction(() => location.hash.includes('measure=records'));
  assert.equal(await chartTotal(), sum('total', 'records'));
  await shot(auditor, 'metering');
  noProblems();
});

test('data flows: every edge is the metered use of one department\'s data by another', T, async () => {
  await signedInAuditor();
  await show(auditor, 'flows');
  const to = period();
  const from = addMonths(to, -11);
  const rows = (await api(run, BU, 'auditor', 'GET', `/v1/metering?bucket=month&from=${from}-01T00:00:00Z&to=${addMonths(to, 1)}-01T00:00:00Z`)).body.items;
  const owner = new Map((await all(BU, 'auditor', '/v1/datasets')).map((d) => [d.id, d.owner]));
  const want = new Map();
  const pools = new Map();
  for (const r of rows) {
    const o = owner.get(r.dataset);
    if (!o || o === r.department) continue;
    if (r.calls > 0) {
      const e = want.get(`${o}>${r.department}`) || { calls: 0, records: 0 };
      e.calls += r.calls;
      e.records += r.records;
      want.set(`${o}>${r.department}`, e);
    }
    if (r.contributions > 0) {
      const e = pools.get(`${r.department}>${o}`) || { contributions: 0, records: 0 };
      e.contributions += r.contributions;
      e.records += r.records;
      pools.set(`${r.department}>${o}`, e);
    }
  }
  assert.ok(want.has('Dept1MSP>Dept2MSP') && want.has('Dept1MSP>Dept3MSP') && want.has('Dept3MSP>Dept2MSP'), 'the seeded flows are there');
  const shown = await auditor.$$eval('[data-test=flows] tbody tr', (trs) => trs.map((tr) => ({
    key: tr.dataset.key,
    calls: tr.querySelector('[data-test=calls]').textContent,
    records: tr.querySelector('[data-test=records]').textContent,
  })));
  assert.deepEqual(new Set(shown.map((s) => s.key)), new Set(want.keys()));
  for (const s of shown) {
    assert.equal(num(s.calls), want.get(s.key).calls, `calls ${s.key}`);
    assert.equal(num(s.records), want.get(s.key).records, `records ${s.key}`);
    const [a, b] = s.key.split('>');
    const weight = await auditor.getAttribute(`[data-test=flow-graph] g.edge[data-from=${a}][data-to=${b}]`, 'data-weight');
    assert.equal(Number(weight), want.get(s.key).calls, `graph edge ${s.key}`);
  }
  assert.ok(pools.has('Dept1MSP>BureauMSP') && pools.has('Dept3MSP>BureauMSP'), 'the seeded contributions to the pool are there');
  const pooled = await auditor.$$eval('[data-test=pools] tbody tr', (trs) => trs.map((tr) => ({
    key: tr.dataset.key,
    contributions: tr.querySelector('[data-test=contributions]').textContent,
    records: tr.querySelector('[data-test=records]').textContent,
  })));
  assert.deepEqual(new Set(pooled.map((s) => s.key)), new Set(pools.keys()));
  for (const s of pooled) {
    assert.equal(num(s.contributions), pools.get(s.key).contributions, `contributions ${s.key}`);
    assert.equal(num(s.records), pools.get(s.key).records, `pooled records ${s.key}`);
  }
  assert.equal(await auditor.$$eval('[data-test=flow-graph] g.node', (n) => n.length), 4);
  await shot(auditor, 'flows');
  noProblems();
});

test('provenance: the timeline is the trace, Verify agrees with the API, lineage is shown', T, async () => {
  await signedInAuditor();
  const id = seeded.ids.households;
  await show(auditor, `provenance?dataset=${id}`);
  const trace = await all(BU, 'auditor', '/v1/audit/trace', { dataset: id });
  assert.ok(trace.length >= 9, `the seeded dataset has its events (${trace.length})`);
  const items = await auditor.$$eval('[data-test=timeline] li.tl-item', (lis) => lis.map((li) => ({ tx: li.dataset.tx, block: Number(li.dataset.block), type: li.dataset.type, text: li.textContent })));
  assert.deepEqual(items.map((i) => i.tx), trace.map((e) => e.txId), 'same events, same ledger order');
  trace.forEach((e, i) => {
    assert.equal(items[i].block, e.blockNumber);
    assert.equal(items[i].type, e.type);
    assert.ok(items[i].text.includes(e.txId), 'the transaction ID is shown');
    assert.ok(items[i].text.includes(/CN=([^,]+)/.exec(e.actor)[1]), 'the person is shown');
  });
  assert.deepEqual(items.map((i) => i.type).slice(0, 2), ['dataset.registered', 'request.created']);

  // Verify the first event and the receipt.
  for (const type of ['dataset.registered', 'delivery.received']) {
    const e = trace.find((x) => x.type === type);
    const li = `[data-test=timeline] li[data-tx="${e.txId}"]`;
    await auditor.click(`${li} button[data-verify]`);
    await auditor.waitForSelector(`${li} [data-test=verify-result][data-verified]`);
    const shown = await auditor.getAttribute(`${li} [data-test=verify-result]`, 'data-verified');
    const want = await apiOrError(BU, 'auditor', `/v1/audit/verify/${e.txId}`);
    if (want.ok) {
      assert.equal(shown, String(want.body.verified), `verify ${type}`);
      assert.equal(want.body.verified, true, 'the seeded events are on the ledger');
      assert.match(await auditor.textContent(`${li} [data-test=verify-result]`), /Verified against the ledger/);
    } else if (want.notAvailable) {
      assert.equal(shown, 'not-available');
      assert.match(await auditor.textContent(`${li} [data-test=verify-result]`), /not available yet/);
    } else {
      assert.equal(shown, 'error');
      assert.ok((await auditor.textContent(`${li} [data-test=verify-result]`)).includes(want.message));
    }
  }

  // Lineage: the benefits dataset is derived from households.
  const lineage = await apiOrError(BU, 'auditor', `/v1/audit/lineage/${id}`);
  const boxes = await auditor.$$eval('[data-test=lineage] g[data-dataset]', (gs) => gs.map((g) => g.dataset.dataset));
  if (lineage.ok) {
    const ids = [...lineage.body.upstream, ...lineage.body.downstream].map((n) => (typeof n === 'string' ? n : n.id));
    assert.deepEqual(new Set(boxes), new Set([id, ...ids]));
    assert.match(await auditor.textContent('[data-test=lineage-source]'), /audit\/lineage/);
  } else {
    assert.equal(await auditor.$$eval('[data-test=lineage-unavailable]', (n) => n.length), 1);
    if (lineage.notAvailable) assert.match(await auditor.textContent('[data-test=lineage-unavailable]'), /not available yet/);
    assert.match(await auditor.textContent('[data-test=lineage-source]'), /derivedFrom/);
  }
  assert.ok(boxes.includes(seeded.ids.benefits), 'downstream: benefits is derived from households');

  // The hash chain over the blocks of the timeline.
  const blocks = trace.map((e) => e.blockNumber);
  const [lo, hi] = [Math.min(...blocks), Math.max(...blocks)];
  const chain = await apiOrError(BU, 'auditor', `/v1/audit/chain?from=${lo}&to=${hi}`);
  await auditor.click('[data-test=chain]');
  if (chain.ok) {
    await auditor.waitForSelector('[data-test=chain-result][data-verified]');
    assert.equal(await auditor.getAttribute('[data-test=chain-result]', 'data-verified'), String(chain.body.verified));
    assert.equal(chain.body.verified, true);
  } else {
    await auditor.waitForSelector(chain.notAvailable ? '[data-test=not-available]' : '[data-test=error]');
  }
  await shot(auditor, 'provenance');

  // Export: the file the browser saves is the API's CSV.
  const res = await fetch(`${run.gateway(BU)}/v1/audit/export?dataset=${id}&format=csv`, { headers: { Authorization: 'Bearer ' + run.token(BU, 'auditor') } });
  const wantCSV = await res.text();
  if (res.ok) {
    const [download] = await Promise.all([auditor.waitForEvent('download'), auditor.click('[data-test=export-csv]')]);
    assert.equal(download.suggestedFilename(), `trace-dataset-${id}.csv`);
    const chunks = [];
    for await (const c of await download.createReadStream()) chunks.push(c);
    assert.equal(Buffer.concat(chunks).toString('utf8'), wantCSV);
    assert.ok(wantCSV.includes(trace[0].txId));
  } else {
    await auditor.click('[data-test=export-csv]');
    await auditor.waitForSelector('[data-test=not-available], [data-test=error]');
  }

  // A request's trace too.
  await show(auditor, `provenance?request=${seeded.requests.residents}`);
  const rq = await all(BU, 'auditor', '/v1/audit/trace', { request: seeded.requests.residents });
  assert.equal(await auditor.$$eval('[data-test=timeline] li.tl-item', (l) => l.length), rq.length);
  assert.ok(rq.some((e) => e.type === 'correction.resolved'), 'the correction is part of the request');
  noProblems();
});

test('findings: the page lists the API\'s findings, and a finding opens its evidence', T, async () => {
  await signedInAuditor();
  await show(auditor, 'findings');
  const items = await all(BU, 'auditor', '/v1/audit/findings');
  assert.equal(await auditor.textContent('[data-test=findings-total]'), items.length.toLocaleString('en-US'));
  assert.equal(await auditor.textContent('[data-test=findings-open]'), items.filter((f) => f.state === 'open').length.toLocaleString('en-US'));
  const rows = await auditor.$$eval('[data-test=findings] tbody tr', (trs) => trs.map((tr) => tr.dataset.key));
  assert.deepEqual(rows, items.map((f) => f.id), 'the rows are the API\'s findings, in its order');
  if (items.length > 0) {
    const f = items.find((x) => x.state === 'closed') || items[0];
    await auditor.click(`[data-test=findings] tbody tr[data-key="${f.id}"]`);
    await auditor.waitForSelector('main[data-page=findings][data-state=ready] [data-test=finding-evidence]');
    const ev = await auditor.$$eval('[data-test=finding-evidence] tbody tr', (trs) => trs.length);
    assert.equal(ev, f.evidence.length + (f.closedBy ? 1 : 0));
    assert.match(await auditor.textContent('[data-test=finding-detail]'), new RegExp(f.state === 'open' ? 'Open' : 'Closed'));
    if (f.requestId) assert.ok(await auditor.$(`a[href="#/provenance?request=${encodeURIComponent(f.requestId)}"]`), 'the provenance link');
  } else {
    await auditor.waitForSelector('p.empty');
  }
  await shot(auditor, 'findings');
  // A filtered view is the API's filtered answer.
  await show(auditor, 'findings?state=open&kind=receipt-overdue');
  const open = await all(BU, 'auditor', '/v1/audit/findings', { state: 'open', kind: 'receipt-overdue' });
  assert.equal(await auditor.textContent('[data-test=findings-total]'), open.length.toLocaleString('en-US'));
  noProblems();
});

// --- the evaluator ----------------------------------------------------------

test('leaderboard: ranking, breakdowns and trend agree with the API', T, async () => {
  const page = await newPage(BU);
  await signIn(page, BU, 'evaluator');
  const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.nav));
  assert.ok(nav.includes('leaderboard') && !nav.includes('provenance'), `evaluator's pages: ${nav}`);
  const p = period();
  await show(page, `leaderboard?period=${p}`);
  const want = await apiOrError(BU, 'evaluator', `/v1/scores?period=${p}`);
  if (want.ok) {
    const items = want.body.items;
    assert.ok(items.length > 0);
    const rows = await page.$$eval('[data-test=ranking] tbody tr', (trs) => trs.map((tr) => ({
      msp: tr.dataset.key, rank: tr.querySelector('[data-test=rank]').textContent, score: tr.querySelector('[data-test=score]').textContent,
    })));
    assert.deepEqual(rows.map((r) => r.msp), [...items].sort((a, b) => a.rank - b.rank).map((i) => i.mspId));
    for (const r of rows) {
      const it = items.find((i) => i.mspId === r.msp);
      assert.equal(Number(r.rank), it.rank);
      assert.equal(Number(r.score), Math.round(it.score * 100) / 100);
      // The chart's bars are the breakdown's indicators.
      const bars = await page.$$eval(`[data-test="breakdown-${r.msp}"] g[data-value]`, (gs) => gs.map((g) => Number(g.dataset.value)));
      const normed = Object.keys(it.breakdown).filter((k) => !k.endsWith('.norm') && (k + '.norm') in it.breakdown);
      assert.equal(bars.length, normed.length || Object.keys(it.breakdown).length, `breakdown bars of ${r.msp}`);
      if (normed.length) assert.deepEqual([...bars].sort(), normed.map((k) => it.breakdown[k + '.norm']).sort());
    }
    assert.match(await page.textContent('[data-test=scores-meta]'), new RegExp(`block ${want.body.asOfBlock.toLocaleString('en-US')}`));
    assert.equal(await page.$$eval('[data-test=trend] g[data-series]', (g) => g.length) > 0, true);
  } else if (want.notAvailable) {
    await page.waitForSelector('[data-test=not-available]');
  } else {
    assert.ok((await page.textContent('[data-test=scores-error]')).includes(want.message));
  }
  // The snapshot card: this month is not over, so it is not published.
  const none = await apiOrError(BU, 'evaluator', `/v1/scores/snapshots/${p}`);
  assert.equal(none.ok, false);
  await page.waitForSelector('[data-test=snapshot-none]');
  await shot(page, 'leaderboard');
  // A published past period (the integration tests publish some): official
  // or not, matched by k of n, each department's attestation.
  for (const past of [1, 2, 3].map((n) => addMonths(p, -n))) {
    const snap = await apiOrError(BU, 'evaluator', `/v1/scores/snapshots/${past}`);
    if (!snap.ok) continue;
    await show(page, `leaderboard?period=${past}`);
    const verdict = await page.waitForSelector('[data-test=snapshot]');
    assert.equal(await verdict.getAttribute('data-official'), String(snap.body.official));
    assert.equal(await page.textContent('[data-test=snapshot-matched]'),
      `matched by ${snap.body.matchedBy.length} of ${snap.body.departments.length}`);
    assert.equal(await page.textContent('[data-test=snapshot-summary]'), snap.body.summary);
    const rows = await page.$$eval('[data-test=attestations] tbody tr', (trs) => trs.map((tr) => ({
      msp: tr.dataset.key, att: tr.querySelector('[data-test=attestation]').textContent,
    })));
    assert.deepEqual(rows.map((r) => r.msp), snap.body.departments);
    for (const r of rows) {
      const a = snap.body.attestations.find((x) => x.mspId === r.msp);
      assert.equal(r.att, !a ? 'not attested yet' : a.matched ? 'matched' : 'disagrees');
    }
    await shot(page, `leaderboard-snapshot-${past}`);
  }
  await page.close();
  noProblems();
});

// --- a department's operator --------------------------------------------------

test('an operator sees their department\'s requests and not the evaluators\' or auditors\' pages', T, async () => {
  const page = await newPage('Dept1MSP');
  await signIn(page, 'Dept1MSP', 'operator');
  const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.dataset.nav));
  assert.deepEqual(nav, ['overview', 'flows', 'metering', 'catalog']);
  const mine = await all('Dept1MSP', 'operator', '/v1/requests');
  assert.ok(mine.every((r) => r.owner === 'Dept1MSP' || r.requester === 'Dept1MSP'));
  assert.equal(num(await page.textContent('[data-test=stat-requests]')), mine.length);
  await shot(page, 'overview-operator');

  await show(page, 'leaderboard');
  assert.match(await page.textContent('[data-test=role-denied]'), /needs the role evaluator or auditor/);
  await show(page, 'provenance');
  assert.match(await page.textContent('[data-test=role-denied]'), /auditor/);

  await page.click('#sign-out');
  await page.waitForSelector('[data-test=signin]');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('govshare.token')), null, 'signing out forgets the token');
  await page.close();
  noProblems();
});
