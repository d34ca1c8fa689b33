/**
 * A non-allocating check of one full-export DYNAMODB_JSON line, `{"Item":{…}}`, straight on its UTF-8 bytes. It is
 * how the verify pass proves a file decodable without parsing it: building objects with JSON.parse there and again
 * when the items are used made an export decode at a quarter of plain JSON.parse speed (BENCHMARKS.md).
 *
 * It is a fast path, not the judge. `true` means the line is in exactly the form AWS writes: valid JSON whose only
 * member is Item, every attribute value an object with exactly one known tag written without escapes, N text that
 * DECIMAL accepts, B text that BASE64 accepts, no number literals, no duplicate members in an attribute value. Such a
 * line decodes with JSON.parse plus base64 → bytes and nothing else (`decodeCheckedItemLine`), to what
 * `decodeDdbJsonLine` returns. `false` means only "not that form": the caller then runs the strict decoder on the line,
 * which either accepts it (valid JSON written differently, e.g. escaped tags) or throws the precise error. So this
 * check can be stricter than the decoder, never looser.
 *
 * UTF-8 validity is checked separately (isUtf8 on the line). Lone surrogate escapes (\uD800) are JSON that JSON.parse
 * accepts, as the strict decoder does.
 */
export function isPlainItemLine(b: Uint8Array, start: number, end: number): boolean {
  const p = new Checker(b, start, end);
  return p.line();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Type tags, as the byte sequences between the quotes. */
const enum Tag {
  None,
  S,
  N,
  B,
  BOOL,
  NULL,
  SS,
  NS,
  BS,
  L,
  M,
}

class Checker {
  /** Position of the next unread byte; every method returns false on the first byte out of the expected form. */
  private i: number;

  constructor(
    private readonly b: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.i = start;
  }

  line(): boolean {
    // {"Item": map }
    if (!this.punct(LBRACE)) return false;
    this.ws();
    const b = this.b;
    const i = this.i;
    if (
      i + 6 > this.end ||
      b[i] !== QUOTE ||
      b[i + 1] !== 0x49 /* I */ ||
      b[i + 2] !== 0x74 /* t */ ||
      b[i + 3] !== 0x65 /* e */ ||
      b[i + 4] !== 0x6d /* m */ ||
      b[i + 5] !== QUOTE
    )
      return false;
    this.i = i + 6;
    if (!this.punct(COLON) || !this.map() || !this.punct(RBRACE)) return false;
    this.ws();
    return this.i === this.end;
  }

  /** `{ "name": value, … }` of attribute values (names: any JSON string). */
  private map(): boolean {
    if (!this.punct(LBRACE)) return false;
    this.ws();
    if (this.b[this.i] === RBRACE && this.i < this.end) {
      this.i++;
      return true;
    }
    for (;;) {
      this.ws();
      if (!this.string() || !this.punct(COLON) || !this.value()) return false;
      this.ws();
      if (this.i >= this.end) return false;
      const c = this.b[this.i++];
      if (c === RBRACE) return true;
      if (c !== COMMA) return false;
    }
  }

  /** One attribute value: `{"TAG": x}` with exactly one member. */
  private value(): boolean {
    if (!this.punct(LBRACE)) return false;
    this.ws();
    const tag = this.tag();
    if (tag === Tag.None || !this.punct(COLON)) return false;
    this.ws();
    let ok: boolean;
    switch (tag) {
      case Tag.S:
        ok = this.string();
        break;
      case Tag.N:
        ok = this.decimalString();
        break;
      case Tag.B:
        ok = this.base64String();
        break;
      case Tag.BOOL:
        ok = this.literalTrue() || this.literalFalse();
        break;
      case Tag.NULL:
        ok = this.literalTrue();
        break;
      case Tag.SS:
        ok = this.list(Tag.S);
        break;
      case Tag.NS:
        ok = this.list(Tag.N);
        break;
      case Tag.BS:
        ok = this.list(Tag.B);
        break;
      case Tag.L:
        ok = this.list(Tag.L);
        break;
      case Tag.M:
        ok = this.map();
        break;
    }
    return ok && this.punct(RBRACE);
  }

  /** `[ x, … ]`, possibly empty, of strings (S), number strings (N), base64 strings (B) or attribute values (L). */
  private list(of: Tag): boolean {
    if (this.i >= this.end || this.b[this.i] !== LBRACKET) return false;
    this.i++;
    this.ws();
    if (this.i < this.end && this.b[this.i] === RBRACKET) {
      this.i++;
      return true;
    }
    for (;;) {
      this.ws();
      const ok = of === Tag.S ? this.string() : of === Tag.N ? this.decimalString() : of === Tag.B ? this.base64String() : this.value();
      if (!ok) return false;
      this.ws();
      if (this.i >= this.end) return false;
      const c = this.b[this.i++];
      if (c === RBRACKET) return true;
      if (c !== COMMA) return false;
    }
  }

  /** A quoted tag with no escapes: S N B BOOL NULL SS NS BS L M. */
  private tag(): Tag {
    const b = this.b;
    const i = this.i;
    if (b[i] !== QUOTE) return Tag.None;
    const c1 = b[i + 1];
    const c2 = b[i + 2];
    let tag = Tag.None;
    let len = 1;
    if (c2 === QUOTE) {
      tag = c1 === 0x53 ? Tag.S : c1 === 0x4e ? Tag.N : c1 === 0x42 ? Tag.B : c1 === 0x4c ? Tag.L : c1 === 0x4d ? Tag.M : Tag.None;
    } else if (c2 === 0x53 /* S */ && b[i + 3] === QUOTE) {
      len = 2;
      tag = c1 === 0x53 ? Tag.SS : c1 === 0x4e ? Tag.NS : c1 === 0x42 ? Tag.BS : Tag.None;
    } else if (c1 === 0x42 && c2 === 0x4f && b[i + 3] === 0x4f && b[i + 4] === 0x4c && b[i + 5] === QUOTE) {
      len = 4;
      tag = Tag.BOOL;
    } else if (c1 === 0x4e && c2 === 0x55 && b[i + 3] === 0x4c && b[i + 4] === 0x4c && b[i + 5] === QUOTE) {
      len = 4;
      tag = Tag.NULL;
    }
    if (tag !== Tag.None) {
      if (i + len + 2 > this.end) return Tag.None;
      this.i = i + len + 2;
    }
    return tag;
  }

  /** A JSON string: no raw control characters, only JSON's escapes. */
  private string(): boolean {
    const b = this.b;
    const end = this.end;
    let i = this.i;
    if (i >= end || b[i] !== QUOTE) return false;
    i++;
    for (;;) {
      // Ordinary bytes in one tight loop; a table lookup says which bytes need a look.
      while (i < end && PLAIN_STRING_BYTE[b[i]!] === 1) i++;
      if (i >= end) return false;
      const c = b[i++]!;
      if (c === QUOTE) break;
      if (c < 0x20) return false;
      if (c === BACKSLASH) {
        if (i >= end) return false;
        const e = b[i++];
        if (e === 0x75 /* u */) {
          if (i + 4 > end || !isHex(b[i]!) || !isHex(b[i + 1]!) || !isHex(b[i + 2]!) || !isHex(b[i + 3]!)) return false;
          i += 4;
        } else if (
          e !== QUOTE &&
          e !== BACKSLASH &&
          e !== 0x2f /* / */ &&
          e !== 0x62 /* b */ &&
          e !== 0x66 /* f */ &&
          e !== 0x6e /* n */ &&
          e !== 0x72 /* r */ &&
          e !== 0x74 /* t */
        )
          return false;
      }
    }
    this.i = i;
    return true;
  }

  /** A string holding a DynamoDB number exactly as DECIMAL defines it: `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`. */
  private decimalString(): boolean {
    const b = this.b;
    const end = this.end;
    let i = this.i;
    if (i >= end || b[i] !== QUOTE) return false;
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    let digits = 0;
    while (i < end && isDigit(b[i]!)) (i++, digits++);
    if (i < end && b[i] === 0x2e /* . */) {
      i++;
      while (i < end && isDigit(b[i]!)) (i++, digits++);
    }
    if (digits === 0) return false;
    if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      let exp = 0;
      while (i < end && isDigit(b[i]!)) (i++, exp++);
      if (exp === 0) return false;
    }
    if (i >= end || b[i] !== QUOTE) return false;
    this.i = i + 1;
    return true;
  }

  /** A string of canonical padded base64 (what BASE64 accepts), no escapes. */
  private base64String(): boolean {
    const b = this.b;
    const end = this.end;
    let i = this.i;
    if (i >= end || b[i] !== QUOTE) return false;
    i++;
    const from = i;
    while (i < end && isBase64(b[i]!)) i++;
    let pad = 0;
    while (i < end && b[i] === 0x3d /* = */ && pad < 2) (i++, pad++);
    if (i >= end || b[i] !== QUOTE || (i - from) % 4 !== 0) return false;
    this.i = i + 1;
    return true;
  }

  private literalTrue(): boolean {
    const b = this.b;
    const i = this.i;
    if (i + 4 > this.end || b[i] !== 0x74 || b[i + 1] !== 0x72 || b[i + 2] !== 0x75 || b[i + 3] !== 0x65) return false;
    this.i = i + 4;
    return true;
  }

  private literalFalse(): boolean {
    const b = this.b;
    const i = this.i;
    if (i + 5 > this.end || b[i] !== 0x66 || b[i + 1] !== 0x61 || b[i + 2] !== 0x6c || b[i + 3] !== 0x73 || b[i + 4] !== 0x65) return false;
    this.i = i + 5;
    return true;
  }

  /** Optional whitespace, then the given byte. */
  private punct(c: number): boolean {
    this.ws();
    if (this.i >= this.end || this.b[this.i] !== c) return false;
    this.i++;
    return true;
  }

  private ws(): void {
    const b = this.b;
    let i = this.i;
    while (i < this.end) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
    this.i = i;
  }
}

/** 1 for the bytes a JSON string holds as they are: not a control character, quote or backslash. */
const PLAIN_STRING_BYTE = new Uint8Array(256).map((_, c) => (c >= 0x20 && c !== QUOTE && c !== BACKSLASH ? 1 : 0));

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isBase64(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
}
