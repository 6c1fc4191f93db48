/**
 * The only import path into core for src/host, src/cli, src/node, src/worker and (types only) src/protocol and
 * webview; ESLint forbids deeper imports from those folders. Every name is listed: what is not here (the error
 * kernels' workspaces and tables, the solver's knapsack internals, the parsers' wire layers) stays inside core.
 * Pure TypeScript: no `vscode`, no `node:*`, no DOM.
 *
 * Layers, bottom up (see ARCHITECTURE.md): io → model → formats → precision → estimate → plan → editor.
 */
export {
  type CancellationToken, CancelledError, formatError, ModelFormatError, type ModelFormatErrorCode, throwIfCancelled,
} from './errors';
export {
  type ByteSource, checkRange, checkRelativePath, MemoryByteSource, MemorySiblings, NO_SIBLINGS,
  type SiblingResolver, truncateForMessage,
} from './io/byteSource';
export {
  BinaryReader, safeMultiply, toSafeNumber,
} from './io/binaryReader';
export {
  DEFAULT_LIMITS, type Limits, MAX_APPLY_CHUNK_ELEMENTS, MAX_CALIBRATION_TEXT_BYTES, MAX_EVAL_REFERENCE_BYTES, MAX_EVAL_TOKENS,
} from './io/limits';
export {
  type Dim, type FormatId, type Graph, type GraphNode, type GraphValue, type Hyperparameters, type Layer,
  type LayerRole, type Model, type TensorEncoding, type TensorInfo, type TensorLocation,
} from './model/types';
export { layerWeights, NO_MORE_WEIGHTS, tensorLocation, weightAt, weightCount, weightFields } from './model/tensorData';
export { isJsonObject, nameDict, own, setOwn } from './model/dict';
export { UniqueNames } from './model/uniqueNames';
export { appendAll, maxOf } from './util/arrays';
export { jsonDepthError, type JsoncResult, parseJsoncValue, treeToValue } from './io/jsonc';
export {
  bitsPerElement, type DType, dtypeInfo, DTYPES, storedByteLength,
} from './model/dtypes';
export {
  blockCountFromLayers, expertCountFromLayers, inferRole, isQuantizableWeight, layersFromTensors,
} from './model/roles';
export {
  type AttentionHyperparameters, type AttentionKind, architectureKey, attentionDecodeFlops, attentionPrefillFlops,
  type CacheDescription, type CacheKind, describeCache, kvCacheElements, type LayerCache, layerCacheLabel,
  RECURRENT_STATE_BYTES, recurrentStateElements, type SsmHyperparameters, tokensHeld,
} from './model/attention';
export {
  isRoutedExpert, type ParameterBreakdown, parameterBreakdown, type ParameterPart, parameterPart, tensorParts,
} from './model/parameters';
export {
  dtypeLabel, formatBytes, formatCount, type InspectDocument, inspectDocument, InspectLayerRows, inspectReport,
} from './model/inspect';
export { LOSSLESS_DB, MISSING, formatDb, formatLatencyBound, formatRate, formatRateBound, formatSeconds } from './format/numbers';
export {
  detectFormat, SNIFF_BYTES,
} from './formats/detect';
export {
  GGML_TYPES, ggmlType, REMOVED_GGML_TYPES,
} from './formats/gguf/ggmlTypes';
export {
  readGgufHeader, type GgufHeader, type GgufKvSpan, type GgufTensorEntry,
} from './formats/gguf/reader';
export {
  encodeGgufU32, GGUF_VALUE_TYPE, ggufTensorBytes, type GgufKvOut, type GgufLayout, type GgufTensorOut, layoutGguf, padTo,
} from './formats/gguf/writer';
export {
  hyperparametersFromHfConfig,
} from './formats/safetensors/hfConfig';
export {
  loadQuantParams,
} from './formats/tflite/storedQuant';
export {
  ONNX_SCHEMA_DESCRIPTOR,
} from './formats/onnx/schema';
export {
  openModel,
} from './openModel';
export {
  analyzeSensitivityBatch, analyzeSensitivityChunk, BATCH_ERROR_FIELDS, BATCH_STATS_FIELDS, type SensitivityBatchResults, canAnalyzeInOnePass, type ChunkByteReader, compareOutputs, COMPUTE_FALLBACKS,
  COMPUTE_TYPE_BITS, COMPUTE_TYPES, type ComputeType, decodeElements, decodeTensor, decodeUnsupportedReason,
  DEFAULT_SENSITIVITY_FORMATS, effectiveRole, encodeElements, ErrorAccumulator, type ErrorPartial, fakeQuantize,
  floatToBf16Bits, floatToHalfBits, FORMAT_ALIASES, formatBitsPerWeight, formatByteLength, formatForStoredDType,
  getNumberFormat, halfBitsToFloat, halfToFloatTable, histogramSensitivity, isOffsetVector, layerContexts,
  type LayerFormatSensitivity, type LayerSensitivity, LOSSLESS_FORMATS, MINI_FLOATS, miniFloatToNumber,
  NUMBER_FORMATS, type NumberFormat, quantizationError, quantizationLayout, relMseToDb, roundMiniFloat, rowLayout,
  scoreLayer, layerGain, staticScoreOf, type SensitivityScores, type SensitivityScoresReport, type SensitivityLayerRows, type SensitivityRowsReport, type LayerPosition, type SensitivityChunkResult, type SensitivityChunkTask, type SensitivityReport, spearman,
  storedMatrixShape, toHalf, transpose2d, weightErrorStats, weightStats, type WeightStats, WeightStatsAccumulator,
  type WeightStatsPartial, NextTokenAccumulator, type NextTokenComparison, type ReferenceDistribution, argmax,
  allFinite, klDivergenceFull, klDivergenceTopK, topKDistribution, MIN_PROBABILITY, GGML_WRITABLE_DTYPES,
  isGgmlWritable, quantizeGgml, setKquantSearchBackend, activeKquantSearchBackend, KQUANT_MAX_VALUES,
} from './precision';
export {
  computeRate, estimate, estimateWith, prepareEstimate, type EstimateChoice, type PreparedEstimate, isCachelessDecoder, symbolicInputDims, type Estimate, EstimateError, type EstimateOptions, formatSupport,
  getTarget, MAX_TARGET_FILE_BYTES, MAX_USER_TARGETS, mergeTargets, nativeTargetIds, nearestTargetIds,
  parseUserTargets, peakActivationBytes, readShapeConstants, type Target, TARGETS,
} from './estimate';
export {
  allowedFormats, assignmentHarm, assignmentWeightBytes, type Baseline, type BaselineComparison, baselineFormats, baselineHarm,
  baselineWeightBytes, baselineWithName, budgetFor,
  type BudgetBreakdown, buildPlan, type CheckedAssignment, checkedAssignment, checkPlan, defaultCandidateFormats,
  exportLlamaCpp, exportOrt, formatAllowed, formatPlanDiagnostics, type FuseOptions, groupLayers, layerTensors, type LayerGroup,
  harmFromSensitivity, harmFromScores, type HarmFunction, harmToSqnrDb, hasPlanErrors, KEEP_FORMAT, llamaCppRulesBaseline,
  MAX_PLAN_TEXT_BYTES, modelFingerprint, parseBudgetInput, parseByteSize, type ParsedPlan, parsePlan,
  planAssignment, type PlanBudget, type PlanDiagnostic, planDocument, planFileNameFor, planForTarget,
  type PlanLayerEntry, type PlanPosition, type PrecisionPlan, type PlanMeasurement, type PlanMeasuredFigures, type PlanKlMeasurement, type PlanSqnrMeasurement, type PlanSqnrFigures, type PlanMeasurementMetric, measurementMetric, q4kmFormats, replacePlanAssignment,
  resolvePlanAssignment, serializePlan, serializePlanChunks, sha256Hex, solveModel, type SolveModelResult, solvePlan, type SolvedPlan,
  type SolvePlanInput, standardBaselines, tryParseByteSize, uniformBaseline, useMoreBits,
  ggufTensorNames, exportGptqModel, type GptqModelExport, exportLlmCompressor, type LlmCompressorExport,
  type LlmCompressorGroup, type CompressedTensorsArgs, convertGgufRows, copiedKvSpans, GgufApplyError, type GgufApplyErrorCode, type GgufApplyOptions, type GgufApplyPlan,
  type GgufApplyTensor, ggmlDtypeForFormat, ggufRows, planGgufApply, GGUF_SHAPE_FALLBACK, ggufCompatibleDtype,
  ggufWrittenFormat, ggufWrittenLayerFormat, ggufFallbackFormats, ggufAssignmentWritten,
} from './plan';
export {
  addCustomTargetText, analyzePlan, type CustomTargetInput, findModelReferences, type FitSummary, fitText,
  FIX_ALL_CODES, fixAllEdits, isModelFileName, modelOneLine, type ModelReference, pickModelInFolder, type PlanContext, type PlanEditorDiagnostic, planFixes, type PlanView, sensitivityLookup, shortFormatLabel,
  type SourceSyntax, type TextEditData,
} from './editor';
export {
  checkRuntimeOptions, defaultRuntime, type GenericFigures, LLAMA_CPU_KINDS, LLAMA_DEFAULTS, LLAMA_KV_TYPES,
  type LlamaBufferType, type LlamaCppOptions, llamaCppMemory, type LlamaCpuKind, type LlamaLayerCache,
  llamaLayerCaches, llamaWeightBuffer, type RuntimeComponent, RuntimeError, type RuntimeId, RUNTIME_IDS,
  type RuntimeMemory, runtimeMemory, type RuntimeOptions, VLLM_DEFAULTS, vllmMemory, type VllmOptions,
} from './estimate/runtime';
export {
  seededRandom,
} from './util/random';
