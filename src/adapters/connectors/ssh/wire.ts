/**
 * The SSH wire encoding (RFC 4251 §5) that keys, certificates (PROTOCOL.certkeys) and key
 * revocation lists (PROTOCOL.krl) are written in: big-endian integers and length-prefixed
 * strings. The reader refuses anything short or left over, so a malformed key never half-parses.
 */

export class SshWriter {
  private readonly parts: Buffer[] = [];

  byte(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }

  uint32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.parts.push(b);
    return this;
  }

  uint64(n: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    this.parts.push(b);
    return this;
  }

  /** A length-prefixed string (text is UTF-8). */
  string(s: Buffer | string): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    return this.uint32(b.length).raw(b);
  }

  /** A non-negative multiple-precision integer from its big-endian magnitude: minimal, 0x00 prefixed when the top bit is set. */
  mpint(magnitude: Buffer): this {
    let start = 0;
    while (start < magnitude.length && magnitude[start] === 0) start++;
    const m = magnitude.subarray(start);
    return this.string(m.length > 0 && m[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Thrown for any malformed encoding; callers turn it into their own coded error. */
export class WireError extends Error {}

export class SshReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  private take(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new WireError('truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  byte(): number {
    return this.take(1)[0]!;
  }

  uint32(): number {
    return this.take(4).readUInt32BE();
  }

  uint64(): bigint {
    return this.take(8).readBigUInt64BE();
  }

  string(): Buffer {
    return this.take(this.uint32());
  }

  text(): string {
    const b = this.string();
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) throw new WireError('not UTF-8');
    return s;
  }

  /** An mpint's magnitude (big-endian, no sign byte); negative values are refused. */
  mpint(): Buffer {
    const b = this.string();
    if (b.length > 0 && b[0]! & 0x80) throw new WireError('negative integer');
    let start = 0;
    while (start < b.length && b[start] === 0) start++;
    return b.subarray(start);
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Throws unless everything was read. */
  end(): void {
    if (this.remaining !== 0) throw new WireError('trailing data');
  }
}
