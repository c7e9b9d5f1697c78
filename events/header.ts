/**
 * The header line (trace-format.md, "Header"): the environment the events run in, with the
 * format's defaults filled in.
 */
import { parseArgs } from './args.ts';
import { checkHugepageSize, checkMappings, parseHugepageSize, parsePageSize } from './header-memory.ts';
import { FieldError, mapItems, recordOf, under } from './field-error.ts';
import { show } from './quote.ts';
import { parseKernelNumber } from './numbers.ts';
import { PLANS } from './op-plan.ts';
import { CAPS_ARG, RLIMIT_MEMLOCK_ARG } from './ops.ts';
import type { DeviceDecl, Fields, ProcessDecl, TraceEnv, TraceHeader, Value, VfioDecl } from './types.ts';
import { parseArg } from './value-reader.ts';
import { parseLoose, setOwn } from './values.ts';
import { parseVersion } from './version.ts';
import { checkVfioDevices, parseParams, parseVfioDecl } from './vfio-env.ts';

const DEFAULT_PROCESS: ProcessDecl = { pid: 1, uid: 0, rlimitMemlock: null, caps: [] };

function array(raw: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not ${what}`);
  return raw;
}

export function parseHeader(raw: unknown): TraceHeader {
  const given = recordOf(raw, 'a JSON object');
  if (given.trace !== 'iommufd') throw new FieldError('trace', `${show(given.trace)} is not "iommufd"`);
  const version = under('version', () => parseVersion(given.version));
  let env: TraceEnv = parseEnv({});
  let params: Fields = {};
  let envParams: Fields | null = null;
  const extra: { [key: string]: unknown } = {};
  for (const [key, value] of Object.entries(given)) {
    if (key === 'trace' || key === 'version') continue;
    if (key === 'env') {
      env = under(key, () => parseEnv(value));
      envParams = under(key, () => paramsIn(value));
    } else if (key === 'params') params = under(key, () => parseParams(value));
    else setOwn(extra, key, value);
  }
  if (envParams !== null) {
    if ('params' in given) throw new FieldError('params', 'given in env too: give the module parameters once, in env');
    params = envParams;
  }
  return { version, env, params, extra };
}

/** Format 1.1 places the module parameters in `env`; format 1 at the top level, which stays accepted. */
function paramsIn(env: unknown): Fields | null {
  const raw = (env as Readonly<Record<string, unknown>>)['params'];
  return raw === undefined ? null : under('params', () => parseParams(raw));
}

function parseEnv(raw: unknown): TraceEnv {
  const given = recordOf(raw, 'an object');
  let pageSize = 4096n;
  let hugepageSize = 2n * 1024n * 1024n;
  let hugepageRaw: unknown;
  let memory: TraceEnv['memory'] = 'any';
  let mappings: readonly Fields[] = [];
  let processes: readonly ProcessDecl[] = [DEFAULT_PROCESS];
  let devices: readonly DeviceDecl[] = [];
  let vfio: VfioDecl | null = null;
  let kernel: unknown = null;
  const extra: { [key: string]: unknown } = {};
  for (const [key, value] of Object.entries(given)) {
    switch (key) {
      case 'page_size':
        pageSize = under(key, () => parsePageSize(value));
        break;
      case 'hugepage_size':
        hugepageSize = under(key, () => parseHugepageSize(value));
        hugepageRaw = value;
        break;
      case 'memory':
        if (value !== 'declared' && value !== 'any') {
          throw new FieldError(key, `${show(value)} is not "declared" or "any"`);
        }
        memory = value;
        break;
      case 'mappings':
        mappings = under(key, () => parseMappings(value));
        break;
      case 'processes':
        processes = under(key, () => parseProcesses(value));
        break;
      case 'devices':
        devices = under(key, () => parseDevices(value));
        under(key, () => checkVfioDevices(devices));
        break;
      case 'vfio':
        vfio = under(key, () => parseVfioDecl(value));
        break;
      case 'kernel':
        // Read as a version when a world is made (src/kernel/select.ts): a value that is none is a warning there, not malformed.
        kernel = value;
        break;
      case 'params':
        // Read by parseHeader(): the module parameters belong to the header.
        break;
      default:
        setOwn(extra, key, value);
    }
  }
  under('hugepage_size', () => checkHugepageSize(hugepageSize, hugepageRaw, pageSize));
  under('mappings', () => checkMappings(mappings, pageSize, hugepageSize));
  return { pageSize, hugepageSize, memory, mappings, processes, devices, vfio, kernel, extra };
}

const MMAP = PLANS.get('MMAP');

/** Memory present before the first event, written as `MMAP` arguments. */
function parseMappings(raw: unknown): Fields[] {
  if (MMAP === undefined) throw new Error('MMAP is missing from the op registry');
  return mapItems(array(raw, 'an array of MMAP arguments'), (item) => parseArgs(MMAP, item).fields);
}

function parseProcesses(raw: unknown): ProcessDecl[] {
  const items = array(raw, 'an array of processes');
  if (items.length === 0) throw new FieldError('', 'no process: give at least one, or leave processes out');
  const processes = mapItems(items, parseProcess);
  const seen = new Set<number>();
  processes.forEach((p, i) => {
    if (seen.has(p.pid)) throw new FieldError(`[${i}].pid`, `pid ${p.pid} is declared twice`);
    seen.add(p.pid);
  });
  return processes;
}

function parseProcess(raw: unknown): ProcessDecl {
  const given = recordOf(raw, 'a process object');
  let { pid, uid, rlimitMemlock, caps } = DEFAULT_PROCESS;
  for (const [key, value] of Object.entries(given)) {
    under(key, () => {
      switch (key) {
        case 'pid':
          pid = Number(parseKernelNumber(value, 'u32'));
          break;
        case 'uid':
          uid = Number(parseKernelNumber(value, 'u32'));
          break;
        case 'rlimit_memlock':
          rlimitMemlock = parseArg(RLIMIT_MEMLOCK_ARG, value) as bigint | null;
          break;
        case 'caps':
          caps = parseArg(CAPS_ARG, value) as string[];
          break;
        default:
          throw new FieldError('', 'not a process property (pid, uid, rlimit_memlock, caps)');
      }
    });
  }
  return { pid, uid, rlimitMemlock, caps };
}

function parseDevices(raw: unknown): DeviceDecl[] {
  const devices = mapItems(array(raw, 'an array of devices'), parseDevice);
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    if (seen.has(d.name)) throw new FieldError(`[${i}].name`, `device ${show(d.name)} is declared twice`);
    seen.add(d.name);
  });
  return devices;
}

function parseDevice(raw: unknown): DeviceDecl {
  const given = recordOf(raw, 'a device object');
  const { name, kind } = given;
  if (typeof name !== 'string') throw new FieldError('name', `${show(name)} is not a device name`);
  if (typeof kind !== 'string') throw new FieldError('kind', `${show(kind)} is not a device kind`);
  const params: { [key: string]: Value } = {};
  for (const [key, value] of Object.entries(given)) {
    if (key !== 'name' && key !== 'kind') setOwn(params, key, under(key, () => parseLoose(value)));
  }
  return { name, kind, params };
}
