// Catalog: GET /v1/datasets with the API's filters (owner, shareType, grade)
// plus two the page applies itself (status, and a text search over ID and
// title); a row opens the entry (GET /v1/datasets/{id}) and, for an auditor,
// links to its provenance.

import { session, get, all, can, deptLabel, deptName, deptColor } from './api.js';
import { h, card, table, badge, notice, apiNotice, fmtTime, cn, field, select, deptChip, clear } from './ui.js';

const GRADES = { 1: 'public', 2: 'internal', 3: 'sensitive', 4: 'core' };

export async function catalog(view, params, { go }) {
  const ownerSel = select('owner', [['', 'All owners'], ...session.departments.map((d) => [d.mspId, `${d.code || d.mspId} — ${d.name}`])], params.owner || '');
  const shareSel = select('shareType', [['', 'Any'], ['unconditional', 'Unconditional'], ['conditional', 'Conditional'], ['none', 'Not shared']], params.shareType || '');
  const gradeSel = select('grade', [['', 'Any'], ...[1, 2, 3, 4].map((g) => [String(g), `${g} — ${GRADES[g]}`])], params.grade || '');
  const statusSel = select('status', [['', 'Any'], ['active', 'Active'], ['retired', 'Retired']], params.status || '');
  const textIn = h('input', { type: 'search', name: 'q', value: params.q || '', placeholder: 'ID or title', size: 18 });
  const form = h('form', { class: 'toolbar', 'data-test': 'catalog-filters' }, field('Owner', ownerSel), field('Share type', shareSel), field('Grade', gradeSel),
    field('Status', statusSel), field('Search', textIn), h('button', { type: 'submit', class: 'primary', text: 'Filter' }),
    h('button', { type: 'button', text: 'Clear', onclick: () => go('catalog', {}) }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('catalog', { owner: ownerSel.value, shareType: shareSel.value, grade: gradeSel.value, status: statusSel.value, q: textIn.value.trim() });
  });
  view.append(form);

  let items = await all('/v1/datasets', { owner: params.owner, shareType: params.shareType, grade: params.grade });
  if (params.status) items = items.filter((d) => d.status === params.status);
  if (params.q) {
    const q = params.q.toLowerCase();
    items = items.filter((d) => d.id.toLowerCase().includes(q) || (d.title || '').toLowerCase().includes(q));
  }
  items.sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)) || a.id.localeCompare(b.id));

  const detail = h('div', { class: 'detail', 'data-test': 'dataset-detail' });
  const list = card('',
    h('p', { class: 'count', 'data-test': 'catalog-count', text: `${items.length} dataset${items.length === 1 ? '' : 's'}` }),
    table([
      { label: 'ID', value: (d) => h('code', { text: d.id }) },
      { label: 'Title', value: (d) => d.title },
      { label: 'Owner', value: (d) => deptChip(d.owner, deptLabel(d.owner), deptColor(d.owner)) },
      { label: 'Share / open', value: (d) => h('span', { class: 'badges' }, badge(d.shareType), badge(d.openType)) },
      { label: 'Grade', value: (d) => badge(`${d.grade} ${GRADES[d.grade] || ''}`.trim(), 'grade' + d.grade) },
      { label: 'Ver.', value: (d) => String(d.version), num: true },
      { label: 'Status', value: (d) => badge(d.status) },
      { label: 'Derived from', value: (d) => (d.derivedFrom || []).join(', ') || '—' },
      { label: 'Updated', value: (d) => h('span', { class: 'nowrap', title: fmtTime(d.updatedAt), text: fmtTime(d.updatedAt).slice(0, 10) }) },
    ], items, { test: 'catalog', key: (d) => d.id, onRow: (d) => open(d.id, detail, go), empty: 'No dataset matches these filters.' }));
  view.append(h('div', { class: 'cols cols-catalog' }, list, detail));
  if (params.open) await open(params.open, detail, go);
  else detail.append(card('Entry', notice('info', 'Choose a dataset to see its entry.')));
}

async function open(id, into, go) {
  clear(into);
  let d;
  try {
    d = await get('/v1/datasets/' + encodeURIComponent(id));
  } catch (err) {
    into.append(card('Entry', apiNotice(err, `Dataset ${id}`)));
    return;
  }
  const kv = [
    ['ID', d.id], ['Title', d.title], ['Description', d.description || '—'], ['Owner', `${deptName(d.owner)} (${d.owner})`],
    ['Fields', (d.fields || []).join(', ') || '—'], ['Schema hash', d.schemaHash || '—'], ['Update frequency', d.updateFrequency],
    ['Share / open', `${d.shareType} / ${d.openType}`], ['Grade', `${d.grade} (${GRADES[d.grade] || '?'})`], ['Version', String(d.version)],
    ['Status', d.status + (d.retireReason ? ` — ${d.retireReason}` : '')], ['Derived from', (d.derivedFrom || []).join(', ') || '—'],
    ['Registered', `${fmtTime(d.createdAt)} by ${cn(d.createdBy && d.createdBy.subject)}`],
    ['Last change', `${fmtTime(d.updatedAt)} by ${cn(d.updatedBy && d.updatedBy.subject)}`],
  ];
  into.append(card(`Entry: ${d.title}`,
    h('dl', { class: 'kv' }, kv.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
    can.audit() ? h('button', { type: 'button', class: 'primary', 'data-test': 'open-provenance', text: 'Trace its provenance', onclick: () => go('provenance', { dataset: d.id }) }) : null));
}
