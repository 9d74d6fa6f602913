// Parsers for the formats of cgroup v2 interface files (Documentation/admin-guide/cgroup-v2.rst,
// "Interface Files > Format"): single values, flat keyed, nested keyed, and pressure (PSI).
// Pure functions over the files' text, so they are tested on copies of real files.

/** `oom_kill` → `oomKill`, `max.imposed` → `maxImposed`. */
export function camel(key: string): string {
  return key.replace(/[._]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function number(text: string, file: string): number {
  // Decimal only, as the kernel prints (Number() alone would take '0x10' and '1e3'). Counters
  // are u64; beyond 2^53 a Number loses precision, which no limit or counter here reaches in practice.
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new SyntaxError(`${file}: not a number: ${JSON.stringify(text)}`);
  return Number(text);
}

/** A single value (`memory.current`, `pids.max`): a number, or `'max'`. */
export function parseSingle(text: string, file = 'value'): number | 'max' {
  const t = text.trim();
  return t === 'max' ? 'max' : number(t, file);
}

/** A flat keyed file (`memory.stat`, `cpu.stat`, `memory.events`): `key value` per line, keys in camelCase. */
export function parseFlatKeyed(text: string, file = 'flat keyed file'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [key, value, extra] = line.trim().split(/\s+/);
    if (value === undefined || extra !== undefined) throw new SyntaxError(`${file}: not "key value": ${JSON.stringify(line)}`);
    out[camel(key)] = number(value, file);
  }
  return out;
}

export interface NestedEntry {
  /** The line's key: a device `major:minor` in `io.stat`/`io.max`, `some`/`full` in pressure files. */
  key: string;
  values: Record<string, number | 'max'>;
}

/** A nested keyed file (`io.stat`, `io.max`): `KEY sub=value sub=value…` per line. */
export function parseNestedKeyed(text: string, file = 'nested keyed file'): NestedEntry[] {
  const out: NestedEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const values: Record<string, number | 'max'> = {};
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq <= 0) throw new SyntaxError(`${file}: not "key=value": ${JSON.stringify(w)}`);
      const v = w.slice(eq + 1);
      values[w.slice(0, eq)] = v === 'max' ? 'max' : number(v, file);
    }
    out.push({ key: words[0], values });
  }
  return out;
}

export interface PressureLine {
  /** Share of wall time stalled, in percent, averaged over 10, 60 and 300 seconds. */
  avg10: number;
  avg60: number;
  avg300: number;
  /** Total stall time in microseconds. */
  totalUsec: number;
}

/** Pressure stall information (`cpu.pressure`, `memory.pressure`, `io.pressure`; Documentation/accounting/psi.rst). */
export interface Pressure {
  /** Some task stalled. */
  some: PressureLine;
  /** All non-idle tasks stalled at once; absent for cpu before Linux 5.13 at the root. */
  full?: PressureLine;
}

export function parsePressure(text: string, file = 'pressure file'): Pressure {
  const lines: Partial<Record<'some' | 'full', PressureLine>> = {};
  for (const { key, values } of parseNestedKeyed(text, file)) {
    if (key !== 'some' && key !== 'full') throw new SyntaxError(`${file}: unknown line ${JSON.stringify(key)}`);
    const get = (k: string) => {
      const v = values[k];
      if (typeof v !== 'number') throw new SyntaxError(`${file}: ${key} has no ${k}`);
      return v;
    };
    lines[key] = { avg10: get('avg10'), avg60: get('avg60'), avg300: get('avg300'), totalUsec: get('total') };
  }
  if (!lines.some) throw new SyntaxError(`${file}: no "some" line`);
  return lines.full ? { some: lines.some, full: lines.full } : { some: lines.some };
}

/** `cgroup.events`. */
export interface GroupState {
  /** The group or a descendant has live processes. */
  populated: boolean;
  /** The group is frozen (cgroup.freeze took effect, Linux 5.2). */
  frozen: boolean;
}

export function parseGroupState(text: string, file = 'cgroup.events'): GroupState {
  const v = parseFlatKeyed(text, file);
  return { populated: v.populated === 1, frozen: v.frozen === 1 };
}
