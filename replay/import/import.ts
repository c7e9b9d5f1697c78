/**
 * `iommufd-model import FORMAT FILE`: a capture as a trace (format 1.1). The formats: `qemu`
 * (QEMU logs), `strace` (strace output), `syz` (syzkaller programs and C reproducers). A file
 * that is none of them, or a kernel-side log (ftrace, dmesg) with no QEMU log to join it to, is
 * refused with one line; `--join` joins kernel-side logs to a QEMU log of the same run.
 */
import { readCapture } from './capture-text.ts';
import { HeaderPlan, readUserHeader } from './header.ts';
import { ImportError } from './import-error.ts';
import { type LineIssue, LineIssues } from './line-issues.ts';
import { type KernelRange, kernelSideKind, kernelSideWhat, readKernelSide } from './kernel-side.ts';
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
  /** `--join`: kernel-side logs (ftrace, dmesg) of the QEMU log's run. */
  readonly join?: readonly string[];
}

export interface ImportResult {
  readonly trace: ImportedTrace;
  /** Lines that could not be read. */
  readonly issues: readonly LineIssue[];
}

function refuseKernelSide(file: string, text: string): void {
  const kind = kernelSideKind(text);
  if (kind !== null) {
    throw new ImportError(`${file}: ${kernelSideWhat(kind)}: the kernel side of a run, with no QEMU log to join it to; import the QEMU log with --join ${file.split('/').pop()}`);
  }
}

/** The kernel-side logs `--join` names, read; each must be one, and only a QEMU log joins them. */
function readJoined(format: CaptureFormat, files: readonly string[], header: HeaderPlan, issues: LineIssues): KernelRange[] {
  if (files.length > 0 && format !== 'qemu') throw new ImportError(`--join: only a QEMU log joins kernel-side logs, not ${WHAT[format]}`);
  return files.flatMap((file) => {
    const text = readCapture(file);
    const kind = kernelSideKind(text);
    if (kind === null) throw new ImportError(`${file}: not a kernel-side log to join (an ftrace or dmesg log)`);
    header.note(`Joined with ${kernelSideWhat(kind)} of the same run: ${file.split('/').pop()}.`);
    return readKernelSide(file, text, issues);
  });
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
  const joined = readJoined(format, options.join ?? [], header, issues);
  const imported =
    format === 'qemu'
      ? importQemu(text, header, issues, joined)
      : format === 'strace'
        ? importStrace(text, header, issues)
        : importSyz(text, file, header, issues, options);
  if (imported.readable === 0) throw new ImportError(`${file}: not ${WHAT[format]}: no line of it reads as one`);
  return { trace: readDraft(imported.header.json(), imported.draft.events), issues: issues.issues };
}
