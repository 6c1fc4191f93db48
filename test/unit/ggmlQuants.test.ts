/**
 * Our ggml quantizers produce libggml's bytes. The hashes below are sha256 of what libggml itself wrote for
 * ggmlTestInput() through `ggml_quantize_chunk(type, …, imatrix = NULL)` — the call llama-quantize makes — in the
 * libggml-base.so of the pinned llama.cpp binding (llama.cpp tag v0.4.0, 80fb11ac). They were recorded by
 * test/integration/ggufApply.test.ts, which recomputes them live from the library on every integration run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { quantizeGgml } from '../../src/core';
import { LIBGGML_SHA256, ggmlTestInput } from '../fixtures/ggmlInput';


test('quantizeGgml writes the bytes libggml writes (no imatrix), for every type apply supports', () => {
  const x = ggmlTestInput();
  for (const [dtype, sha] of Object.entries(LIBGGML_SHA256)) {
    assert.equal(createHash('sha256').update(quantizeGgml(dtype, x)).digest('hex'), sha, dtype);
  }
});
