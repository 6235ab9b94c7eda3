/** The store's principals (migration 0009): those identity sources write, beside the configuration's. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { PrincipalStore, StoredPrincipal } from '../../app/ports.js';
import type { Database, PrincipalsTable } from './schema.js';

export function toPrincipal(r: Selectable<PrincipalsTable>): StoredPrincipal {
  return {
    id: r.id,
    source: r.source,
    ...(r.external_id !== null ? { externalId: r.external_id } : {}),
    ...(r.display_name !== null ? { displayName: r.display_name } : {}),
    ...(r.email !== null ? { email: r.email } : {}),
    groups: JSON.parse(r.groups) as string[],
    ...(r.manager !== null ? { manager: r.manager } : {}),
    active: Number(r.active) === 1,
    kind: r.kind === 'machine' ? 'machine' : 'human',
    ...(r.user_name !== null ? { userName: r.user_name } : {}),
    ...(r.attributes !== null ? { attributes: JSON.parse(r.attributes) as Record<string, unknown> } : {}),
    version: Number(r.version),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** Creates or replaces a principal (createdAt kept from the first write), in `db` or a transaction. */
export async function putPrincipal(db: Kysely<Database> | Transaction<Database>, p: StoredPrincipal): Promise<void> {
  const row = {
    id: p.id,
    source: p.source,
    external_id: p.externalId ?? null,
    display_name: p.displayName ?? null,
    email: p.email ?? null,
    groups: JSON.stringify(p.groups),
    manager: p.manager ?? null,
    active: p.active ? 1 : 0,
    kind: p.kind ?? 'human',
    user_name: p.userName ?? null,
    attributes: p.attributes ? JSON.stringify(p.attributes) : null,
    version: p.version ?? 1,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
  const { created_at: _created, id: _id, ...changes } = row;
  await db
    .insertInto('principals')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet(changes))
    .execute();
}

export class KyselyPrincipalStore implements PrincipalStore {
  constructor(private readonly db: Kysely<Database>) {}

  put(p: StoredPrincipal): Promise<void> {
    return putPrincipal(this.db, p);
  }

  async get(id: string): Promise<StoredPrincipal | undefined> {
    const r = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toPrincipal(r) : undefined;
  }

  async active(): Promise<StoredPrincipal[]> {
    return (await this.db.selectFrom('principals').selectAll().where('active', '=', 1).orderBy('id').execute()).map(toPrincipal);
  }
}
