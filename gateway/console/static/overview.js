// Overview: the consortium at a glance. Departments (GET /v1/departments),
// the catalog (GET /v1/datasets), requests by status (GET /v1/requests with
// each status filter: all of them for an auditor, the caller's own for a
// department), the ledger height (GET /readyz), and recent activity: the
// audit trace of every department for an auditor, otherwise the latest
// changes to the catalog and to the caller's requests.

import { session, all, can, deptLabel, deptName, deptColor } from './api.js';
import { h, card, stat, table, badge, notice, apiNotice, fmtInt, fmtTime, cn, short, deptChip } from './ui.js';
import { hbars } from './charts.js';

const REQUEST_STATUSES = ['pending', 'approved', 'rejected', 'revoked', 'expired'];
const STATUS_COLORS = { pending: '#e69f00', approved: '#009e73', rejected: '#d55e00', revoked: '#6a3d9a', expired: '#777777' };

export async function overview(view, _params, { go }) {
  const [ready, datasets, byStatus, recent] = await Promise.all([
    fetch('/readyz').then((r) => r.json()).catch(() => null),
    all('/v1/datasets'),
    Promise.all(REQUEST_STATUSES.map((st) => all('/v1/requests', { status: st }).then((items) => [st, items]))).catch((e) => e),
    recentActivity().catch((e) => e),
  ]);
  const depts = session.departments;
  const requests = Array.isArray(byStatus) ? byStatus.flatMap(([, items]) => items) : [];
  const active = datasets.filter((d) => d.status === 'active').length;

  view.append(h('div', { class: 'stats' },
    stat('Departments', fmtInt(depts.length), 'members of the consortium', 'stat-departments'),
    stat('Datasets', fmtInt(datasets.length), `${fmtInt(active)} active, ${fmtInt(datasets.length - active)} retired`, 'stat-datasets'),
    stat('Requests', Array.isArray(byStatus) ? fmtInt(requests.length) : '—', can.audit() ? 'across the consortium' : `where ${deptLabel(session.me.mspId)} is a party`, 'stat-requests'),
    stat('Ledger height', ready && ready.index ? fmtInt(ready.index.height) : '—',
      ready && ready.index ? `blocks indexed; ${fmtInt(ready.index.lagBlocks)} behind the peer` : 'index status unknown', 'stat-height')));

  const owned = (m) => datasets.filter((d) => d.owner === m).length;
  const count = (f) => fmtInt(requests.filter(f).length);
  const me = session.me.mspId;
  // A department sees only its own requests, so its columns are the
  // requests between it and each other department.
  const requestColumns = can.audit() ? [
    { label: 'Requests in', value: (d) => count((r) => r.owner === d.mspId), num: true },
    { label: 'Requests out', value: (d) => count((r) => r.requester === d.mspId), num: true },
  ] : [
    { label: `${deptLabel(me)} asked them`, value: (d) => (d.mspId === me ? '—' : count((r) => r.requester === me && r.owner === d.mspId)), num: true },
    { label: `They asked ${deptLabel(me)}`, value: (d) => (d.mspId === me ? '—' : count((r) => r.owner === me && r.requester === d.mspId)), num: true },
  ];
  const deptTable = table([
    { label: 'Department', value: (d) => deptChip(d.mspId, d.name || d.mspId, deptColor(d.mspId)) },
    { label: 'Code', value: (d) => d.code || '—' },
    { label: 'Level', value: (d) => d.level || '—' },
    { label: 'Datasets', value: (d) => fmtInt(owned(d.mspId)), num: true, test: 'dept-datasets' },
    ...requestColumns,
  ], depts, { test: 'departments', key: (d) => d.mspId, onRow: (d) => go('catalog', { owner: d.mspId }) });

  let statusBody;
  if (Array.isArray(byStatus)) {
    statusBody = hbars(byStatus.map(([st, items]) => ({ label: st, value: items.length, text: fmtInt(items.length), color: STATUS_COLORS[st] })),
      { test: 'requests-by-status', title: 'requests by status', width: 460 });
  } else {
    statusBody = apiNotice(byStatus, 'Requests');
  }

  view.append(h('div', { class: 'cols' },
    card('Departments', deptTable),
    card('Requests by status', statusBody,
      h('p', { class: 'hint', text: can.audit() ? 'Every request on the ledger. An approved request past its validUntil counts as expired.' : 'Requests your department made or received. An approved request past its validUntil counts as expired.' }))));

  view.append(card(recent.title || 'Recent activity', recent instanceof Error ? apiNotice(recent, 'Recent activity') : recent.body));
}

// recentActivity is the ledger's last events for an auditor, and otherwise
// the latest catalog and request changes the caller can see.
async function recentActivity() {
  if (can.audit()) {
    const lists = await Promise.all(session.departments.map((d) => all('/v1/audit/trace', { department: d.mspId }, 5000)));
    const seen = new Map();
    for (const e of lists.flat()) seen.set(e.txId, e);
    const events = [...seen.values()].sort((a, b) => (b.blockNumber - a.blockNumber) || ((b.txIndex || 0) - (a.txIndex || 0))).slice(0, 12);
    return {
      title: 'Recent ledger events',
      body: events.length === 0 ? notice('info', 'No events yet.') : table([
        { label: 'Time (UTC)', value: (e) => fmtTime(e.timestamp) },
        { label: 'Event', value: (e) => badge(e.type, e.kind) },
        { label: 'About', value: (e) => e.id },
        { label: 'Department', value: (e) => deptChip(e.mspId, deptLabel(e.mspId), deptColor(e.mspId)) },
        { label: 'Person', value: (e) => `${cn(e.actor)}${e.role ? ' (' + e.role + ')' : ''}` },
        { label: 'Block', value: (e) => fmtInt(e.blockNumber), num: true },
        { label: 'Transaction', value: (e) => h('code', { title: e.txId, text: short(e.txId, 12) }) },
      ], events, { test: 'recent' }),
    };
  }
  const [datasets, requests] = await Promise.all([all('/v1/datasets'), all('/v1/requests')]);
  const changes = [];
  for (const d of datasets) {
    changes.push({ time: d.updatedAt, what: d.version > 1 ? `dataset ${d.status === 'retired' ? 'retired' : 'updated to v' + d.version}` : (d.status === 'retired' ? 'dataset retired' : 'dataset registered'), subject: `${d.id} — ${d.title}`, by: d.updatedBy });
  }
  for (const r of requests) {
    const atOnce = r.decidedAt && !r.decidedBy; // unconditional data: approved by the creating transaction
    changes.push({ time: r.createdAt, what: atOnce ? 'request created, approved at once' : 'request created', subject: `${r.id} for ${r.datasetId}`, by: r.createdBy });
    if (r.coApprovedAt) changes.push({ time: r.coApprovedAt, what: 'request co-approved by the bureau', subject: `${r.id} for ${r.datasetId}`, by: r.coApprovedBy });
    if (r.decidedAt && !atOnce) changes.push({ time: r.decidedAt, what: `request ${r.status === 'rejected' ? 'rejected' : 'approved'}`, subject: `${r.id} for ${r.datasetId}`, by: r.decidedBy });
    if (r.revokedAt) changes.push({ time: r.revokedAt, what: 'request revoked', subject: `${r.id} for ${r.datasetId}`, by: r.revokedBy });
  }
  changes.sort((a, b) => String(b.time).localeCompare(String(a.time)));
  const top = changes.slice(0, 12);
  return {
    title: 'Recent activity',
    body: h('div', {},
      top.length === 0 ? notice('info', 'Nothing yet.') : table([
        { label: 'Time (UTC)', value: (c) => fmtTime(c.time) },
        { label: 'What', value: (c) => c.what },
        { label: 'About', value: (c) => c.subject },
        { label: 'By', value: (c) => c.by ? `${cn(c.by.subject)} (${c.by.role}) of ${deptName(c.by.mspId)}` : '—' },
      ], top, { test: 'recent' }),
      h('p', { class: 'hint', text: 'From the catalog and the requests your department is a party to; auditors see every ledger event here.' })),
  };
}
