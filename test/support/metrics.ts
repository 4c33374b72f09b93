// The service's Prometheus metrics as a test reads them: scraped over HTTP from its /metrics port
// and parsed from the text exposition format. The one scraper the tests share.

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Scrape {
  constructor(
    readonly series: readonly Series[],
    readonly contentType: string | null,
  ) {}

  /** The value of the series with exactly these labels, or undefined if there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const wanted = Object.keys(labels).length;
    return this.series.find((s) => s.name === name && Object.keys(s.labels).length === wanted && includes(s.labels, labels))
      ?.value;
  }

  /** The sum over every series of `name` whose labels include `labels` (0 if there is none). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.series.filter((s) => s.name === name && includes(s.labels, labels)).reduce((total, s) => total + s.value, 0);
  }
}

function includes(labels: Record<string, string>, subset: Record<string, string>): boolean {
  return Object.entries(subset).every(([key, value]) => labels[key] === value);
}

export async function scrapeMetrics(metricsPort: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return new Scrape(parseExposition(await response.text()), response.headers.get('content-type'));
}

/** Prometheus text exposition format (comments and blank lines skipped). */
export function parseExposition(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const [, name, labelText = '', value] = match;
    const labels: Record<string, string> = {};
    // The service's label values contain no escaped quotes.
    for (const [, key, labelValue] of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) {
      labels[key!] = labelValue!;
    }
    series.push({ name: name!, labels, value: Number(value) });
  }
  return series;
}
