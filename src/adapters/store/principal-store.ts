/** The store's principals (migration 0009): those identity sources write, beside the configuration's. */
import type { Kysely, Selectable } from 'kysely';
import type { PrincipalStore, StoredPrincipal } from '../../app/ports.js';
import type { Database, PrincipalsTable } from './schema.js';

function toPrincipal(r: Selectable<PrincipalsTable>): StoredPrincipal {
  return {
    id: r.id,
    source: r.source,
    ...(r.external_id !== null ? { externalId: r.external_id } : {}),
    ...(r.display_name !== null ? { displayName: r.display_name } : {}),
    ...(r.email !== null ? { email: r.email } : {}),
    groups: JSON.parse(r.groups) as string[],
    ...(r.manager !== null ? { manager: r.manager } : {}),
    active: Number(r.active) === 1,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

export class KyselyPrincipalStore implements PrincipalStore {
  constructor(private readonly db: Kysely<Database>) {}

  async put(p: StoredPrincipal): Promise<void> {
    const row = {
      id: p.id,
      source: p.source,
      external_id: p.externalId ?? null,
      display_name: p.displayName ?? null,
      email: p.email ?? null,
      groups: JSON.stringify(p.groups),
      manager: p.manager ?? null,
      active: p.active ? 1 : 0,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
    };
    const { created_at: _created, id: _id, ...changes } = row;
    await this.db
      .insertInto('principals')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet(changes))
      .execute();
  }

  async get(id: string): Promise<StoredPrincipal | undefined> {
    const r = await this.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toPrincipal(r) : undefined;
  }

  async active(): Promise<StoredPrincipal[]> {
    return (await this.db.selectFrom('principals').selectAll().where('active', '=', 1).orderBy('id').execute()).map(toPrincipal);
  }
}
