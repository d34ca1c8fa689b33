import type { Logger } from '../../engine/logger.js';

/**
 * Logs and metrics the Powertools way, without the dependency: one JSON object per line on stdout (CloudWatch Logs
 * keeps it as is), and metrics as CloudWatch Embedded Metric Format lines, which CloudWatch turns into metrics with no
 * API call from the function.
 */
export type Write = (line: string) => void;

const stdout: Write = (line) => {
  process.stdout.write(`${line}\n`);
};

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

export interface JsonLogger extends Logger {
  /** A logger that adds `fields` to every line (e.g. the invocation's request id). */
  child(fields: Record<string, unknown>): JsonLogger;
}

export function jsonLogger(opts: { service?: string; fields?: Record<string, unknown>; level?: string; write?: Write } = {}): JsonLogger {
  const write = opts.write ?? stdout;
  const min =
    LEVELS[(opts.level ?? process.env.DYNASHIFT_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'info').toLowerCase() as Level] ?? LEVELS.info;
  const base = { service: opts.service ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'dynashift', ...opts.fields };
  const emit =
    (level: Level) =>
    (obj: object, msg?: string): void => {
      if (LEVELS[level] < min) return;
      write(JSON.stringify({ level: level.toUpperCase(), message: msg ?? '', timestamp: new Date().toISOString(), ...base, ...sanitize(obj) }));
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => jsonLogger({ ...opts, fields: { ...opts.fields, ...fields } }),
  };
}

/** Errors serialize to `{}` by default; keep their name, code and message (never a stack with item data in it). */
function sanitize(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v instanceof Error ? { name: v.name, message: v.message, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) } : v;
  }
  return out;
}

export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds' | 'Bytes';

/** Collects metrics for one invocation and writes them as one EMF line, dimensioned by migration. */
export class EmfMetrics {
  private readonly values = new Map<string, { unit: MetricUnit; value: number }>();

  constructor(private readonly opts: { namespace?: string; dimensions: Record<string, string>; write?: Write }) {}

  add(name: string, unit: MetricUnit, value: number): void {
    const prev = this.values.get(name);
    this.values.set(name, {
      unit,
      value: unit === 'Milliseconds' || unit === 'Seconds' ? Math.max(prev?.value ?? 0, value) : (prev?.value ?? 0) + value,
    });
  }

  flush(): void {
    if (this.values.size === 0) return;
    const dims = Object.keys(this.opts.dimensions);
    const line = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: this.opts.namespace ?? process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Dynashift',
            Dimensions: [dims],
            Metrics: [...this.values].map(([Name, { unit }]) => ({ Name, Unit: unit })),
          },
        ],
      },
      ...this.opts.dimensions,
      ...Object.fromEntries([...this.values].map(([name, { value }]) => [name, value])),
    };
    this.values.clear();
    (this.opts.write ?? stdout)(JSON.stringify(line));
  }
}
