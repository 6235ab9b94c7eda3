/**
 * TLS to targets, shared by every connector: the settings' shape, the one validator of the `tls`
 * block, and what each mode means.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { TargetProblem } from '../../config/target-kind.js';

export type TlsMode = 'verify-full' | 'verify-ca' | 'require' | 'disable';

export const TLS_MODES: readonly TlsMode[] = ['verify-full', 'verify-ca', 'require', 'disable'];

export interface TlsSettings {
  mode: TlsMode;
  /** PEM text, or `file:PATH`. */
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** PEM text, or the contents of `file:PATH` read now. */
export function readPem(value: string): string {
  return value.startsWith('file:') ? readFileSync(value.slice('file:'.length), 'utf8') : value;
}

/** The target's `tls` block as typed settings (mode verify-full unless given); undefined without one. */
export function tlsSettingsOf(raw: unknown): TlsSettings | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const t = raw as Record<string, unknown>;
  const tls: TlsSettings = { mode: (str(t.mode) as TlsMode | undefined) ?? 'verify-full' };
  for (const k of ['ca', 'cert', 'key', 'serverName'] as const) {
    const v = str(t[k]);
    if (v) tls[k] = v;
  }
  return tls;
}

/**
 * The checks of a target's `tls` block beyond the schema, paths relative to the target: the mode,
 * each of ca/cert/key PEM text or a readable `file:` of PEM, cert and key together, no
 * certificates with mode disable. Every kind runs these same checks (validate and serve alike).
 */
export function tlsProblems(raw: unknown): TargetProblem[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object') return [{ path: ['tls'], message: 'must be a mapping' }];
  const t = raw as Record<string, unknown>;
  const problems: TargetProblem[] = [];
  const mode = t.mode ?? 'verify-full';
  if (!TLS_MODES.includes(mode as TlsMode)) problems.push({ path: ['tls', 'mode'], message: `must be one of ${TLS_MODES.join(', ')}` });
  for (const key of ['ca', 'cert', 'key'] as const) {
    const value = t[key];
    if (value === undefined) continue;
    const problem = pemProblem(value);
    if (problem) problems.push({ path: ['tls', key], message: problem });
  }
  if ((t.cert === undefined) !== (t.key === undefined)) problems.push({ path: ['tls'], message: 'give both cert and key (client certificate) or neither' });
  if (mode === 'disable' && (t.ca !== undefined || t.cert !== undefined))
    problems.push({ path: ['tls', 'mode'], message: 'is disable, but certificates are given' });
  return problems;
}

function pemProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.trim()) return 'must be PEM text or file:PATH';
  if (!value.startsWith('file:')) return PEM.test(value) ? undefined : 'must be PEM text or file:PATH';
  const file = value.slice('file:'.length);
  let text: string;
  try {
    if (!statSync(file).isFile()) return `file ${file} does not exist`;
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `file ${file} does not exist` : `file ${file} is not readable`;
  }
  return PEM.test(text) ? undefined : `file ${file} is not PEM (no -----BEGIN ...----- line)`;
}

/**
 * What a mode asks of the server's certificate: verify-full checks the chain and the name,
 * verify-ca the chain only, require encrypts without checking (as libpq's sslmode does).
 */
export function verification(mode: TlsMode): Pick<ConnectionOptions, 'rejectUnauthorized' | 'checkServerIdentity'> {
  switch (mode) {
    case 'verify-full':
      return { rejectUnauthorized: true };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'require':
      return { rejectUnauthorized: false };
    case 'disable':
      return {};
  }
}
