/**
 * `import qemu`: a QEMU log (`-trace` through the log or syslog backend, with the messages QEMU
 * prints beside it) as a trace. Trace events are read by the formats of the vendored
 * trace-events files (qemu-line.ts, qemu-formats.ts), messages by their text
 * (qemu-messages.ts); the lines of one ioctl become one call (qemu-trace-events.ts,
 * qemu-calls.ts), and the calls become events (qemu-emitter.ts). The kernel-side logs of the
 * same run, joined (`--join`), decide the results the log does not record (qemu-join.ts).
 */
import { captureLines } from './capture-text.ts';
import type { HeaderPlan } from './header.ts';
import type { LineIssues } from './line-issues.ts';
import { CallJoiner } from './qemu-calls.ts';
import { Emitter, namedNumbers, place } from './qemu-emitter.ts';
import { deviceOfOptions, noFacts, noteFact } from './qemu-facts.ts';
import { type QemuLine, readQemuLine } from './qemu-line.ts';
import { inferDmabufFds } from './qemu-dmabuf.ts';
import { joinKernelSide } from './qemu-join.ts';
import type { KernelRange } from './kernel-side.ts';
import { messageFacts } from './qemu-messages.ts';
import { traceCall } from './qemu-trace-events.ts';
import type { TraceDraft } from './trace-draft.ts';

/** Which backend the log's containers use: iommufd if any line is iommufd's. */
function backendOf(lines: readonly { read: QemuLine }[]): 'iommufd' | 'legacy' {
  for (const { read } of lines) {
    if (read.kind === 'trace' && read.name.startsWith('iommufd_')) return 'iommufd';
    if (read.kind === 'message' && /IOMMU_IOAS_|Failed to free id|Failed to get hardware info|Failed to allocate (ioas|hwpt)/.test(read.text)) return 'iommufd';
  }
  return 'legacy';
}

/** Reads the log: calls, and the facts of its other lines. */
function readLog(text: string, issues: LineIssues) {
  const lines = captureLines(text).map((l) => ({ ...l, read: readQemuLine(l.text) }));
  const backend = backendOf(lines);
  const joiner = new CallJoiner(backend);
  const facts = noFacts();
  let readable = 0;
  // A message whose text the mail wrapped onto the next line keeps the `-device` it named.
  let wrapped: string | null = null;
  for (const { line, read } of lines) {
    switch (read.kind) {
      case 'blank':
        joiner.close();
        continue;
      case 'unreadable':
        issues.add(line, read.reason);
        continue;
      case 'monitor':
        readable++;
        facts.notImported.push(`${line}: the monitor command ${JSON.stringify(read.command)}`);
        continue;
      case 'trace':
        readable++;
        traceCall(read.name, read.args, line, facts, joiner, backend);
        continue;
      case 'message': {
        const options = read.device ?? wrapped;
        if (read.text === '' && read.device !== null) {
          wrapped = read.device;
          readable++;
          continue;
        }
        wrapped = null;
        const text = read.text.replace(/^\s*warning: /, '');
        const found = messageFacts(text);
        if (found === null) {
          issues.add(line, `a message the importer does not read: ${JSON.stringify(text.slice(0, 80))}`);
          continue;
        }
        readable++;
        const device = options === null ? null : deviceOfOptions(options);
        if (device !== null) {
          facts.deviceOfLine.set(line, device.name);
          if (device.mdev) facts.mdev.add(device.name);
        }
        for (const fact of found) noteFact(fact, line, facts);
        for (const fact of found) joiner.fact(fact, line);
      }
    }
  }
  return { calls: joiner.calls, facts, backend, readable };
}

export interface QemuImport {
  readonly header: HeaderPlan;
  readonly draft: TraceDraft;
  readonly readable: number;
}

/** `joined`: the map and unmap events of the run's kernel-side logs (`--join`). */
export function importQemu(text: string, header: HeaderPlan, issues: LineIssues, joined: readonly KernelRange[] = []): QemuImport {
  const { calls, facts, backend, readable } = readLog(text, issues);
  place(calls, facts);
  joinKernelSide(calls, joined, issues);
  inferDmabufFds(calls);
  for (const [device, fd] of facts.deviceFd) {
    const cdev = facts.cdevOfFd.get(fd);
    header.device(device, { ...(facts.mdev.has(device) ? { kind: 'emulated' } : {}), ...(cdev === undefined ? {} : { cdev }) });
  }
  for (const device of facts.mdev) header.device(device, { kind: 'emulated' });
  const emitter = new Emitter(backend, header, facts, namedNumbers(calls));
  for (const call of [...calls].sort((a, b) => a.at - b.at)) emitter.emit(call);
  for (const c of facts.containers) header.device(c.device, c.group === undefined ? {} : { group: c.group });
  if (facts.notImported.length > 0) header.note(`Capture lines not imported: ${facts.notImported.join('; ')}.`);
  return { header, draft: emitter.draft, readable };
}
