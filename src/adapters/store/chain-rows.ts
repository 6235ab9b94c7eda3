/**
 * Reading the audit chain for verification, which reads every row: as arrays rather than objects
 * (on SQLite straight from the driver), and with the text each row's hash covers built by the
 * database itself, so that per row only the hash is left to compute in JavaScript.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, type Kysely } from 'kysely';
import type { EventJsonRow, StoredChainRow } from '../../core/audit-chain.js';
import type { Database } from './schema.js';

type Dialect = 'sqlite' | 'postgres';

const COLUMNS = 'seq, at, prev_hash, hash, id, type, actor, request_id, details, policy_hash';

/** A column as a JSON token: SQLite's json_quote and PostgreSQL's to_json escape as JSON.stringify does. */
const quote = (dialect: Dialect, column: string) => (dialect === 'sqlite' ? `json_quote(${column})` : `coalesce(to_json(${column})::text, 'null')`);

/** eventJson (core/audit-chain.ts) in SQL: the members in canonical order, details as stored. */
function eventJsonSql(dialect: Dialect): string {
  const q = (column: string) => quote(dialect, column);
  const parts = [
    `'{"actor":'`,
    q('actor'),
    `',"at":'`,
    q('at'),
    `',"details":'`,
    `coalesce(details, 'null')`,
    `',"id":'`,
    q('id'),
    `',"policyHash":'`,
    q('policy_hash'),
    `',"prevHash":'`,
    q('prev_hash'),
    `',"requestId":'`,
    q('request_id'),
    `',"seq":'`,
    q('seq'),
    `',"type":'`,
    q('type'),
    `'}'`,
  ];
  return parts.join(' || ');
}

function pageSql(dialect: Dialect, select: string): string {
  const [from, limit] = dialect === 'sqlite' ? ['?', '?'] : ['$1', '$2'];
  return `SELECT ${select} FROM audit_events WHERE seq >= ${from} ORDER BY seq LIMIT ${limit}`;
}

export class ChainRowReader {
  private readonly rowsSql: string;
  private readonly eventJsonPageSql: string;
  private rowsStatement: BetterSqlite3.Statement | undefined;
  private eventJsonStatement: BetterSqlite3.Statement | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    dialect: Dialect,
    private readonly sqlite?: BetterSqlite3.Database,
  ) {
    this.rowsSql = pageSql(dialect, COLUMNS);
    this.eventJsonPageSql = pageSql(dialect, `seq, at, prev_hash, hash, ${eventJsonSql(dialect)} AS event_json`);
  }

  /** True when the SQLite connection can be read directly (not inside a transaction still open). */
  private get direct(): BetterSqlite3.Database | undefined {
    return this.sqlite && !this.sqlite.inTransaction ? this.sqlite : undefined;
  }

  async rows(fromSeq: number, limit: number): Promise<StoredChainRow[]> {
    const direct = this.direct;
    if (direct) {
      this.rowsStatement ??= direct.prepare(this.rowsSql).raw(true);
      return this.rowsStatement.all(fromSeq, limit) as StoredChainRow[];
    }
    const { rows } = await this.db.executeQuery<{
      seq: number | string;
      at: number | string;
      prev_hash: string | null;
      hash: string | null;
      id: string;
      type: string;
      actor: string;
      request_id: string | null;
      details: string | null;
      policy_hash: string | null;
    }>(CompiledQuery.raw(this.rowsSql, [fromSeq, limit]));
    return rows.map(
      (r) => [Number(r.seq), Number(r.at), r.prev_hash ?? '', r.hash ?? '', r.id, r.type, r.actor, r.request_id, r.details, r.policy_hash] as const,
    );
  }

  async eventJson(fromSeq: number, limit: number): Promise<EventJsonRow[]> {
    const direct = this.direct;
    if (direct) {
      this.eventJsonStatement ??= direct.prepare(this.eventJsonPageSql).raw(true);
      return this.eventJsonStatement.all(fromSeq, limit) as EventJsonRow[];
    }
    const { rows } = await this.db.executeQuery<{
      seq: number | string;
      at: number | string;
      prev_hash: string | null;
      hash: string | null;
      event_json: string;
    }>(CompiledQuery.raw(this.eventJsonPageSql, [fromSeq, limit]));
    return rows.map((r) => [Number(r.seq), Number(r.at), r.prev_hash ?? '', r.hash ?? '', r.event_json] as const);
  }
}
