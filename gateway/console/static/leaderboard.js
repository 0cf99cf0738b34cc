// Leaderboard: GET /v1/scores?period= (evaluators and auditors). The ranking
// with each department's score, each score's breakdown as a chart (every
// indicator normalised 0..1, with its raw value), and the score's change
// over the six periods up to the chosen one (one GET per period). For a
// period published on the ledger, GET /v1/scores/snapshots/{period}: official
// or not, matched by k of n departments, and each department's attestation.

import { session, get, deptLabel, deptName, deptColor } from './api.js';
import { h, card, table, apiNotice, notice, fmtNum, fmtInt, fmtTime, short, cn, badge, field, currentPeriod, addMonths, deptChip } from './ui.js';
import { hbars, lines } from './charts.js';

const KNOWN = ['supply', 'contribution', 'breadth', 'useRate', 'quality', 'disputes', 'responsiveness', 'openness', 'influence'];
const LABELS = {
  supply: 'Supply', contribution: 'Contribution', breadth: 'Breadth of use', useRate: 'Use rate', quality: 'Quality',
  disputes: 'Disputes', responsiveness: 'Responsiveness', openness: 'Openness', influence: 'Network influence',
};
const TREND = 6;

export async function leaderboard(view, params, { go }) {
  const period = /^\d{4}-\d{2}$/.test(params.period || '') ? params.period : currentPeriod();
  const input = h('input', { type: 'month', name: 'period', value: period, 'data-test': 'period', required: true });
  const form = h('form', { class: 'toolbar' },
    field('Period', input),
    h('button', { type: 'submit', class: 'primary', text: 'Show' }),
    h('button', { type: 'button', text: '← Previous', onclick: () => go('leaderboard', { period: addMonths(period, -1) }) }),
    h('button', { type: 'button', text: 'Next →', onclick: () => go('leaderboard', { period: addMonths(period, 1) }) }));
  form.addEventListener('submit', (e) => { e.preventDefault(); go('leaderboard', { period: input.value }); });
  view.append(form);

  const periods = Array.from({ length: TREND }, (_, i) => addMonths(period, i - TREND + 1));
  const [published, ...answers] = await Promise.allSettled([
    get(`/v1/scores/snapshots/${period}`),
    ...periods.map((p) => get('/v1/scores', { period: p })),
  ]);
  view.append(snapshotCard(period, published));
  const current = answers[TREND - 1];
  if (current.status === 'rejected') {
    view.append(apiNotice(current.reason, `Scores for ${period}`, current.reason.notAvailable ? 'not-available' : 'scores-error'));
    return;
  }
  const doc = current.value;
  const items = (doc.items || []).slice().sort((a, b) => a.rank - b.rank);
  if (items.length === 0) {
    view.append(notice('info', `No scores for ${period}.`, 'No department has ledger activity in this period.', 'no-scores'));
    return;
  }

  view.append(h('p', { class: 'meta', 'data-test': 'scores-meta' },
    `Period ${doc.period} · computed from the ledger up to block ${fmtInt(doc.asOfBlock)} · input digest `,
    h('code', { title: doc.inputDigest, text: short(doc.inputDigest, 16) }),
    doc.modelDigest ? [' · model ', h('code', { title: doc.modelDigest, text: short(doc.modelDigest, 16) })] : null));

  const best = Math.max(100, ...items.map((i) => i.score));
  const rank = table([
    { label: 'Rank', value: (i) => String(i.rank), num: true, test: 'rank' },
    { label: 'Department', value: (i) => deptChip(i.mspId, deptName(i.mspId), deptColor(i.mspId)) },
    { label: 'Score', value: (i) => fmtNum(i.score, 2), num: true, test: 'score' },
    { label: '', value: (i) => scoreBar(i.score / best, deptColor(i.mspId)) },
  ], items, { test: 'ranking', key: (i) => i.mspId });
  const ranking = card('Ranking', rank, h('p', { class: 'hint', text: 'Score out of 100: the weighted mean of the normalised indicators below. Anyone can recompute it from the same ledger height.' }));

  const grid = h('div', { class: 'multiples', 'data-test': 'breakdowns' });
  for (const it of items) grid.append(breakdownCard(it));
  const breakdowns = card('Breakdown by indicator', h('p', { class: 'hint', text: 'Each bar is the indicator normalised from 0 to 1 (1 = the best department of the period; for disputes, the fewest); the figure at its right is the raw value.' }), grid);

  const series = session.departments.map((d) => ({
    name: deptLabel(d.mspId),
    color: deptColor(d.mspId),
    values: answers.map((a) => {
      if (a.status !== 'fulfilled') return null;
      const x = (a.value.items || []).find((i) => i.mspId === d.mspId);
      return x ? x.score : null;
    }),
  })).filter((se) => se.values.some((v) => v !== null));
  const missing = periods.filter((_, i) => answers[i].status === 'rejected');
  const trend = card(`Change over ${TREND} periods`,
    lines({ labels: periods, series, yLabel: 'score', max: 100, test: 'trend', width: 620, height: 260 }),
    missing.length ? h('p', { class: 'hint', text: `No scores for ${missing.join(', ')}.` }) : null);
  view.append(h('div', { class: 'cols cols-even' }, ranking, trend), breakdowns);
}

// snapshotCard says whether the period is published on the ledger and, if
// so, whether the consortium holds to it: official only when a majority of
// the departments on the ledger attested that their own indexer computes
// the same document.
function snapshotCard(period, res) {
  if (res.status === 'rejected') {
    const err = res.reason;
    if (err.status === 404 && !err.notAvailable) {
      return card('Published snapshot', h('p', { class: 'meta', 'data-test': 'snapshot-none' },
        `${period} is not published on the ledger. A period can be published once it is over, from ${addMonths(period, 1)}-01 00:00 UTC.`));
    }
    return card('Published snapshot', apiNotice(err, `Snapshot of ${period}`, err.notAvailable ? 'snapshot-not-available' : 'snapshot-error'));
  }
  const snap = res.value;
  const atts = new Map((snap.attestations || []).map((a) => [a.mspId, a]));
  const depts = snap.departments || [];
  const rows = depts.map((mspId) => ({ mspId, att: atts.get(mspId) || null }));
  const verdict = h('p', { class: 'meta', 'data-test': 'snapshot' },
    snap.official ? badge('official', 'approved') : badge('not official', 'rejected'),
    ' ',
    h('strong', { 'data-test': 'snapshot-matched', text: `matched by ${(snap.matchedBy || []).length} of ${depts.length}` }),
    ` departments · published by ${cn(snap.publishedBy && snap.publishedBy.subject)} (${snap.publishedBy ? snap.publishedBy.mspId : '?'}) at ${fmtTime(snap.publishedAt)} · up to block ${fmtInt(snap.asOfBlock)} · input digest `,
    h('code', { title: snap.inputDigest, text: short(snap.inputDigest, 16) }));
  verdict.dataset.official = String(!!snap.official);
  const list = table([
    { label: 'Department', value: (r) => deptChip(r.mspId, deptName(r.mspId), deptColor(r.mspId)) },
    { label: 'Attestation', value: (r) => (!r.att ? badge('not attested yet', 'pending') : r.att.matched ? badge('matched', 'approved') : badge('disagrees', 'disputed')), test: 'attestation' },
    { label: 'Its input digest', value: (r) => (r.att ? h('code', { title: r.att.inputDigest, text: short(r.att.inputDigest, 12) }) : '—') },
    { label: 'Its scores digest', value: (r) => (r.att ? h('code', { title: r.att.scoresDigest, text: short(r.att.scoresDigest, 12) }) : '—') },
    { label: 'Attested', value: (r) => (r.att ? `${fmtTime(r.att.at)} by ${cn(r.att.by && r.att.by.subject)}` : '—') },
    { label: 'What differs', value: (r) => (r.att && r.att.detail ? r.att.detail : '—') },
  ], rows, { test: 'attestations', key: (r) => r.mspId });
  return card('Published snapshot', verdict, h('p', { class: 'hint', 'data-test': 'snapshot-summary', text: snap.summary || '' }), list,
    h('p', { class: 'hint', text: "Each department's gateway recomputes the published document on its own indexer, at the snapshot's block, and its admin attests on the ledger whether the input digest and the scores match. The snapshot is official only when a majority of the departments on the ledger matched it." }));
}

// scoreBar is a plain bar in the table, as wide as the score.
function scoreBar(fraction, color) {
  const bar = h('div', { class: 'scorebar' }, h('div', { class: 'scorebar-fill' }));
  bar.firstChild.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  bar.firstChild.style.background = color;
  return bar;
}

function indicatorsOf(breakdown) {
  const keys = Object.keys(breakdown || {});
  const normed = keys.filter((k) => !k.endsWith('.norm') && (k + '.norm') in breakdown);
  if (normed.length === 0) return { names: keys.filter((k) => typeof breakdown[k] === 'number'), normalised: false };
  const order = [...KNOWN.filter((k) => normed.includes(k)), ...normed.filter((k) => !KNOWN.includes(k)).sort()];
  return { names: order, normalised: true };
}

function fmtRaw(v) {
  return Number.isInteger(v) ? fmtInt(v) : fmtNum(v, Math.abs(v) < 10 ? 3 : 1);
}

function breakdownCard(item) {
  const bd = item.breakdown || {};
  const { names, normalised } = indicatorsOf(bd);
  const max = normalised ? 1 : Math.max(1e-9, ...names.map((n) => Math.abs(bd[n])));
  const bars = hbars(names.map((n) => ({
    label: LABELS[n] || n,
    value: normalised ? bd[n + '.norm'] : bd[n],
    text: fmtRaw(bd[n]),
    color: deptColor(item.mspId),
  })), { max, width: 360, labelWidth: 122, valueWidth: 58, barHeight: 14, test: 'breakdown-' + item.mspId, title: `breakdown of ${item.mspId}` });
  const extra = Object.keys(bd).filter((k) => !names.includes(k) && !(normalised && k.endsWith('.norm') && names.includes(k.slice(0, -5)))).sort();
  return h('div', { class: 'multiple', 'data-msp': item.mspId },
    h('h3', {}, `${item.rank}. ${deptLabel(item.mspId)} `, h('span', { class: 'muted', text: `— ${fmtNum(item.score, 2)}` })),
    bars,
    extra.length ? h('details', {}, h('summary', { text: 'Other figures' }),
      h('dl', { class: 'kv' }, extra.flatMap((k) => [h('dt', { text: k }), h('dd', { text: fmtRaw(bd[k]) })]))) : null);
}
