// Findings (auditors): the early-warning watch's findings, from
// GET /v1/audit/findings (indexer/WATCH.md), filtered by department, kind,
// state and period; each with the department whose obligation it is, the
// person, the records, and its evidence: the ledger positions it rests on
// and the one that closed it, each linked to the provenance timeline of its
// request or dataset.

import { all, session, deptLabel, deptColor } from './api.js';
import { h, card, table, badge, notice, apiNotice, fmtInt, fmtTime, short, cn, field, select, deptChip, stat } from './ui.js';

const KINDS = [
  ['copy-not-destroyed', 'Copy not destroyed'],
  ['use-after-end', 'Use after the approval ended'],
  ['overuse', 'More records used than delivered'],
  ['receipt-overdue', 'Receipt overdue'],
  ['dispute-open', 'Dispute open'],
  ['correction-overdue', 'Correction overdue'],
  ['fields-outside-request', 'Fields outside the request'],
  ['request-spike', 'Spike of requests'],
  ['usage-spike', 'Spike of usage'],
];

// An open finding is a warning (red), a closed one resolved (green).
const stateBadge = (st) => badge(st, st === 'open' ? 'disputed' : 'resolved');

const kindLabel = (k) => (KINDS.find(([v]) => v === k) || [k, k])[1];

export async function findings(view, params, { go }) {
  const filter = {};
  for (const k of ['department', 'kind', 'state', 'period']) if (params[k]) filter[k] = params[k];
  const deptSel = select('department', [['', 'All departments'], ...session.departments.map((d) => [d.mspId, `${d.code || d.mspId} — ${d.name}`])], params.department || '');
  const kindSel = select('kind', [['', 'Every kind'], ...KINDS], params.kind || '');
  const stateSel = select('state', [['', 'Open and closed'], ['open', 'Open'], ['closed', 'Closed']], params.state || '');
  const periodIn = h('input', { type: 'month', name: 'period', value: params.period || '' });
  const form = h('form', { class: 'toolbar', 'data-test': 'findings-filter' }, field('Department', deptSel), field('Kind', kindSel),
    field('State', stateSel), field('Opened in', periodIn), h('button', { type: 'submit', class: 'primary', text: 'Show' }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go('findings', { department: deptSel.value, kind: kindSel.value, state: stateSel.value, period: periodIn.value, id: '' });
  });
  view.append(form);

  let items;
  try {
    items = await all('/v1/audit/findings', filter);
  } catch (err) {
    view.append(apiNotice(err, 'Findings', 'findings-error'));
    return;
  }
  const open = items.filter((f) => f.state === 'open');
  view.append(h('div', { class: 'stats' },
    stat('Findings', fmtInt(items.length), 'as the filter selects', 'findings-total'),
    stat('Open', fmtInt(open.length), 'waiting for the transaction that resolves them', 'findings-open'),
    stat('Departments concerned', fmtInt(new Set(open.map((f) => f.department)).size), 'with an open finding')));

  const chosen = params.id ? items.find((f) => f.id === params.id) : null;
  if (chosen) view.append(detailCard(chosen, go));

  view.append(card('Findings, in the order they last changed',
    h('p', { class: 'hint', text: 'Computed by this department\'s indexer from the ledger alone and judged against the latest block\'s time: every department\'s indexer lists the same findings at the same height.' }),
    table([
      { label: 'Kind', value: (f) => kindLabel(f.kind), test: 'finding-kind' },
      { label: 'State', value: (f) => stateBadge(f.state), test: 'finding-state' },
      { label: 'Department', value: (f) => deptChip(f.department, deptLabel(f.department), deptColor(f.department)) },
      { label: 'Person', value: (f) => (f.person ? cn(f.person.subject) : '—') },
      { label: 'Grade', value: (f) => (f.grade ? String(f.grade) : '—'), num: true },
      { label: 'Records', value: (f) => (f.records ? fmtInt(f.records) : '—'), num: true },
      { label: 'Opened', value: (f) => fmtTime(f.openedAt) },
      { label: 'Detail', value: (f) => f.detail },
    ], items, { key: (f) => f.id, test: 'findings', onRow: (f) => go('findings', { ...filter, id: f.id }), empty: 'No finding: every obligation the watch follows is kept.' })));
}

function detailCard(f, go) {
  const traceLink = () => {
    if (f.requestId) return h('a', { href: '#/provenance?request=' + encodeURIComponent(f.requestId), text: 'timeline of request ' + f.requestId });
    if (f.datasetId) return h('a', { href: '#/provenance?dataset=' + encodeURIComponent(f.datasetId), text: 'timeline of dataset ' + f.datasetId });
    return null;
  };
  const evidence = [...f.evidence.map((e) => ({ ...e, role: 'evidence' })), ...(f.closedBy ? [{ ...f.closedBy, role: 'closed by' }] : [])];
  return card(`${kindLabel(f.kind)}: ${f.id}`,
    f.state === 'open' ? notice('warn', 'Open', f.detail, 'finding-detail') : notice('info', 'Closed', f.detail, 'finding-detail'),
    h('dl', { class: 'kv kv-cols' },
      h('dt', { text: 'Department' }), h('dd', {}, deptChip(f.department, deptLabel(f.department), deptColor(f.department))),
      h('dt', { text: 'Person' }), h('dd', { text: f.person ? `${cn(f.person.subject)} (${f.person.mspId}, ${f.person.role})` : 'nobody of it has acted' }),
      h('dt', { text: 'Dataset' }), h('dd', { text: f.datasetId || '—' }),
      h('dt', { text: 'Request' }), h('dd', { text: f.requestId || '—' }),
      h('dt', { text: 'Delivery' }), h('dd', { text: f.deliveryId || '—' }),
      f.correctionId ? h('dt', { text: 'Correction' }) : null, f.correctionId ? h('dd', { text: f.correctionId }) : null,
      h('dt', { text: 'Due' }), h('dd', { text: f.due ? fmtTime(f.due) : '—' }),
      h('dt', { text: 'Opened' }), h('dd', { text: `${fmtTime(f.openedAt)} (block ${f.openedAtBlock})` }),
      h('dt', { text: 'Provenance' }), h('dd', {}, traceLink())),
    table([
      { label: '', value: (e) => badge(e.role, e.role === 'closed by' ? 'resolved' : 'pending') },
      { label: 'Event', value: (e) => e.type },
      { label: 'Time', value: (e) => fmtTime(e.timestamp) },
      { label: 'Block', value: (e) => String(e.blockNumber), num: true },
      { label: 'Transaction', value: (e) => h('code', { title: e.txId, text: short(e.txId, 16) }) },
      { label: 'Signed by', value: (e) => `${cn(e.actor.subject)} (${e.actor.mspId})` },
    ], evidence, { key: (e) => e.txId + e.role, test: 'finding-evidence' }),
    h('button', { type: 'button', text: 'Back to the list', onclick: () => go('findings', {}) }));
}
