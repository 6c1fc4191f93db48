/** Precision: number formats, decoding, fake quantization, sensitivity (static score and measured error). Named exports only: this is the folder's surface for the rest of core and for tests. */
export {
  halfToFloatTable, halfBitsToFloat, floatToHalfBits, floatToBf16Bits, miniFloatToNumber, e8m0ToNumber, ue4m3Half,
  decodeUnsupportedReason, isDecodable, decodeElements, applyQuantParams, decodeTensor, encodeElements,
  type MiniFloatSpec, MINI_FLOATS,
} from './decode';
export {
  setErrorKernelBackend, activeErrorKernelBackend, elementwiseKernelParams, errorWorkspace, bf16ToFloatTable,
  codeTable, histogramStats, isElementwiseFormat, isIntKernelFormat, elementwiseQuantizer, histogramErrors, histogramErrorsJs, histogramStatsJs,
  workspaceHistogramStats, workspaceHistogramErrors,
  type ErrorKernelBackend, type BlockSource, AMAX_COMPUTED, AMAX_CONSTANT, AMAX_PER_ROW, type ChunkByteReader,
  type ErrorWorkspace, type ElementwiseKernelParams, type HistogramFacts, F16_PAIR_TOLERANCE,
} from './errorKernels';
export {
  isOffsetVector,
} from './graphInfluence';
export {
  getNumberFormat, formatByteLength, formatBitsPerWeight, formatForStoredDType, type ComputeType, type NumberFormat,
  ELEMENT_RANGES, NUMBER_FORMATS, FORMAT_ALIASES, COMPUTE_TYPES, COMPUTE_TYPE_BITS, COMPUTE_FALLBACKS,
} from './numberFormats';
export {
  rne, toHalf, roundSignificant, roundFp16, roundBf16, roundMiniFloat, roundMiniFast, absMax, rowLayout,
  fakeQuantize, type FakeQuantizeOptions, SPLIT, type MiniGrid, GRIDS, NF4_CODEBOOK, nf4Error, APPROXIMATE_GGML_TYPES,
} from './quantize';
export {
  weightStats, relMseToDb, weightErrorStats, layerContexts, positionGain, effectiveRole, roleGain, roleGainTable, LLAMA_CPP_ROLE_GAIN, scoreLayer,
  layerGain, staticScoreOf, type SensitivityScores, type SensitivityScoresReport, type SensitivityLayerRows, type SensitivityRowsReport,
  quantizationLayout, storedMatrixShape, transpose2d, quantizationError, analyzeSensitivityChunk,
  analyzeSensitivityBatch, BATCH_STATS_FIELDS, BATCH_ERROR_FIELDS, type SensitivityBatchResults,
  canAnalyzeInOnePass, errorKey, histogramSensitivity, compareOutputs, spearman, type WeightStats, WeightStatsAccumulator,
  type WeightStatsPartial, type WeightErrorStats, SQNR_CAP_DB, ErrorAccumulator, type ErrorPartial,
  type LayerFormatSensitivity, type LayerSensitivity, type SensitivityReport, type MeasuredSummary,
  DEFAULT_SENSITIVITY_FORMATS, TRANSFORMER_ROLE_GAIN, SEQUENTIAL_ROLE_GAIN, type LayerPosition, type ScoreInput,
  type QuantizationLayout, type SensitivityChunkTask, type SensitivityChunkResult, LOSSLESS_FORMATS,
  CHUNK_BLOCK_ELEMENTS, HISTOGRAM_MIN_ELEMENTS, STREAM_READ_ELEMENTS, type OutputComparison,
} from './sensitivity';
export {
  NextTokenAccumulator, type NextTokenComparison, type ReferenceDistribution, argmax, allFinite, klDivergenceFull,
  klDivergenceTopK, topKDistribution, MIN_PROBABILITY,
} from './nextTokenMetrics';
export {
  GGML_WRITABLE_DTYPES, isGgmlWritable, quantizeGgml,
} from './ggmlQuants';
export {
  setKquantSearchBackend, activeKquantSearchBackend, KQUANT_MAX_VALUES,
} from './kquantSearch';
