// Data flows: the directed graph of data moving between departments, from
// the supplier (the dataset's owner) to the consumer, weighted by metered
// use. It is computed here, in the browser, from two public reads that every
// role may make: GET /v1/metering?bucket=month (usage rows are attributed to
// the consuming department and name the dataset; only usage counts calls)
// and GET /v1/datasets (the dataset's owner). Approved requests the caller
// can see (GET /v1/requests) with no metered use yet are drawn dashed.

import { session, get, all, can, deptLabel, deptName, deptColor } from './api.js';
import { h, card, table, notice, fmtInt, plural, field, currentPeriod, addMonths, deptChip } from './ui.js';
import { flowGraph } from './charts.js';

// flowEdges turns metering rows into two sets of edges: use, from a
// dataset's owner to the department that used it (only usage counts calls),
// and pooling, from a contributing department to the owner of the pool it
// added records to. The browser test computes the same from the API.
function flowEdges(rows, ownerOf) {
  const use = new Map();
  const pool = new Map();
  let unattributed = 0;
  const edge = (m, from, to) => {
    const key = from + '>' + to;
    if (!m.has(key)) m.set(key, { from, to, calls: 0, records: 0, contributions: 0, datasets: new Set(), mixed: false });
    return m.get(key);
  };
  for (const r of rows) {
    const owner = ownerOf.get(r.dataset);
    if (!owner) { unattributed += r.calls + r.contributions; continue; }
    if (owner === r.department) continue;
    if (r.calls > 0) {
      const e = edge(use, owner, r.department);
      e.calls += r.calls;
      e.records += r.records;
      e.mixed ||= r.contributions > 0; // the row's records include a contribution to that pool
      e.datasets.add(r.dataset);
    }
    if (r.contributions > 0) {
      const e = edge(pool, r.department, owner);
      e.contributions += r.contributions;
      e.records += r.records;
      e.mixed ||= r.calls > 0;
      e.datasets.add(r.dataset);
    }
  }
  const order = (a, b) => b.calls - a.calls || b.records - a.records || a.from.localeCompare(b.from) || a.to.localeCompare(b.to);
  return { edges: [...use.values()].sort(order), pools: [...pool.values()].sort(order), unattributed };
}

export async function flows(view, params, { go }) {
  const cur = currentPeriod();
  const to = /^\d{4}-\d{2}$/.test(params.to || '') ? params.to : cur;
  const from = /^\d{4}-\d{2}$/.test(params.from || '') ? params.from : addMonths(to, -11);
  const fromIn = h('input', { type: 'month', name: 'from', value: from, required: true, 'data-test': 'from' });
  const toIn = h('input', { type: 'month', name: 'to', value: to, required: true, 'data-test': 'to' });
  const form = h('form', { class: 'toolbar' }, field('From', fromIn), field('To', toIn), h('button', { type: 'submit', class: 'primary', text: 'Show' }));
  form.addEventListener('submit', (e) => { e.preventDefault(); go('flows', { from: fromIn.value, to: toIn.value }); });
  view.append(form);

  const meterParams = { bucket: 'month', from: `${from}-01T00:00:00Z`, to: `${addMonths(to, 1)}-01T00:00:00Z` };
  const [meter, datasets, requests] = await Promise.all([
    get('/v1/metering', meterParams),
    all('/v1/datasets'),
    all('/v1/requests', { status: 'approved' }).catch(() => []),
  ]);
  const ownerOf = new Map(datasets.map((d) => [d.id, d.owner]));
  const rows = meter.items || [];
  const { edges, pools, unattributed } = flowEdges(rows, ownerOf);

  const deliveries = new Map();
  for (const r of rows) {
    if (r.deliveries > 0) deliveries.set(r.department, (deliveries.get(r.department) || 0) + r.deliveries);
  }
  const used = new Set(edges.map((e) => e.from + '>' + e.to));
  const idle = new Map();
  for (const r of requests) {
    const k = r.owner + '>' + r.requester;
    if (!used.has(k)) idle.set(k, { from: r.owner, to: r.requester, n: (idle.get(k)?.n || 0) + 1 });
  }

  const deliveriesOf = (m) => {
    const n = deliveries.get(m) || 0;
    return n === 1 ? '1 delivery' : `${fmtInt(n)} deliveries`;
  };
  const nodes = session.departments.map((d) => ({
    id: d.mspId,
    label: deptLabel(d.mspId),
    title: `${deptName(d.mspId)} (${d.mspId}): ${deliveriesOf(d.mspId)} made in the period`,
    sub: deliveriesOf(d.mspId),
    size: deliveries.get(d.mspId) || 0,
    color: deptColor(d.mspId),
  }));
  const maxPool = Math.max(1, ...pools.map((e) => e.records));
  const graphEdges = [
    ...edges.map((e) => ({
      from: e.from, to: e.to, weight: e.calls, color: deptColor(e.from),
      label: plural(e.calls, 'call'),
      title: `${deptLabel(e.from)} → ${deptLabel(e.to)}: ${plural(e.calls, 'call')}, ${fmtInt(e.records)} records used, datasets ${[...e.datasets].join(', ')}`,
    })),
    ...pools.map((e) => ({
      from: e.from, to: e.to, weight: e.records, color: deptColor(e.from), dashed: '2 5', bend: 0.3, outward: true,
      width: 1.5 + 4 * Math.sqrt(e.records / maxPool), label: `${fmtInt(e.records)} rec. pooled`,
      title: `${deptLabel(e.from)} → ${deptLabel(e.to)}: ${plural(e.contributions, 'contribution')}, ${fmtInt(e.records)} records added to ${[...e.datasets].join(', ')}`,
    })),
    ...[...idle.values()].map((e) => ({ from: e.from, to: e.to, weight: 0, dashed: true, color: '#8a94a6', title: `${deptLabel(e.from)} → ${deptLabel(e.to)}: ${e.n} approved request(s), no metered use in the period` })),
  ];

  const graph = flowGraph({ nodes, edges: graphEdges, test: 'flow-graph' });
  const legend = h('div', { class: 'legend' },
    h('p', {}, 'Arrows run from the department that supplies data (the dataset\'s owner) to the department that uses it; width grows with the number of metered calls. Circles grow with the deliveries a department made.'),
    h('p', {}, 'Dotted: records a department contributed to another department\'s shared pool.'),
    h('p', {}, 'Dashed grey: an approved request ', can.audit() ? '' : 'of your department ', 'with no metered use in the period.'),
    h('p', { class: 'hint', text: `Source: GET /v1/metering (month buckets, ${from} to ${to}) and the catalog's owners.` }));
  view.append(h('div', { class: 'cols cols-graph' }, card(`Data flows, ${from} to ${to}`, graph), card('How to read it', legend)));

  view.append(card('Flows', table([
    { label: 'Supplier', value: (e) => deptChip(e.from, deptName(e.from), deptColor(e.from)) },
    { label: 'Consumer', value: (e) => deptChip(e.to, deptName(e.to), deptColor(e.to)) },
    { label: 'Datasets', value: (e) => [...e.datasets].sort().join(', ') },
    { label: 'Calls', value: (e) => fmtInt(e.calls), num: true, test: 'calls' },
    { label: 'Records used', value: (e) => fmtInt(e.records) + (e.mixed ? ' *' : ''), num: true, test: 'records' },
  ], edges, { test: 'flows', key: (e) => e.from + '>' + e.to, empty: 'No metered use in this period.' }),
  edges.some((e) => e.mixed) ? h('p', { class: 'hint', text: '* includes records the consumer contributed to the same dataset (a shared pool) in the period.' }) : null,
  unattributed ? notice('info', `${fmtInt(unattributed)} calls or contributions`, 'were on datasets not in the catalog you can see.') : null));

  view.append(card('Contributions to shared pools', table([
    { label: 'Contributor', value: (e) => deptChip(e.from, deptName(e.from), deptColor(e.from)) },
    { label: 'Pool owner', value: (e) => deptChip(e.to, deptName(e.to), deptColor(e.to)) },
    { label: 'Pools', value: (e) => [...e.datasets].sort().join(', ') },
    { label: 'Contributions', value: (e) => fmtInt(e.contributions), num: true, test: 'contributions' },
    { label: 'Records', value: (e) => fmtInt(e.records) + (e.mixed ? ' *' : ''), num: true, test: 'records' },
  ], pools, { test: 'pools', key: (e) => e.from + '>' + e.to, empty: 'No contributions in this period.' }),
  pools.some((e) => e.mixed) ? h('p', { class: 'hint', text: '* includes records the contributor also used from the same dataset in the period.' }) : null));
}
