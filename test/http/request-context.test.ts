// GET /v1/requests/{id}/context and the `reviewable=true` list filter, over HTTP on SQLite and
// PostgreSQL: an approver sees what each entitlement gives on its target (never a secret of the
// target), the requester's history for those entitlements and risk hints; the requester and
// anyone who may not decide or review the request get 404, as for the request itself.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { sharedHttpHarness, T0, token, type Dialect } from '../support/app-harness.js';

const HOUR = 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'hg-context-'));
const pem = () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const tokenKey = join(dir, 'token.pem');
const caKey = join(dir, 'ca.pem');
writeFileSync(tokenKey, pem(), { mode: 0o600 });
writeFileSync(caKey, pem(), { mode: 0o600 });
const HOOK_SECRET = 'hook-secret-0123456789abcdef0123456789';

const who = (id: string, groups: string[], roles: string[] = []) =>
  `  - { id: ${id}, groups: [${groups.join(', ')}], roles: [${roles.join(', ')}], apiTokens: [{ sha256: ${tokenHash(id)} }] }`;

const YAML = `
server: { publicUrl: "https://hourglass.example.com" }
credentials: { key: "${randomBytes(32).toString('base64')}" }
principals:
${who('alice', ['eng'])}
${who('bob', ['leads'])}
${who('carol', ['leads'])}
${who('rita', ['reviewers'])}
${who('mallory', ['eng'])}
${who('admin', [], ['admin'])}
${who('auditor', [], ['auditor'])}
targets:
  api:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${tokenKey}
    entitlements:
      deploy: { description: Deploy to production, claims: { scope: deploy, env: [prod] } }
  hosts:
    type: ssh
    ca: { keyFile: ${caKey} }
    entitlements:
      login: { principals: [deploy, ops], extensions: [permit-pty] }
  hooks:
    type: webhook
    url: https://receiver.example.com/hourglass
    secret: ${HOOK_SECRET}
    entitlements:
      refunds: { attributes: { note: "signed with ${HOOK_SECRET}", limit: 100 } }
  db:
    type: hourglass
    entitlements:
      root: { description: Everything }
policies:
  - name: eng-api
    subjects: { groups: [eng] }
    entitlements: [api/deploy, hosts/login, hooks/refunds]
    maxDuration: 8h
    reason: required
    approval: { required: 2, approvers: { groups: [leads] } }
    when: { timezone: America/New_York }
  - name: eng-break-glass
    subjects: { groups: [eng] }
    entitlements: [db/root]
    maxDuration: 1h
    approval: { required: 0 }
    breakGlass: true
    review: { approvers: { groups: [reviewers] }, within: 24h }
`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`an approver's context on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);
    const ask = async (body: Record<string, unknown>) => {
      const r = await h.call('POST', '/v1/requests', token('alice'), { reason: 'release 42', ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body as { id: string; status: string };
    };

    it('shows what each entitlement gives, with no secret of any target', async () => {
      h.clock.set(T0); // Monday 10:00 UTC: 05:00 in New York, outside usual hours there
      const req = await ask({ entitlements: ['api/deploy', 'hosts/login', 'hooks/refunds'], duration: '7h' });
      const r = await h.call('GET', `/v1/requests/${req.id}/context`, token('bob'));
      expect(r.status).toBe(200);
      expect(r.body.entitlements).toEqual([
        {
          entitlement: 'api/deploy',
          target: 'api',
          kind: 'token',
          description: 'Deploy to production',
          grants: { claims: { scope: 'deploy', env: ['prod'] } },
        },
        {
          entitlement: 'hosts/login',
          target: 'hosts',
          kind: 'ssh',
          description: null,
          grants: { principals: ['deploy', 'ops'], extensions: ['permit-pty'], verifyRequired: false },
        },
        { entitlement: 'hooks/refunds', target: 'hooks', kind: 'webhook', description: null, grants: { attributes: { note: 'signed with ***', limit: 100 } } },
      ]);
      const text = JSON.stringify(r.body);
      expect(text).not.toContain(HOOK_SECRET);
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(tokenKey);
      // First time for each, outside usual hours in the policy's zone, 7h of at most 8h.
      expect(r.body.hints.map((x: { code: string }) => x.code).sort()).toEqual(['first_time', 'first_time', 'first_time', 'long_duration', 'outside_hours']);
      expect(r.body.hints.find((x: { code: string }) => x.code === 'outside_hours').message).toContain('Mon 05:00 (America/New_York)');
      expect(r.body.usualHours).toEqual({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '19:00', timezone: 'America/New_York' });
      expect(r.body.history).toEqual([]);
      await h.call('POST', `/v1/requests/${req.id}/cancel`, token('alice'), {});
    });

    it("lists the requester's history for the same entitlements, and drops the hints that no longer hold", async () => {
      h.clock.set(T0 + 6 * HOUR); // Monday 11:00 in New York
      const first = await ask({ entitlements: ['api/deploy'], duration: '1h' });
      await h.call('POST', `/v1/requests/${first.id}/deny`, token('bob'), { comment: 'not today' });
      h.clock.advance(HOUR);
      const other = await ask({ entitlements: ['hosts/login'], duration: '1h' }); // another entitlement: not in the history
      const second = await ask({ entitlements: ['api/deploy'], duration: '2h' });
      const approved = await h.call('POST', `/v1/requests/${second.id}/approve`, token('carol'), { comment: 'fine' });
      expect(approved.status).toBe(200);
      const r = await h.call('GET', `/v1/requests/${second.id}/context`, token('bob'));
      expect(r.status).toBe(200);
      expect(r.body.hints).toEqual([]);
      const ids = r.body.history.map((x: { id: string }) => x.id);
      expect(ids).toContain(first.id);
      expect(ids).not.toContain(other.id);
      expect(ids).not.toContain(second.id);
      const denied = r.body.history.find((x: { id: string }) => x.id === first.id);
      expect(denied).toMatchObject({ status: 'denied', entitlements: ['api/deploy'], policy: 'eng-api', durationSeconds: 3600, breakGlass: false });
      expect(denied.requestedAt).toBe(new Date(T0 + 6 * HOUR).toISOString());
      // The other approver's decision is on the request itself: carol approved, one more is awaited.
      const got = await h.call('GET', `/v1/requests/${second.id}`, token('bob'));
      expect(got.body.approvals.map((a: { by: string }) => a.by)).toEqual(['carol']);
      expect(got.body.awaiting[0].remaining).toBe(1);
      await h.call('POST', `/v1/requests/${second.id}/cancel`, token('alice'), {});
      await h.call('POST', `/v1/requests/${other.id}/cancel`, token('alice'), {});
    });

    it('is refused with 404 to the requester, to someone who may not decide it and for an unknown id; admins and auditors read it', async () => {
      const req = await ask({ entitlements: ['api/deploy'], duration: '1h' });
      for (const caller of ['alice', 'mallory', 'rita']) {
        const r = await h.call('GET', `/v1/requests/${req.id}/context`, token(caller));
        expect(r.status, caller).toBe(404);
        expect(r.body.error.code).toBe('HG_NOT_FOUND');
      }
      expect((await h.call('GET', '/v1/requests/nope/context', token('bob'))).status).toBe(404);
      expect((await h.call('GET', `/v1/requests/${req.id}/context`)).status).toBe(401);
      for (const caller of ['admin', 'auditor']) expect((await h.call('GET', `/v1/requests/${req.id}/context`, token(caller))).status, caller).toBe(200);
      await h.call('POST', `/v1/requests/${req.id}/cancel`, token('alice'), {});
    });

    it('a break-glass grant: hinted, listed as reviewable for its reviewers until reviewed, its context readable by them', async () => {
      h.clock.set(T0 + 8 * HOUR);
      const bg = await ask({ entitlements: ['db/root'], duration: '30m', breakGlass: true });
      expect(bg.status).toBe('active');
      const ctx = await h.call('GET', `/v1/requests/${bg.id}/context`, token('rita'));
      expect(ctx.status).toBe(200);
      expect(ctx.body.hints.map((x: { code: string }) => x.code)).toEqual(['break_glass', 'first_time']);
      expect(ctx.body.entitlements).toEqual([{ entitlement: 'db/root', target: 'db', kind: 'hourglass', description: 'Everything', grants: {} }]);
      expect(ctx.body.usualHours.timezone).toBe('UTC');

      const listed = async (caller: string) =>
        ((await h.call('GET', '/v1/requests?reviewable=true', token(caller))).body.requests as { id: string }[]).map((x) => x.id);
      expect(await listed('rita')).toEqual([bg.id]);
      expect(await listed('bob')).toEqual([]); // an approver of other policies, no reviewer of this one
      expect(await listed('alice')).toEqual([]); // never one's own
      expect(await listed('admin')).toEqual([]); // admins see everything, but review only as reviewers
      expect((await h.call('POST', `/v1/requests/${bg.id}/review`, token('rita'), { comment: 'checked the session log' })).status).toBe(200);
      expect(await listed('rita')).toEqual([]);
      expect((await h.call('GET', `/v1/requests/${bg.id}/context`, token('rita'))).status).toBe(200);
    });
  });
}
