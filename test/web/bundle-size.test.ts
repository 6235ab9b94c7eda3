// The first load of the built UI stays under 300 kB of compressed JavaScript (issue 13): the
// entry script that dist/web/index.html names, every chunk it imports statically (and those
// import, and so on) and any module it preloads, counted by their .gz files as the server sends
// them. Chunks loaded with import() (the Dashboard's chart with uPlot) are not part of it, and
// must stay out of it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const WEB = new URL('../../dist/web/', import.meta.url).pathname;
const LIMIT = 300_000;

/** Static imports only: `import{a as b}from"./x.js"`, `import"./x.js"`; never `import("./x.js")`. */
const STATIC_IMPORT = /(?:^|[;\n}])\s*import\s*(?:[\w$]+\s*,?\s*)?(?:\*\s*as\s*[\w$]+\s*|\{[^}]*\}\s*)?(?:from\s*)?["'](\.\/[^"']+\.js)["']/g;

function firstLoad(): string[] {
  const html = readFileSync(join(WEB, 'index.html'), 'utf8');
  const entry = /<script type="module"[^>]*\ssrc="\.\/([^"]+\.js)"/.exec(html)?.[1];
  if (!entry) throw new Error('dist/web/index.html names no module script');
  const preloads = [...html.matchAll(/<link rel="modulepreload"[^>]*\shref="\.\/([^"]+\.js)"/g)].map((m) => m[1]!);
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const dir = file.slice(0, file.lastIndexOf('/') + 1);
    for (const m of readFileSync(join(WEB, file), 'utf8').matchAll(STATIC_IMPORT)) visit(`${dir}${m[1]!.slice(2)}`);
  };
  for (const f of [entry, ...preloads]) visit(f);
  return [...seen];
}

const gzSize = (file: string) => statSync(join(WEB, `${file}.gz`)).size;

describe('bundle size', () => {
  it('keeps the first load under 300 kB of compressed JavaScript, without the lazy dashboard chart', () => {
    if (!existsSync(join(WEB, 'index.html'))) throw new Error('the web UI is not built (dist/web): run `npm run build` first');
    const files = firstLoad();
    const sizes = files.map((f) => ({ file: f, gz: gzSize(f) }));
    const total = sizes.reduce((n, s) => n + s.gz, 0);
    console.log(
      `first load: ${(total / 1000).toFixed(1)} kB gz in ${files.length} file(s): ${sizes.map((s) => `${s.file} ${(s.gz / 1000).toFixed(1)} kB`).join(', ')}`,
    );
    expect(total).toBeGreaterThan(10_000); // a real build was measured
    expect(total, `first load ${total} bytes compressed`).toBeLessThanOrEqual(LIMIT);
    // uPlot (its class prefix `u-` names such as "u-legend") is only in the chart's own chunk.
    for (const f of files) expect(readFileSync(join(WEB, f), 'utf8'), f).not.toContain('u-legend');
    expect(files.some((f) => f.includes('ActivationsChart'))).toBe(false);
  });

  it('finds static imports and ignores dynamic ones', () => {
    const code = 'import{r as a,c as b}from"./index-1.js";import"./side.js";const x=()=>import("./lazy.js");';
    expect([...code.matchAll(STATIC_IMPORT)].map((m) => m[1])).toEqual(['./index-1.js', './side.js']);
  });
});
