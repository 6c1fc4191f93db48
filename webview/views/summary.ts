/**
 * The summary card (format, architecture, parameters incl. active for MoE, stored size, dtype mix) and the
 * target banner (fits or not, total memory vs capacity, devices needed, decode tokens/s). Text only.
 */
import type { ModelSummary, TargetEstimate } from '../../src/protocol/messages';
import { formatBytes, formatCount, formatLatencyBound, formatRate, h, replaceChildren, setAttr, t } from './dom';

function item(label: string, value: string, testId?: string): HTMLElement[] {
  return [h('dt', {}, label), h('dd', testId ? { 'data-testid': testId } : {}, value)];
}

/** Renders the summary card into a fresh element. */
export function renderSummary(s: ModelSummary): HTMLElement {
  const params = `${formatCount(s.parameterCount)} (${s.parameterCount.toLocaleString('en-US')})`;
  const mixTotal = s.dtypeMix.reduce((a, d) => a + d.bytes, 0) || 1;
  const mix = h(
    'ul',
    { class: 'dtype-mix', 'aria-label': t('dtypeMix') },
    ...s.dtypeMix.map((d) => h('li', {}, h('span', { class: 'dtype' }, d.label), ` ${formatBytes(d.bytes)} · ${((d.bytes / mixTotal) * 100).toFixed(1)}%`)),
  );
  const hp = s.hyperparameters;
  const shapeBits = [
    hp.blockCount !== undefined ? `${hp.blockCount} blocks` : '',
    hp.embeddingLength !== undefined ? `hidden ${hp.embeddingLength}` : '',
    hp.headCount !== undefined ? `${hp.headCount} heads${hp.kvHeadCount !== undefined && hp.kvHeadCount !== hp.headCount ? ` (${hp.kvHeadCount} KV)` : ''}` : '',
    hp.expertCount !== undefined ? `${hp.expertCount} experts${hp.expertUsedCount !== undefined ? ` (${hp.expertUsedCount} active)` : ''}` : '',
  ].filter(Boolean);
  const dl = h(
    'dl',
    { class: 'summary-grid' },
    ...item(t('format'), `${s.format.toUpperCase()}${s.formatVersion !== null ? ` v${s.formatVersion}` : ''}`, 'summary-format'),
    ...item(t('architecture'), [s.architecture, ...shapeBits].filter(Boolean).join(' · ') || '–'),
    ...item(t('parameters'), params, 'summary-parameters'),
    ...(s.activeParameterCount !== null ? item(t('activeParameters'), formatCount(s.activeParameterCount)) : []),
    ...(s.mtpParameterCount > 0 ? item(t('mtpParameters'), formatCount(s.mtpParameterCount)) : []),
    ...(s.visionParameterCount > 0 ? item(t('visionParameters'), formatCount(s.visionParameterCount)) : []),
    ...(s.audioParameterCount > 0 ? item(t('audioParameters'), formatCount(s.audioParameterCount)) : []),
    ...(s.attention !== null ? item(t('attention'), `${s.attention}${s.kvBytesPerToken !== null ? ` · ${t('kvPerToken', formatBytes(s.kvBytesPerToken))}` : ''}`, 'summary-attention') : []),
    ...item(t('storedSize'), `${formatBytes(s.totalFileBytes)}${s.fileCount > 1 ? ` · ${s.fileCount} ${t('files').toLowerCase()}` : ''}`),
    ...(s.producer ? item(t('producer'), s.producer) : []),
    h('dt', {}, t('dtypeMix')),
    h('dd', {}, mix),
  );
  const warnings =
    s.warnings.length > 0
      ? h('details', { class: 'warnings' }, h('summary', {}, `${t('warnings')} (${s.warnings.length})`), h('ul', {}, ...s.warnings.slice(0, 50).map((w) => h('li', {}, w))))
      : null;
  return h('section', { class: 'summary card', 'aria-label': t('summaryTitle'), 'data-testid': 'summary' }, h('h2', { class: 'file-name', title: s.fileName }, s.fileName), dl, warnings);
}

/** Fills the target banner. */
export function renderBanner(el: HTMLElement, e: TargetEstimate | undefined, error: string | undefined): void {
  el.classList.remove('fits', 'nofit', 'pending', 'error');
  if (error) {
    el.classList.add('error');
    setAttr(el, 'data-fits', undefined);
    return replaceChildren(el, t('errorPrefix', error));
  }
  if (!e) {
    el.classList.add('pending');
    setAttr(el, 'data-fits', undefined);
    return replaceChildren(el, t('estimating'));
  }
  el.classList.add(e.fits ? 'fits' : 'nofit');
  setAttr(el, 'data-fits', e.fits ? 'true' : 'false');
  const pct = e.memory.capacityBytes > 0 ? Math.round((e.memory.totalBytes / e.memory.capacityBytes) * 100) : 0;
  replaceChildren(
    el,
    h('strong', { class: 'verdict' }, e.fits ? `✓ ${t('fits')}` : `✗ ${t('doesNotFit')}`),
    h('span', {}, `${e.targetLabel}`),
    h('span', { 'data-testid': 'banner-memory' }, `${t('memoryOfCapacity', formatBytes(e.memory.totalBytes), formatBytes(e.memory.capacityBytes))} (${pct}%)`),
    h('span', {}, t('devicesNeeded', e.devicesNeeded)),
    h('span', { 'data-testid': 'banner-runtime' }, `${runtimeText(e)}${e.memory.runtime.measured ? '' : ` (${t('notMeasured')})`}`),
    speedText(e) !== null ? h('span', { 'data-testid': 'banner-speed' }, speedText(e)!) : null,
    ...e.notes.slice(0, 3).map((n) => h('span', { class: 'note' }, n)),
  );
}

/**
 * The banner's runtime line: runtime, cache kind and attention, and KV bytes per token only for a model that has a
 * KV cache (a CNN or VAD shows no "KV 0 B/token").
 */
export function runtimeText(e: Pick<TargetEstimate, 'generative' | 'memory'>): string {
  const r = e.memory.runtime;
  const kind = [r.cacheKind, r.attention].filter((x) => x).join(', ');
  if (e.generative === false || r.kvBytesPerToken === 0) return kind ? t('runtimeLineNoKv', r.id, kind) : r.id;
  return t('runtimeLine', r.id, kind, formatBytes(r.kvBytesPerToken));
}

/**
 * The banner's speed, by model kind (as the CLI and the plan lenses show it): tokens/s for a generative decoder,
 * latency per inference otherwise, "not published" when it would need a rate the target does not publish.
 */
export function speedText(e: Pick<TargetEstimate, 'generative' | 'inferenceSeconds' | 'unpublishedRates' | 'decodeTokensPerSecond'>): string | null {
  const unpublished = e.unpublishedRates ?? [];
  if (e.generative === false) {
    if (unpublished.length > 0) return t('speedNotPublished', unpublished.join(', '));
    return e.inferenceSeconds ? t('inferenceLatency', formatLatencyBound(e.inferenceSeconds)) : null;
  }
  if (e.decodeTokensPerSecond === null) return null;
  return `${unpublished.length > 0 ? '≤ ' : ''}${t('decodeRate', formatRate(e.decodeTokensPerSecond))}`;
}
