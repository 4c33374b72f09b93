// Renders folded stacks (from bench/profile-summary.ts) as a self-contained SVG flame graph:
// width is time, the root at the bottom, each frame coloured by what it belongs to (MongoDB
// driver, grpc-js/HTTP/2, protobuf codecs, the service's own code, Node, GC). Hover for details.
//
//   npx tsx bench/flamegraph.ts <file.folded> [out.svg] [--title "..."]
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Frame {
  name: string;
  total: number;
  children: Map<string, Frame>;
}

const WIDTH = 1600;
const ROW = 17;
const MIN_WIDTH_PX = 0.3;

function colour(name: string): string {
  if (/mongodb\/|bson\//.test(name) || name.startsWith('writeBuffer')) return '#e8a33d';
  if (/grpc-js|http2/.test(name)) return '#5b9bd5';
  if (/@bufbuild|dist\/gen\//.test(name)) return '#9b7fd1';
  if (/dist\/src\//.test(name)) return '#5cb85c';
  if (/prom-client|pino/.test(name)) return '#c9a0dc';
  if (/garbage collector/.test(name)) return '#d9534f';
  if (/node:/.test(name)) return '#b0b0b0';
  return '#d0d0d0';
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The call tree of folded stacks ("a;b;c <microseconds>" a line), idle time left out. */
function parseFolded(folded: string): Frame {
  const root: Frame = { name: 'all', total: 0, children: new Map() };
  for (const line of folded.split('\n')) {
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (!(value > 0)) continue;
    // Idle time is not work: leave it out so that widths are shares of busy time.
    if (line.startsWith('(idle)')) continue;
    root.total += value;
    let node = root;
    for (const name of line.slice(0, space).split(';')) {
      let child = node.children.get(name);
      if (!child) {
        child = { name, total: 0, children: new Map() };
        node.children.set(name, child);
      }
      child.total += value;
      node = child;
    }
  }
  return root;
}

/**
 * One <g> per frame wide enough to see, children left to right by time; the y of each row is left
 * as a {Y<level>} / {T<level>} placeholder until the depth, and so the height, is known.
 */
function drawFrames(root: Frame): { rects: string[]; depth: number } {
  let depth = 0;
  const rects: string[] = [];
  const scale = WIDTH / Math.max(1, root.total);
  const draw = (node: Frame, x: number, level: number) => {
    depth = Math.max(depth, level);
    const w = node.total * scale;
    rects.push(
      `<g><title>${escape(node.name)}: ${(node.total / 1000).toFixed(0)} ms (${((100 * node.total) / root.total).toFixed(1)}%)</title>` +
        `<rect x="${x.toFixed(2)}" y="{Y${level}}" width="${w.toFixed(2)}" height="${ROW - 1}" fill="${colour(node.name)}"/>` +
        (w > 40 ? `<text x="${(x + 3).toFixed(2)}" y="{T${level}}">${escape(node.name.slice(0, Math.floor(w / 6.5)))}</text>` : '') +
        '</g>',
    );
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => b.total - a.total)) {
      if (child.total * scale >= MIN_WIDTH_PX) draw(child, cx, level + 1);
      cx += child.total * scale;
    }
  };
  draw(root, 0, 0);
  return { rects, depth };
}

const LEGEND = [
  ['MongoDB driver / bson / socket writes', '#e8a33d'],
  ['grpc-js / HTTP/2', '#5b9bd5'],
  ['protobuf codecs', '#9b7fd1'],
  ['service code (dist/src)', '#5cb85c'],
  ['prom-client / pino', '#c9a0dc'],
  ['GC', '#d9534f'],
  ['Node internals', '#b0b0b0'],
];

function legend(): string {
  return LEGEND.map(
    ([label, fill], i) => `<rect x="${10 + i * 220}" y="22" width="10" height="10" fill="${fill}"/><text x="${24 + i * 220}" y="31">${escape(label!)}</text>`,
  ).join('');
}

export function renderFlamegraph(folded: string, title: string): string {
  const root = parseFolded(folded);
  const { rects, depth } = drawFrames(root);
  const top = 40;
  const height = top + (depth + 1) * ROW + 10;
  // Root at the bottom.
  const body = rects
    .join('\n')
    .replace(/\{Y(\d+)\}/g, (_, l) => String(height - 10 - (Number(l) + 1) * ROW))
    .replace(/\{T(\d+)\}/g, (_, l) => String(height - 10 - (Number(l) + 1) * ROW + ROW - 5));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="14" font-size="13">${escape(title)} — busy time ${(root.total / 1e6).toFixed(1)} s (idle excluded); hover a frame for its time</text>
${legend()}
${body}
</svg>
`;
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { title: { type: 'string', default: 'CPU profile' } } });
  const [input, output = input?.replace(/\.folded$/, '') + '.svg'] = positionals;
  if (!input) {
    console.error('usage: tsx bench/flamegraph.ts <file.folded> [out.svg] [--title "..."]');
    process.exit(2);
  }
  writeFileSync(output!, renderFlamegraph(readFileSync(input, 'utf8'), values.title!));
  console.log(`flame graph: ${output}`);
}
