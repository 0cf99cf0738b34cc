// The console's shell: sign-in with a person's user name and password (or a
// long-lived token), the navigation that
// follows their role, and a hash router (#/page?param=value) so that every
// view has an address that can be bookmarked and shared.

import { session, setToken, get, send, whenUnauthorized, deptName } from './api.js';
import { h, clear, notice, apiNotice } from './ui.js';
import { overview } from './overview.js';
import { leaderboard } from './leaderboard.js';
import { flows } from './flows.js';
import { provenance } from './provenance.js';
import { metering } from './metering.js';
import { catalog } from './catalog.js';
import { findings } from './findings.js';

const ALL = ['operator', 'approver', 'evaluator', 'auditor', 'admin'];

const PAGES = [
  { id: 'overview', title: 'Overview', roles: ALL, render: overview },
  { id: 'leaderboard', title: 'Leaderboard', roles: ['evaluator', 'auditor'], render: leaderboard },
  { id: 'flows', title: 'Data flows', roles: ALL, render: flows },
  { id: 'provenance', title: 'Provenance', roles: ['auditor'], render: provenance },
  { id: 'findings', title: 'Findings', roles: ['auditor'], render: findings },
  { id: 'metering', title: 'Metering', roles: ALL, render: metering },
  { id: 'catalog', title: 'Catalog', roles: ALL, render: catalog },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let renderSeq = 0;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [id, query] = raw.split('?');
  return { id: id || 'overview', params: Object.fromEntries(new URLSearchParams(query || '')) };
}

// go changes the address; the hashchange listener renders.
function go(id, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null)).toString();
  const next = '#/' + id + (q ? '?' + q : '');
  if (location.hash === next) route();
  else location.hash = next;
}

// signInView asks for the person's user name and password (POST
// /v1/sessions answers an expiring session token); a long-lived token from
// credentials.json still works, under "Use a token instead".
function signInView(message) {
  nav.hidden = true;
  document.getElementById('who').hidden = true;
  const user = h('input', { type: 'text', id: 'user', name: 'user', autocomplete: 'username', spellcheck: 'false', placeholder: 'user name', 'data-test': 'user' });
  const password = h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', placeholder: 'password', 'data-test': 'password' });
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', placeholder: 'bearer token', 'data-test': 'token' });
  const err = h('div', { class: 'signin-error' });
  if (message) err.append(notice('error', message));
  const tokenBox = h('details', { class: 'signin-token' },
    h('summary', { text: 'Use a token instead' }),
    h('label', { for: 'token', text: 'Token' }), input);
  const form = h('form', { class: 'signin card', 'data-test': 'signin' },
    h('h1', { text: 'Sign in' }),
    h('p', { text: 'Sign in with your user name and password at this department. The console shows what your role may read: departments see their own exchanges; evaluators the scores; auditors every event.' }),
    h('label', { for: 'user', text: 'User name' }), user,
    h('label', { for: 'password', text: 'Password' }), password,
    tokenBox,
    h('button', { type: 'submit', class: 'primary', 'data-test': 'signin-submit', text: 'Sign in' }),
    err);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(err);
    const byToken = input.value.trim() !== '';
    try {
      if (byToken) {
        setToken(input.value.trim());
      } else {
        setToken('');
        const s = await send('POST', '/v1/sessions', { user: user.value.trim(), password: password.value });
        setToken(s.token);
      }
      password.value = '';
      await start();
    } catch (ex) {
      setToken('');
      const why = ex.status === 401
        ? (byToken ? 'This token is not known to this gateway.' : ex.message)
        : 'Sign-in failed.';
      err.append(notice('error', why, ex.status === 401 ? '' : ex.message));
    }
  });
  clear(main).append(form);
  main.dataset.page = 'signin';
  main.dataset.state = 'ready';
  user.focus();
}

// start reads who the token stands for and the consortium, then renders.
async function start() {
  const me = await get('/v1/me');
  const deps = await get('/v1/departments');
  session.me = me;
  session.departments = (deps.items || []).slice().sort((a, b) => a.mspId.localeCompare(b.mspId));
  document.getElementById('who-person').textContent = `${me.user} · ${me.role} · ${deptName(me.mspId)} (${me.mspId})`;
  document.getElementById('who').hidden = false;
  drawNav();
  nav.hidden = false;
  if (!location.hash || location.hash === '#/signin') location.hash = '#/overview';
  else route();
}

function drawNav() {
  clear(nav);
  for (const p of PAGES) {
    if (!p.roles.includes(session.me.role)) continue;
    nav.append(h('a', { href: '#/' + p.id, 'data-nav': p.id, text: p.title }));
  }
}

async function route() {
  if (!session.me) return;
  const { id, params } = parseHash();
  const page = PAGES.find((p) => p.id === id) || PAGES[0];
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.nav === page.id);
  const seq = ++renderSeq;
  const view = h('div', { class: 'page' });
  clear(main).append(view);
  main.dataset.page = page.id;
  main.dataset.state = 'loading';
  document.title = `${page.title} · govshare console`;
  view.append(h('h1', { class: 'page-title', text: page.title }));
  if (!page.roles.includes(session.me.role)) {
    view.append(notice('warn', 'Not for your role.', `${page.title} needs the role ${page.roles.join(' or ')}; you are signed in as ${session.me.role}.`, 'role-denied'));
    main.dataset.state = 'ready';
    return;
  }
  try {
    await page.render(view, params, { go });
  } catch (err) {
    if (seq === renderSeq) view.append(apiNotice(err, page.title));
  }
  if (seq === renderSeq) main.dataset.state = 'ready';
}

whenUnauthorized((ex) => {
  if (session.me) {
    session.me = null;
    setToken('');
    // The gateway says whether the session expired or was ended.
    signInView(`Your token was refused (${ex.message}); sign in again.`);
  }
});

document.getElementById('sign-out').addEventListener('click', () => {
  // End the session at the gateway too; a long-lived token answers 409 and stays valid.
  if (session.token) send('DELETE', '/v1/sessions/current').catch(() => {});
  session.me = null;
  setToken('');
  location.hash = '';
  signInView();
});

window.addEventListener('hashchange', route);

if (session.token) {
  start().catch(() => { setToken(''); signInView('Your session has ended; sign in again.'); });
} else {
  signInView();
}
