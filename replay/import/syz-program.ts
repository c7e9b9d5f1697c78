/**
 * A syzkaller program (`.syz`, prog/encoding.go's text form): `[rN = ]call(args)[ (rerun: N)]`
 * a line, `#` comments, the options line `# {Threaded:... Repeat:... ...}`. Arguments are laid
 * out in memory as syzkaller lays them out: each struct by its description in dev_iommu.txt
 * (syz-descriptions.ts), fields in order at their natural alignment; a struct the vendored
 * descriptions lack (VFIO's, from dev_vfio.txt) by the kernel's own layout, which it copies.
 * Program addresses are based at 0x7f0000000000; the program's data area is elsewhere at run
 * time (`dataBase`).
 */
import { NAME_FAMILIES, nameValue } from '../../events/names.ts';
import { OPS } from '../../events/ops.ts';
import type { StructSpec } from '../../events/spec-types.ts';
import type { CaptureLine } from './capture-text.ts';
import type { LineIssues } from './line-issues.ts';
import { MemoryImage, type ResourceRef } from './syz-memory.ts';
import { SYZ_DEV_IOMMU } from './syz-descriptions.ts';
import type { Operand, SyzProgram, SyzStep } from './syz-steps.ts';

/** prog.target.DataOffset: where a program's addresses start. */
export const SYZ_DATA_OFFSET = 0x7f0000000000n;

type SyzValue =
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'res'; readonly res: number }
  | { readonly kind: 'out'; readonly res: number; readonly value: SyzValue }
  | { readonly kind: 'ptr'; readonly addr: bigint; readonly vma: boolean; readonly pointee: SyzValue | null }
  | { readonly kind: 'group'; readonly items: readonly SyzValue[] }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'nil' };

class ValueReader {
  private at = 0;

  constructor(private readonly text: string) {}

  private fail(why: string): never {
    throw new Error(`${why} at ${JSON.stringify(this.text.slice(this.at, this.at + 30))}`);
  }

  private eat(s: string): boolean {
    if (!this.text.startsWith(s, this.at)) return false;
    this.at += s.length;
    return true;
  }

  private skipSpace(): void {
    while (this.text[this.at] === ' ') this.at++;
  }

  done(): boolean {
    this.skipSpace();
    return this.at >= this.text.length;
  }

  list(close: string): SyzValue[] {
    const items: SyzValue[] = [];
    this.skipSpace();
    if (this.eat(close)) return items;
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      if (this.eat(close)) return items;
      if (!this.eat(',')) this.fail(`expected , or ${close}`);
    }
  }

  value(): SyzValue {
    this.skipSpace();
    const rest = this.text.slice(this.at);
    let m: RegExpExecArray | null;
    if ((m = /^<r(\d+)=>/.exec(rest)) !== null) {
      this.at += m[0].length;
      return { kind: 'out', res: Number(m[1]), value: this.value() };
    }
    if ((m = /^r(\d+)\b/.exec(rest)) !== null) {
      this.at += m[0].length;
      return { kind: 'res', res: Number(m[1]) };
    }
    if ((m = /^&\((0x[0-9a-fA-F]+)(?:\/(0x[0-9a-fA-F]+))?\)/.exec(rest)) !== null) {
      this.at += m[0].length;
      const pointee = this.eat('=') ? this.value() : null;
      return { kind: 'ptr', addr: BigInt(m[1] as string), vma: m[2] !== undefined, pointee: pointee?.kind === 'nil' ? null : pointee };
    }
    if ((m = /^(-?0x[0-9a-fA-F]+|-?\d+)/.exec(rest)) !== null) {
      this.at += m[0].length;
      return { kind: 'int', value: BigInt(m[1] as string) };
    }
    if ((m = /^"([0-9a-fA-F]*)"/.exec(rest)) !== null) {
      this.at += m[0].length;
      return { kind: 'bytes', bytes: Uint8Array.from(Buffer.from(m[1] as string, 'hex')) };
    }
    if ((m = /^'((?:[^'\\]|\\.)*)'/.exec(rest)) !== null) {
      this.at += m[0].length;
      return { kind: 'bytes', bytes: Uint8Array.from(Buffer.from((m[1] as string).replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')) };
    }
    if (this.eat('nil') || this.eat('AUTO')) return { kind: 'nil' };
    if (this.eat('{')) return { kind: 'group', items: this.list('}') };
    if (this.eat('[')) return { kind: 'group', items: this.list(']') };
    return this.fail('not a value');
  }
}

/** A field of an argument's layout: where it is, and the constant syzkaller writes when a program leaves it out. */
interface Slot {
  readonly offset: number;
  readonly size: number;
  readonly const?: bigint;
}

/** A `const[X]` of the descriptions: a number, or a uapi constant the format's name tables or selftest ops know. */
function constValue(expr: string): bigint | undefined {
  if (/^(0x[0-9a-fA-F]+|\d+)$/.test(expr)) return BigInt(expr);
  for (const prefix of NAME_FAMILIES.keys()) {
    const value = expr.startsWith(prefix) ? nameValue(prefix, expr.slice(prefix.length)) : undefined;
    if (value !== undefined) return value;
  }
  const test = /^IOMMU_TEST_OP_(\w+)$/.exec(expr);
  const spec = test === null ? undefined : OPS.get(`TEST_${test[1]}` as never);
  return spec?.testOp === undefined ? undefined : BigInt(spec.testOp);
}

/** syzkaller lays a struct out as C does: each field at the next multiple of its size. */
function syzLayout(struct: string): Slot[] | null {
  const fields = SYZ_DEV_IOMMU.structs[struct];
  if (fields === undefined) return null;
  let offset = 0;
  return fields.map((f) => {
    offset = Math.ceil(offset / f.size) * f.size;
    const value = f.const === undefined ? undefined : constValue(f.const);
    const slot = { offset, size: f.size, ...(value === undefined ? {} : { const: value }) };
    offset += f.size;
    return slot;
  });
}

const SIZES = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 } as const;

/** The kernel struct an ioctl number takes on an iommufd fd (the fds syzkaller's dev_iommu opens). */
export function kernelStruct(cmd: bigint, testOp: bigint | null): StructSpec | null {
  for (const spec of OPS.values()) {
    if (spec.ioctl === undefined || BigInt(spec.ioctl) !== cmd || spec.layout.kind !== 'struct') continue;
    if (spec.family === 'vfio-device' || spec.family === 'vfio-group') continue;
    if (spec.family === 'selftest' && BigInt(spec.testOp ?? -1) !== testOp) continue;
    return spec.layout.struct;
  }
  return null;
}

const kernelLayout = (struct: StructSpec): Slot[] => struct.fields.map((f) => ({ offset: f.offset, size: SIZES[f.type] * (f.count ?? 1) }));

interface Layouter {
  readonly image: MemoryImage;
  readonly outputs: { res: number; offset: number; size: number }[];
  /** `<rN=>v`: v is what rN holds until a call gives it a value. */
  readonly defaults: Map<number, bigint>;
  map(addr: bigint): bigint;
}

/** Writes one value of `size` bytes at `addr`, and what a pointer points at. */
function put(l: Layouter, addr: bigint, base: bigint, size: number, v: SyzValue): void {
  switch (v.kind) {
    case 'int':
      l.image.write(addr, size, v.value);
      return;
    case 'res':
      l.image.write(addr, size, { res: v.res } satisfies ResourceRef);
      return;
    case 'out':
      l.outputs.push({ res: v.res, offset: Number(addr - base), size });
      if (v.value.kind === 'int' && !l.defaults.has(v.res)) l.defaults.set(v.res, v.value.value);
      put(l, addr, base, size, v.value);
      return;
    case 'ptr': {
      const target = l.map(v.addr);
      l.image.write(addr, size, target);
      if (v.pointee?.kind === 'bytes') l.image.writeBytes(target, v.pointee.bytes);
      return;
    }
    default:
      return;
  }
}

/** Lays a struct value out at its address; fields it leaves out get their constant, if they have one (prog's defaults). */
function layStruct(l: Layouter, addr: bigint, value: SyzValue, layout: readonly Slot[]): void {
  const items = value.kind === 'group' ? value.items : [value];
  layout.forEach((slot, i) => {
    const item = items[i] ?? (slot.const === undefined ? undefined : { kind: 'int', value: slot.const });
    if (item !== undefined) put(l, addr + BigInt(slot.offset), addr, slot.size, item);
  });
}

const operand = (v: SyzValue | undefined): Operand => (v?.kind === 'res' ? { res: v.res } : v?.kind === 'int' ? v.value : -1n);

/** `Repeat:true` in the options line, and `RepeatTimes` (0: forever). */
function readOptions(lines: readonly CaptureLine[]): boolean {
  const options = lines.find((l) => /^#\s*\{.*\}\s*$/.test(l.text));
  return options !== undefined && /\bRepeat:true\b/.test(options.text);
}

export function readSyzProgram(lines: readonly CaptureLine[], dataBase: SyzProgram['dataBase'], issues: LineIssues): SyzProgram & { readable: number } {
  const base = dataBase?.addr ?? SYZ_DATA_OFFSET;
  const steps: SyzStep[] = [];
  const defaults = new Map<number, bigint>();
  let readable = 0;
  for (const { line, text } of lines) {
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const head = /^(?:r(\d+) = )?([A-Za-z0-9_$]+)\(/.exec(trimmed);
    if (head === null) {
      issues.add(line, 'not a syzkaller call');
      continue;
    }
    const [, res, name] = head as unknown as [string, string | undefined, string];
    let args: SyzValue[];
    let rerun = 0;
    try {
      args = new ValueReader(trimmed.slice(head[0].length)).list(')');
      rerun = Number(/\(rerun: (\d+)\)\s*$/.exec(trimmed)?.[1] ?? 0);
    } catch (e) {
      issues.add(line, `${name}: ${(e as Error).message}`);
      continue;
    }
    const call = SYZ_DEV_IOMMU.calls[name];
    if (call === undefined) {
      issues.add(line, `${name}: not a call of the vendored dev_iommu descriptions`);
      continue;
    }
    readable++;
    const image = new MemoryImage();
    const outputs: { res: number; offset: number; size: number }[] = [];
    const l: Layouter = { image, outputs, defaults, map: (a) => (a >= SYZ_DATA_OFFSET ? base + (a - SYZ_DATA_OFFSET) : a) };
    if (call.open !== undefined) {
      steps.push({ kind: 'open', line, path: call.open, res: res === undefined ? null : Number(res) });
      if (res !== undefined) defaults.set(Number(res), -1n);
      continue;
    }
    const cmd = args[1]?.kind === 'int' ? args[1].value : 0n;
    const arg = args[2];
    let stepArg: Extract<SyzStep, { kind: 'ioctl' }>['arg'] = { kind: 'none' };
    if (arg?.kind === 'ptr' && arg.pointee !== null) {
      const addr = l.map(arg.addr);
      const first = arg.pointee.kind === 'group' ? arg.pointee.items : [];
      // The op of IOMMU_TEST_CMD is its second field; its number, not the call's name, says which.
      const testOp = first[1]?.kind === 'int' ? first[1].value : null;
      const kernel = kernelStruct(cmd, testOp);
      const layout = (call.arg === undefined ? null : syzLayout(call.arg)) ?? (kernel === null ? null : kernelLayout(kernel));
      if (layout === null) {
        issues.add(line, `${name}: no layout for its argument`);
        continue;
      }
      layStruct(l, addr, arg.pointee, layout);
      stepArg = { kind: 'memory', addr, image };
    } else if (arg?.kind === 'int') {
      stepArg = { kind: 'int', value: arg.value };
    }
    steps.push({ kind: 'ioctl', line, fd: operand(args[0]), cmd, arg: stepArg, outputs, times: 1 + rerun });
  }
  return { steps, repeat: readOptions(lines), defaults, dataBase, readable };
}
