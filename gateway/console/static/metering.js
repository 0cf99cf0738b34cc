// Metering: GET /v1/metering (public within the consortium) over time, one
// stacked column per bucket (hour, day or month), a department per colour,
// for the chosen measure; and the totals per department. Rows are counted
// where the metered thing happened: use by the consumer, deliveries by the
// supplier, contributions by the contributor.

import { session, get, all, deptLabel, deptName, deptColor } from './api.js';
import { h, card, table, fmtInt, fmtBytes, field, select, deptChip, clear } from './ui.js';
import { stackedColumns } from './charts.js';

const MEASURES = [
  ['calls', 'Calls (metered uses)'],
  ['records', 'Records'],
  ['bytes', 'Bytes'],
  ['deliveries', 'Deliveries'],
  ['contributions', 'Contributions'],
];

function dayString(d) { return d.toISOString().slice(0, 10); }

function bucketStart(bucket, d) {
  const t = new Date(d);
  if (bucket === 'hour') return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours()));
  if (bucket === 'day') return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

function nextBucket(bucket, t) {
  const d = new Date(t);
  if (bucket === 'hour') d.setUTCHours(d.getUTCHours() + 1);
  else if (bucket === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else d.setUTCMonth(d.getUTCMonth() + 1);
  return d;
}

function bucketLabel(bucket, d) {
  const iso = d.toISOString();
  if (bucket === 'hour') return iso.slice(5, 13).replace('T', ' ') + 'h';
  if (bucket === 'day') return iso.slice(0, 10);
  return iso.slice(0, 7);
}

export async function metering(view, params, { go }) {
  const today = new Date();
  const bucket = ['hour', 'day', 'month'].includes(params.bucket) ? params.bucket : 'day';
  const defaultSpan = bucket === 'hour' ? 2 : bucket === 'day' ? 30 : 365;
  const toDay = /^\d{4}-\d{2}-\d{2}$/.test(params.to || '') ? params.to : dayString(today);
  const fromDay = /^\d{4}-\d{2}-\d{2}$/.test(params.from || '') ? params.from : dayString(new Date(Date.parse(toDay) - (defaultSpan - 1) * 86400000));
  let measure = MEASURES.some(([m]) => m === params.measure) ? params.measure : 'calls';

  const datasets = await all('/v1/datasets');
  const deptSel = select('department', [['', 'All departments'], ...session.departments.map((d) => [d.mspId, `${d.code || d.mspId} — ${d.name}`])], params.department || '');
  const dsIn = h('input', { name: 'dataset', value: params.dataset || '', list: 'metering-datasets', placeholder: 'any dataset', size: 22 });
  const dsList = h('datalist', { id: 'metering-datasets' }, datasets.map((d) => h('option', { value: d.id, text: d.title })));
  const bucketSel = select('bucket', [['hour', 'Hour'], ['day', 'Day'], ['month', 'Month']], bucket);
  const fromIn = h('input', { type: 'date', name: 'from', value: fromDay, required: true });
  const toIn = h('input', { type: 'date', name: 'to', value: toDay, required: true });
  const measureSel = select('measure', MEASURES, measure);
  const form = h('form', { class: 'toolbar' }, field('Department', deptSel), field('Dataset', dsIn), dsList, field('Bucket', bucketSel),
    field('From', fromIn), field('To (inclusive)', toIn), h('button', { type: 'submit', class: 'primary', text: 'Show' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('metering', { department: deptSel.value, dataset: dsIn.value.trim(), bucket: bucketSel.value, from: fromIn.value, to: toIn.value, measure });
  });
  view.append(form);

  const from = bucketStart(bucket, `${fromDay}T00:00:00Z`);
  const to = new Date(Date.parse(`${toDay}T00:00:00Z`) + 86400000);
  const q = { department: params.department, dataset: params.dataset, bucket, from: from.toISOString().replace('.000', ''), to: to.toISOString().replace('.000', '') };
  const answer = await get('/v1/metering', q);
  const rows = answer.items || [];

  const starts = [];
  for (let t = from; t < to && starts.length < 1000; t = nextBucket(bucket, t)) starts.push(t.getTime());
  const index = new Map(starts.map((t, i) => [t, i]));
  const depts = [...new Set([...session.departments.map((d) => d.mspId), ...rows.map((r) => r.department)])]
    .filter((m) => !params.department || m === params.department);

  const chartCard = card('');
  const drawChart = () => {
    clear(chartCard);
    const label = MEASURES.find(([m]) => m === measure)[1];
    const series = depts.map((m) => {
      const values = new Array(starts.length).fill(0);
      for (const r of rows) {
        if (r.department !== m) continue;
        const i = index.get(bucketStart(bucket, r.bucketStart).getTime());
        if (i !== undefined) values[i] += r[measure] || 0;
      }
      return { name: deptLabel(m), color: deptColor(m), values };
    }).filter((se) => se.values.some((v) => v > 0));
    chartCard.append(h('div', { class: 'card-head' }, h('h2', { text: `${label} per ${bucket}` }), field('Measure', measureSel)),
      series.length ? stackedColumns({ labels: starts.map((t) => bucketLabel(bucket, new Date(t))), series, yLabel: label.split(' ')[0].toLowerCase(), test: 'metering-chart', width: 1320, height: 320 })
        : h('p', { class: 'empty', 'data-test': 'metering-empty', text: `No ${measure} metered in this range.` }));
  };
  measureSel.addEventListener('change', () => {
    measure = measureSel.value;
    const p = new URLSearchParams(location.hash.split('?')[1] || '');
    p.set('measure', measure);
    history.replaceState(null, '', '#/metering?' + p.toString());
    drawChart();
  });
  drawChart();
  view.append(chartCard);

  const totals = depts.map((m) => {
    const t = { mspId: m, calls: 0, records: 0, bytes: 0, deliveries: 0, contributions: 0 };
    for (const r of rows) if (r.department === m) for (const [k] of MEASURES) t[k] += r[k] || 0;
    return t;
  });
  const sum = { mspId: 'total', calls: 0, records: 0, bytes: 0, deliveries: 0, contributions: 0 };
  for (const t of totals) for (const [k] of MEASURES) sum[k] += t[k];
  view.append(card(`Totals, ${fromDay} to ${toDay}${params.dataset ? ', dataset ' + params.dataset : ''}`, table([
    { label: 'Department', value: (t) => (t.mspId === 'total' ? h('strong', { text: 'All' }) : deptChip(t.mspId, deptName(t.mspId), deptColor(t.mspId))) },
    { label: 'Calls', value: (t) => fmtInt(t.calls), num: true, test: 'm-calls' },
    { label: 'Records', value: (t) => fmtInt(t.records), num: true, test: 'm-records' },
    { label: 'Bytes', value: (t) => fmtBytes(t.bytes), num: true, test: 'm-bytes' },
    { label: 'Deliveries', value: (t) => fmtInt(t.deliveries), num: true, test: 'm-deliveries' },
    { label: 'Contributions', value: (t) => fmtInt(t.contributions), num: true, test: 'm-contributions' },
  ], [...totals, sum], { test: 'metering-totals', key: (t) => t.mspId }),
  h('p', { class: 'hint', text: 'Use (calls, records) counts for the consumer; deliveries and their records and bytes for the supplier; contributions for the contributor. Buckets are in UTC.' })));
}
