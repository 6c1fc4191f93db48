/** Editor text features: plan lenses and diagnostics, quick fixes, model references in source code, one-line summaries. Named exports only: this is the folder's surface for the rest of core and for tests. */
export {
  customTargetEntry, addCustomTargetText, type CustomTargetInput,
} from './customTargets';
export {
  isModelFileName, findModelReferences, pickModelInFolder, type ModelReference, MODEL_FILE_SUFFIXES,
  MAX_SCANNED_LINE_CHARS, MAX_SCANNED_LINES, MAX_REFERENCES, type SourceSyntax,
} from './modelReferences';
export {
  dominantDtype, modelOneLine, fitText, type FitSummary,
} from './modelSummary';
export {
  layerChangeEdits, nearestNativeFormat, closestLayerName, planFixes, fixAllEdits, type TextEditData, type PlanFix,
  MAX_LOWERED_LAYERS, FIX_ALL_CODES,
} from './planFixes';
export {
  sensitivityLookup, shortFormatLabel, sensitivityLevel, analyzePlan, escapeMd,
  type PlanEditorCode, type PlanEditorDiagnostic, type SensitivityLookup, type PlanContext, type BudgetCheck,
  type PlanLens, type PlanView,
} from './planLenses';
