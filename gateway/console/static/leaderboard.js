// Leaderboard: GET /v1/scores?period= (evaluators and auditors). The ranking
// with each department's score, each score's breakdown as a chart (every
// indicator normalised 0..1, with its raw value), and the score's change
// over the six periods up to the chosen one (one GET per period).

import { session, get, deptLabel, deptName, deptColor } from './api.js';
import { h, card, table, apiNotice, notice, fmtNum, fmtInt, short, field, currentPeriod, addMonths, deptChip } from './ui.js';
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
  const answers = await Promise.allSettled(periods.map((p) => get('/v1/scores', { period: p })));
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
