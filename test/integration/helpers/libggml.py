"""llama.cpp's own quantizers, called through ctypes on the libraries node-llama-cpp ships (no build needed).

  libggml.py chunk LIBDIR INPUT.f32 OUTDIR N_PER_ROW TYPE_ID...
      ggml_quantize_chunk(type, rows, imatrix=NULL) — the call llama-quantize makes per tensor — writes
      OUTDIR/<type>.bin, and the library's own dequantizer (type_traits.to_float) writes OUTDIR/<type>.deq.f32.
  libggml.py model LIBDIR INPUT.gguf OUTPUT.gguf FTYPE
      llama_model_quantize with pure = true (every quantizable tensor gets FTYPE's type; the output tensor too),
      one thread, no imatrix, requantizing allowed: `llama-quantize --pure --allow-requantize INPUT OUTPUT FTYPE`.
"""
import ctypes
import glob
import os
import sys


def chunk(libdir, inp, outdir, n_per_row, types):
    lib = ctypes.CDLL(os.path.join(libdir, 'libggml-base.so'))
    data = open(inp, 'rb').read()
    n = len(data) // 4
    nrows = n // n_per_row
    src = (ctypes.c_float * n).from_buffer_copy(data)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_get_type_traits.restype = ctypes.c_void_p
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    to_float_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
    for t in types:
        size = lib.ggml_row_size(t, n_per_row) * nrows
        dst = (ctypes.c_uint8 * size)()
        lib.ggml_quantize_init(t)
        got = lib.ggml_quantize_chunk(t, src, dst, 0, nrows, n_per_row, None)
        if got != size:
            raise SystemExit(f'type {t}: wrote {got} bytes, expected {size}')
        open(os.path.join(outdir, f'{t}.bin'), 'wb').write(bytes(dst))
        # struct ggml_type_traits { const char *type_name; int64_t blck_size; int64_t blck_size_interleave;
        #                           size_t type_size; bool is_quantized; ggml_to_float_t to_float; ... } (ggml.h)
        to_float = to_float_t(ctypes.c_void_p.from_address(lib.ggml_get_type_traits(t) + 40).value)
        deq = (ctypes.c_float * n)()
        to_float(dst, deq, n)
        open(os.path.join(outdir, f'{t}.deq.f32'), 'wb').write(bytes(deq))


class QuantizeParams(ctypes.Structure):
    # llama.h `llama_model_quantize_params` (llama.cpp tag v0.4.0)
    _fields_ = [('nthread', ctypes.c_int32), ('ftype', ctypes.c_int32), ('output_tensor_type', ctypes.c_int32),
                ('token_embedding_type', ctypes.c_int32), ('allow_requantize', ctypes.c_bool),
                ('quantize_output_tensor', ctypes.c_bool), ('only_copy', ctypes.c_bool), ('pure', ctypes.c_bool),
                ('keep_split', ctypes.c_bool), ('dry_run', ctypes.c_bool), ('imatrix', ctypes.c_void_p),
                ('kv_overrides', ctypes.c_void_p), ('tt_overrides', ctypes.c_void_p), ('prune_layers', ctypes.c_void_p),
                ('max_buf_size', ctypes.c_size_t)]


def model(libdir, inp, out, ftype):
    names = sorted(glob.glob(os.path.join(libdir, 'libllama*.so')))
    names = [n for n in names if 'common' not in n]
    llama = ctypes.CDLL(names[0])
    llama.llama_model_quantize_default_params.restype = QuantizeParams
    llama.llama_model_quantize.restype = ctypes.c_uint32
    llama.llama_model_quantize.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(QuantizeParams)]
    llama.llama_backend_init()
    p = llama.llama_model_quantize_default_params()
    p.nthread = 1
    p.ftype = ftype
    p.pure = True
    p.quantize_output_tensor = True
    p.allow_requantize = True  # the generated model has a Q8_0 source tensor (ours: --force)
    rc = llama.llama_model_quantize(inp.encode(), out.encode(), ctypes.byref(p))
    if rc != 0:
        raise SystemExit(f'llama_model_quantize returned {rc}')


if __name__ == '__main__':
    if sys.argv[1] == 'chunk':
        chunk(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), [int(t) for t in sys.argv[6:]])
    elif sys.argv[1] == 'model':
        model(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        raise SystemExit('usage: libggml.py chunk|model ...')
