/** A finding told so that it can be read and made again: the file's content, capped, and the command that remakes it. */
import type { Finding } from './cli-run.ts';
import type { HostileFile } from './hostile-file.ts';

/** Characters of a file's content a report shows. */
const SHOWN = 2000;

/** The start of a file's content, each line on its own, escaped where it is not printable ASCII. */
export function preview(file: HostileFile): string {
  if (typeof file.content === 'string') return `(${file.content === 'missing' ? 'no such file' : 'a directory'})`;
  const text = file.content.subarray(0, SHOWN * 4).toString('latin1');
  const lines = text.split('\n').map((line) => JSON.stringify(line).slice(1, -1).replace(/[\u0080-\u00ff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`));
  const shown = lines.join('\n    ');
  return `${file.content.length} bytes${file.maxLineBytes === undefined ? '' : `, read with --max-line-bytes ${file.maxLineBytes}`}, bytes as \\xNN:\n    ${shown.length > SHOWN ? `${shown.slice(0, SHOWN)}...` : shown}`;
}

export const again = (seed: number, index: number): string => `npm run fuzz:input -- --seed ${seed} --first ${index} --count 1 --out <dir>`;

export function describeFinding(seed: number, finding: Finding): string {
  const { file, mode, problem } = finding;
  if (file === null) return `${mode}, a run of many files: ${problem}`;
  return [
    `file ${file.index} (${file.family}: ${file.what}) in ${mode}: ${problem}`,
    `  content: ${preview(file)}`,
    `  make it again: ${again(seed, file.index)}`,
  ].join('\n');
}
