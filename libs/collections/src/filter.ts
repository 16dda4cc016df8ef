import { META_FIELD, type CollectionSchema, type FieldSchema } from '@gw/schema';
import { invalidParameter, type CollectionsError } from './collections.errors';
import { quoteIdent, type Params } from './sql';

/*
 * The filter grammar of spec §8, parsed by hand (tokenizer + recursive descent) into an AST and
 * compiled to SQL in which every literal and JSON path is a bind parameter; only quoted schema
 * identifiers, fixed keywords and `$n` placeholders ever reach the SQL text.
 */

type Tok =
  | { t: 'id'; v: string; pos: number }
  | { t: 'kw'; v: 'and' | 'or' | 'not' | 'in' | 'like' | 'true' | 'false'; pos: number }
  | { t: 'num'; v: string; int: boolean; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'end'; pos: number };

export type Literal =
  | { kind: 'int'; text: string; pos: number }
  | { kind: 'dec'; text: string; pos: number }
  | { kind: 'str'; value: string; pos: number }
  | { kind: 'bool'; value: boolean; pos: number };

export interface Ref {
  name: string;
  path: string[];
  pos: number;
}

export type FilterAst =
  | { op: 'or' | 'and'; items: FilterAst[] }
  | { op: 'not'; item: FilterAst }
  | { op: 'cmp'; ref: Ref; cmp: string; lit: Literal }
  | { op: 'in'; ref: Ref; negate: boolean; lits: Literal[] }
  | { op: 'like'; ref: Ref; pattern: Literal & { kind: 'str' } };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'like', 'true', 'false']);
const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);
const MAX_DEPTH = 64;

export const unsupportedAt = (pos: number): CollectionsError =>
  invalidParameter(`unsupported filter expression at position ${pos}`);

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
};

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < s.length && /[A-Za-z0-9_]/.test(s[i]!)) i++;
      const word = s.slice(start, i);
      const low = word.toLowerCase();
      if (KEYWORDS.has(low)) out.push({ t: 'kw', v: low as 'and', pos: start });
      else out.push({ t: 'id', v: word, pos: start });
      continue;
    }
    const num = /^[+-]?(?:\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(s.slice(i));
    if (num && (/\d|\./.test(c) || /[+-]/.test(c))) {
      const text = num[0];
      const isInt = num[1] === undefined && num[2] === undefined && !text.includes('.');
      out.push({ t: 'num', v: text, int: isInt, pos: start });
      i += text.length;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      let v = '';
      for (;;) {
        if (i >= s.length) throw unsupportedAt(start);
        const d = s[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\') {
          const e = s[i + 1];
          if (e === undefined) throw unsupportedAt(i);
          if (e === 'u') {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw unsupportedAt(i);
            v += String.fromCharCode(parseInt(hex, 16));
            i += 6;
            continue;
          }
          const m = ESCAPES[e];
          if (m === undefined) throw unsupportedAt(i);
          v += m;
          i += 2;
          continue;
        }
        v += d;
        i++;
      }
      out.push({ t: 'str', v, pos: start });
      continue;
    }
    const two = s.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      out.push({ t: 'op', v: two, pos: start });
      i += 2;
      continue;
    }
    if ('<>!()[],'.includes(c)) {
      out.push({ t: 'op', v: c, pos: start });
      i++;
      continue;
    }
    throw unsupportedAt(start);
  }
  out.push({ t: 'end', pos: s.length });
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    return this.toks[this.i++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private isKw(v: string): boolean {
    const t = this.peek();
    return t.t === 'kw' && t.v === v;
  }
  private expectOp(v: string): void {
    if (!this.isOp(v)) throw unsupportedAt(this.peek().pos);
    this.i++;
  }

  parse(): FilterAst {
    const e = this.expr(0);
    if (this.peek().t !== 'end') throw unsupportedAt(this.peek().pos);
    return e;
  }

  private expr(depth: number): FilterAst {
    if (depth > MAX_DEPTH) throw unsupportedAt(this.peek().pos);
    const items = [this.term(depth)];
    while (this.isKw('or') || this.isOp('||')) {
      this.i++;
      items.push(this.term(depth));
    }
    return items.length === 1 ? items[0]! : { op: 'or', items };
  }

  private term(depth: number): FilterAst {
    const items = [this.unit(depth)];
    while (this.isKw('and') || this.isOp('&&')) {
      this.i++;
      items.push(this.unit(depth));
    }
    return items.length === 1 ? items[0]! : { op: 'and', items };
  }

  private unit(depth: number): FilterAst {
    if (depth > MAX_DEPTH) throw unsupportedAt(this.peek().pos);
    if (this.isKw('not') || this.isOp('!')) {
      this.i++;
      return { op: 'not', item: this.unit(depth + 1) };
    }
    if (this.isOp('(')) {
      this.i++;
      const e = this.expr(depth + 1);
      this.expectOp(')');
      return e;
    }
    return this.pred();
  }

  private pred(): FilterAst {
    const t = this.next();
    if (t.t !== 'id') throw unsupportedAt(t.pos);
    const ref: Ref = { name: t.v, path: [], pos: t.pos };
    while (this.isOp('[')) {
      this.i++;
      const k = this.next();
      if (k.t !== 'str') throw unsupportedAt(k.pos);
      ref.path.push(k.v);
      this.expectOp(']');
    }
    const op = this.peek();
    if (op.t === 'op' && CMP.has(op.v)) {
      this.i++;
      return { op: 'cmp', ref, cmp: op.v, lit: this.lit() };
    }
    let negate = false;
    if (this.isKw('not')) {
      this.i++;
      negate = true;
      if (!this.isKw('in')) throw unsupportedAt(this.peek().pos);
    }
    if (this.isKw('in')) {
      this.i++;
      this.expectOp('[');
      const lits: Literal[] = [];
      if (!this.isOp(']')) {
        lits.push(this.lit());
        while (this.isOp(',')) {
          this.i++;
          lits.push(this.lit());
        }
      }
      this.expectOp(']');
      return { op: 'in', ref, negate, lits };
    }
    if (this.isKw('like')) {
      this.i++;
      const p = this.next();
      if (p.t !== 'str') throw unsupportedAt(p.pos);
      return { op: 'like', ref, pattern: { kind: 'str', value: p.v, pos: p.pos } };
    }
    throw unsupportedAt(op.pos);
  }

  private lit(): Literal {
    const t = this.next();
    if (t.t === 'num') return t.int ? { kind: 'int', text: t.v, pos: t.pos } : { kind: 'dec', text: t.v, pos: t.pos };
    if (t.t === 'str') return { kind: 'str', value: t.v, pos: t.pos };
    if (t.t === 'kw' && (t.v === 'true' || t.v === 'false')) return { kind: 'bool', value: t.v === 'true', pos: t.pos };
    throw unsupportedAt(t.pos);
  }
}

/** Parses a filter; empty or blank → null (all rows). Throws 1100 naming the 0-based character position. */
export function parseFilter(filter: string): FilterAst | null {
  if (filter.trim() === '') return null;
  return new Parser(tokenize(filter)).parse();
}

const INT_BOUNDS: Record<string, readonly [bigint, bigint, string]> = {
  Int8: [-128n, 127n, 'smallint'],
  Int16: [-32768n, 32767n, 'smallint'],
  Int32: [-2147483648n, 2147483647n, 'integer'],
  Int64: [-9223372036854775808n, 9223372036854775807n, 'bigint'],
};

type Target = { kind: 'column'; field: FieldSchema; sql: string } | { kind: 'json'; sql: string }; // a jsonb expression

type JsonKind = 'number' | 'string' | 'boolean';

/** Compiles a filter AST to a SQL boolean expression, adding literals to `params`. */
export function compileFilter(ast: FilterAst, schema: CollectionSchema, params: Params): string {
  const fields = new Map(schema.fields.map((f) => [f.name, f]));

  const target = (ref: Ref): Target => {
    const f = fields.get(ref.name);
    if (f) {
      if (ref.path.length > 0) {
        if (f.dataType !== 'JSON')
          throw invalidParameter(`filter: field ${f.name} is not a JSON field (position ${ref.pos})`);
        return { kind: 'json', sql: `(${quoteIdent(f.name)} #> ${params.add(pgTextArray(ref.path), 'text[]')})` };
      }
      if (f.dataType === 'JSON' || f.dataType === 'Array' || f.dataType.endsWith('Vector')) {
        throw invalidParameter(
          `filter: field ${f.name} of type ${f.dataType} cannot be compared (position ${ref.pos})`,
        );
      }
      return { kind: 'column', field: f, sql: quoteIdent(f.name) };
    }
    if (!schema.enableDynamicField) {
      throw invalidParameter(`filter: field ${ref.name} does not exist (position ${ref.pos})`);
    }
    const path = [ref.name, ...ref.path];
    return { kind: 'json', sql: `(${quoteIdent(META_FIELD)} #> ${params.add(pgTextArray(path), 'text[]')})` };
  };

  const litKind = (l: Literal): JsonKind => (l.kind === 'str' ? 'string' : l.kind === 'bool' ? 'boolean' : 'number');

  const jsonTyped = (j: string, k: JsonKind): string => {
    switch (k) {
      case 'number':
        return `(CASE WHEN jsonb_typeof(${j}) = 'number' THEN (${j})::numeric END)`;
      case 'string':
        return `(CASE WHEN jsonb_typeof(${j}) = 'string' THEN ${j} #>> '{}' END)`;
      case 'boolean':
        return `(CASE WHEN jsonb_typeof(${j}) = 'boolean' THEN (${j})::boolean END)`;
    }
  };

  const jsonParam = (l: Literal): string => {
    switch (l.kind) {
      case 'str':
        return params.add(l.value, 'text');
      case 'bool':
        return params.add(l.value ? 'true' : 'false', 'boolean');
      default: {
        if (!Number.isFinite(Number(l.text))) throw misfit(l, 'JSON number');
        return params.add(l.text, 'numeric');
      }
    }
  };

  const misfit = (l: Literal, what: string) =>
    invalidParameter(`filter: literal at position ${l.pos} does not fit ${what}`);

  /** A literal as a parameter of the column's type; 1100 when it does not fit. */
  const columnParam = (f: FieldSchema, l: Literal): string => {
    switch (f.dataType) {
      case 'Bool':
        if (l.kind !== 'bool') throw misfit(l, `field ${f.name} (Bool)`);
        return params.add(l.value ? 'true' : 'false', 'boolean');
      case 'Int8':
      case 'Int16':
      case 'Int32':
      case 'Int64': {
        // Int64 also takes a decimal string: clients echo ids back as the strings we rendered.
        const text =
          l.kind === 'int'
            ? l.text
            : f.dataType === 'Int64' && l.kind === 'str' && /^[+-]?\d{1,20}$/.test(l.value)
              ? l.value
              : null;
        if (text === null) throw misfit(l, `field ${f.name} (${f.dataType})`);
        const [lo, hi, cast] = INT_BOUNDS[f.dataType]!;
        const n = BigInt(text);
        if (n < lo || n > hi) throw misfit(l, `field ${f.name} (${f.dataType})`);
        return params.add(n.toString(), cast);
      }
      case 'Float':
      case 'Double': {
        if (l.kind !== 'int' && l.kind !== 'dec') throw misfit(l, `field ${f.name} (${f.dataType})`);
        const x = Number(l.text);
        if (!Number.isFinite(f.dataType === 'Float' ? Math.fround(x) : x)) {
          throw misfit(l, `field ${f.name} (${f.dataType})`);
        }
        // Float compares as real so that `f == 0.1` matches the float32 the column stores.
        return params.add(l.text, f.dataType === 'Float' ? 'real' : 'double precision');
      }
      case 'VarChar':
        if (l.kind !== 'str') throw misfit(l, `field ${f.name} (VarChar)`);
        return params.add(l.value, 'text');
      default:
        throw misfit(l, `field ${f.name} (${f.dataType})`);
    }
  };

  const sqlCmp = (c: string): string => (c === '==' ? '=' : c === '!=' ? '<>' : c);

  const go = (a: FilterAst): string => {
    switch (a.op) {
      case 'or':
      case 'and':
        return `(${a.items.map(go).join(a.op === 'or' ? ' OR ' : ' AND ')})`;
      case 'not':
        return `(NOT ${go(a.item)})`;
      case 'cmp': {
        const t = target(a.ref);
        if (t.kind === 'column') {
          if (t.field.dataType === 'Bool' && a.cmp !== '==' && a.cmp !== '!=') {
            throw invalidParameter(
              `filter: Bool field ${t.field.name} only supports == and != (position ${a.ref.pos})`,
            );
          }
          return `(${t.sql} ${sqlCmp(a.cmp)} ${columnParam(t.field, a.lit)})`;
        }
        const k = litKind(a.lit);
        if (k === 'boolean' && a.cmp !== '==' && a.cmp !== '!=') {
          throw invalidParameter(`filter: booleans only support == and != (position ${a.lit.pos})`);
        }
        return `(${jsonTyped(t.sql, k)} ${sqlCmp(a.cmp)} ${jsonParam(a.lit)})`;
      }
      case 'in': {
        const t = target(a.ref);
        let sql: string;
        if (a.lits.length === 0) sql = 'FALSE';
        else if (t.kind === 'column') {
          sql = `(${t.sql} IN (${a.lits.map((l) => columnParam(t.field, l)).join(', ')}))`;
        } else {
          const groups = new Map<JsonKind, Literal[]>();
          for (const l of a.lits) groups.set(litKind(l), [...(groups.get(litKind(l)) ?? []), l]);
          const parts = [...groups].map(([k, ls]) => `(${jsonTyped(t.sql, k)} IN (${ls.map(jsonParam).join(', ')}))`);
          sql = parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
        }
        return a.negate ? `(NOT ${sql})` : sql;
      }
      case 'like': {
        const t = target(a.ref);
        let lhs: string;
        if (t.kind === 'column') {
          if (t.field.dataType !== 'VarChar') {
            throw invalidParameter(`filter: like needs a VarChar field, ${t.field.name} is ${t.field.dataType}`);
          }
          lhs = t.sql;
        } else lhs = jsonTyped(t.sql, 'string');
        return `(${lhs} LIKE ${params.add(likePattern(a.pattern.value), 'text')} ESCAPE '\\')`;
      }
    }
  };
  return go(ast);
}

/** Milvus `like`: only `%` is a wildcard; `_` and backslash match themselves. */
export function likePattern(p: string): string {
  return p.replace(/[\\_]/g, (m) => `\\${m}`);
}

/** A PostgreSQL array literal of texts (sent as one parameter). */
export function pgTextArray(items: readonly string[]): string {
  return `{${items.map((s) => `"${s.replace(/[\\"]/g, (m) => `\\${m}`)}"`).join(',')}}`;
}
