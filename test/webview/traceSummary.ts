/**
 * Where a chromium trace's time went: for the renderer's main thread, the self time of each event name (time in the
 * event minus time in events nested inside it), and the busy time of the other renderer and GPU threads. Used by
 * `test/webview/run.ts --trace` to see what a scroll frame does (script, style, layout, paint, commit…).
 */

interface TraceEvent {
  readonly name?: string;
  readonly ph?: string;
  readonly ts?: number;
  readonly dur?: number;
  /** Thread (CPU) time, µs. */
  readonly tdur?: number;
  readonly tts?: number;
  readonly pid?: number;
  readonly tid?: number;
  readonly args?: { readonly name?: string; readonly data?: { readonly functionName?: string; readonly url?: string; readonly message?: string } };
}

interface Span {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** CPU time of the thread inside the span, µs (wall time when the trace has none). */
  readonly cpu: number;
}

/** Complete spans per thread from X events and B/E pairs. */
function spansByThread(events: readonly TraceEvent[]): Map<string, Span[]> {
  const threads = new Map<string, Span[]>();
  const open = new Map<string, TraceEvent[]>();
  for (const e of events) {
    if (e.ts === undefined || e.name === undefined) continue;
    const key = `${e.pid}:${e.tid}`;
    let list = threads.get(key);
    if (!list) threads.set(key, (list = []));
    if (e.ph === 'X' && e.dur !== undefined) list.push({ name: e.name, start: e.ts, end: e.ts + e.dur, cpu: e.tdur ?? e.dur });
    else if (e.ph === 'B') {
      let stack = open.get(key);
      if (!stack) open.set(key, (stack = []));
      stack.push(e);
    } else if (e.ph === 'E') {
      const b = open.get(key)?.pop();
      if (b?.ts !== undefined && b.name !== undefined) list.push({ name: b.name, start: b.ts, end: e.ts, cpu: b.tts !== undefined && e.tts !== undefined ? e.tts - b.tts : e.ts - b.ts });
    }
  }
  return threads;
}

/**
 * Self time (µs) per event name on one thread, wall and CPU; also the thread's busy time (top-level spans). On a
 * loaded machine the wall time includes the time the thread waited for a core; the CPU time is the work itself.
 */
function selfTimes(spans: Span[], include: (s: Span) => boolean = () => true): { self: Map<string, number>; selfCpu: Map<string, number>; busy: number; busyCpu: number; count: Map<string, number> } {
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const self = new Map<string, number>();
  const selfCpu = new Map<string, number>();
  const count = new Map<string, number>();
  const stack: { span: Span; child: number; childCpu: number }[] = [];
  let busy = 0;
  let busyCpu = 0;
  const close = (upTo: number): void => {
    while (stack.length > 0 && stack[stack.length - 1]!.span.end <= upTo) {
      const top = stack.pop()!;
      const d = top.span.end - top.span.start;
      if (include(top.span)) self.set(top.span.name, (self.get(top.span.name) ?? 0) + Math.max(0, d - top.child));
      if (include(top.span)) selfCpu.set(top.span.name, (selfCpu.get(top.span.name) ?? 0) + Math.max(0, top.span.cpu - top.childCpu));
      const parent = stack[stack.length - 1];
      if (parent) {
        parent.child += d;
        parent.childCpu += top.span.cpu;
      } else {
        busy += d;
        busyCpu += top.span.cpu;
      }
    }
  };
  for (const s of spans) {
    close(s.start);
    count.set(s.name, (count.get(s.name) ?? 0) + 1);
    stack.push({ span: s, child: 0, childCpu: 0 });
  }
  close(Number.POSITIVE_INFINITY);
  return { self, selfCpu, busy, busyCpu, count };
}

/** Median and p95 of the frames marked by the harness, by label (`jump`, `wheel`): wall and CPU time, ms. */
export interface MarkedFrames {
  readonly frames: number;
  readonly medianWallMs: number;
  readonly p95WallMs: number;
  readonly medianCpuMs: number;
  readonly p95CpuMs: number;
}

const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

/**
 * The frames the harness marked with `console.timeStamp('pl-frame-start')` … `('pl-frame-end <label>')`: for each,
 * the wall time and the main thread's CPU time between the two marks (their thread clocks), so a frame's own work
 * can be told from the time its thread waited for a core on a loaded machine.
 */
function markedFrames(events: readonly TraceEvent[], mainKey: string): { stats: Map<string, MarkedFrames>; windows: Map<string, [number, number][]> } {
  const marks = events.filter((e) => e.name === 'TimeStamp' && `${e.pid}:${e.tid}` === mainKey && e.ts !== undefined).sort((a, b) => a.ts! - b.ts!);
  const wall = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const windows = new Map<string, [number, number][]>();
  let start: TraceEvent | undefined;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const m of marks) {
    const message = m.args?.data?.message ?? '';
    if (message === 'pl-frame-start') start = m;
    else if (message.startsWith('pl-frame-end ') && start) {
      const label = message.slice('pl-frame-end '.length);
      if (!wall.has(label)) {
        wall.set(label, []);
        cpu.set(label, []);
      }
      wall.get(label)!.push((m.ts! - start.ts!) / 1000);
      if (m.tts !== undefined && start.tts !== undefined) cpu.get(label)!.push((m.tts - start.tts) / 1000);
      // For the breakdown: all the main thread did since the previous frame's end (input, scroll events, hover).
      if (!windows.has(label)) windows.set(label, []);
      windows.get(label)!.push([Math.max(lastEnd, start.ts! - 16_700), m.ts!]);
      lastEnd = m.ts!;
      start = undefined;
    }
  }
  const out = new Map<string, MarkedFrames>();
  for (const [label, w] of wall) {
    const c = cpu.get(label)!.sort((a, b) => a - b);
    w.sort((a, b) => a - b);
    out.set(label, { frames: w.length, medianWallMs: pct(w, 0.5), p95WallMs: pct(w, 0.95), medianCpuMs: pct(c, 0.5), p95CpuMs: pct(c, 0.95) });
  }
  return { stats: out, windows };
}

/** A text summary of a trace file's JSON (Playwright's `browser.stopTracing` output), and the marked frames' figures. */
export function summarizeTrace(json: string): { text: string; frames: Record<string, MarkedFrames> } {
  const parsed = JSON.parse(json) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(parsed) ? parsed : (parsed.traceEvents ?? []);
  const names = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name) names.set(`${e.pid}:${e.tid}`, e.args.name);
  const threads = spansByThread(events);
  const lines: string[] = [];
  const main = [...names].filter(([, n]) => n === 'CrRendererMain').map(([k]) => k);
  // The busiest renderer main thread is the page's.
  let mainKey: string | undefined;
  let mainBusy = -1;
  for (const k of main) {
    const b = selfTimes([...(threads.get(k) ?? [])]).busy;
    if (b > mainBusy) [mainKey, mainBusy] = [k, b];
  }
  const marked: Record<string, MarkedFrames> = {};
  if (mainKey) {
    const { stats, windows } = markedFrames(events, mainKey);
    for (const [label, f] of stats) {
      marked[label] = f;
      lines.push(`trace: ${label} frames (${f.frames}): wall median ${f.medianWallMs.toFixed(1)} ms, p95 ${f.p95WallMs.toFixed(1)} ms; main-thread CPU median ${f.medianCpuMs.toFixed(1)} ms, p95 ${f.p95CpuMs.toFixed(1)} ms`);
      if (label === 'idle') continue;
      const w = windows.get(label) ?? [];
      const inside = (sp: Span): boolean => {
        // Binary search for the window starting at or before the span.
        let lo = 0;
        let hi = w.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (w[mid]![0] <= sp.start) lo = mid;
          else hi = mid - 1;
        }
        const win = w[lo];
        return win !== undefined && sp.start >= win[0] && sp.start < win[1];
      };
      const { selfCpu } = selfTimes([...threads.get(mainKey)!], inside);
      const top = [...selfCpu].sort((a, b) => b[1] - a[1]).slice(0, 12);
      lines.push(`  CPU per ${label} frame (since the previous frame's end), ms: ${top.map(([n, us]) => `${n.replace(/^(LocalFrameView|Document|Blink|InlineNode|ProxyMain)::?|\.UpdateTime$/g, '')} ${(us / 1000 / f.frames).toFixed(2)}`).join(', ')}`);
    }
    const { self, selfCpu, busy, busyCpu, count } = selfTimes(threads.get(mainKey)!);
    const frames = count.get('BeginMainThreadFrame') ?? count.get('ProxyMain::BeginMainFrame') ?? 0;
    const per = (us: number): string => (frames ? (us / 1000 / frames).toFixed(2) : '').padStart(7);
    lines.push(`trace: renderer main thread busy ${(busy / 1000).toFixed(0)} ms wall, ${(busyCpu / 1000).toFixed(0)} ms CPU over ${frames} main frames (${per(busy).trim()} / ${per(busyCpu).trim()} ms per frame)`);
    lines.push(`  self time by event, ms per frame:${' '.repeat(14)}    wall     CPU`);
    for (const [name, us] of [...selfCpu].sort((a, b) => b[1] - a[1]).slice(0, 22)) {
      lines.push(`  ${name.padEnd(44)} ${per(self.get(name) ?? 0)} ${per(us)}  ×${count.get(name)}`);
    }
  }
  lines.push('trace: busy time of the other threads (ms):');
  const others: [string, number][] = [];
  for (const [k, spans] of threads) {
    if (k === mainKey) continue;
    const busy = selfTimes([...spans]).busy;
    if (busy > 1000) others.push([`${names.get(k) ?? k}`, busy]);
  }
  for (const [n, us] of others.sort((a, b) => b[1] - a[1]).slice(0, 10)) lines.push(`  ${n.padEnd(44)} ${(us / 1000).toFixed(1).padStart(8)}`);
  return { text: lines.join('\n'), frames: marked };
}

/** The part of a V8 CPU profile (CDP `Profiler.stop`) read here. */
export interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }; readonly children?: readonly number[] }[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** The functions with the most self time in a CPU profile, and the share of the time in (program)/(idle)/(gc). */
export function summarizeProfile(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]!);
    const dt = deltas[i + 1] ?? 0;
    if (!n) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*\//, '')}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const lines = [`profile: ${(total / 1000).toFixed(0)} ms sampled; self time (ms):`];
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`  ${(us / 1000).toFixed(1).padStart(8)}  ${k}`);
  return lines.join('\n');
}
