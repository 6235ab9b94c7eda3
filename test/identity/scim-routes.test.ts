// SCIM 2.0 over HTTP (/scim/v2), on SQLite and PostgreSQL: the request sequences Entra ID and Okta
// document sending, replayed end to end; deactivation and deletion ending everything a person
// holds, with the SCIM call as the cause; group membership driving policy subjects at once; the
// bearer token, its failure limit, ETags, filters and paging; and what SCIM must never do.
import { generateKeyPairSync, hash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tokenHash } from '../fixtures/policies.js';
import { loadScimFixture } from '../support/scim-fixtures.js';
import { sharedHttpHarness, token, type Dialect } from '../support/app-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hg-scim-'));
const keyFile = join(dir, 'key.pem');
writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });

const SCIM_TOKEN = 'scim-entra-token-0123456789abcdef';
const ROTATED_TOKEN = 'scim-next-token-fedcba9876543210';
const SCIM_MEDIA = 'application/scim+json';

const YAML = `
server: { publicUrl: "https://hourglass.example.com" }
identity:
  roles: [{ group: hg-auditors, roles: [auditor] }]
  scim:
    tokens:
      - { name: entra, sha256: ${hash('sha256', SCIM_TOKEN)} }
      - { name: next, sha256: ${hash('sha256', ROTATED_TOKEN).toUpperCase()} }
principals:
  - { id: admin, roles: [admin], apiTokens: [{ sha256: ${tokenHash('admin')} }] }
targets:
  demo:
    type: token
    issuer: https://hourglass.example.com
    audience: https://api.internal
    signingKeyFile: ${keyFile}
    entitlements: { read: {}, write: {} }
policies:
  - { name: eng-read, subjects: { groups: [eng] }, entitlements: [demo/read], maxDuration: 1h, reason: optional, approval: { required: 0 } }
  - { name: eng-write, subjects: { groups: [eng] }, entitlements: [demo/write], maxDuration: 1h, reason: optional, approval: { required: 1, approvers: { users: [admin] } } }
`;

type Json = Record<string, any>;

const load = loadScimFixture;

/** Replaces every fixture id by the id this server gave the resource. */
function substitute<T>(v: T, ids: Map<string, string>): T {
  let text = JSON.stringify(v);
  for (const [from, to] of ids) text = text.split(from).join(to);
  return text === undefined ? v : (JSON.parse(text) as T);
}

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`SCIM on ${dialect}`, () => {
    const h = sharedHttpHarness(dialect, YAML);

    async function scim(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, address = '192.0.2.10') {
      const res = await h.server.inject({
        method: method as 'GET',
        url: `/scim/v2${path}`,
        remoteAddress: address,
        headers: { authorization: `Bearer ${SCIM_TOKEN}`, ...(body !== undefined ? { 'content-type': SCIM_MEDIA } : {}), ...headers },
        ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      return { status: res.statusCode, headers: res.headers, body: (res.body ? JSON.parse(res.body) : undefined) as Json };
    }
    const user = (userName: string, extra: Json = {}) => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName,
      active: true,
      emails: [{ value: userName.includes('@') ? userName : `${userName}@example.com`, primary: true, type: 'work' }],
      ...extra,
    });
    const group = (displayName: string, members: string[] = []) => ({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName,
      members: members.map((value) => ({ value })),
    });
    const patchOp = (...ops: Json[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: ops });
    const audit = async (type: string) => (await h.store.listAudit({ limit: 1000 })).events.filter((e) => e.type === type);
    const signIn = (sub: string, id: string, groups?: string[]) =>
      h.system.signIn.signIn({ provider: 'oidc:corp', subject: sub, principalId: id, ...(groups ? { groups } : {}), amr: ['pwd'] }, { client: 'browser' });
    const asCookie = (secret: string) => ({ cookie: `__Host-hourglass_session=${secret}` });

    describe.each([
      ['Entra ID', 'entra-id.json', ['f648f8d5ea4e4cd38e9c', 'u1091', '7f4bc1a3-285e-48ae-8202-5accb43efb0e']],
      ['Okta', 'okta.json', ['89bb1940-b905-4575-9e7f-6f887cfb368e']],
    ])('%s documented requests, end to end', (_name, file, members) => {
      const fixture = load(file as 'entra-id.json' | 'okta.json');
      const ids = new Map<string, string>();
      for (const seq of fixture.sequences) {
        describe(`${seq.resourceType} ${seq.id}`, () => {
          if (seq.resourceType === 'Group') {
            it('(the members it names are provisioned first)', async () => {
              for (const m of members) expect((await scim('POST', '/Users', user(m))).status).toBe(201);
            });
          }
          for (const step of seq.steps) {
            it(step.doc, async () => {
              const want = substitute(step.expect, ids);
              const path = substitute(step.request.path, ids);
              if (step.request.method === 'GET') {
                const qs = new URLSearchParams(substitute(step.request.query ?? {}, ids)).toString();
                const res = await scim('GET', `${path}?${qs}`);
                expect(res.status).toBe(200);
                expect(res.headers['content-type']).toContain(SCIM_MEDIA);
                expect(res.body.startIndex).toBe(want.startIndex);
                expect(res.body.itemsPerPage).toBeLessThanOrEqual(want.count!);
                const mine = (res.body.Resources as Json[]).find((r) => r.id === ids.get(seq.id));
                expect(mine !== undefined).toBe(want.matches);
                if (want.projected) expect(Object.keys(mine!).sort()).toEqual([...want.projected].sort());
                return;
              }
              const res = await scim(step.request.method, path, substitute(step.request.body, ids));
              if (want.error) {
                expect(res.status).toBe(want.error.status);
                expect(res.body).toMatchObject({
                  schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
                  status: String(want.error.status),
                  scimType: want.error.scimType,
                });
                return;
              }
              expect(res.status).toBe(step.request.method === 'POST' ? 201 : 200);
              if (step.request.method === 'POST') {
                ids.set(seq.id, res.body.id);
                expect(res.headers.location).toBe(`https://hourglass.example.com/scim/v2/${seq.resourceType}s/${encodeURIComponent(res.body.id)}`);
              }
              expect(res.headers.etag).toBe(res.body.meta.version);
              const expected = substitute(want.resource ?? {}, ids);
              delete expected.id; // the fixture's id is the IdP's example server's; ours is substituted above
              // A member's display is read-only (RFC 7643 4.2): Hourglass answers value and $ref.
              // Multi-valued attributes have no order (RFC 7643 2.4): Hourglass answers members by value.
              if (Array.isArray(expected.members)) {
                expected.members = expected.members.map((m: Json) => ({ value: m.value })).sort((a: Json, b: Json) => (a.value < b.value ? -1 : 1));
              }
              expect(res.body).toMatchObject(expected);
              for (const key of want.absent ?? []) expect(res.body).not.toHaveProperty([key]);
              // What was written is what a GET reads back.
              const again = await scim('GET', `/${seq.resourceType}s/${encodeURIComponent(res.body.id)}`);
              expect(again.body).toEqual(res.body);
            });
          }
        });
      }
    });

    it('discovery answers in SCIM, truthfully', async () => {
      const spc = await scim('GET', '/ServiceProviderConfig');
      expect(spc.status).toBe(200);
      expect(spc.headers['content-type']).toBe('application/scim+json; charset=utf-8');
      expect(spc.body).toMatchObject({
        patch: { supported: true },
        filter: { supported: true, maxResults: 200 },
        etag: { supported: true },
        bulk: { supported: false },
      });
      const types = await scim('GET', '/ResourceTypes');
      expect(types.body.Resources.map((r: Json) => r.id)).toEqual(['User', 'Group']);
      expect((await scim('GET', '/ResourceTypes/Group')).body.endpoint).toBe('/Groups');
      const schemas = await scim('GET', '/Schemas');
      expect(schemas.body.totalResults).toBe(3);
      expect((await scim('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:User')).body.name).toBe('User');
      expect((await scim('GET', '/Schemas/urn:nope')).status).toBe(404);
    });

    it('the bearer token: required, constant over rotation, never a principal token, never accepted by /v1', async () => {
      const none = await scim('GET', '/Users', undefined, { authorization: '' });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Bearer realm="hourglass-scim"');
      expect(none.body).toEqual({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: '401',
        detail: 'A valid bearer token of identity.scim.tokens is required.',
      });
      expect((await scim('GET', '/Users', undefined, { authorization: `Bearer ${token('admin')}` })).status).toBe(401);
      // Both tokens of a rotation work (the second is configured in upper-case hex).
      expect((await scim('GET', '/Users', undefined, { authorization: `Bearer ${ROTATED_TOKEN}` })).status).toBe(200);
      // The SCIM token is no API token.
      expect((await h.call('GET', '/v1/me', SCIM_TOKEN)).status).toBe(401);
      // A stranger learns nothing about which SCIM paths exist; a client with the token gets a SCIM 404.
      expect((await scim('GET', '/Nope', undefined, { authorization: '' })).status).toBe(401);
      const missing = await scim('GET', '/Nope');
      expect(missing.status).toBe(404);
      expect(missing.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      // A body is never parsed for a stranger.
      expect((await scim('POST', '/Users', '{not json', { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await scim('POST', '/Users', '{not json')).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
    });

    it('guessing tokens runs out of budget per address (429 with Retry-After), without touching other addresses', async () => {
      const guesser = '198.51.100.77';
      let last = 0;
      for (let i = 0; i < 25 && last !== 429; i++) last = (await scim('GET', '/Users', undefined, { authorization: `Bearer guess-${i}` }, guesser)).status;
      expect(last).toBe(429);
      const refused = await scim('GET', '/Users', undefined, {}, guesser);
      expect(refused.status).toBe(429); // even the right token waits: the guess is not checked at all
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      expect((await scim('GET', '/Users')).status).toBe(200);
      h.clock.advance(60_000);
      expect((await scim('GET', '/Users', undefined, {}, guesser)).status).toBe(200);
    });

    it('users: uniqueness without regard to case, filters, paging, projection, ETags and preconditions', async () => {
      const created = await scim('POST', '/Users', user('Grace.Hopper@Example.com', { displayName: 'Grace Hopper', externalId: 'ext-grace' }));
      expect(created.status).toBe(201);
      expect(created.body.id).toBe('grace.hopper@example.com');
      expect(created.body.userName).toBe('Grace.Hopper@Example.com');
      expect((await scim('POST', '/Users', user('GRACE.HOPPER@example.com'))).body).toMatchObject({ status: '409', scimType: 'uniqueness' });
      expect((await scim('POST', '/Users', user('other.grace@example.com', { externalId: 'ext-grace' }))).body).toMatchObject({
        status: '409',
        scimType: 'uniqueness',
      });
      expect((await scim('POST', '/Users', user('not a principal id'))).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      expect(
        (
          await scim(
            'POST',
            '/Users',
            user('self@example.com', { 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { manager: { value: 'self@example.com' } } }),
          )
        ).status,
      ).toBe(400);
      for (const n of ['pager-1', 'pager-2', 'pager-3']) await scim('POST', '/Users', user(n));

      const byName = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "grace.HOPPER@example.COM"')}`);
      expect(byName.body.totalResults).toBe(1);
      expect((await scim('GET', `/Users?filter=${encodeURIComponent('userName sw "pager-" and active eq true')}`)).body.totalResults).toBe(3);
      expect((await scim('GET', `/Users?filter=${encodeURIComponent('displayName co "hop"')}`)).body.Resources[0].id).toBe('grace.hopper@example.com');
      expect((await scim('GET', `/Users?filter=${encodeURIComponent('userName xx "a"')}`)).body).toMatchObject({ status: '400', scimType: 'invalidFilter' });
      const page2 = await scim('GET', `/Users?filter=${encodeURIComponent('userName sw "pager-"')}&startIndex=2&count=1&attributes=userName`);
      expect(page2.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
      expect(Object.keys(page2.body.Resources[0]).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
      expect(page2.body.Resources[0].userName).toBe('pager-2');

      const etag = created.headers.etag as string;
      expect(etag).toMatch(/^W\/"\d+"$/);
      expect((await scim('GET', '/Users/grace.hopper@example.com', undefined, { 'if-none-match': etag })).status).toBe(304);
      const stale = await scim('PUT', '/Users/grace.hopper@example.com', user('Grace.Hopper@Example.com', { title: 'RADM' }), { 'if-match': 'W/"999"' });
      expect(stale.status).toBe(412);
      const put = await scim('PUT', '/Users/grace.hopper@example.com', user('Grace.Hopper@Example.com', { title: 'RADM', externalId: 'ext-grace' }), {
        'if-match': etag,
      });
      expect(put.status).toBe(200);
      expect(put.body.title).toBe('RADM');
      expect(put.headers.etag).not.toBe(etag);
      // An unchanged write writes nothing: same version, no audit event.
      const updates = (await audit('principal.updated')).length;
      const same = await scim('PUT', '/Users/grace.hopper@example.com', user('Grace.Hopper@Example.com', { title: 'RADM', externalId: 'ext-grace' }));
      expect(same.headers.etag).toBe(put.headers.etag);
      expect((await audit('principal.updated')).length).toBe(updates);
      expect((await scim('GET', '/Users/nobody@example.com')).status).toBe(404);
    });

    it('deactivating a User ends every grant, request, session and token at once, audited with the SCIM call', async () => {
      expect((await scim('POST', '/Users', user('alice@example.com', { displayName: 'Alice' }))).status).toBe(201);
      const eng = await scim('POST', '/Groups', group('eng', ['alice@example.com']));
      expect(eng.status).toBe(201);
      const s = await signIn('sub-alice', 'alice@example.com', ['ignored-claim-group']);
      const cookie = { ...asCookie(s.secret), 'x-csrf-token': s.csrf };
      // SCIM manages her: the sign-in's group claim changed nothing.
      expect((await h.call('GET', '/v1/auth/session', undefined, undefined, asCookie(s.secret))).body.principal.groups).toEqual(['eng']);
      const granted = await h.call('POST', '/v1/requests', undefined, { entitlements: ['demo/read'], duration: '30m' }, cookie);
      expect(granted.status).toBe(201);
      const pending = await h.call('POST', '/v1/requests', undefined, { entitlements: ['demo/write'], duration: '30m' }, cookie);
      expect(pending.body.status).toBe('pending');
      const pat = await h.call('POST', '/v1/tokens', undefined, { name: 'laptop', scopes: ['read'] }, cookie);
      expect(pat.status).toBe(201);

      // Entra ID's shape: a capitalised op and a string boolean.
      const off = await scim('PATCH', '/Users/alice@example.com', patchOp({ op: 'Replace', path: 'active', value: 'False' }));
      expect(off.status).toBe(200);
      expect(off.body.active).toBe(false);
      expect((await h.call('GET', '/v1/me', undefined, undefined, asCookie(s.secret))).status).toBe(401);
      expect((await h.call('GET', '/v1/me', pat.body.token)).status).toBe(401);
      const after = async (id: string) => (await h.call('GET', `/v1/requests/${id}`, token('admin'))).body;
      expect((await after(granted.body.id)).status).toBe('revoked');
      expect((await after(pending.body.id)).status).toBe('cancelled');
      const [ev] = (await audit('principal.deactivated')).filter((e) => e.details!.principal === 'alice@example.com');
      expect(ev).toMatchObject({
        actor: 'scim:entra',
        details: {
          via: 'scim',
          call: 'PATCH /scim/v2/Users/alice@example.com',
          revoked: [granted.body.id],
          cancelled: [pending.body.id],
          sessions: 1,
          tokens: 1,
        },
      });
      expect(ev!.details!.requestId).toEqual(expect.any(String));
      await expect(signIn('sub-alice', 'alice@example.com')).rejects.toMatchObject({ code: 'HG_SIGN_IN_REFUSED' });
      // She is still a SCIM User (inactive), and can come back; what was ended stays ended.
      expect((await scim('GET', `/Users?filter=${encodeURIComponent('active eq false')}`)).body.Resources.map((r: Json) => r.id)).toContain(
        'alice@example.com',
      );
      expect((await scim('PATCH', '/Users/alice@example.com', patchOp({ op: 'replace', value: { active: true } }))).body.active).toBe(true);
      expect((await audit('principal.reactivated')).at(-1)).toMatchObject({ actor: 'scim:entra', details: { principal: 'alice@example.com' } });
      expect((await h.call('GET', '/v1/me', pat.body.token)).status).toBe(401);
      expect((await signIn('sub-alice', 'alice@example.com')).secret).toMatch(/^hgs_/);
    });

    it('group membership drives policy subjects at once; renames and deletes too', async () => {
      await scim('POST', '/Users', user('bob@example.com'));
      const s = await signIn('sub-bob', 'bob@example.com');
      const cookie = { ...asCookie(s.secret), 'x-csrf-token': s.csrf };
      const ask = () => h.call('POST', '/v1/requests', undefined, { entitlements: ['demo/read'], duration: '10m' }, cookie);
      expect((await ask()).status).toBe(403);
      const g = await scim('POST', '/Groups', group('readers-to-be'));
      const add = await scim('PATCH', `/Groups/${g.body.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: 'bob@example.com' }] }));
      expect(add.body.members).toEqual([{ value: 'bob@example.com', $ref: 'https://hourglass.example.com/scim/v2/Users/bob%40example.com' }]);
      expect((await scim('GET', '/Users/bob@example.com')).body.groups).toEqual([
        { value: g.body.id, display: 'readers-to-be', $ref: `https://hourglass.example.com/scim/v2/Groups/${g.body.id}` },
      ]);
      expect((await ask()).status).toBe(403); // the group is not yet the one the policy names
      const renamed = await scim('PATCH', `/Groups/${g.body.id}`, patchOp({ op: 'replace', value: { displayName: 'eng' } }));
      expect(renamed.body).toMatchObject({ status: '409', scimType: 'uniqueness' }); // "eng" exists
      const eng = (await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "ENG"')}&excludedAttributes=members`)).body.Resources[0];
      expect(eng).not.toHaveProperty('members');
      await scim('PATCH', `/Groups/${eng.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: 'bob@example.com' }] }));
      const first = await ask();
      expect(first.status).toBe(201);
      const [event] = (await audit('group.updated')).filter((e) => e.details!.group === eng.id && (e.details!.added as string[]).includes('bob@example.com'));
      expect(event).toMatchObject({ actor: 'scim:entra', details: { displayName: 'eng', removed: [], call: `PATCH /scim/v2/Groups/${eng.id}` } });
      await h.call('POST', `/v1/requests/${first.body.id}/release`, undefined, {}, cookie);
      // Removed (the path-filter form Entra ID sends): refused again at once.
      await scim('PATCH', `/Groups/${eng.id}`, patchOp({ op: 'Remove', path: `members[value eq "bob@example.com"]` }));
      expect((await scim('GET', '/Users/bob@example.com')).body.groups).toEqual([expect.objectContaining({ display: 'readers-to-be' })]);
      expect((await ask()).status).toBe(403);
      // A rename reaches every member.
      await scim('PATCH', `/Groups/${g.body.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'hg-auditors' }));
      expect((await h.call('GET', '/v1/auth/session', undefined, undefined, asCookie(s.secret))).body.principal).toMatchObject({
        groups: ['hg-auditors'],
        roles: ['auditor'],
      });
      // Deleting the group takes it from its members.
      expect((await scim('DELETE', `/Groups/${g.body.id}`)).status).toBe(204);
      expect((await scim('GET', `/Groups/${g.body.id}`)).status).toBe(404);
      expect((await h.call('GET', '/v1/auth/session', undefined, undefined, asCookie(s.secret))).body.principal).toMatchObject({ groups: [], roles: [] });
      expect((await audit('group.deleted')).at(-1)).toMatchObject({ details: { group: g.body.id, displayName: 'hg-auditors', removed: ['bob@example.com'] } });
    });

    it('SCIM cannot escalate: no roles but by identity.roles, no file principals, no machines', async () => {
      const mallory = await scim(
        'POST',
        '/Users',
        user('mallory@example.com', { roles: [{ value: 'admin' }], 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'x' } }),
      );
      expect(mallory.status).toBe(201);
      expect(mallory.body).not.toHaveProperty('roles');
      await scim('POST', '/Groups', group('admin', ['mallory@example.com']));
      await scim('POST', '/Groups', group('hourglass-admins', ['mallory@example.com']));
      const s = await signIn('sub-mallory', 'mallory@example.com');
      expect((await h.call('GET', '/v1/auth/session', undefined, undefined, asCookie(s.secret))).body.principal.roles).toEqual([]);
      // The file's principals are out of reach: not listed, not writable, not creatable, not members.
      expect((await scim('POST', '/Users', user('admin'))).body).toMatchObject({ status: '409', scimType: 'uniqueness' });
      expect((await scim('POST', '/Users', user('ADMIN'))).status).toBe(409);
      expect((await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "admin"')}`)).body.totalResults).toBe(0);
      expect((await scim('PATCH', '/Users/admin', patchOp({ op: 'replace', path: 'active', value: false }))).status).toBe(404);
      expect((await scim('DELETE', '/Users/admin')).status).toBe(404);
      expect((await scim('POST', '/Groups', group('sneaky', ['admin']))).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      // Machine principals are the admins' to register, never an IdP's.
      expect((await h.call('POST', '/v1/machines', token('admin'), { id: 'deploy-bot', groups: ['ci'] })).status).toBe(200);
      expect((await scim('GET', '/Users/deploy-bot')).status).toBe(404);
      expect((await scim('PUT', '/Users/deploy-bot', user('deploy-bot'))).status).toBe(404);
      expect((await scim('POST', '/Users', user('deploy-bot'))).status).toBe(409);
      expect((await scim('GET', '/Users?count=200')).body.Resources.map((r: Json) => r.id)).not.toContain('deploy-bot');
      expect((await scim('POST', '/Groups', group('bots', ['deploy-bot']))).status).toBe(400);
      // Nothing half-done: the refused group does not exist.
      expect((await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "bots"')}`)).body.totalResults).toBe(0);
    });

    it('deleting a User ends what they hold, forgets them, and lets the name be provisioned anew', async () => {
      await scim('POST', '/Users', user('carol@example.com'));
      const g = await scim('POST', '/Groups', group('carols', ['carol@example.com']));
      const s = await signIn('sub-carol', 'carol@example.com');
      expect((await scim('DELETE', '/Users/carol@example.com', undefined, { 'if-match': 'W/"0"' })).status).toBe(412);
      expect((await scim('DELETE', '/Users/carol@example.com')).status).toBe(204);
      expect((await scim('GET', '/Users/carol@example.com')).status).toBe(404);
      expect((await scim('DELETE', '/Users/carol@example.com')).status).toBe(404);
      expect((await h.call('GET', '/v1/me', undefined, undefined, asCookie(s.secret))).status).toBe(401);
      const group2 = await scim('GET', `/Groups/${g.body.id}`);
      expect(group2.body.members).toEqual([]);
      expect(group2.headers.etag).not.toBe(g.headers.etag);
      expect((await audit('principal.deleted')).at(-1)).toMatchObject({ actor: 'scim:entra', details: { principal: 'carol@example.com', groups: ['carols'] } });
      expect((await audit('principal.deactivated')).at(-1)).toMatchObject({
        details: { principal: 'carol@example.com', via: 'scim', call: 'DELETE /scim/v2/Users/carol@example.com' },
      });
      // A new carol (another account at the IdP) starts afresh, not as the old one's link.
      expect((await scim('POST', '/Users', user('carol@example.com'))).status).toBe(201);
      expect((await signIn('sub-new-carol', 'carol@example.com')).secret).toMatch(/^hgs_/);
    });

    it('concurrent membership changes of one Group all land, and a member added twice at once is one member', async () => {
      const names = ['conc-1', 'conc-2', 'conc-3', 'conc-4'];
      for (const n of names) await scim('POST', '/Users', user(n));
      const g = await scim('POST', '/Groups', group('concurrent'));
      const adds = [...names, 'conc-1'].map((n) => scim('PATCH', `/Groups/${g.body.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: n }] })));
      expect((await Promise.all(adds)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      const final = await scim('GET', `/Groups/${g.body.id}`);
      expect(final.body.members.map((m: Json) => m.value)).toEqual(names);
      // One after the other: each of the four changes gave a new version, none was lost.
      const version = (etag: string) => Number(/"(\d+)"/.exec(etag)![1]);
      expect(version(final.headers.etag as string)).toBe(version(g.headers.etag as string) + 4);
      for (const n of names) expect((await scim('GET', `/Users/${n}`)).body.groups.map((x: Json) => x.display)).toEqual(['concurrent']);
    });

    it('bad input changes nothing and says what is wrong', async () => {
      expect((await scim('POST', '/Users', { userName: 'x' })).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
      expect((await scim('POST', '/Groups', group(''))).body).toMatchObject({ status: '400', scimType: 'invalidValue' });
      expect((await scim('PATCH', '/Users/bob@example.com', patchOp({ op: 'replace', path: 'id', value: 'x' }))).body).toMatchObject({
        status: '400',
        scimType: 'mutability',
      });
      expect((await scim('PATCH', '/Users/bob@example.com', { Operations: [] })).status).toBe(400);
      const huge = await scim('POST', '/Users', JSON.stringify(user('big', { displayName: 'x'.repeat(5 * 1024 * 1024) })));
      expect(huge.status).toBe(413);
      expect(huge.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      const wrongType = await scim('POST', '/Users', 'userName=x', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(wrongType.status).toBe(415);
    });
  });
}
