/**
 * The import graph of events/, machines/, src/ and replay/, read with TypeScript's parser: no
 * module imports itself through others, the model's core never reaches up into the replay
 * engine, the fuzzer or the CLI, and the trace format and the machines stand below the model.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const FOLDERS = ['events', 'machines', 'src', 'replay'];
const CORE = ['src/model/', 'src/iommufd/', 'src/vfio/', 'src/mm/'];
const OUTER = ['replay/', 'src/fuzz/', 'src/cli.ts', 'src/index.ts'];

interface Import {
  /** Both paths relative to the root, with `/`. */
  readonly from: string;
  readonly to: string;
  /**
   * `import type` and `export type ... from`: erased from the emitted code. An import whose
   * every name is marked `type` inline still loads the module (verbatimModuleSyntax keeps it
   * as `import {} from`), so it is not type-only.
   */
  readonly typeOnly: boolean;
}

const posix = (path: string): string => relative(ROOT, path).split('\\').join('/');

function sourceFiles(): string[] {
  return FOLDERS.flatMap((folder) =>
    readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
      .map((name) => join(ROOT, folder, name)),
  );
}

/** The relative imports and re-exports of one file; a package import is no edge of the graph. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const out: Import[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.importClause?.isTypeOnly ?? false;
    } else if (ts.isExportDeclaration(statement)) {
      specifier = statement.moduleSpecifier;
      typeOnly = statement.isTypeOnly;
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier.text);
    if (!existsSync(target)) throw new Error(`${posix(file)} imports ${specifier.text}, which does not exist`);
    out.push({ from: posix(file), to: posix(target), typeOnly });
  }
  return out;
}

const IMPORTS: readonly Import[] = sourceFiles().flatMap(importsOf);

/**
 * One cycle through each strongly connected component of the graph (Tarjan's algorithm), as
 * the list of its modules from the first one reached, with that one repeated at the end.
 */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string): number => {
    const at = index.size;
    index.set(v, at);
    stack.push(v);
    let lowest = at;
    for (const w of graph.get(v) ?? []) {
      const seen = index.get(w);
      if (seen === undefined) lowest = Math.min(lowest, visit(w));
      else if (stack.includes(w)) lowest = Math.min(lowest, seen);
    }
    if (lowest === at) {
      const component = stack.splice(stack.indexOf(v));
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cycleIn(graph, component));
    }
    return lowest;
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** A cycle inside one strongly connected component: a path from its first module back to it. */
function cycleIn(graph: ReadonlyMap<string, readonly string[]>, component: readonly string[]): string[] {
  const [start] = component;
  const members = new Set(component);
  const seen = new Set<string>();
  const path: string[] = [];
  const walk = (v: string): boolean => {
    path.push(v);
    for (const w of graph.get(v) ?? []) {
      if (w === start) return true;
      if (members.has(w) && !seen.has(w)) {
        seen.add(w);
        if (walk(w)) return true;
      }
    }
    path.pop();
    return false;
  };
  if (start !== undefined) walk(start);
  return [...path, ...path.slice(0, 1)];
}

function graphOf(imports: readonly Import[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const { from, to } of imports) graph.set(from, [...(graph.get(from) ?? []), to]);
  return graph;
}

const under = (path: string, prefixes: readonly string[]): boolean =>
  prefixes.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p));

const show = (imports: readonly Import[]): string[] => imports.map(({ from, to }) => `${from} imports ${to}`);

describe('architecture', () => {
  it('reads the whole graph', () => {
    expect(IMPORTS.some((i) => i.from === 'src/model/dispatch.ts' && i.to === 'events/ops.ts')).toBe(true);
  });

  it('has no import cycle through value imports', () => {
    const cycles = findCycles(graphOf(IMPORTS.filter((i) => !i.typeOnly)));
    expect(cycles.map((c) => c.join(' → '))).toEqual([]);
  });

  it('finds the cycle of a graph that has one', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'd']],
      ['c', ['a']],
      ['d', []],
      ['e', ['e']],
    ]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a'], ['e', 'e']]);
  });

  it('keeps the core (model, iommufd, vfio, mm) below the replay engine, the fuzzer and the CLI', () => {
    expect(show(IMPORTS.filter((i) => under(i.from, CORE) && under(i.to, OUTER)))).toEqual([]);
  });

  it('keeps the trace format and the machines below the model and the replay engine', () => {
    const low = IMPORTS.filter((i) => under(i.from, ['events/', 'machines/']));
    expect(show(low.filter((i) => under(i.to, ['src/', 'replay/'])))).toEqual([]);
  });
});
