/**
 * Progress lines on stderr for CLI steps that can take seconds: `analyzing: 3/6 tensors · 4.1 s elapsed · ~3 s left`.
 * A step prints nothing during its first {@link QUIET_MS} (short runs stay silent), then at most once per second.
 * The estimate of what remains is linear in the step's own done/total; a step without counts (one long call) shows
 * its elapsed time only. Enabled when stderr is a terminal or `--progress` is given; stdout (and so `--json`) is
 * never touched.
 */
import type { CliOutput } from './io';

/** A step prints nothing before it has run this long. */
export const QUIET_MS = 2000;
/** At most one line per this interval. */
const THROTTLE_MS = 1000;

/** Reports the progress of named steps. */
export interface Progress {
  /** Progress of `step`: `done` of `total` (the remaining-time estimate's basis), shown as `text`. */
  update(step: string, done: number, total: number, text: string): void;
  /** Runs `work` as one step without counts, printing its elapsed time every second once it passes {@link QUIET_MS}. */
  around<T>(step: string, work: () => Promise<T>): Promise<T>;
  /** Starts a step without counts that a callback ends ({@link end}): elapsed time every second after {@link QUIET_MS}. */
  begin(step: string, text?: string): void;
  /** Ends a step started with {@link begin}. */
  end(step: string): void;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}

/** A reporter writing to `io.err`; `enabled` false makes every call a no-op. `now` is injectable for tests. */
export function createProgress(io: CliOutput, enabled: boolean, now: () => number = () => performance.now()): Progress {
  const started = new Map<string, number>();
  let lastLine = -Infinity;
  const print = (step: string, text: string, force = false): void => {
    const t = now();
    const start = started.get(step) ?? t;
    if (t - start < QUIET_MS || (!force && t - lastLine < THROTTLE_MS)) return;
    lastLine = t;
    io.err(`${step}: ${text}${text ? ' · ' : ''}${seconds(t - start)} elapsed`);
  };
  const timers = new Map<string, ReturnType<typeof setInterval>>();
  const reporter: Progress = {
    update(step, done, total, text) {
      if (!enabled) return;
      const t = now();
      if (!started.has(step)) started.set(step, t);
      const elapsed = t - started.get(step)!;
      const left = done > 0 && total > done ? ` · ~${seconds((elapsed * (total - done)) / done)} left` : '';
      if (elapsed < QUIET_MS || t - lastLine < THROTTLE_MS) return;
      lastLine = t;
      io.err(`${step}: ${text} · ${seconds(elapsed)} elapsed${left}`);
    },
    async around(step, work) {
      reporter.begin(step);
      try {
        return await work();
      } finally {
        reporter.end(step);
      }
    },
    begin(step, text = '') {
      if (!enabled) return;
      reporter.end(step);
      started.set(step, now());
      const timer = setInterval(() => print(step, text, true), THROTTLE_MS);
      timer.unref?.();
      timers.set(step, timer);
    },
    end(step) {
      const timer = timers.get(step);
      if (timer !== undefined) clearInterval(timer);
      timers.delete(step);
    },
  };
  return reporter;
}
