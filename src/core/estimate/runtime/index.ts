/** Runtime memory models (llama.cpp, ONNX Runtime, vLLM): what each runtime allocates for a model. */
export * from './types';
export * from './select';
export { LLAMA_CPU_KINDS, LLAMA_DEFAULTS, LLAMA_KV_TYPES, llamaCppMemory, llamaLayerCaches, llamaWeightBuffer, type LlamaBufferType, type LlamaCppOptions, type LlamaCpuKind, type LlamaLayerCache } from './llamaCpp';
export { VLLM_DEFAULTS, vllmMemory, type VllmOptions } from './vllm';
