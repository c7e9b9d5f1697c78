/**
 * `inspect` without `--json`: the state as an indented tree, one thing a line. Strings that come
 * from the trace (paths, device names, capabilities) are escaped, so none can break a line.
 */
import { clip } from '../../events/quote.ts';
import type {
  AreaView,
  ContextView,
  EventRef,
  FdView,
  InspectDocument,
  MappingView,
  ObjectView,
  PagesView,
  ProcessView,
  RangeView,
  ReservedView,
  SelectionView,
  StateView,
  VfioView,
} from './view-types.ts';

interface Node {
  readonly text: string;
  readonly children?: readonly Node[];
}

const s = (text: string): string => clip(text, Infinity);
const range = (r: RangeView): string => `${r.start}..${r.last}`;
const list = (xs: readonly (number | string)[]): string => (xs.length === 0 ? '-' : xs.join(','));
const leaf = (text: string): Node => ({ text });
/** A heading over its items, or one line saying there are none. */
const group = (title: string, items: readonly Node[]): Node => (items.length === 0 ? { text: `${title}: none` } : { text: title, children: items });

export function eventText(at: EventRef): string {
  if (at.op === null) return `before the first event (header, line ${at.line})`;
  return `after line ${at.line}${at.source_line === undefined ? '' : ` (capture line ${at.source_line})`}${at.seq === null ? '' : ` seq ${at.seq}`} ${at.op} (${at.outcome}${at.errno === null ? '' : ` ${at.errno}`})`;
}

function protText(prot: string): string {
  const p = BigInt(prot);
  return `${p & 1n ? 'r' : '-'}${p & 2n ? 'w' : '-'}${p & 4n ? 'x' : '-'}`;
}

function mapping(m: MappingView): Node {
  const b = m.backing;
  const backing = b.kind === 'anon' ? `anon #${b.object}` : b.kind === 'memfd' ? `memfd file ${b.file}` : `file ${s(b.path)}`;
  const flags = [m.shared ? 'shared' : 'private', ...(m.hugepage ? ['hugepage'] : []), ...(m.cow ? ['cow'] : [])];
  return leaf(`mapping ${range(m)} ${protText(m.prot)} ${flags.join(' ')} ${backing} +${b.offset}`);
}

function fdText(f: FdView): string {
  switch (f.kind) {
    case 'iommufd':
      return `iommufd${f.container ? ' (/dev/vfio/vfio)' : ''} context ${f.ctx}`;
    case 'memfd':
      return `memfd size ${f.size}${f.hugetlb ? ' hugetlb' : ''}`;
    case 'dmabuf':
      return `dma-buf size ${f.size} from ${s(f.exporter)} in ${f.ranges} ranges${f.revoked ? ' (revoked)' : ''}`;
    case 'access':
      return `access ${f.access} of context ${f.ctx}`;
    case 'fault':
    case 'veventq':
      return `${f.kind} ${f.object} of context ${f.ctx}`;
    case 'container':
      return `VFIO container ${f.container}`;
    case 'group':
      return `VFIO group ${f.group}`;
    case 'vfio-device':
      return `VFIO device ${s(f.device)} of group ${f.group}${f.opened ? '' : ' (not opened)'}`;
    case 'vfio-cdev':
      return `VFIO cdev of ${s(f.device)}`;
    case 'other':
      return s(f.path);
  }
}

function process(p: ProcessView): Node {
  const fds = p.fds.map((f) => leaf(`fd ${f.fd}: ${fdText(f)} (file ${f.file})`));
  const caps = p.caps.length === 0 ? '-' : p.caps.map(s).join(',');
  return {
    text: `pid ${p.pid} uid ${p.uid} caps ${caps} rlimit_memlock ${p.rlimit_memlock ?? 'unlimited'} locked_vm ${p.locked_vm} pinned_vm ${p.pinned_vm}`,
    children: [...fds, ...p.mappings.map(mapping)],
  };
}

export const area = (a: AreaView): Node => leaf(`area ${a.iova}..${a.last} pages ${a.pages} at byte ${a.start_byte} ${list(a.prot)}`);
export const reserved = (r: ReservedView): Node => leaf(`reserved ${range(r)} by ${r.owner ?? 'selftest'}`);
export const allowed = (r: RangeView): Node => leaf(`allowed ${range(r)}`);

export function object(o: ObjectView): Node {
  if (o.type === 'tombstone') return leaf(`tombstone ${o.id} (a vdevice id kept reserved)`);
  const head = `${o.type} ${o.id} ${o.state} users ${o.users}`;
  switch (o.type) {
    case 'ioas':
      return {
        text: `${head} iova_alignment ${o.iova_alignment}${o.huge_pages_disabled ? ' huge pages disabled' : ''} domains ${list(o.domains)} accesses ${list(o.accesses)}`,
        children: [...o.areas.map(area), ...o.allowed.map(allowed), ...o.reserved.map(reserved)],
      };
    case 'device':
      return leaf(`${head} ${s(o.name)} (${s(o.kind)}, group ${s(o.group)}) attached ${list(o.attached.map((a) => `pasid ${a.pasid}: hwpt ${a.hwpt}`))} vdevice ${o.vdevice ?? '-'}`);
    case 'hwpt_paging':
      return leaf(
        `${head} ioas ${o.ioas}${o.auto ? ' auto' : ''}${o.nest_parent ? ' nest_parent' : ''} domain ${s(o.domain.iommu)} pgsize ${o.domain.pgsize_bitmap} aperture ${range(o.domain.aperture)}` +
          `${o.fault === null ? '' : ` fault ${o.fault}`}${o.dirty_enabled ? ` dirty tracking (${o.dirty} dirty)` : ''}`,
      );
    case 'hwpt_nested':
      return leaf(`${head} parent ${o.parent}${o.viommu === null ? '' : ` viommu ${o.viommu}`} ${s(o.iommu)}${o.fault === null ? '' : ` fault ${o.fault}`}`);
    case 'viommu':
      return leaf(`${head} type ${o.viommu_type} hwpt ${o.hwpt} vdevices ${list(o.vdevices.map((v) => `${v.virt_id}: ${v.vdevice}`))} hw_queues ${list(o.hw_queues.map((q) => `${q.index}: ${q.hw_queue}`))}`);
    case 'vdevice':
      return leaf(`${head} device ${o.device} on viommu ${o.viommu} virt_id ${o.virt_id}`);
    case 'veventq':
      return leaf(`${head} viommu ${o.viommu} type ${o.veventq_type} queued ${o.queued}/${o.depth}${o.lost ? ' (events lost)' : ''}`);
    case 'fault':
      return leaf(`${head} queued ${o.queued} awaiting response ${o.awaiting_response}`);
    case 'hw_queue':
      return leaf(`${head} viommu ${o.viommu} index ${o.index} access ${o.access}${o.prev === null ? '' : ` after ${o.prev}`}`);
    case 'selftest':
      return leaf(`${head} device ${o.device ?? '-'}${o.own_hwpt === undefined ? '' : ` own hwpt ${o.own_hwpt}`}`);
    case 'access':
      return {
        text: `${head} ioas ${o.ioas ?? '-'}${o.needs_pin ? ' pins' : ''}${o.internal ? ' internal' : ''}`,
        children: o.items.map((i) => leaf(`item ${i.id} iova ${i.iova} length ${i.length} pages ${list(i.pages)}`)),
      };
  }
}

export const pages = (p: PagesView): Node => ({
  text:
    `pages ${p.id} ${p.kind}${p.file === null ? '' : ` file ${p.file}`} ${p.start}+${p.length}${p.writable ? ' writable' : ''} owner pid ${p.owner} uid ${p.owner_uid}` +
    ` account ${p.account} areas ${p.area_refs} pinned ${p.pinned_pages} charged ${p.charged_pages}`,
  children: p.holds.map((h) => leaf(`held by ${s(h.key)}: pages ${h.first}..${h.last}`)),
});

const context = (c: ContextView): Node => ({
  text: `context ${c.name} holders ${c.holders} account_mode ${c.account_mode}${c.vfio_ioas === null ? '' : ` vfio_ioas ${c.vfio_ioas}`}`,
  children: [...c.objects.map(object), ...c.pages.map(pages)],
});

function vfio(v: VfioView): Node {
  return {
    text: `vfio container ${v.container} drivers ${list(v.drivers)}`,
    children: [
      ...v.groups.map((g) =>
        leaf(
          `group ${g.id}${g.noiommu ? ' noiommu' : ''} devices ${list(g.devices.map(s))} file ${g.opened ?? '-'} container ${g.container ?? '-'} iommufd ${g.iommufd ?? '-'} container_users ${g.container_users}`,
        ),
      ),
      ...v.containers.map((c) => {
        const d = c.driver;
        const driver = d === null ? 'no driver' : d.kind === 'noiommu' ? 'noiommu' : `${d.kind}${d.v2 ? ' v2' : ''}`;
        const children: Node[] =
          d?.kind === 'type1'
            ? [
                ...d.dmas.map((m) => leaf(`dma ${m.iova}..${m.last} vaddr ${m.vaddr}${m.vaddr_invalid ? ' (invalid)' : ''} prot ${m.prot} owner pid ${m.owner} locked ${m.locked_pages}`)),
                ...d.charged.map((c) => leaf(`charged pid ${c.pid}: ${c.pages} pages`)),
              ]
            : d?.kind === 'spapr_tce'
              ? d.windows.map((w) => leaf(`window ${w.slot} offset ${w.offset} size ${w.size} page_shift ${w.page_shift} levels ${w.levels} charged ${w.charged_pages} tce runs ${w.tce_runs}`))
              : [];
        const extra = d?.kind === 'type1' ? ` dma_avail ${d.dma_avail}` : d?.kind === 'spapr_tce' ? `${d.enabled ? ' enabled' : ''} locked ${d.locked_pages} mm ${d.mm ?? '-'}` : '';
        return { text: `container ${c.id}${c.file_open ? '' : ' (file closed)'} groups ${list(c.groups)} ${driver}${extra}`, children };
      }),
      ...v.spapr_mms.map((m) => ({
        text: `spapr mm of pid ${m.pid}${m.leaked_table_pages > 0 ? ` leaked table pages ${m.leaked_table_pages}` : ''}`,
        children: m.regions.map((r) => leaf(`region ua ${r.ua} entries ${r.entries} used ${r.used} mapped ${r.mapped}`)),
      })),
    ],
  };
}

function stateNodes(state: StateView): Node[] {
  return [
    leaf(`kernel ${state.kernel}`),
    group('processes', state.processes.map(process)),
    group('users', state.users.map((u) => leaf(`uid ${u.uid} locked_vm ${u.locked_vm}`))),
    group('contexts', state.contexts.map(context)),
    group(
      'devices',
      state.devices.map((d) =>
        leaf(
          `${s(d.name)} (${s(d.kind)}, group ${s(d.group)})${d.cdev === null ? '' : ` cdev vfio${d.cdev}`} ${d.bound === null ? 'unbound' : `bound to context ${d.bound.ctx} as device ${d.bound.device}`}` +
            `${d.rid_attached ? ' RID attached' : ''}${d.pasids.length > 0 ? ` pasids ${list(d.pasids)}` : ''}`,
        ),
      ),
    ),
    vfio(state.vfio),
  ];
}

function selectionNodes(sel: SelectionView): Node[] {
  switch (sel.kind) {
    case 'context':
      return [context(sel.context)];
    case 'object':
      return [{ text: `in context ${sel.context}`, children: [object(sel.object), ...sel.pages.map(pages)] }];
    case 'window':
      return [
        {
          text: `ioas ${sel.ioas} of context ${sel.context}, IOVAs ${range(sel.window)}`,
          children: [group('areas', sel.areas.map(area)), ...sel.allowed.map(allowed), ...sel.reserved.map(reserved), ...sel.pages.map(pages)],
        },
      ];
  }
}

export function renderNodes(nodes: readonly Node[], depth = 0): string[] {
  return nodes.flatMap((n) => [`${'  '.repeat(depth)}${n.text}`, ...renderNodes(n.children ?? [], depth + 1)]);
}

export function formatInspect(doc: InspectDocument): string {
  const nodes = 'state' in doc ? stateNodes(doc.state) : selectionNodes(doc.selection);
  return [`${s(doc.file)}: ${eventText(doc.at)}${'select' in doc ? `, ${s(doc.select)}` : ''}`, ...renderNodes(nodes, 1)].join('\n');
}

export type { Node as TreeNode };
