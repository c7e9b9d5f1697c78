/**
 * The header's VFIO setup (format 1.1): `env.vfio`, which says what serves /dev/vfio/vfio and
 * which IOMMU drivers are registered, and the module parameters the model reads from `params`,
 * checked as the kernel's parameter parsers would take them (`param_set_uint()`,
 * `param_set_bool()`).
 */
import { FieldError, recordOf, under } from './field-error.ts';
import { show } from './quote.ts';
import { parseLoose } from './values.ts';
import type { DeviceDecl, Fields, Value, VfioDecl, VfioDriverName } from './types.ts';

export const VFIO_DRIVERS: readonly VfioDriverName[] = ['type1', 'spapr_tce', 'noiommu'];

const isDriver = (name: unknown): name is VfioDriverName => VFIO_DRIVERS.includes(name as VfioDriverName);

export function parseVfioDecl(raw: unknown): VfioDecl {
  const given = recordOf(raw, 'an object');
  let container: VfioDecl['container'] = 'native';
  let drivers: VfioDriverName[] | null = null;
  for (const [key, value] of Object.entries(given)) {
    if (key === 'container') {
      if (value !== 'native' && value !== 'iommufd') throw new FieldError(key, `${show(value)} is not "native" or "iommufd"`);
      container = value;
    } else if (key === 'drivers') {
      drivers = under(key, () => parseDrivers(value));
    } else {
      throw new FieldError(key, 'not a key of vfio (container, drivers)');
    }
  }
  return { container, drivers };
}

function parseDrivers(raw: unknown): VfioDriverName[] {
  if (!Array.isArray(raw)) throw new FieldError('', `${show(raw)} is not an array of driver names`);
  const seen: VfioDriverName[] = [];
  raw.forEach((name: unknown, i) => {
    if (!isDriver(name)) throw new FieldError(`[${i}]`, `${show(name)} is not one of ${VFIO_DRIVERS.join(', ')}`);
    // vfio_register_iommu_driver() refuses a driver registered twice.
    if (seen.includes(name)) throw new FieldError(`[${i}]`, `${show(name)} is registered twice`);
    seen.push(name);
  });
  return seen;
}

const U32_MAX = 0xffffffffn;

/** The module parameters the model reads, and how each is written. */
const KNOWN_PARAMS: { readonly [name: string]: 'uint' | 'bool' } = {
  'vfio_iommu_type1.dma_entry_limit': 'uint',
  'vfio_iommu_type1.allow_unsafe_interrupts': 'bool',
  'vfio_iommu_type1.disable_hugepages': 'bool',
  'vfio.enable_unsafe_noiommu_mode': 'bool',
  'iommufd.allow_unsafe_interrupts': 'bool',
};

/** `param_set_bool()`'s spellings (`strtobool()`), as JSON: true/false, 0/1, "Y"/"N", "1"/"0". */
function boolOf(value: Value): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 0n || value === 1n) return value === 1n;
  if (typeof value === 'string' && /^[YyNn]$/.test(value)) return value === 'Y' || value === 'y';
  return null;
}

/** `params` (in `env`, or at the top level as format 1 placed it): loose values, the known ones checked. */
export function parseParams(raw: unknown): Fields {
  return checkParams(parseLoose(recordOf(raw, 'an object')) as Fields);
}

/** Checks the known parameters of `params` (already read as loose values). */
function checkParams(params: Fields): Fields {
  for (const [name, value] of Object.entries(params)) {
    const kind = KNOWN_PARAMS[name];
    if (kind === 'bool' && boolOf(value) === null) throw new FieldError(name, `${show(value)} is not a boolean parameter (true, false, 0, 1, "Y" or "N")`);
    if (kind === 'uint' && (typeof value !== 'bigint' || value < 0n || value > U32_MAX)) {
      throw new FieldError(name, `${show(value)} is not an unsigned int (0 to 2^32 - 1)`);
    }
  }
  return params;
}

/** A boolean module parameter, false when not given. */
export const boolParam = (params: Fields, name: string): boolean => {
  const value = params[name];
  return value !== undefined && boolOf(value) === true;
};

/** An unsigned module parameter, `fallback` when not given. */
export const uintParam = (params: Fields, name: string, fallback: bigint): bigint => {
  const value = params[name];
  return typeof value === 'bigint' ? value : fallback;
};

/** `enum iommu_resv_type`, as a reserved region's `type` names it. */
export const RESV_TYPES = ['DIRECT', 'DIRECT_RELAXABLE', 'RESERVED', 'MSI', 'SW_MSI'];

/**
 * The properties of a `spapr` device (format 1.1): the table group of its PE
 * (`struct iommu_table_group`), by default as PowerNV IODA2 sets one up
 * (`pnv_pci_ioda2_setup_dma_pe()`): the 32-bit window over the 2 GiB below the PHB's M32
 * space, the second window at bit 59 (`tce_bypass_base`), POWER8's page sizes (4K, 64K, 16M,
 * 256M: `pnv_ioda_parse_tce_sizes()`), two windows (`IOMMU_TABLE_GROUP_MAX_TABLES`), five
 * levels (`POWERNV_IOMMU_MAX_LEVELS`).
 */
export const SPAPR_PROPS = {
  tce32_start: { bits: 64, fallback: 0n },
  tce32_size: { bits: 64, fallback: 0x80000000n },
  tce64_start: { bits: 64, fallback: 1n << 59n },
  pgsizes: { bits: 64, fallback: 0x11011000n },
  max_dynamic_windows_supported: { bits: 32, fallback: 2n },
  max_levels: { bits: 32, fallback: 5n },
} as const;

export type SpaprProps = { readonly [K in keyof typeof SPAPR_PROPS]: bigint };

/** A `spapr` device's properties, each as given or its default (the reader checked them). */
export function spaprProps(decl: DeviceDecl): SpaprProps {
  const given = (name: keyof SpaprProps): bigint => {
    const v = decl.params[name];
    return typeof v === 'bigint' ? v : SPAPR_PROPS[name].fallback;
  };
  return {
    tce32_start: given('tce32_start'),
    tce32_size: given('tce32_size'),
    tce64_start: given('tce64_start'),
    pgsizes: given('pgsizes'),
    max_dynamic_windows_supported: given('max_dynamic_windows_supported'),
    max_levels: given('max_levels'),
  };
}

/** A `spapr` device's properties are numbers of their C types; the devices of one group describe one PE. */
function checkSpapr(d: DeviceDecl, i: number, peOf: Map<bigint, { index: number; props: SpaprProps }>): void {
  for (const [name, prop] of Object.entries(SPAPR_PROPS)) {
    const v = d.params[name];
    if (v === undefined) continue;
    if (typeof v !== 'bigint') throw new FieldError(`[${i}].${name}`, `${show(v)} is not a number`);
    if (v < 0n || v >= 1n << BigInt(prop.bits)) throw new FieldError(`[${i}].${name}`, `${show(v)} is out of range for u${prop.bits} (0 to 2^${prop.bits} - 1)`);
  }
  const group = d.params['group'];
  if (typeof group !== 'bigint') return;
  const props = spaprProps(d);
  const first = peOf.get(group);
  if (first === undefined) {
    peOf.set(group, { index: i, props });
    return;
  }
  for (const name of Object.keys(SPAPR_PROPS) as (keyof SpaprProps)[]) {
    if (props[name] !== first.props[name]) {
      throw new FieldError(`[${i}].${name}`, `${show(props[name])} differs from device [${first.index}] of group ${group} (${show(first.props[name])}): a group is one PE`);
    }
  }
}

/** `vfio_cdev_init()` takes MINORMASK + 1 minors: a device's index, the N of its vfioN, is below 2^20. */
const CDEV_MAX = (1n << 20n) - 1n;

/** `cdev` (format 1.1): the N of the device's /dev/vfio/devices/vfioN, one device's each. */
function checkCdev(d: DeviceDecl, i: number, cdevOf: Map<bigint, number>): void {
  const cdev = d.params['cdev'];
  if (cdev === undefined) return;
  if (typeof cdev !== 'bigint' || cdev < 0n || cdev > CDEV_MAX) {
    throw new FieldError(`[${i}].cdev`, `${show(cdev)} is not a VFIO device index (0 to 2^20 - 1)`);
  }
  const first = cdevOf.get(cdev);
  if (first !== undefined) throw new FieldError(`[${i}].cdev`, `${show(cdev)} is device [${first}]'s cdev too`);
  cdevOf.set(cdev, i);
}

/** `bars` (format 1.1): the sizes of a PCI device's BARs 0-5 (`PCI_STD_NUM_BARS`), u64 each. */
function checkBars(d: DeviceDecl, i: number): void {
  const bars = d.params['bars'];
  if (bars === undefined) return;
  if (!Array.isArray(bars) || bars.length > 6) throw new FieldError(`[${i}].bars`, `${show(bars)} is not an array of at most 6 BAR sizes`);
  bars.forEach((b, k) => {
    if (typeof b !== 'bigint' || b < 0n || b >= 1n << 64n) throw new FieldError(`[${i}].bars[${k}]`, `${show(b)} is not a BAR size (0 to 2^64 - 1)`);
  });
}

/**
 * The device properties of format 1.1 (`msi_isolated`, a reserved region's `type`, a numeric
 * `group` as VFIO numbers groups, a `spapr` device's PE, `cdev`, `bars`), that no group mixes
 * devices with and without an IOMMU, and that an `emulated` device's group is its own
 * (`vfio_device_set_group()` makes one for each such device).
 */
export function checkVfioDevices(devices: readonly DeviceDecl[]): void {
  const noiommuOf = new Map<bigint, boolean>();
  const emulatedOf = new Map<bigint, boolean>();
  const peOf = new Map<bigint, { index: number; props: SpaprProps }>();
  const cdevOf = new Map<bigint, number>();
  devices.forEach((d, i) => {
    if (d.kind === 'spapr') checkSpapr(d, i, peOf);
    checkCdev(d, i, cdevOf);
    checkBars(d, i);
    const { msi_isolated: msi, reserved, group } = d.params;
    if (msi !== undefined && typeof msi !== 'boolean') throw new FieldError(`[${i}].msi_isolated`, `${show(msi)} is not true or false`);
    if (Array.isArray(reserved)) {
      reserved.forEach((r, k) => {
        const type = typeof r === 'object' && r !== null && !Array.isArray(r) ? (r as Fields)['type'] : undefined;
        if (type !== undefined && (typeof type !== 'string' || !RESV_TYPES.includes(type))) {
          throw new FieldError(`[${i}].reserved[${k}].type`, `${show(type)} is not one of ${RESV_TYPES.join(', ')}`);
        }
      });
    }
    if (typeof group !== 'bigint') return;
    if (group > 0x7fffffffn) throw new FieldError(`[${i}].group`, `${show(group)} is not an IOMMU group number (0 to 2^31 - 1)`);
    const noiommu = d.kind === 'noiommu';
    if (noiommuOf.get(group) === !noiommu) throw new FieldError(`[${i}].group`, `group ${group} mixes devices with and without an IOMMU`);
    noiommuOf.set(group, noiommu);
    const emulated = d.kind === 'emulated';
    if (emulatedOf.has(group) && (emulated || emulatedOf.get(group) === true)) {
      throw new FieldError(`[${i}].group`, `group ${group} has an emulated device, which is alone in its group`);
    }
    emulatedOf.set(group, emulated);
  });
}
