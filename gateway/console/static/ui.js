// DOM helpers shared by the pages. Everything from the ledger is inserted as
// text (textContent), never as HTML, so a dataset title cannot inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  add(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function add(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// --- formatting -----------------------------------------------------------

const intFmt = new Intl.NumberFormat('en-US');

export function fmtInt(n) {
  return n === null || n === undefined || Number.isNaN(n) ? '—' : intFmt.format(Math.round(n));
}

// plural counts a thing: "1 call", "5 calls".
export function plural(n, word) {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
}

export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return Number(n).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
}

// fmtTime shows a ledger time in UTC, which is what the ledger records.
export function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace('Z', ' UTC');
}

export function short(hash, n = 10) {
  if (!hash) return '—';
  return hash.length > n + 2 ? hash.slice(0, n) + '…' : hash;
}

// cn is the common name of a certificate subject ("CN=operator1,OU=client,…").
export function cn(subject) {
  const m = /(?:^|,)\s*CN=([^,]+)/.exec(subject || '');
  return m ? m[1] : subject || '—';
}

// --- building blocks -----------------------------------------------------

export function notice(kind, title, text, testid) {
  return h('div', { class: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status', 'data-test': testid },
    h('strong', { text: title }), text ? h('span', { text: ' ' + text }) : null);
}

// apiNotice explains a failed call in the page's words.
export function apiNotice(err, what, testid) {
  if (err && err.notAvailable) {
    const n = notice('pending', `${what}: not available yet.`, `This gateway's index does not serve it yet (HTTP ${err.status}).`, testid || 'not-available');
    n.title = `${err.path}: ${err.message}`;
    return n;
  }
  if (err && err.status === 403) {
    return notice('warn', `${what}: not allowed for your role.`, err.message, testid || 'forbidden');
  }
  return notice('error', `${what}: failed.`, err ? `${err.status ? err.status + ' ' : ''}${err.message}` : '', testid || 'error');
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', { text: title }) : null, ...body);
}

export function stat(label, value, sub, testid) {
  return h('div', { class: 'stat' },
    h('div', { class: 'stat-value', 'data-test': testid, text: value }),
    h('div', { class: 'stat-label', text: label }),
    sub ? h('div', { class: 'stat-sub', text: sub }) : null);
}

// table draws rows with columns [{label, value(row) -> node|string, num, test}].
export function table(columns, rows, opts = {}) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : '', scope: 'col', text: c.label }))));
  const tbody = h('tbody', {}, rows.map((r) => {
    const tr = h('tr', { 'data-key': opts.key ? opts.key(r) : null }, columns.map((c) => {
      const v = c.value(r);
      return h('td', { class: c.num ? 'num' : '', 'data-test': c.test || null }, v instanceof Node ? v : String(v ?? '—'));
    }));
    if (opts.onRow) {
      tr.classList.add('clickable');
      tr.tabIndex = 0;
      tr.addEventListener('click', () => opts.onRow(r, tr));
      tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') opts.onRow(r, tr); });
    }
    return tr;
  }));
  const t = h('table', { class: 'grid', 'data-test': opts.test }, thead, tbody);
  if (rows.length === 0 && opts.empty) return h('div', {}, t, h('p', { class: 'empty', text: opts.empty }));
  return h('div', { class: 'table-wrap' }, t);
}

export function badge(text, kind) {
  return h('span', { class: 'badge badge-' + (kind || String(text).replace(/[^a-z]/gi, '').toLowerCase()), text });
}

export function deptChip(mspId, label, color) {
  const chip = h('span', { class: 'chip', title: mspId }, h('span', { class: 'swatch' }), label);
  chip.firstChild.style.background = color;
  return chip;
}

export function field(label, control) {
  return h('label', { class: 'field' }, h('span', { text: label }), control);
}

export function select(name, options, value) {
  return h('select', { name }, options.map(([v, text]) => h('option', { value: v, selected: v === value, text })));
}

// month helpers, all in UTC: periods are YYYY-MM.
export function currentPeriod() {
  return new Date().toISOString().slice(0, 7);
}

export function addMonths(period, n) {
  const [y, m] = period.split('-').map(Number);
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return d.toISOString().slice(0, 7);
}
