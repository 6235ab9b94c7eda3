// GET /v1/policies over HTTP on SQLite and PostgreSQL: admins and auditors read the policies in
// force, in file order, with the defaults filled in; anyone else gets 403.
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { sharedHttpHarness, token, type Dialect } from '../support/app-harness.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

const who = (id: string, groups: string[], roles: string[] = []) =>
  `  - { id: ${id}, groups: [${groups.join(', ')}], roles: [${roles.join(', ')}], apiTokens: [{ sha256: ${tokenHash(id)} }] }`;

const YAML = `
principals:
${who('alice', ['eng'])}
${who('bob', ['leads'])}
${who('admin', [], ['admin'])}
${who('auditor', [], ['auditor'])}
${who('checker', [], ['checker'])}
targets:
  db:
    type: hourglass
    entitlements:
      read: {}
      root: { description: Everything }
policies:
  - name: eng-read
    subjects: { groups: [eng], users: [bob] }
    entitlements: [db/read]
    maxDuration: 8h
    reason: optional
    approval: { required: 0 }
  - name: eng-root
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 2h
    defaultDuration: 30m
    ticket: { required: true, pattern: "^INC-[0-9]+$" }
    approval: { required: 2, approvers: { groups: [leads], users: [admin], manager: true } }
    extension: { allowed: true, maxTotal: 4h }
    when: { days: [mon, tue], hours: "22:00-06:00", timezone: Europe/Berlin, sourceNetworks: [10.0.0.0/8] }
    mfa: { required: true, for: [request, approve], maxAge: 10m }
  - name: eng-break-glass
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 1h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [leads] }, within: 12h }
`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`GET /v1/policies on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);

    it('lists the policies in file order, as the loader normalised them, to admins and auditors', async () => {
      const r = await h.call('GET', '/v1/policies', token('admin'));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.policyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.body.policies.map((p: { name: string }) => p.name)).toEqual(['eng-read', 'eng-root', 'eng-break-glass']);
      expect(r.body.policies[0]).toEqual({
        name: 'eng-read',
        subjects: { groups: ['eng'], users: ['bob'] },
        entitlements: ['db/read'],
        defaultDuration: HOUR,
        minDuration: MIN,
        maxDuration: 8 * HOUR,
        reason: 'optional',
        ticket: { required: false },
        approval: { required: 0, approvers: { groups: [], users: [] } },
        pendingTimeout: 24 * HOUR,
        extension: { allowed: false, maxTotal: 8 * HOUR, requiresApproval: true },
        breakGlass: false,
      });
      expect(r.body.policies[1]).toEqual({
        name: 'eng-root',
        subjects: { groups: ['eng'], users: [] },
        entitlements: ['db/root'],
        defaultDuration: 30 * MIN,
        minDuration: MIN,
        maxDuration: 2 * HOUR,
        reason: 'required',
        ticket: { required: true, pattern: '^INC-[0-9]+$' },
        approval: { required: 2, approvers: { groups: ['leads'], users: ['admin'], manager: true } },
        pendingTimeout: 24 * HOUR,
        extension: { allowed: true, maxTotal: 4 * HOUR, requiresApproval: true },
        when: { days: ['mon', 'tue'], hours: { from: 22 * 60, to: 6 * 60 }, timezone: 'Europe/Berlin', sourceNetworks: ['10.0.0.0/8'] },
        breakGlass: false,
        mfa: { for: ['approve', 'request'], maxAge: 10 * MIN },
      });
      expect(r.body.policies[2]).toMatchObject({
        name: 'eng-break-glass',
        breakGlass: true,
        review: { approvers: { groups: ['leads'], users: [] }, within: 12 * HOUR },
      });
      expect(r.body.policies[2]).not.toHaveProperty('mfa');
      expect(r.body.policies[2]).not.toHaveProperty('when');

      const byAuditor = await h.call('GET', '/v1/policies', token('auditor'));
      expect(byAuditor.status).toBe(200);
      expect(byAuditor.body).toEqual(r.body);
      // The hash is the one every decision records.
      const req = await h.call('POST', '/v1/requests', token('alice'), { entitlements: ['db/read'] });
      expect(req.status, JSON.stringify(req.body)).toBe(201);
      expect(req.body.policyHash).toBe(r.body.policyHash);
    });

    it('refuses everyone else with 403, and callers without a token with 401', async () => {
      for (const id of ['alice', 'bob', 'checker']) {
        const r = await h.call('GET', '/v1/policies', token(id));
        expect(r.status, id).toBe(403);
        expect(r.body.error.code).toBe('HG_FORBIDDEN');
      }
      expect((await h.call('GET', '/v1/policies')).status).toBe(401);
    });
  });
}
