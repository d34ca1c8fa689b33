/**
 * CPU and memory figures from /proc (Linux): per-process utime+stime, the machine's busy time (to see how much CPU
 * other processes took during a measurement), and a process's peak RSS (VmHWM).
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** utime+stime of a process in seconds (its own threads, not its children); undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces; the rest follows the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine, summed over cores. */
export function machineCpuSeconds(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
  } catch {
    return { busy: 0, total: 0 };
  }
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Peak resident set size so far (VmHWM), in bytes. */
export const peakRss = (pid: number): number | undefined => statusField(pid, 'VmHWM');
export const currentRss = (pid: number): number | undefined => statusField(pid, 'VmRSS');

/** Direct children of a process (needs CONFIG_PROC_CHILDREN, present on common kernels). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface CpuSample {
  at: number;
  /** CPU seconds per label (a process that is gone keeps its last value). */
  cpu: Record<string, number>;
  rss: Record<string, number>;
  machineBusy: number;
  machineTotal: number;
}

export interface CpuSplit {
  wallSeconds: number;
  /** CPU seconds used by each labelled process in the window. */
  seconds: Record<string, number>;
  /** Everything else on the machine (other processes, the kernel): a noise indicator. */
  otherSeconds: number;
  /** Share of the machine (all cores) per label, and for the rest. */
  share: Record<string, number>;
  cores: number;
}

/**
 * Samples the CPU time of labelled processes (and the machine) every `intervalMs`, so that any time window of a
 * measurement can be attributed afterwards: how much of the 2 cores went to the JVM, to node, and to other processes.
 */
export class CpuSampler {
  private readonly samples: CpuSample[] = [];
  private readonly pids = new Map<string, () => number[]>();
  private readonly last: Record<string, number> = {};
  private readonly peak: Record<string, number> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 200) {}

  /** Tracks a label; `pids` is re-evaluated at every sample (a child that appears later is picked up). */
  track(label: string, pids: number | (() => number[])): void {
    this.pids.set(label, typeof pids === 'number' ? () => [pids] : pids);
  }

  untrack(label: string): void {
    this.sample();
    this.pids.delete(label);
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  sample(): CpuSample {
    const cpu: Record<string, number> = {};
    const rss: Record<string, number> = {};
    for (const [label, pidsOf] of this.pids) {
      let total = 0;
      let anyAlive = false;
      let hwm = 0;
      for (const pid of pidsOf()) {
        const s = processCpuSeconds(pid);
        if (s !== undefined) {
          total += s;
          anyAlive = true;
        }
        hwm += peakRss(pid) ?? 0;
      }
      cpu[label] = anyAlive ? Math.max(total, this.last[label] ?? 0) : (this.last[label] ?? 0);
      this.last[label] = cpu[label]!;
      if (hwm > 0) this.peak[label] = Math.max(this.peak[label] ?? 0, hwm);
      rss[label] = hwm;
    }
    const m = machineCpuSeconds();
    const s = { at: Date.now(), cpu, rss, machineBusy: m.busy, machineTotal: m.total };
    this.samples.push(s);
    if (this.samples.length > 200_000) this.samples.splice(0, 100_000);
    return s;
  }

  /** Highest VmHWM seen for a label. */
  peakRss(label: string): number | undefined {
    return this.peak[label];
  }

  /** CPU used per label between two wall-clock times (nearest samples). */
  split(from: number, to: number): CpuSplit {
    const a = this.nearest(from);
    const b = this.nearest(to);
    const wall = Math.max(0.001, (b.at - a.at) / 1000);
    const seconds: Record<string, number> = {};
    let ours = 0;
    for (const label of new Set([...Object.keys(a.cpu), ...Object.keys(b.cpu)])) {
      const d = Math.max(0, (b.cpu[label] ?? 0) - (a.cpu[label] ?? 0));
      seconds[label] = d;
      ours += d;
    }
    const cores = cpus().length;
    const machine = Math.max(0, b.machineBusy - a.machineBusy);
    const otherSeconds = Math.max(0, machine - ours);
    const capacity = wall * cores;
    const share: Record<string, number> = {};
    for (const [label, s] of Object.entries(seconds)) share[label] = s / capacity;
    share['other'] = otherSeconds / capacity;
    return { wallSeconds: wall, seconds, otherSeconds, share, cores };
  }

  private nearest(t: number): CpuSample {
    let best = this.samples[0]!;
    for (const s of this.samples) if (Math.abs(s.at - t) < Math.abs(best.at - t)) best = s;
    return best;
  }
}

export function machineInfo(): { cpuModel: string; cores: number; memoryGiB: number } {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {
    // not Linux
  }
  return { cpuModel, cores: cpus().length, memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10 };
}

export function loadAverage(): number[] {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    return [];
  }
}
