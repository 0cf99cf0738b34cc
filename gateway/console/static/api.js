// The console's only way to the gateway: the public /v1 routes, with the
// signed-in person's bearer token. The token lives in sessionStorage, so it
// goes with the browser tab and is never written to disk by the console.

const TOKEN_KEY = 'govshare.token';

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  me: null, // {mspId, user, role} from GET /v1/me
  departments: [], // from GET /v1/departments, by MSP ID
};

export function setToken(token) {
  session.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// ApiError is a non-2xx answer, with the gateway's error body.
export class ApiError extends Error {
  constructor(status, body, path) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status} from ${path}`);
    this.status = status;
    this.code = e.code || '';
    this.details = e.details || {};
    this.path = path;
  }

  // notAvailable: the gateway has the route but its indexer does not serve
  // it yet (the indexer answers "no route ..."), or it says so with 501.
  get notAvailable() {
    return this.status === 501 || (this.status === 404 && /^no route/i.test(this.message));
  }
}

function url(path, params) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

export async function get(path, params) {
  const u = url(path, params);
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  const res = await fetch(u, { headers });
  let body = null;
  const text = await res.text();
  if (text) {
    try { body = JSON.parse(text); } catch { body = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, body, u.pathname);
    if (res.status === 401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return body;
}

// send makes a call with a JSON body (sign-in, sign-out) and answers the
// JSON body, or throws ApiError.
export async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = 'Bearer ' + session.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let out = null;
  if (text) {
    try { out = JSON.parse(text); } catch { out = null; }
  }
  if (!res.ok) throw new ApiError(res.status, out, path);
  return out;
}

let onUnauthorized = null;

// whenUnauthorized sets what happens when the token is refused mid-session.
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// all follows nextCursor to the end of a list (at most max items), so that
// counts on the pages are the API's whole answer, not its first page.
export async function all(path, params, max = 50000) {
  const items = [];
  let cursor = '';
  do {
    const page = await get(path, { ...params, limit: 1000, cursor });
    items.push(...(page.items || []));
    cursor = page.nextCursor || '';
  } while (cursor && items.length < max);
  return items;
}

// download fetches with the token and hands the answer to the browser as a file.
export async function download(path, params, filename) {
  const res = await fetch(url(path, params), { headers: { Authorization: 'Bearer ' + session.token } });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    throw new ApiError(res.status, body, path);
  }
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

export function department(mspId) {
  return session.departments.find((d) => d.mspId === mspId) || null;
}

// deptLabel is the department's code (short, for charts) or its MSP ID.
export function deptLabel(mspId) {
  const d = department(mspId);
  return (d && d.code) || mspId || '?';
}

export function deptName(mspId) {
  const d = department(mspId);
  return (d && d.name) || mspId || '?';
}

// Colour-blind-safe palette (Okabe–Ito, then darker neutrals), one per
// department in the consortium's order, so a department keeps its colour
// on every page.
const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#6a3d9a', '#8c6d31', '#555555', '#b22222'];

export function deptColor(mspId) {
  const i = session.departments.findIndex((d) => d.mspId === mspId);
  return PALETTE[(i < 0 ? session.departments.length : i) % PALETTE.length];
}

export const can = {
  scores: () => ['evaluator', 'auditor'].includes(session.me && session.me.role),
  audit: () => (session.me && session.me.role) === 'auditor',
};
