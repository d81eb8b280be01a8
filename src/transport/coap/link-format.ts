/**
 * CoRE Link Format (RFC 6690) for `/.well-known/core`: serialising resource descriptions and the
 * query filtering of §4.1 (`?rt=sensor`, `?href=/kv*`, `?ct=50`, `?obs`).
 */

export interface LinkDescription {
  href: string; // '/lamport'
  title?: string;
  rt?: string;
  if?: string;
  ct?: number[];
  obs?: boolean;
  /** Size estimate (sz), when known. */
  sz?: number;
}

function quote(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export function formatLink(l: LinkDescription): string {
  let s = `<${l.href}>`;
  if (l.rt !== undefined) s += `;rt=${quote(l.rt)}`;
  if (l.if !== undefined) s += `;if=${quote(l.if)}`;
  if (l.ct !== undefined && l.ct.length > 0) s += l.ct.length === 1 ? `;ct=${l.ct[0]}` : `;ct=${quote(l.ct.join(' '))}`;
  if (l.sz !== undefined) s += `;sz=${l.sz}`;
  if (l.obs) s += ';obs';
  if (l.title !== undefined) s += `;title=${quote(l.title)}`;
  return s;
}

export function formatLinks(links: LinkDescription[]): string {
  return links.map(formatLink).join(',');
}

/** One value matches a filter value; a trailing '*' in the filter matches any suffix (§4.1). */
function matchValue(filter: string, value: string): boolean {
  if (filter.endsWith('*')) return value.startsWith(filter.slice(0, -1));
  return filter === value;
}

/**
 * Applies RFC 6690 §4.1 query filters (`name=value`, one per Uri-Query; all must match). Attributes
 * with space-separated values (rt, if, ct) match when any of their values matches.
 */
export function filterLinks(links: LinkDescription[], query: string[]): LinkDescription[] {
  if (query.length === 0) return links;
  return links.filter((l) =>
    query.every((q) => {
      const eq = q.indexOf('=');
      const name = eq < 0 ? q : q.slice(0, eq);
      const want = eq < 0 ? '*' : q.slice(eq + 1);
      switch (name) {
        case 'href':
          return matchValue(want, l.href);
        case 'rt':
          return l.rt !== undefined && l.rt.split(' ').some((v) => matchValue(want, v));
        case 'if':
          return l.if !== undefined && l.if.split(' ').some((v) => matchValue(want, v));
        case 'ct':
          return l.ct !== undefined && l.ct.some((v) => matchValue(want, String(v)));
        case 'title':
          return l.title !== undefined && matchValue(want, l.title);
        case 'obs':
          return l.obs === true;
        case 'sz':
          return l.sz !== undefined && matchValue(want, String(l.sz));
        default:
          return false; // an attribute we do not carry cannot match
      }
    }),
  );
}

/** Parses a link-format document (as served by other implementations) into descriptions. */
export function parseLinks(doc: string): (LinkDescription & { attrs: Record<string, string | true> })[] {
  const out: (LinkDescription & { attrs: Record<string, string | true> })[] = [];
  const re = /<([^>]*)>((?:;[^,;="]+(?:=(?:"(?:[^"\\]|\\.)*"|[^,;]*))?)*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(doc)) !== null) {
    const attrs: Record<string, string | true> = {};
    const are = /;([^,;="]+)(?:=("(?:[^"\\]|\\.)*"|[^,;]*))?/g;
    let a: RegExpExecArray | null;
    while ((a = are.exec(m[2] ?? '')) !== null) {
      const raw = a[2];
      attrs[a[1]!] = raw === undefined ? true : raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
    const d: LinkDescription & { attrs: Record<string, string | true> } = { href: m[1]!, attrs };
    if (typeof attrs.rt === 'string') d.rt = attrs.rt;
    if (typeof attrs.if === 'string') d.if = attrs.if;
    if (typeof attrs.title === 'string') d.title = attrs.title;
    if (typeof attrs.ct === 'string') d.ct = attrs.ct.split(' ').map(Number);
    if (attrs.obs !== undefined) d.obs = true;
    out.push(d);
  }
  return out;
}
