/**
 * `iommufd-model import FORMAT FILE`: a capture as a trace (format 1.1). The formats: `qemu`
 * (QEMU logs), `strace` (strace output), `syz` (syzkaller programs and C reproducers). A file
 * that is none of them, or a kernel-side log (ftrace, dmesg) with no QEMU log to join it to, is
 * refused with one line.
 */
import { captureLines, readCapture } from './capture-text.ts';
import { HeaderPlan, readUserHeader } from './header.ts';
import { ImportError } from './import-error.ts';
import { type LineIssue, LineIssues } from './line-issues.ts';
import { importQemu } from './qemu.ts';
import { importStrace } from './strace.ts';
import { importSyz } from './syz.ts';
import { type ImportedTrace, readDraft } from './trace-draft.ts';
import type { CaptureFormat } from './formats.ts';

export type { CaptureFormat } from './formats.ts';

export interface ImportOptions {
  /** `--header`: a header JSON file giving what the capture cannot say. */
  readonly header?: string;
  /** `--repeat`: runs of a syzkaller program that repeats forever (default 2). */
  readonly repeat?: number;
  /** `--syz-data`: where a `.syz` program's data area is at run time, when no C reproducer says. */
  readonly syzData?: bigint;
  /** `replay --from --kernel`: the release the capture came from, the header's `env.kernel` over `--header`'s. */
  readonly kernel?: string;
}

export interface ImportResult {
  readonly trace: ImportedTrace;
  /** Lines that could not be read. */
  readonly issues: readonly LineIssue[];
}

/** Kernel-side logs the importers know by their lines, and cannot replay alone. */
const KERNEL_SIDE: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /^\s*\S.*-\d+\s+\[\d+\]\s+\S+\s+\d+\.\d+: \w+:/, what: 'an ftrace log (/sys/kernel/debug/tracing/trace)' },
  { pattern: /^\[\s*\d+\.\d+\] /, what: 'a kernel log (dmesg)' },
];

function refuseKernelSide(file: string, text: string): void {
  const first = captureLines(text).find((l) => l.text.trim() !== '');
  const side = first === undefined ? undefined : KERNEL_SIDE.find((k) => k.pattern.test(first.text));
  if (side !== undefined) {
    throw new ImportError(`${file}: ${side.what}: the kernel side of a run, with no QEMU log to join it to; import the QEMU log`);
  }
}

const WHAT: { readonly [F in CaptureFormat]: string } = {
  qemu: 'a QEMU log (trace events or VFIO/iommufd messages)',
  strace: 'strace output of VFIO or iommufd ioctls',
  syz: 'a syzkaller program or C reproducer for /dev/iommu',
};

export function importCapture(format: CaptureFormat, file: string, options: ImportOptions = {}): ImportResult {
  const text = readCapture(file);
  refuseKernelSide(file, text);
  const user = options.header === undefined ? null : readUserHeader(options.header);
  // The importer runs a syzkaller program on the model to learn its fds and ids: as that release.
  // readUserHeader() has checked that an env it gives is an object.
  const given = options.kernel === undefined ? user : { ...user, env: { ...(user?.['env'] as object | undefined), kernel: options.kernel } };
  const header = new HeaderPlan(given, file.split('/').pop() as string);
  const issues = new LineIssues();
  const imported =
    format === 'qemu'
      ? importQemu(text, header, issues)
      : format === 'strace'
        ? importStrace(text, header, issues)
        : importSyz(text, file, header, issues, options);
  if (imported.readable === 0) throw new ImportError(`${file}: not ${WHAT[format]}: no line of it reads as one`);
  return { trace: readDraft(imported.header.json(), imported.draft.events), issues: issues.issues };
}
