/**
 * OpenSSH key revocation lists (PROTOCOL.krl), the file sshd's `RevokedKeys` reads: the revoked
 * certificate serials of one CA, written compactly. Contiguous runs of three or more serials go in
 * as ranges; other serials that lie close together (under 64 apart on average) as bitmaps, the
 * rest as a plain list: the same three encodings `ssh-keygen -k` chooses among. Tests check the
 * result with `ssh-keygen -Q` and a real sshd.
 */
import { SshReader, SshWriter, WireError } from './wire.js';

const MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
const FORMAT_VERSION = 1;
const SECTION_CERTIFICATES = 1;
const CERT_SERIAL_LIST = 0x20;
const CERT_SERIAL_RANGE = 0x21;
const CERT_SERIAL_BITMAP = 0x22;
/** sshd reads a bitmap as an mpint of at most 16384 bits (SSHBUF_MAX_BIGNUM). */
const MAX_BITMAP_BITS = 16_000;
/** A bitmap costs a bit per serial it spans, a list 64 bits per serial listed. */
const BITMAP_GAP = 64;

export interface KrlInput {
  /** The CA public key's wire blob. */
  caBlob: Buffer;
  /** Revoked serials (each at least 1); order and repeats do not matter. */
  serials: Iterable<number>;
  /** The list's version (sshd ignores it; agents report it). */
  version: number;
  /** Seconds since the epoch. */
  generatedAt: number;
  comment?: string;
}

type Run = [lo: number, hi: number];

function runsOf(sorted: number[]): Run[] {
  const runs: Run[] = [];
  for (const s of sorted) {
    const last = runs[runs.length - 1];
    if (last && s === last[1] + 1) last[1] = s;
    else runs.push([s, s]);
  }
  return runs;
}

function bitmap(serials: number[]): Buffer {
  const offset = serials[0]!;
  const span = serials[serials.length - 1]! - offset + 1;
  const bytes = Buffer.alloc(Math.ceil(span / 8));
  // Bit n of the integer (n counted from the least significant end) is serial offset + n.
  for (const s of serials) {
    const n = s - offset;
    bytes[bytes.length - 1 - (n >> 3)]! |= 1 << (n & 7);
  }
  return new SshWriter().uint64(offset).mpint(bytes).toBuffer();
}

/** The sections of one CA's revoked serials. */
function certificateSections(serials: number[]): Buffer {
  const w = new SshWriter();
  const singles: number[] = [];
  for (const [lo, hi] of runsOf(serials)) {
    if (hi - lo >= 2) w.byte(CERT_SERIAL_RANGE).string(new SshWriter().uint64(lo).uint64(hi).toBuffer());
    else for (let s = lo; s <= hi; s++) singles.push(s);
  }
  // Groups of nearby singles: a bitmap when it holds enough of them to beat the list.
  const list: number[] = [];
  let group: number[] = [];
  const flush = () => {
    if (group.length >= 3) w.byte(CERT_SERIAL_BITMAP).string(bitmap(group));
    else list.push(...group);
    group = [];
  };
  for (const s of singles) {
    const first = group[0];
    const prev = group[group.length - 1];
    if (prev !== undefined && (s - prev >= BITMAP_GAP || s - first! >= MAX_BITMAP_BITS)) flush();
    group.push(s);
  }
  flush();
  if (list.length > 0) {
    const l = new SshWriter();
    for (const s of list) l.uint64(s);
    w.byte(CERT_SERIAL_LIST).string(l.toBuffer());
  }
  return w.toBuffer();
}

export function buildKrl(input: KrlInput): Buffer {
  const serials = [...new Set(input.serials)].sort((a, b) => a - b);
  if (serials.some((s) => !Number.isSafeInteger(s) || s < 1)) throw new RangeError('KRL serials are positive integers');
  const w = new SshWriter()
    .raw(MAGIC)
    .uint32(FORMAT_VERSION)
    .uint64(input.version)
    .uint64(input.generatedAt)
    .uint64(0)
    .string('')
    .string(input.comment ?? '');
  if (serials.length > 0) {
    const section = new SshWriter().string(input.caBlob).string('').raw(certificateSections(serials)).toBuffer();
    w.byte(SECTION_CERTIFICATES).string(section);
  }
  return w.toBuffer();
}

/**
 * Reads a revocation list's version and checks its whole structure (every section's length
 * adds up, certificate sections parse), so an agent never puts a truncated or garbled download
 * where sshd would read it. Throws WireError.
 */
export function checkKrl(buf: Buffer): { version: number } {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new WireError('not an OpenSSH KRL');
  const r = new SshReader(buf.subarray(MAGIC.length));
  if (r.uint32() !== FORMAT_VERSION) throw new WireError('unknown KRL format version');
  const version = r.uint64();
  r.uint64(); // generated date
  r.uint64(); // flags
  r.string(); // reserved
  r.text(); // comment
  while (r.remaining > 0) {
    const type = r.byte();
    const section = new SshReader(r.string());
    if (type !== SECTION_CERTIFICATES) continue;
    section.string(); // CA key
    section.string(); // reserved
    while (section.remaining > 0) {
      const sub = section.byte();
      const data = new SshReader(section.string());
      if (sub === CERT_SERIAL_LIST) {
        if (data.remaining % 8 !== 0) throw new WireError('bad serial list');
      } else if (sub === CERT_SERIAL_RANGE) {
        if (data.uint64() > data.uint64()) throw new WireError('bad serial range');
        data.end();
      } else if (sub === CERT_SERIAL_BITMAP) {
        data.uint64();
        data.mpint();
        data.end();
      }
    }
  }
  if (version > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('KRL version out of range');
  return { version: Number(version) };
}
