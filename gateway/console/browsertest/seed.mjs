// Writes a small, realistic scenario through the gateways' public REST API,
// so that every console page has something to show: datasets of four
// departments (one derived from another, a pool derived from two), requests
// in every state, deliveries (one disputed), receipts, a rating, a
// correction, metered use and contributions. IDs carry a suffix, so it can
// run again on the same ledger.
//
//   GOVSHARE_RUN=/path/to/run node seed.mjs      (standalone)

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

export function loadRun(run) {
  const endpoints = JSON.parse(readFileSync(path.join(run, 'endpoints.json'), 'utf8'));
  const credentials = JSON.parse(readFileSync(path.join(run, 'credentials.json'), 'utf8'));
  const gateway = (msp) => {
    const d = endpoints.departments.find((x) => x.mspId === msp);
    if (!d) throw new Error(`no department ${msp} in endpoints.json`);
    return d.gateway;
  };
  const token = (msp, role) => {
    const c = credentials.find((x) => x.mspId === msp && x.role === role);
    if (!c) throw new Error(`no ${role} of ${msp} in credentials.json`);
    return c.token;
  };
  // passwords.json (0600) holds each person's initial password, for sign-in
  // with a session (POST /v1/sessions).
  const passwords = JSON.parse(readFileSync(path.join(run, 'passwords.json'), 'utf8'));
  const password = (msp, role) => {
    const p = passwords.find((x) => x.mspId === msp && x.role === role);
    if (!p) throw new Error(`no ${role} of ${msp} in passwords.json`);
    return { user: p.user, password: p.password };
  };
  return { endpoints, credentials, gateway, token, password };
}

// A write answers once its block is committed on the writer's own peer;
// another department's peer may take a moment longer to commit it. So a
// write through one gateway first waits until that gateway's index (which
// follows its peer) has applied the last block written anywhere.
let lastBlock = -1;
const height = new Map();

async function caughtUp(run, msp) {
  const deadline = Date.now() + 20000;
  while ((height.get(msp) ?? 0) <= lastBlock) {
    const r = await (await fetch(run.gateway(msp) + '/readyz')).json().catch(() => null);
    height.set(msp, (r && r.index && r.index.height) || 0);
    if (height.get(msp) > lastBlock) break;
    if (Date.now() > deadline) throw new Error(`${msp}'s index did not reach block ${lastBlock} within 20 s`);
    await new Promise((f) => setTimeout(f, 100));
  }
}

// api calls one route as one person and answers the parsed body; a status
// other than the expected ones throws with the gateway's error.
export async function api(run, msp, role, method, route, body, ok = [200, 201]) {
  if (method !== 'GET') await caughtUp(run, msp);
  const res = await fetch(run.gateway(msp) + route, {
    method,
    headers: { Authorization: 'Bearer ' + run.token(msp, role), 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!ok.includes(res.status)) throw new Error(`${method} ${route} as ${role} of ${msp}: ${res.status} ${text}`);
  if (parsed && typeof parsed.blockNumber === 'number') {
    lastBlock = Math.max(lastBlock, parsed.blockNumber);
    height.set(msp, Math.max(height.get(msp) ?? 0, parsed.blockNumber + 1));
  }
  return { status: res.status, body: parsed };
}

const sha = (s) => createHash('sha256').update(s).digest('hex');

export async function seed(run, suffix = Date.now().toString(36)) {
  const [D1, D2, D3, BU] = ['Dept1MSP', 'Dept2MSP', 'Dept3MSP', 'BureauMSP'];
  const ids = {
    households: `households-${suffix}`,
    residents: `residents-${suffix}`,
    benefits: `benefits-${suffix}`,
    employment: `employment-${suffix}`,
    pool: `population-pool-${suffix}`,
  };
  const dataset = (msp, id, title, shareType, openType, grade, derivedFrom = [], fields = ['id', 'district', 'count']) =>
    api(run, msp, 'operator', 'POST', '/v1/datasets', {
      id, title, description: `${title}, maintained by ${msp}`, fields, shareType, openType, grade, updateFrequency: 'monthly', derivedFrom,
    });
  await dataset(D1, ids.households, 'Registered households', 'conditional', 'restricted', 2, [], ['householdId', 'district', 'members']);
  await dataset(D1, ids.residents, 'Resident population by district', 'unconditional', 'open', 1);
  await dataset(D3, ids.employment, 'Employment registrations', 'unconditional', 'open', 2);
  await dataset(D2, ids.benefits, 'Benefit recipients', 'conditional', 'restricted', 3, [ids.households]);
  await dataset(BU, ids.pool, 'City population pool', 'unconditional', 'open', 1, [ids.residents, ids.employment]);

  const validUntil = new Date(Date.now() + 365 * 86400000).toISOString().replace(/\.\d+Z$/, 'Z');
  const request = async (msp, datasetId, purpose) => (await api(run, msp, 'operator', 'POST', '/v1/requests', {
    datasetId, purpose, legalBasis: 'Municipal Data Sharing Regulation art. 7', fields: ['district'], validUntil,
  })).body.request;
  const rqHouseholds = await request(D2, ids.households, 'verify benefit eligibility');
  await api(run, D1, 'approver', 'POST', `/v1/requests/${rqHouseholds.id}/approve`, { reason: 'legal basis checked' });
  const rqResidents = await request(D3, ids.residents, 'plan employment services');
  const rqEmployment = await request(D2, ids.employment, 'match benefit recipients to jobs');
  const rqPending = await request(D3, ids.households, 'household survey');
  const rqRejected = await request(BU, ids.benefits, 'statistics');
  await api(run, D2, 'approver', 'POST', `/v1/requests/${rqRejected.id}/reject`, { reason: 'aggregate figures are published monthly' });

  const deliver = async (owner, rq, records, content) => (await api(run, owner, 'operator', 'POST', `/v1/requests/${rq.id}/deliveries`, {
    sha256: sha(content), records, bytes: records * 40, channel: 'sftp',
  })).body.delivery;
  const dlHouseholds = await deliver(D1, rqHouseholds, 1200, 'households extract ' + suffix);
  await api(run, D2, 'operator', 'POST', `/v1/deliveries/${dlHouseholds.id}/receipt`, { sha256: sha('households extract ' + suffix) });
  await api(run, D2, 'operator', 'POST', `/v1/deliveries/${dlHouseholds.id}/feedback`, { timeliness: 5, accuracy: 4, completeness: 4, consistency: 5, comment: 'complete and on time' });
  const dlResidents = await deliver(D1, rqResidents, 800, 'residents extract ' + suffix);
  await api(run, D3, 'operator', 'POST', `/v1/deliveries/${dlResidents.id}/receipt`, { sha256: sha('a different file ' + suffix) });
  const correction = (await api(run, D3, 'operator', 'POST', '/v1/corrections', { deliveryId: dlResidents.id, description: 'the file we received does not match the recorded hash' })).body.correction;
  await api(run, D1, 'operator', 'POST', `/v1/corrections/${correction.id}/resolve`, { resolution: 'resent the extract from the archived copy' });
  const dlEmployment = await deliver(D3, rqEmployment, 500, 'employment extract ' + suffix);
  await api(run, D2, 'operator', 'POST', `/v1/deliveries/${dlEmployment.id}/receipt`, { sha256: sha('employment extract ' + suffix) });

  const use = (msp, rq, calls, records) => api(run, msp, 'operator', 'POST', '/v1/usage', { requestId: rq.id, calls, records });
  await use(D2, rqHouseholds, 3, 600);
  await use(D2, rqHouseholds, 2, 300);
  await use(D3, rqResidents, 5, 400);
  await use(D2, rqEmployment, 1, 100);

  const contribute = (msp, records) => api(run, msp, 'operator', 'POST', '/v1/contributions', { datasetId: ids.pool, records, bytes: records * 30, sha256: sha(msp + suffix) });
  // A contribution counts once the pool's owner (the bureau) accepts it.
  for (const c of [await contribute(D1, 2000), await contribute(D3, 900)]) {
    await api(run, BU, 'approver', 'POST', `/v1/contributions/${c.body.contribution.id}/accept`, { reason: 'pooled' });
  }

  return {
    suffix, ids,
    requests: { households: rqHouseholds.id, residents: rqResidents.id, employment: rqEmployment.id, pending: rqPending.id, rejected: rqRejected.id },
    deliveries: { households: dlHouseholds.id, residents: dlResidents.id, employment: dlEmployment.id },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const run = process.env.GOVSHARE_RUN;
  if (!run) throw new Error('set GOVSHARE_RUN to the run folder (with endpoints.json and credentials.json)');
  console.log(JSON.stringify(await seed(loadRun(run)), null, 2));
}
