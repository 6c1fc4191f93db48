/** Plan: the mixed-precision solver, the plan file, baselines, exports and the model fingerprint. Named exports only: this is the folder's surface for the rest of core and for tests. */
export {
  uniformBaseline, useMoreBits, q4kmFormats, llamaCppRulesBaseline, standardBaselines, type Baseline,
  baselineFormats, baselineWeightBytes, baselineHarm, withName as baselineWithName,
  type BaselineOptions, type RuleFormats,
} from './baselines';
export {
  exportOrt, exportLlamaCpp, type OrtTensorOverride, type OrtExport, type LlamaCppExport, ggufTensorNames,
  exportGptqModel, type GptqModelExport, exportLlmCompressor, type LlmCompressorExport, type LlmCompressorGroup,
  type CompressedTensorsArgs,
} from './export';
export {
  sha256Hex, modelFingerprint, FINGERPRINT_EDGE_BYTES, Sha256,
} from './fingerprint';
export {
  budgetFor, budgetKind, layerBudgetFacts, type BudgetBreakdown, type LayerBudgetFacts,
} from './budget';
export {
  checkedAssignment, planAssignment, type CheckedAssignment, type PlanCheckInput,
} from './checked';
export {
  parsePlan, checkPlan, hasPlanErrors, formatPlanDiagnostics, resolvePlanAssignment, planFileNameFor, serializePlan, serializePlanChunks,
  tryParseByteSize, parseByteSize, parseBudgetInput, buildPlan, PLAN_SCHEMA_URL, PLAN_VERSION, KEEP_FORMAT, MAX_PLAN_TEXT_BYTES,
  MAX_PLAN_ENTRIES, MAX_PLAN_DIAGNOSTICS, type PlanBudget, type PlanLayerEntry, type PlanModelRef,
  type PrecisionPlan, type PlanMeasurement, type PlanMeasuredFigures, type PlanKlMeasurement, type PlanSqnrMeasurement, type PlanSqnrFigures, type PlanMeasurementMetric, measurementMetric, MAX_MEASUREMENT_TEXT_BYTES, type PlanPosition, type PlanDiagnosticCode, type PlanDiagnostic, type PlanPositions,
  type ParsedPlan, type PlanTargetFacts, LineIndex, type PlanCheckContext, type BuildPlanInput,
} from './planFile';
export {
  solveMultipleChoiceKnapsack, knapsackFrontier, defaultCandidateFormats, formatAllowed, tensorBytesIn, layerTensors,
  assignmentWeightBytes, groupLayers, solveModel, harmFromSensitivity, harmFromScores, assignmentHarm, harmToSqnrDb,
  type KnapsackOption, type KnapsackResult, type KnapsackOptions, type FrontierPoint, type HarmFunction,
  type FuseOptions, type SolveModelOptions, type SolveAnchor, type LayerGroup, type GroupOption,
  type SolveModelResult, type LayerTensor,
} from './solver';
export {
  planForTarget, solvePlan, planDocument, replacePlanAssignment, allowedFormats, type PlanForTargetOptions,
  type PlanForTargetResult, type FitSuggestion, type SolvePlanInput, type SolvedPlan, type BaselineComparison,
} from './workflow';
export { GGUF_SHAPE_FALLBACK, ggufCompatibleDtype, ggufWrittenFormat, ggufWrittenLayerFormat, ggufFallbackFormats, ggufAssignmentWritten } from './ggufFallback';
export {
  convertGgufRows, copiedKvSpans, GgufApplyError, type GgufApplyErrorCode, type GgufApplyOptions, type GgufApplyPlan,
  type GgufApplyTensor, ggmlDtypeForFormat, ggufRows, planGgufApply,
} from './ggufApply';
