/** Estimate: memory and speed of a model on a hardware target (shapes, KV cache, activations, target catalog). Named exports only: this is the folder's surface for the rest of core and for tests. */
export {
  mergeTargets, getTarget, nearestTargetIds, type TargetKind, type Interconnect, type RuntimeOverhead, type Target,
  TARGETS,
} from './hardware/catalog';
export {
  type EstimateErrorCode, EstimateError,
} from './hardware/errors';
export {
  formatSupport, nativeTargetIds, computeRate, type FormatSupport, type ComputeRate,
} from './hardware/support';
export {
  parseUserTargets, MAX_TARGET_FILE_BYTES, MAX_USER_TARGETS, MAX_TARGET_TEXT_LENGTH,
} from './hardware/userTargets';
export {
  estimate, estimateWith, prepareEstimate, estimatePreparations, type EstimateChoice, type PreparedEstimate, isCachelessDecoder, symbolicInputDims, readShapeConstants, DEFAULT_CONTEXT, MAX_BATCH, MAX_CONTEXT,
  type EstimateOptions, type UnsupportedFormat, type LayerEstimate, type Estimate,
} from './memory';
export {
  bindDim, dimKind, dtypeElementBytes, valueBytes, inferGraphShapes, peakActivationBytes, type ShapeBindings, type ValueShape,
  type GraphShapes, type ActivationPeak,
} from './shapes';
