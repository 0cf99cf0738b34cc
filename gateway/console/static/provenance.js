// Provenance (auditors): every event about a dataset or a request, in
// ledger order, from GET /v1/audit/trace?dataset=|request=, each with its
// time, department, person, block and transaction; a Verify button per
// event (GET /v1/audit/verify/{txId}: the indexed event checked against the
// ledger's block); the hash chain over the blocks involved
// (GET /v1/audit/chain); and the dataset's lineage (GET /v1/audit/lineage/{id}).

import { get, all, download, deptName, deptLabel, deptColor } from './api.js';
import { h, s, card, table, badge, notice, apiNotice, fmtInt, fmtTime, fmtBytes, cn, short, field, select, deptChip } from './ui.js';

export async function provenance(view, params, { go }) {
  const kind = params.request ? 'request' : 'dataset';
  const id = params.request || params.dataset || '';
  const [datasets, requests] = await Promise.all([all('/v1/datasets'), all('/v1/requests').catch(() => [])]);

  const kindSel = select('kind', [['dataset', 'Dataset'], ['request', 'Request']], kind);
  const idIn = h('input', { name: 'id', value: id, required: true, list: 'provenance-ids', placeholder: 'dataset or request ID', 'data-test': 'trace-id', size: 34 });
  const list = h('datalist', { id: 'provenance-ids' });
  const fill = () => {
    list.replaceChildren(...(kindSel.value === 'dataset'
      ? datasets.map((d) => h('option', { value: d.id, text: d.title }))
      : requests.map((r) => h('option', { value: r.id, text: `${r.datasetId}: ${r.requester} → ${r.owner}` }))));
  };
  fill();
  kindSel.addEventListener('change', fill);
  const form = h('form', { class: 'toolbar' }, field('Trace a', kindSel), field('ID', idIn), list,
    h('button', { type: 'submit', class: 'primary', 'data-test': 'trace-submit', text: 'Trace' }));
  form.addEventListener('submit', (e) => { e.preventDefault(); go('provenance', { [kindSel.value]: idIn.value.trim() }); });
  view.append(form);

  if (!id) {
    view.append(card('Datasets', h('p', { class: 'hint', text: 'Choose a dataset to see its whole history, or give a request ID above.' }),
      table([
        { label: 'ID', value: (d) => h('code', { text: d.id }) },
        { label: 'Title', value: (d) => d.title },
        { label: 'Owner', value: (d) => deptChip(d.owner, deptLabel(d.owner), deptColor(d.owner)) },
        { label: 'Version', value: (d) => String(d.version), num: true },
        { label: 'Status', value: (d) => badge(d.status) },
      ], datasets, { key: (d) => d.id, onRow: (d) => go('provenance', { dataset: d.id }), empty: 'The catalog is empty.' })));
    return;
  }

  const subject = kind === 'dataset' ? datasets.find((d) => d.id === id) : requests.find((r) => r.id === id);
  let events;
  try {
    events = await all('/v1/audit/trace', { [kind]: id });
  } catch (err) {
    view.append(apiNotice(err, `Trace of ${kind} ${id}`));
    return;
  }
  view.append(subjectCard(kind, id, subject, events));

  const datasetId = kind === 'dataset' ? id : subject && subject.datasetId;
  const timeline = card(`Timeline: ${events.length} event${events.length === 1 ? '' : 's'} in ledger order`);
  timeline.append(h('div', { class: 'toolbar' },
    h('button', { type: 'button', 'data-test': 'export-csv', text: 'Export CSV', onclick: () => download('/v1/audit/export', { [kind]: id, format: 'csv' }, `trace-${kind}-${id}.csv`).catch((e) => timeline.append(apiNotice(e, 'Export'))) }),
    h('button', { type: 'button', 'data-test': 'verify-all', text: 'Verify every event', onclick: () => timeline.querySelectorAll('button[data-verify]').forEach((b) => b.click()) }),
    events.length ? chainButton(events, timeline) : null));
  timeline.append(events.length === 0 ? notice('info', 'No events.', `The ledger has nothing about ${kind} ${id}.`, 'no-events') : timelineList(events));
  view.append(await lineageCard(datasetId, datasets, go), timeline);
}

function subjectCard(kind, id, x, events) {
  const rows = [];
  if (kind === 'dataset' && x) {
    rows.push(['Title', x.title], ['Owner', `${deptName(x.owner)} (${x.owner})`], ['Share / open', `${x.shareType} / ${x.openType}`],
      ['Grade', String(x.grade)], ['Version', String(x.version)], ['Status', x.status], ['Derived from', (x.derivedFrom || []).join(', ') || '—']);
  } else if (kind === 'request' && x) {
    rows.push(['Dataset', x.datasetId], ['Requester', `${deptName(x.requester)} (${x.requester})`], ['Owner', `${deptName(x.owner)} (${x.owner})`],
      ['Status', x.status], ['Purpose', x.purpose || '—'], ['Legal basis', x.legalBasis || '—'], ['Valid until', fmtTime(x.validUntil)]);
  }
  const people = new Set(events.map((e) => e.actor));
  const blocks = events.map((e) => e.blockNumber);
  rows.push(['Events', fmtInt(events.length)], ['People involved', fmtInt(people.size)],
    ['Blocks', blocks.length ? `${fmtInt(Math.min(...blocks))} – ${fmtInt(Math.max(...blocks))}` : '—']);
  return card(`${kind === 'dataset' ? 'Dataset' : 'Request'} ${id}`, h('dl', { class: 'kv kv-cols', 'data-test': 'subject' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])));
}

// what says in a line what the event changed, from the entity it carries.
function what(e) {
  const ev = e.event || {};
  const d = ev.dataset;
  const r = ev.request;
  const dl = ev.delivery;
  const u = ev.usage;
  const c = ev.contribution;
  const co = ev.correction;
  if (d) return `v${d.version} “${d.title}” · ${d.shareType}, ${d.openType}, grade ${d.grade}${d.retireReason ? ' · reason: ' + d.retireReason : ''}`;
  if (r) return `${deptLabel(r.requester)} asks ${deptLabel(r.owner)} for ${r.datasetId} · ${r.status}${r.reason ? ' · reason: ' + r.reason : ''}${e.type === 'request.created' ? ' · purpose: ' + r.purpose : ''}`;
  if (dl) {
    if (e.type === 'delivery.rated' && dl.feedback) {
      const f = dl.feedback;
      return `rated: timeliness ${f.timeliness}, accuracy ${f.accuracy}, completeness ${f.completeness}, consistency ${f.consistency}${f.comment ? ' · “' + f.comment + '”' : ''}`;
    }
    if (e.type === 'delivery.received') return `receipt hash ${short(dl.receiptSha256, 12)} ${dl.status === 'disputed' ? '≠' : '='} delivered ${short(dl.sha256, 12)} · ${dl.status}`;
    if (e.type === 'delivery.destroyed') return `copy destroyed${dl.destroyMethod ? ' · ' + dl.destroyMethod : ''}`;
    return `${fmtInt(dl.records)} records, ${fmtBytes(dl.bytes)} via ${dl.channel || '—'} · sha256 ${short(dl.sha256, 12)}`;
  }
  if (u) return `${fmtInt(u.calls)} calls, ${fmtInt(u.records)} records used by ${deptLabel(u.consumer)}`;
  if (c) return `${fmtInt(c.records)} records, ${fmtBytes(c.bytes)} contributed by ${deptLabel(c.contributor)}`;
  if (co) return co.status === 'resolved' ? `resolved: ${co.resolution}` : `opened: ${co.description}`;
  if (ev.department) return `profile: ${ev.department.name} (${ev.department.code})`;
  if (ev.snapshot) return `scores of ${ev.id} published`;
  return e.status ? `status ${e.status}` : '';
}

function timelineList(events) {
  const ol = h('ol', { class: 'timeline', 'data-test': 'timeline' });
  for (const e of events) {
    const result = h('div', { class: 'verify-result', 'data-test': 'verify-result' });
    const btn = h('button', { type: 'button', class: 'small', 'data-verify': e.txId, text: 'Verify' });
    btn.addEventListener('click', () => verify(e.txId, btn, result));
    const dot = h('span', { class: 'tl-dot' });
    dot.style.borderColor = deptColor(e.mspId);
    ol.append(h('li', { class: 'tl-item', 'data-tx': e.txId, 'data-block': e.blockNumber, 'data-type': e.type },
      dot,
      h('div', { class: 'tl-when' }, h('div', { text: fmtTime(e.timestamp).slice(0, 10) }), h('div', { text: fmtTime(e.timestamp).slice(11) }),
        h('div', { class: 'tl-block', text: `block ${fmtInt(e.blockNumber)}` })),
      h('div', { class: 'tl-body' },
        h('div', { class: 'tl-head' }, badge(e.type, e.kind), h('span', { class: 'tl-id', text: e.id }), btn),
        h('div', { class: 'tl-what', text: what(e) }),
        h('div', { class: 'tl-who' }, 'by ', h('strong', { text: cn(e.actor) }), e.role ? ` (${e.role})` : '', ' of ', deptChip(e.mspId, deptName(e.mspId), deptColor(e.mspId))),
        h('div', { class: 'tl-tx' }, 'transaction ', h('code', { 'data-test': 'txid', text: e.txId })),
        e.payloadSha256 ? h('div', { class: 'tl-tx' }, 'event payload sha256 ', h('code', { text: e.payloadSha256 })) : null,
        result)));
  }
  return ol;
}

async function verify(txId, btn, out) {
  btn.disabled = true;
  out.replaceChildren(h('span', { class: 'muted', text: 'Checking against the ledger…' }));
  try {
    const v = await get('/v1/audit/verify/' + encodeURIComponent(txId));
    out.dataset.verified = String(!!v.verified);
    const checks = (v.checks || []).map((c) => (typeof c === 'object' && c
      ? h('li', { class: c.ok === false ? 'bad' : 'good' }, h('span', { class: 'mark', text: c.ok === false ? '✗' : '✓' }), h('strong', { text: c.name || '' }), c.detail ? ' ' + c.detail : '')
      : h('li', { text: String(c) })));
    out.replaceChildren(
      h('div', { class: v.verified ? 'verified good' : 'verified bad' }, v.verified ? '✓ Verified against the ledger' : '✗ The ledger does not confirm this record',
        v.blockNumber !== undefined ? ` (block ${fmtInt(v.blockNumber)}${v.txIndex !== undefined ? ', position ' + v.txIndex : ''})` : ''),
      checks.length ? h('details', {}, h('summary', { text: `${checks.length} checks` }), h('ul', { class: 'checks' }, checks)) : null);
  } catch (err) {
    out.dataset.verified = err.notAvailable ? 'not-available' : 'error';
    out.replaceChildren(apiNotice(err, 'Verify'));
  } finally {
    btn.disabled = false;
  }
}

function chainButton(events, into) {
  const from = Math.min(...events.map((e) => e.blockNumber));
  const to = Math.max(...events.map((e) => e.blockNumber));
  const out = h('span', { class: 'chain-result', 'data-test': 'chain-result' });
  const btn = h('button', { type: 'button', 'data-test': 'chain', text: `Check hash chain, blocks ${from}–${to}` });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    out.replaceChildren(h('span', { class: 'muted', text: ' checking…' }));
    try {
      const r = await get('/v1/audit/chain', { from, to });
      out.dataset.verified = String(!!r.verified);
      out.replaceChildren(h('span', { class: r.verified ? 'good' : 'bad', text: r.verified ? ` ✓ ${fmtInt(r.blocks ?? to - from + 1)} blocks chain correctly` : ` ✗ ${(r.failures || []).length} failures` }));
    } catch (err) {
      out.replaceChildren();
      into.append(apiNotice(err, 'Hash chain check'));
    } finally {
      btn.disabled = false;
    }
  });
  return h('span', {}, btn, out);
}

async function lineageCard(datasetId, datasets, go) {
  const c = card('Lineage');
  if (!datasetId) {
    c.append(notice('info', 'No dataset to follow.'));
    return c;
  }
  let up;
  let down;
  let source;
  try {
    const l = await get('/v1/audit/lineage/' + encodeURIComponent(datasetId));
    up = (l.upstream || []).map(node);
    down = (l.downstream || []).map(node);
    source = 'GET /v1/audit/lineage';
    if (l.truncated) c.append(notice('warn', 'Truncated.', 'The lineage is longer than the index lists.'));
  } catch (err) {
    c.append(apiNotice(err, 'Lineage', 'lineage-unavailable'));
    // Until the index serves lineage, the catalog's own declarations give it.
    ({ up, down } = fromCatalog(datasetId, datasets));
    source = 'the catalog\'s derivedFrom declarations';
  }
  const byId = new Map(datasets.map((d) => [d.id, d]));
  const label = (n) => ({ ...n, title: n.title || byId.get(n.id)?.title || '', owner: n.owner || byId.get(n.id)?.owner || '' });
  c.append(lineageGraph(up.map(label), label({ id: datasetId, depth: 0 }), down.map(label), go),
    h('p', { class: 'hint', 'data-test': 'lineage-source', text: `Upstream: what ${datasetId} was derived from; downstream: what was derived from it. Source: ${source}.` }));
  return c;
}

function node(x) {
  return typeof x === 'string' ? { id: x, depth: 1 } : { id: x.id || x.datasetId, depth: x.depth || 1, title: x.title, owner: x.owner, missing: x.missing };
}

function fromCatalog(id, datasets) {
  const byId = new Map(datasets.map((d) => [d.id, d]));
  const walk = (start, next) => {
    const seen = new Map();
    let frontier = [start];
    for (let depth = 1; frontier.length && depth < 50; depth++) {
      const nf = [];
      for (const f of frontier) {
        for (const n of next(f)) {
          if (n === id || seen.has(n)) continue;
          seen.set(n, { id: n, depth, missing: !byId.has(n) });
          nf.push(n);
        }
      }
      frontier = nf;
    }
    return [...seen.values()];
  };
  return {
    up: walk(id, (x) => byId.get(x)?.derivedFrom || []),
    down: walk(id, (x) => datasets.filter((d) => (d.derivedFrom || []).includes(x)).map((d) => d.id)),
  };
}

// lineageGraph: upstream column, the dataset, downstream column; each box
// links to that dataset's provenance.
function lineageGraph(up, me, down, go) {
  const boxW = 190;
  const boxH = 44;
  const gap = 14;
  const rows = Math.max(1, up.length, down.length);
  const width = 3 * boxW + 2 * 70;
  const height = rows * (boxH + gap) + gap + 20;
  const svg = s('svg', { class: 'chart lineage', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'lineage', 'data-test': 'lineage' });
  svg.append(s('defs', {}, s('marker', { id: 'lin-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6b7280' }))));
  const colX = [0, boxW + 70, 2 * boxW + 140];
  const colY = (n, i) => 20 + gap + i * (boxH + gap) + ((rows - n) * (boxH + gap)) / 2;
  svg.append(
    s('text', { x: colX[0] + boxW / 2, y: 14, 'text-anchor': 'middle', class: 'axis-title', text: 'upstream' }),
    s('text', { x: colX[2] + boxW / 2, y: 14, 'text-anchor': 'middle', class: 'axis-title', text: 'downstream' }));
  const meY = colY(1, 0);
  const box = (n, x, y, main) => {
    const g = s('g', { class: 'lin-box' + (main ? ' lin-main' : '') + (n.missing ? ' lin-missing' : ''), 'data-dataset': n.id, tabindex: main ? null : 0 },
      s('rect', { x, y, width: boxW, height: boxH, rx: 6 }),
      s('text', { x: x + 10, y: y + 18, class: 'lin-id', text: clip(n.id, 26) }),
      s('text', { x: x + 10, y: y + 34, class: 'lin-sub', text: clip(`${n.owner ? deptLabel(n.owner) + ' · ' : ''}${n.title || (n.missing ? 'not in the catalog' : '')}${n.depth > 1 ? ' · ' + n.depth + ' steps' : ''}`, 30) }),
      s('title', { text: `${n.id}${n.title ? ': ' + n.title : ''}` }));
    if (!main) {
      g.addEventListener('click', () => go('provenance', { dataset: n.id }));
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter') go('provenance', { dataset: n.id }); });
    }
    return g;
  };
  up.forEach((n, i) => {
    const y = colY(up.length, i);
    svg.append(s('path', { d: `M${colX[0] + boxW},${y + boxH / 2} C${colX[1] - 35},${y + boxH / 2} ${colX[0] + boxW + 35},${meY + boxH / 2} ${colX[1]},${meY + boxH / 2}`, class: 'lin-edge', 'marker-end': 'url(#lin-arrow)' }), box(n, colX[0], y));
  });
  down.forEach((n, i) => {
    const y = colY(down.length, i);
    svg.append(s('path', { d: `M${colX[1] + boxW},${meY + boxH / 2} C${colX[2] - 35},${meY + boxH / 2} ${colX[1] + boxW + 35},${y + boxH / 2} ${colX[2]},${y + boxH / 2}`, class: 'lin-edge', 'marker-end': 'url(#lin-arrow)' }), box(n, colX[2], y));
  });
  svg.append(box(me, colX[1], meY, true));
  if (!up.length) svg.append(s('text', { x: colX[0] + boxW / 2, y: meY + boxH / 2 + 4, 'text-anchor': 'middle', class: 'muted-svg', text: 'none: an original source' }));
  if (!down.length) svg.append(s('text', { x: colX[2] + boxW / 2, y: meY + boxH / 2 + 4, 'text-anchor': 'middle', class: 'muted-svg', text: 'none derived yet' }));
  return svg;
}

function clip(t, n) {
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}
