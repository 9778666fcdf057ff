// Approximate line lookup for TOML paths. smol-toml returns values without positions, so config
// errors find their line here: a small scanner that follows [table] / [[array]] headers, `key =`
// lines (bare, quoted and dotted keys), inline tables and multi-line arrays and strings.
// It never rejects input (smol-toml already did the real parse); odd corners just lose precision.

/** A TOML path: table keys as strings, array positions as numbers. */
export type TomlPath = ReadonlyArray<string | number>;

const SEP = '\u0000';
const join = (p: TomlPath): string => p.map(String).join(SEP);

/** Renders a path as the dotted key users write: service.api.weight, service."A B", plugins.extra[0].use */
export function formatKey(p: TomlPath): string {
  let out = '';
  for (const k of p) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += (out ? '.' : '') + (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
  }
  return out;
}

export class TomlLines {
  private readonly lines = new Map<string, number>();

  constructor(text: string) {
    scan(text, (p, line) => {
      const k = join(p);
      if (!this.lines.has(k)) this.lines.set(k, line);
    });
  }

  /** 1-based line of `p`: where it is defined, else its first sub-key, else its nearest parent table. */
  lineOf(p: TomlPath): number | undefined {
    const exact = this.lines.get(join(p));
    if (exact !== undefined) return exact;
    const prefix = join(p) + SEP;
    let first: number | undefined;
    for (const [k, line] of this.lines) if (k.startsWith(prefix) && (first === undefined || line < first)) first = line;
    if (first !== undefined) return first;
    for (let n = p.length - 1; n > 0; n--) {
      const line = this.lines.get(join(p.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}

/** Reads a dotted key at `pos`; returns its parts and the index after it (whitespace skipped). */
function readKey(s: string, pos: number): { keys: string[]; end: number } {
  const keys: string[] = [];
  let i = pos;
  for (;;) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    const m = /^(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))/.exec(s.slice(i));
    if (!m) break;
    keys.push(m[1] !== undefined ? unescape(m[1]) : (m[2] ?? m[3]));
    i += m[0].length;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '.') break;
    i++;
  }
  return { keys, end: i };
}

function unescape(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

/** An open [ or { in a value; `wantKey` is set in an inline table after { or , until its next key. */
type Frame = { kind: '[' | '{'; path: string[]; n: number; key?: string[]; wantKey?: boolean };

function scan(text: string, record: (p: string[], line: number) => void): void {
  const lines = text.split(/\r?\n/);
  const arrays = new Map<string, number>(); // resolved [[array]] path → current index
  // Inserts the current index after every key that names an array of tables: [[a]] then [a.b] → a.N.b
  const resolve = (keys: string[]): string[] => {
    const out: string[] = [];
    keys.forEach((k, j) => {
      out.push(k);
      const n = j < keys.length - 1 ? arrays.get(join(out)) : undefined;
      if (n !== undefined) out.push(String(n));
    });
    return out;
  };
  let table: string[] = [];
  let stack: Frame[] = [];
  let inString: string | undefined; // the closing delimiter of an open multi-line string
  for (let ln = 0; ln < lines.length; ln++) {
    const s = lines[ln];
    const line = ln + 1;
    let i = 0;
    if (inString === undefined && stack.length === 0) {
      while (s[i] === ' ' || s[i] === '\t') i++;
      if (s[i] === '[') {
        const isArray = s[i + 1] === '[';
        const base = resolve(readKey(s, i + (isArray ? 2 : 1)).keys);
        if (isArray) {
          const n = (arrays.get(join(base)) ?? -1) + 1;
          arrays.set(join(base), n);
          record(base, line);
          table = [...base, String(n)];
        } else table = base;
        record(table, line);
        continue;
      }
      const { keys, end } = readKey(s, i);
      if (keys.length === 0 || s[end] !== '=') continue;
      const p = [...table, ...keys];
      record(p, line);
      stack = [{ kind: '{', path: table, n: 0, key: keys }]; // a pseudo-frame for the top-level value
      i = end + 1;
    }
    // Walk the value (possibly continuing a multi-line one) looking for nested keys and elements.
    while (i < s.length) {
      if (inString !== undefined) {
        const close = s.indexOf(inString, i);
        if (close < 0) break;
        i = close + inString.length;
        inString = undefined;
        continue;
      }
      const c = s[i];
      const top = stack[stack.length - 1];
      const here = (): string[] => (top.kind === '[' ? [...top.path, String(top.n)] : [...top.path, ...(top.key ?? [])]);
      if (c === '#') break;
      if (top.kind === '[' && !' \t,]'.includes(c)) record(here(), line);
      if (top.wantKey && c !== ' ' && c !== '\t') {
        top.wantKey = false;
        const { keys, end } = readKey(s, i);
        if (keys.length > 0 && s[end] === '=') {
          top.key = keys;
          record([...top.path, ...keys], line);
          i = end + 1;
          continue;
        }
      }
      if (s.startsWith('"""', i) || s.startsWith("'''", i)) {
        inString = s.slice(i, i + 3);
        i += 3;
      } else if (c === '"' || c === "'") {
        const m = (c === '"' ? /^"(?:[^"\\]|\\.)*"?/ : /^'[^']*'?/).exec(s.slice(i));
        i += m ? m[0].length : 1;
      } else if (c === '[' || c === '{') {
        const p = here();
        stack.push({ kind: c, path: p, n: 0, wantKey: c === '{' });
        i++;
      } else if (c === ']' || c === '}') {
        stack.pop();
        i++;
      } else if (c === ',') {
        if (top.kind === '[') top.n++;
        else top.wantKey = true;
        i++;
      } else i++;
    }
    if (stack.length === 1 && inString === undefined) stack = []; // a simple value ends with its line
  }
}
