/**
 * The header of an imported trace: what the capture says (its devices, their cdev and group),
 * and, from `--header`, what it cannot say (devices and their kind, aperture and group, the
 * processes' rlimit and uid, the kernel version, the /dev/vfio/vfio driver). `--header` is a
 * header line's JSON, whole or in part; its values win, its devices merge by name. The memory
 * map of a capture is unknown: `memory` defaults to `"any"`.
 */
import { readFileSync } from 'node:fs';
import { FieldError } from '../../events/field-error.ts';
import { parseHeader } from '../../events/header.ts';
import { CURRENT_VERSION } from '../../events/version.ts';
import { ImportError } from './import-error.ts';

type Json = { [key: string]: unknown };

/** What a capture tells of a device. */
export interface DeviceFacts {
  readonly kind?: string;
  readonly cdev?: number;
  readonly group?: number;
}

const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `--header`: a JSON object, checked as a header line would be. */
export function readUserHeader(path: string): Json {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e: unknown) {
    throw new ImportError(`${path}: cannot read a JSON header: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(raw)) throw new ImportError(`${path}: not a JSON object`);
  try {
    parseHeader({ trace: 'iommufd', version: CURRENT_VERSION, ...raw });
  } catch (e) {
    if (e instanceof FieldError) throw new ImportError(`${path}: ${e.message}`);
    throw e;
  }
  return raw;
}

export class HeaderPlan {
  private readonly devices: Json[] = [];
  private readonly notes: string[] = [];
  /** User devices with a group that no container has taken yet. */
  private readonly freeGroups: number[];

  constructor(
    private readonly user: Json | null,
    private readonly source: string,
  ) {
    const env = isRecord(user?.['env']) ? user['env'] : {};
    const given = Array.isArray(env['devices']) ? env['devices'].filter(isRecord) : [];
    for (const d of given) this.devices.push({ ...d });
    this.freeGroups = given.map((d) => d['group']).filter((g): g is number => typeof g === 'number');
  }

  /** The header device `name`, with what the capture says of it; the user's values win. */
  device(name: string, facts: DeviceFacts = {}): void {
    const at = this.devices.find((d) => d['name'] === name);
    const captured: Json = { name, kind: facts.kind ?? 'unknown' };
    if (facts.cdev !== undefined) captured['cdev'] = facts.cdev;
    if (facts.group !== undefined) captured['group'] = facts.group;
    if (at === undefined) this.devices.push(captured);
    else for (const [k, v] of Object.entries(captured)) if (!(k in at) || (k === 'kind' && at[k] === 'unknown')) at[k] = v;
  }

  /**
   * A VFIO group for a new container: the group the capture names, else one a `--header`
   * device gives that no container has yet, else a stand-in device in a group of its own
   * (`number` is free), noted in the header.
   */
  groupFor(named: { device?: string; group?: number }, why: string): number {
    if (named.group !== undefined) {
      this.device(named.device ?? `group${named.group}`, { group: named.group });
      return named.group;
    }
    const given = this.freeGroups.shift();
    if (given !== undefined) return given;
    const used = new Set(this.devices.map((d) => d['group']));
    let group = 0;
    while (used.has(group)) group++;
    const name = named.device ?? `device${group}`;
    this.device(name, { group });
    const entry = this.devices.find((d) => d['name'] === name) as Json;
    entry['note'] = `added: ${why}; group ${group} stands for the one it used`;
    return group;
  }

  /**
   * What the capture itself says of the host of group `group`'s device (a SPAPR IOMMU type set
   * on its container: a POWER host): its kind, marked `inferred` with a note, when neither the
   * capture nor `--header` gave one.
   */
  inferKind(group: number, kind: string, why: string): void {
    const device = this.devices.find((d) => d['group'] === group);
    if (device === undefined || device['kind'] !== 'unknown' || this.given(device['name'])) return;
    device['kind'] = kind;
    device['inferred'] = true;
    const note = `kind ${kind} inferred: ${why}`;
    device['note'] = typeof device['note'] === 'string' ? `${device['note']}; ${note}` : note;
  }

  /** Whether `--header` gives the device `name`. */
  private given(name: unknown): boolean {
    const env = isRecord(this.user?.['env']) ? this.user['env'] : {};
    return Array.isArray(env['devices']) && env['devices'].some((d) => isRecord(d) && d['name'] === name && typeof d['kind'] === 'string' && d['kind'] !== 'unknown');
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  /** The header line as JSON. */
  json(): Json {
    const user = this.user ?? {};
    const env: Json = { memory: 'any', ...(isRecord(user['env']) ? user['env'] : {}) };
    if (this.devices.length > 0) env['devices'] = this.devices;
    const out: Json = { trace: 'iommufd', version: CURRENT_VERSION, ...user, env, source: this.source };
    if (this.notes.length > 0) out['note'] = this.notes.join(' ');
    return out;
  }
}
