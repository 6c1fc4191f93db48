/**
 * Labels of the measured column and the predicted-vs-measured scatter, named by the record's metric: KL (llama.cpp)
 * or output SQNR in dB (onnxruntime-node). An ONNX figure is never labelled KL. Every label that shows a figure
 * names where it comes from (the record's runtime, text or inputs, plan file; how the prediction was made).
 */
import type { MeasuredComparison, MeasuredPoint } from '../../src/protocol/messages';
import { formatDb, t } from './dom';
import { shortFormatLabel } from './layerTable';

/** What the table's measured column shows. */
export interface MeasuredColumn {
  readonly header: string;
  readonly tip: string;
  /** Cell text and tooltip of one layer. */
  cell(p: MeasuredPoint): { readonly text: string; readonly title: string };
}

/** The metric's name ('KL', 'output SQNR (dB)'). */
export function metricName(m: MeasuredComparison): string {
  return m.unit === 'kl' ? t('metricKl') : t('metricSqnr');
}

/** A figure in the record's unit: KL with 3 significant digits, SQNR as '31.2 dB'. */
export function formatMeasured(m: MeasuredComparison, v: number): string {
  return m.unit === 'kl' ? v.toPrecision(3) : formatDb(v);
}

/**
 * Titles of the scatter: short axes ('Predicted output SQNR (dB)'), and the points' legend naming the runtime that
 * measured them (how the prediction was made is in the notes under the chart and in each point's tooltip).
 */
export function measuredAxes(m: MeasuredComparison): { readonly x: string; readonly y: string; readonly legend: string } {
  return { x: t('predictedShort', metricName(m)), y: t('measuredShort', metricName(m)), legend: t('measuredAxis', metricName(m), m.runtime) };
}

/** The measured column for `m` (a neutral header when nothing is measured). */
export function measuredColumn(m: MeasuredComparison | null | undefined): MeasuredColumn {
  if (!m) return { header: t('colMeasured'), tip: t('colMeasuredTip'), cell: () => ({ text: '', title: '' }) };
  const name = metricName(m);
  return {
    header: m.unit === 'kl' ? t('colMeasuredKl') : t('colMeasuredSqnr'),
    tip: m.unit === 'kl' ? t('colMeasuredKlTip', m.source) : t('colMeasuredSqnrTip', m.source),
    cell: (p) => ({
      text: formatMeasured(m, p.measured),
      title: `${shortFormatLabel(p.format)}: ${t('measuredAxis', name, m.runtime)} ${formatMeasured(m, p.measured)}${p.predicted !== null ? ` · ${t('predictedAxis', name, m.predictedFrom)} ${formatMeasured(m, p.predicted)}` : ''}`,
    }),
  };
}
