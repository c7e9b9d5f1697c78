import { parseTraceText } from './events/index.ts';
import { readFileSync } from 'node:fs';
import { step } from './src/dispatch.ts';
import { createWorld } from './src/world-init.ts';
const t = parseTraceText(readFileSync(process.argv[2]!, 'utf8'));
let w = createWorld(t.header);
for (const e of t.events) { const o = step(w, e, { adopt: false }); w = o.world; console.log(e.line, e.op, o.result?.errno ?? 'ok', JSON.stringify(o.result?.out ?? {}, (_k, v) => typeof v === 'bigint' ? '0x' + v.toString(16) : v)); }
