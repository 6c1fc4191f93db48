;; The common fields of an ONNX GraphProto walked in WebAssembly (graphScan.ts, parse.ts). Compiled by
;; `npm run build:kernels` (scripts/buildKernels.mjs, wabt) into gen/graphScanWasm.ts.
;;
;; `scan` walks graph fields from a position in a copy of the reader's buffered bytes into columns: nodes into the
;; node columns, initializers as records in OUT (i32 words), value_info messages as their bytes in VALUES with their
;; ends in VALUE_ENDS, plain node attributes as their bytes in ATTRS with their ends in ATTR_ENDS (the caller keeps
;; both in bulk, no work per message); the text of every name it reads is copied
;; into ARENA, so the caller decodes one text per call instead of one per name. It reads only what it can read exactly as parse.ts does, with the same
;; checks passed: nodes whose names and labels are at most the short-name bound and whose attributes hold plain values
;; only (name, type, f, i, s, floats, ints, strings — no tensor, graph or reference), or, for a Constant node, one `value`
;; tensor read as an initializer is (its record tagged 3, its node in CONST_ROWS); initializers
;; with name, dims, data_type, data_location and at most one raw_data; value_info messages of at most 256 bytes
;; (checked, as parse.ts checks a deferred one). On anything else — another field, a message past the buffered
;; bytes, an attribute it does not read, a long name, a wire type or varint parse.ts would refuse, a value out of the plain range —
;; it stops *before* that field and returns its offset: parse.ts then reads that field itself (and gives its own
;; message for bad input). So this never decides an error; it only decides how far the common case reaches.
;;
;; Every read is bounded by the end of its message, which is bounded by `limit` (the end of the buffered bytes);
;; every write is bounded by its region's end (a field that does not fit is left for the next call).
;; Field numbers are imported (schema.ts's, from the generated ONNX schema), not typed in here.
(module
  (import "f" "graphNode" (global $G_NODE i32))
  (import "f" "graphInitializer" (global $G_INIT i32))
  (import "f" "graphValueInfo" (global $G_VI i32))
  (import "f" "nodeInput" (global $N_IN i32))
  (import "f" "nodeOutput" (global $N_OUT i32))
  (import "f" "nodeName" (global $N_NAME i32))
  (import "f" "nodeOp" (global $N_OP i32))
  (import "f" "nodeDomain" (global $N_DOMAIN i32))
  (import "f" "nodeAttribute" (global $N_ATTR i32))
  (import "f" "tensorDims" (global $T_DIMS i32))
  (import "f" "tensorDataType" (global $T_TYPE i32))
  (import "f" "tensorName" (global $T_NAME i32))
  (import "f" "tensorRaw" (global $T_RAW i32))
  (import "f" "tensorLocation" (global $T_LOC i32))
  (import "f" "tensorSegment" (global $T_SEGMENT i32))
  (import "f" "tensorExternal" (global $T_EXTERNAL i32))
  (import "f" "tensorFloat" (global $T_FLOAT i32))
  (import "f" "tensorInt32" (global $T_INT32 i32))
  (import "f" "tensorString" (global $T_STRING i32))
  (import "f" "tensorInt64" (global $T_INT64 i32))
  (import "f" "tensorDouble" (global $T_DOUBLE i32))
  (import "f" "tensorUint64" (global $T_UINT64 i32))
  (import "f" "valueName" (global $V_NAME i32))
  (import "f" "valueType" (global $V_TYPE i32))
  (import "f" "typeTensor" (global $TY_TENSOR i32))
  (import "f" "typeSparse" (global $TY_SPARSE i32))
  (import "f" "tensorTypeElem" (global $TT_ELEM i32))
  (import "f" "tensorTypeShape" (global $TT_SHAPE i32))
  (import "f" "shapeDim" (global $SH_DIM i32))
  (import "f" "dimValue" (global $DM_VALUE i32))
  (import "f" "dimParam" (global $DM_PARAM i32))
  (import "f" "attrName" (global $A_NAME i32))
  (import "f" "attrRef" (global $A_REF i32))
  (import "f" "attrType" (global $A_TYPE i32))
  (import "f" "attrF" (global $A_F i32))
  (import "f" "attrI" (global $A_I i32))
  (import "f" "attrS" (global $A_S i32))
  (import "f" "attrT" (global $A_T i32))
  (import "f" "attrG" (global $A_G i32))
  (import "f" "attrSparse" (global $A_SPARSE i32))
  (import "f" "attrFloats" (global $A_FLOATS i32))
  (import "f" "attrInts" (global $A_INTS i32))
  (import "f" "attrStrings" (global $A_STRINGS i32))
  (import "f" "attrTensors" (global $A_TENSORS i32))
  (import "f" "attrGraphs" (global $A_GRAPHS i32))
  (import "f" "tensorType" (global $TENSOR_TYPE i32))

  ;; Layout (bytes; graphScan.ts knows the same numbers):
  ;; OUT [0, 512 KiB) tensor records;
  ;; node columns, one entry per node (a scan reads at most 1,023 nodes): NAMES (text, start, end), IN_STARTS,
  ;; OUT_STARTS, HASHES ($nameHash of the name), LABEL_IDS (op_type id, domain id); ATTR_NODES (node in the scan,
  ;; its first attribute counted on from $attrBase) per node with attributes; CONST_ROWS (node in the scan) per Constant
  ;; node's tensor record; ATTR_ENDS (one word per attribute: where
  ;; its message ends, counted on from $attrByteBase) and ATTRS (the attribute messages' bytes, back to back: the
  ;; caller keeps them as they are, to decode when the graph's nodes are read);
  ;; INS, OUTS: (text, start, end) per input / output edge, at most 43,690 of each per scan;
  ;; ARENA [2 MiB, 3 MiB) name bytes; LABELS (512 slots of 72 bytes: length + 1, id, up to 64 bytes) and LABEL_SLOT
  ;; (slot address by id); SCRATCH (8,192 output spans of a node);
  ;; CHECKED (the bytes after the name of the last value_info that passed its checks, at most 256);
  ;; VALUE_ENDS (one word per value_info read: where its bytes end, counted on from $valueBase) and VALUES (the
  ;; value_info messages' bytes, back to back: the caller keeps them as they are, to decode if ever asked);
  ;; IN [4 MiB, …) the buffered bytes (at most 8 MiB less 16 bytes: the memory's maximum; graphScan.ts keeps 16
  ;; bytes after them, so a one-byte length may be read at the end of a message before its bound is checked).
  ;; A text index of -1 in NAMES, INS or OUTS marks a name that is not ASCII: start and end are then arena offsets.
  (memory (export "memory") 64 192)
  (global $OUT i32 (i32.const 0))
  (global $OUT_END i32 (i32.const 0x80000))
  (global $NAMES i32 (i32.const 0x80000))
  (global $IN_STARTS i32 (i32.const 0x84000))
  (global $OUT_STARTS i32 (i32.const 0x85000))
  (global $HASHES i32 (i32.const 0x86000))
  (global $LABEL_IDS i32 (i32.const 0x87000))
  (global $ATTR_NODES i32 (i32.const 0x89000))
  (global $CONST_ROWS i32 (i32.const 0x8b000))
  (global $ATTR_ENDS i32 (i32.const 0x8c000))
  (global $ATTR_ENDS_END i32 (i32.const 0x90000))
  (global $ATTRS i32 (i32.const 0x90000))
  (global $ATTRS_END i32 (i32.const 0x100000))
  (global $INS i32 (i32.const 0x100000))
  (global $INS_END i32 (i32.const 0x180000))
  (global $OUTS i32 (i32.const 0x180000))
  (global $OUTS_END i32 (i32.const 0x200000))
  (global $ARENA i32 (i32.const 0x200000))
  (global $ARENA_END i32 (i32.const 0x300000))
  (global $LABELS i32 (i32.const 0x300000))
  (global $LABEL_SLOT i32 (i32.const 0x30a000))
  (global $SCRATCH i32 (i32.const 0x310000))
  (global $SCRATCH_ENTRIES i32 (i32.const 8192))
  (global $CHECKED i32 (i32.const 0x30b000))
  (global $VALUE_ENDS i32 (i32.const 0x320000))
  (global $VALUE_ENDS_END i32 (i32.const 0x340000))
  (global $VALUES i32 (i32.const 0x340000))
  (global $VALUES_END i32 (i32.const 0x400000))
  ;; Labels entered so far (at most 256).
  (global $labelCount (export "labelCount") (mut i32) (i32.const 0))
  ;; Per scan: the text index of its arena (parse.ts's), the table's edge counts before it, the next INS / OUTS
  ;; entry, names not ASCII or empty (no hash check), entries not ASCII.
  (global $text (mut i32) (i32.const 0))
  (global $inBase (mut i32) (i32.const 0))
  (global $outBase (mut i32) (i32.const 0))
  (global $valueBase (mut i32) (i32.const 0))
  ;; Length of the bytes in CHECKED (-1: none yet).
  (global $checkedLen (mut i32) (i32.const -1))
  (global $vb (mut i32) (i32.const 0))
  (global $valueBytes (export "valueBytes") (mut i32) (i32.const 0))
  (global $ip (mut i32) (i32.const 0))
  (global $op (mut i32) (i32.const 0))
  (global $unhashed (export "unhashed") (mut i32) (i32.const 0))
  (global $nonAscii (export "nonAscii") (mut i32) (i32.const 0))
  (global $edgesIn (export "edgesIn") (mut i32) (i32.const 0))
  (global $edgesOut (export "edgesOut") (mut i32) (i32.const 0))
  ;; Per scan: the table's attribute and attribute-byte counts before it, the next ATTRS byte, and what it kept.
  (global $attrBase (mut i32) (i32.const 0))
  (global $attrByteBase (mut i32) (i32.const 0))
  (global $ab (mut i32) (i32.const 0))
  (global $attrs (export "attrs") (mut i32) (i32.const 0))
  (global $attrNodes (export "attrNodes") (mut i32) (i32.const 0))
  (global $attrBytes (export "attrBytes") (mut i32) (i32.const 0))
  ;; Constant nodes' tensors read by this scan, and the tensors (initializers and those) it may still read.
  (global $consts (export "consts") (mut i32) (i32.const 0))
  (global $tensorsLeft (mut i32) (i32.const 0))

  ;; Limits (setLimits): the longest name and label read here, parse.ts's maxStringBytes, maxRank, maxNodeCount and
  ;; maxArrayLength.
  (global $nameMax (mut i32) (i32.const 0))
  (global $labelMax (mut i32) (i32.const 0))
  (global $strMax (mut i32) (i32.const 0))
  (global $rankMax (mut i32) (i32.const 0))
  (global $arity (mut i32) (i32.const 0))
  (global $arrMax (mut i32) (i32.const 0))

  ;; State of one scan: the next record word, the next arena byte, the position after the last varint read
  ;; (-1: truncated or longer than 10 bytes), and what the scan read.
  (global $o (mut i32) (i32.const 0))
  (global $ap (mut i32) (i32.const 0))
  (global $vp (mut i32) (i32.const 0))
  (global $nodes (export "nodes") (mut i32) (i32.const 0))
  (global $tensors (export "tensors") (mut i32) (i32.const 0))
  (global $values (export "values") (mut i32) (i32.const 0))
  (global $outUsed (export "outUsed") (mut i32) (i32.const 0))
  (global $arenaUsed (export "arenaUsed") (mut i32) (i32.const 0))
  ;; 1 when the scan stopped because OUT or ARENA was full (the caller reads the records and scans on).
  (global $full (export "full") (mut i32) (i32.const 0))

  (func (export "setLimits") (param $nameMax i32) (param $labelMax i32) (param $strMax i32) (param $rankMax i32) (param $arity i32) (param $arrMax i32)
    (global.set $arrMax (local.get $arrMax))
    (global.set $nameMax (local.get $nameMax))
    (global.set $labelMax (local.get $labelMax))
    (global.set $strMax (local.get $strMax))
    (global.set $rankMax (local.get $rankMax))
    (global.set $arity (local.get $arity)))

  ;; A varint at $p (bytes before $e): its low 64 bits; $vp = the position after it, or -1 when it runs to $e or
  ;; is longer than 10 bytes (parse.ts refuses both).
  (func $varint (param $p i32) (param $e i32) (result i64)
    (local $v i64) (local $b i32) (local $shift i64) (local $i i32)
    (loop $l
      (if (i32.ge_u (local.get $p) (local.get $e))
        (then (global.set $vp (i32.const -1)) (return (i64.const 0))))
      (local.set $b (i32.load8_u (local.get $p)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $v (i64.or (local.get $v)
        (i64.shl (i64.extend_i32_u (i32.and (local.get $b) (i32.const 0x7f))) (local.get $shift))))
      (if (i32.and (local.get $b) (i32.const 0x80))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (if (i32.ge_u (local.get $i) (i32.const 10))
            (then (global.set $vp (i32.const -1)) (return (i64.const 0))))
          (local.set $shift (i64.add (local.get $shift) (i64.const 7)))
          (br $l))))
    (global.set $vp (local.get $p))
    (local.get $v))

  ;; A field key at $p: field × 8 + wire type, or -1 when parse.ts would refuse it (or it is unusually large:
  ;; field number 2^28 or more): field 0, wire types 3, 4, 6, 7. $vp after it.
  (func $key (param $p i32) (param $e i32) (result i32)
    (local $k i64) (local $wt i32)
    ;; One byte: nearly every key.
    (if (i32.lt_u (local.get $p) (local.get $e))
      (then
        (local.set $wt (i32.load8_u (local.get $p)))
        (if (i32.lt_u (local.get $wt) (i32.const 0x80))
          (then
            (global.set $vp (i32.add (local.get $p) (i32.const 1)))
            (if (i32.lt_u (local.get $wt) (i32.const 8)) (then (return (i32.const -1))))
            (if (i32.eqz (call $wireOk (i32.and (local.get $wt) (i32.const 7)))) (then (return (i32.const -1))))
            (return (local.get $wt))))))
    (local.set $k (call $varint (local.get $p) (local.get $e)))
    (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const -1))))
    (if (i64.ge_u (local.get $k) (i64.const 0x80000000)) (then (return (i32.const -1))))
    (if (i64.lt_u (local.get $k) (i64.const 8)) (then (return (i32.const -1))))
    (if (i32.eqz (call $wireOk (i32.wrap_i64 (i64.and (local.get $k) (i64.const 7))))) (then (return (i32.const -1))))
    (i32.wrap_i64 (local.get $k)))

  (func $wireOk (param $wt i32) (result i32)
    (i32.or (i32.le_u (local.get $wt) (i32.const 2)) (i32.eq (local.get $wt) (i32.const 5))))

  ;; A length prefix at $p inside a message ending at $e: the length, or -1 when the varint is bad or the length
  ;; runs past $e. $vp after it.
  (func $len (param $p i32) (param $e i32) (result i32)
    (local $n i64)
    (if (i32.lt_u (local.get $p) (local.get $e))
      (then
        (local.set $n (i64.extend_i32_u (i32.load8_u (local.get $p))))
        (if (i64.lt_u (local.get $n) (i64.const 0x80))
          (then
            (global.set $vp (i32.add (local.get $p) (i32.const 1)))
            (if (i64.gt_u (local.get $n) (i64.extend_i32_u (i32.sub (local.get $e) (global.get $vp))))
              (then (return (i32.const -1))))
            (return (i32.wrap_i64 (local.get $n)))))))
    (local.set $n (call $varint (local.get $p) (local.get $e)))
    (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const -1))))
    (if (i64.gt_u (local.get $n) (i64.extend_i32_u (i32.sub (local.get $e) (global.get $vp))))
      (then (return (i32.const -1))))
    (i32.wrap_i64 (local.get $n)))

  ;; Skips the value of a field of wire type $wt at $p: the position after it, or -1 (bad varint, past $e).
  (func $skip (param $wt i32) (param $p i32) (param $e i32) (result i32)
    (local $n i32)
    (if (i32.eqz (local.get $wt))
      (then
        (drop (call $varint (local.get $p) (local.get $e)))
        (return (global.get $vp))))
    (if (i32.eq (local.get $wt) (i32.const 1))
      (then
        (if (i32.gt_s (i32.const 8) (i32.sub (local.get $e) (local.get $p))) (then (return (i32.const -1))))
        (return (i32.add (local.get $p) (i32.const 8)))))
    (if (i32.eq (local.get $wt) (i32.const 5))
      (then
        (if (i32.gt_s (i32.const 4) (i32.sub (local.get $e) (local.get $p))) (then (return (i32.const -1))))
        (return (i32.add (local.get $p) (i32.const 4)))))
    (local.set $n (call $len (local.get $p) (local.get $e)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (i32.add (global.get $vp) (local.get $n)))

  ;; A small non-negative varint (an enum: data_type, data_location, elem_type) at $p, read only when parse.ts
  ;; reads it as the same number (at most 2^31 − 1); else -1. $vp after it.
  (func $small (param $p i32) (param $e i32) (result i32)
    (local $v i64) (local $b i32)
    (if (i32.lt_u (local.get $p) (local.get $e))
      (then
        (local.set $b (i32.load8_u (local.get $p)))
        (if (i32.lt_u (local.get $b) (i32.const 0x80))
          (then (global.set $vp (i32.add (local.get $p) (i32.const 1))) (return (local.get $b))))))
    (local.set $v (call $varint (local.get $p) (local.get $e)))
    (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const -1))))
    (if (i64.gt_u (local.get $v) (i64.const 0x7fffffff)) (then (return (i32.const -1))))
    (i32.wrap_i64 (local.get $v)))

  ;; Copies the $n name bytes at $p into ARENA and writes its entry (text, start, end) at $at: the scan's text and
  ;; the arena offsets, text -1 when some byte is not ASCII. Room was checked by the caller.
  (func $emit (param $at i32) (param $p i32) (param $n i32)
    (local $i i32) (local $high i64) (local $b i32) (local $v i64) (local $start i32)
    (local.set $start (i32.sub (global.get $ap) (global.get $ARENA)))
    (block $words
      (loop $w
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $v (i64.load (i32.add (local.get $p) (local.get $i))))
        (local.set $high (i64.or (local.get $high) (local.get $v)))
        (i64.store (i32.add (global.get $ap) (local.get $i)) (local.get $v))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $w)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $b (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $high (i64.or (local.get $high) (i64.extend_i32_u (local.get $b))))
        (i32.store8 (i32.add (global.get $ap) (local.get $i)) (local.get $b))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (if (i64.ne (i64.and (local.get $high) (i64.const 0x8080808080808080)) (i64.const 0))
      (then
        (global.set $nonAscii (i32.add (global.get $nonAscii) (i32.const 1)))
        (i32.store (local.get $at) (i32.const -1)))
      (else (i32.store (local.get $at) (global.get $text))))
    (i32.store offset=4 (local.get $at) (local.get $start))
    (i32.store offset=8 (local.get $at) (i32.add (local.get $start) (local.get $n)))
    (global.set $ap (i32.add (global.get $ap) (local.get $n))))

  ;; True when $words record words (OUT) and $bytes arena bytes fit.
  (func $room (param $words i32) (param $bytes i32) (result i32)
    (i32.and
      (i32.le_u (i32.shl (local.get $words) (i32.const 2)) (i32.sub (global.get $OUT_END) (global.get $o)))
      (i32.le_u (local.get $bytes) (i32.sub (global.get $ARENA_END) (global.get $ap)))))

  ;; FNV-1a (32 bits) of the $n bytes at $p.
  (func $fnv (param $p i32) (param $n i32) (result i32)
    (local $h i32) (local $end i32)
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 0x01000193)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $h))

;; The hash of a node name (the $n bytes at $p): four bytes at a time (little-endian words, each xor-multiplied as
  ;; in FNV-1a, then its high bits folded down), then the last bytes one at a time (FNV-1a). parse.ts `asciiHash` makes
  ;; the same of a string; hashes that differ mean names that differ.
  (func $nameHash (param $p i32) (param $n i32) (result i32)
    (local $h i32) (local $end i32)
    (local.set $h (i32.const 0x811c9dc5))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $words
      (loop $w
        (br_if $words (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load (local.get $p))) (i32.const 0x01000193)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $w)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 0x01000193)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $h))

  ;; The id of the label (op_type, domain) of the $n bytes at $p in LABELS (entered when new), or -1 when LABELS
  ;; is full. Ids stay with the instance, so parse.ts makes one string per distinct label.
  (func $label (param $p i32) (param $n i32) (result i32)
    (local $slot i32) (local $at i32) (local $i i32) (local $same i32)
    (local.set $slot (i32.and (call $fnv (local.get $p) (local.get $n)) (i32.const 511)))
    (loop $probe
      (local.set $at (i32.add (global.get $LABELS) (i32.mul (local.get $slot) (i32.const 72))))
      (if (i32.eqz (i32.load (local.get $at)))
        (then
          (if (i32.ge_u (global.get $labelCount) (i32.const 256)) (then (return (i32.const -1))))
          (i32.store (local.get $at) (i32.add (local.get $n) (i32.const 1)))
          (i32.store offset=4 (local.get $at) (global.get $labelCount))
          (i32.store (i32.add (global.get $LABEL_SLOT) (i32.shl (global.get $labelCount) (i32.const 2))) (local.get $at))
          (memory.copy (i32.add (local.get $at) (i32.const 8)) (local.get $p) (local.get $n))
          (global.set $labelCount (i32.add (global.get $labelCount) (i32.const 1)))
          (return (i32.load offset=4 (local.get $at)))))
      (if (i32.eq (i32.load (local.get $at)) (i32.add (local.get $n) (i32.const 1)))
        (then
          (local.set $same (i32.const 1))
          (local.set $i (i32.const 0))
          (block $diff
            (loop $cmp
              (br_if $diff (i32.ge_u (local.get $i) (local.get $n)))
              (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                          (i32.load8_u offset=8 (i32.add (local.get $at) (local.get $i))))
                (then (local.set $same (i32.const 0)) (br $diff)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $cmp)))
          (if (local.get $same) (then (return (i32.load offset=4 (local.get $at)))))))
      (local.set $slot (i32.and (i32.add (local.get $slot) (i32.const 1)) (i32.const 511)))
      (br $probe))
    (i32.const -1))

  ;; NodeProto [$s, $e) → an entry of each node column (NAMES, IN_STARTS, OUT_STARTS, HASHES, LABEL_IDS) and of
  ;; INS / OUTS per edge. 1: read; 0: left to parse.ts; 2: no room. The inputs' (position, length) wait in their INS
  ;; entries and the outputs' in SCRATCH until the node is known to be read, then become arena entries.
  (func $node (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32)
    (local $nameP i32) (local $nameN i32) (local $opP i32) (local $opN i32) (local $domP i32) (local $domN i32)
    (local $nIn i32) (local $nOut i32) (local $bytes i32) (local $at i32) (local $i i32) (local $opId i32) (local $domId i32)
    (local $na i32) (local $abytes i32) (local $nc i32) (local $r i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        ;; An attribute of plain values: its message copied after the kept ones (staged until the node is read), its end
        ;; in ATTR_ENDS. Others, and attributes that do not fit, are left to parse.ts.
        (if (i32.eq (local.get $f) (global.get $N_ATTR))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (if (i32.ge_u (local.get $na) (global.get $arity)) (then (return (i32.const 0))))
            (local.set $n (call $len (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (if (i32.eqz (call $attribute (local.get $p) (i32.add (local.get $p) (local.get $n))))
              (then
                ;; Else a Constant's one `value` tensor (the node is checked to be one when read), as an initializer.
                (if (i32.or (local.get $nc) (i32.eqz (global.get $tensorsLeft))) (then (return (i32.const 0))))
                (local.set $r (call $constValue (local.get $p) (i32.add (local.get $p) (local.get $n))))
                (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
                (local.set $nc (i32.const 1))
                (local.set $p (i32.add (local.get $p) (local.get $n)))
                (br $l)))
            (if (i32.gt_u (i32.add (local.get $abytes) (local.get $n)) (i32.sub (global.get $ATTRS_END) (global.get $ab)))
              (then (return (i32.const 2))))
            (local.set $at (i32.add (global.get $ATTR_ENDS) (i32.shl (i32.add (global.get $attrs) (local.get $na)) (i32.const 2))))
            (if (i32.ge_u (local.get $at) (global.get $ATTR_ENDS_END)) (then (return (i32.const 2))))
            (memory.copy (i32.add (global.get $ab) (local.get $abytes)) (local.get $p) (local.get $n))
            (local.set $abytes (i32.add (local.get $abytes) (local.get $n)))
            (i32.store (local.get $at)
              (i32.add (global.get $attrByteBase) (i32.sub (i32.add (global.get $ab) (local.get $abytes)) (global.get $ATTRS))))
            (local.set $na (i32.add (local.get $na) (i32.const 1)))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (if (i32.and
              (i32.eq (local.get $wt) (i32.const 2))
              (i32.or (i32.or (i32.eq (local.get $f) (global.get $N_IN)) (i32.eq (local.get $f) (global.get $N_OUT)))
                      (i32.or (i32.eq (local.get $f) (global.get $N_NAME))
                              (i32.or (i32.eq (local.get $f) (global.get $N_OP)) (i32.eq (local.get $f) (global.get $N_DOMAIN))))))
          (then
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (call $len (local.get $p) (local.get $e)))
                (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                (local.set $p (global.get $vp))))
            (if (i32.eq (local.get $f) (global.get $N_IN))
              (then
                (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0))))
                (if (i32.ge_u (local.get $nIn) (global.get $arity)) (then (return (i32.const 0))))
                (local.set $at (i32.add (global.get $ip) (i32.mul (local.get $nIn) (i32.const 12))))
                (if (i32.gt_u (i32.add (local.get $at) (i32.const 12)) (global.get $INS_END)) (then (return (i32.const 2))))
                (i32.store offset=4 (local.get $at) (local.get $p))
                (i32.store offset=8 (local.get $at) (local.get $n))
                (local.set $nIn (i32.add (local.get $nIn) (i32.const 1)))
                (local.set $bytes (i32.add (local.get $bytes) (local.get $n))))
              (else (if (i32.eq (local.get $f) (global.get $N_OUT))
              (then
                (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0))))
                (if (i32.ge_u (local.get $nOut) (global.get $arity)) (then (return (i32.const 0))))
                (if (i32.ge_u (local.get $nOut) (global.get $SCRATCH_ENTRIES)) (then (return (i32.const 0))))
                (local.set $at (i32.add (global.get $SCRATCH) (i32.shl (local.get $nOut) (i32.const 3))))
                (i32.store (local.get $at) (local.get $p))
                (i32.store offset=4 (local.get $at) (local.get $n))
                (local.set $nOut (i32.add (local.get $nOut) (i32.const 1)))
                (local.set $bytes (i32.add (local.get $bytes) (local.get $n))))
              (else (if (i32.eq (local.get $f) (global.get $N_NAME))
              (then
                (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0))))
                (local.set $nameP (local.get $p))
                (local.set $nameN (local.get $n)))
              (else
                (if (i32.gt_u (local.get $n) (global.get $labelMax)) (then (return (i32.const 0))))
                (if (i32.eq (local.get $f) (global.get $N_OP))
                  (then (local.set $opP (local.get $p)) (local.set $opN (local.get $n)))
                  (else (local.set $domP (local.get $p)) (local.set $domN (local.get $n))))))))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        ;; The five fields with another wire type are refused by parse.ts.
        (if (i32.or (i32.or (i32.eq (local.get $f) (global.get $N_IN)) (i32.eq (local.get $f) (global.get $N_OUT)))
                    (i32.or (i32.eq (local.get $f) (global.get $N_NAME))
                            (i32.or (i32.eq (local.get $f) (global.get $N_OP)) (i32.eq (local.get $f) (global.get $N_DOMAIN)))))
          (then (return (i32.const 0))))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (if (i32.or
          (i32.gt_u (i32.add (i32.add (local.get $bytes) (local.get $nameN)) (i32.add (local.get $opN) (local.get $domN)))
                    (i32.sub (global.get $ARENA_END) (global.get $ap)))
          (i32.gt_u (i32.mul (local.get $nOut) (i32.const 12)) (i32.sub (global.get $OUTS_END) (global.get $op))))
      (then (return (i32.const 2))))
    ;; A Constant node's attributes make a tensor of it (reader.ts): one with plain attributes (value_float…) is left to
    ;; parse.ts (named Constant, in any domain); a tensor attribute is read only as the one attribute of a Constant node
    ;; of the default domain.
    (local.set $r (i32.and (i32.eq (local.get $opN) (i32.const 8)) (i64.eq (i64.load (local.get $opP)) (i64.const 0x746e6174736e6f43))))
    (if (i32.and (i32.ne (local.get $na) (i32.const 0)) (local.get $r)) (then (return (i32.const 0))))
    (if (i32.and (local.get $nc) (i32.or (i32.or (i32.eqz (local.get $r)) (i32.ne (local.get $na) (i32.const 0))) (i32.ne (local.get $domN) (i32.const 0))))
      (then (return (i32.const 0))))
    ;; A full label table leaves the node to parse.ts.
    (local.set $opId (call $label (local.get $opP) (local.get $opN)))
    (if (i32.lt_s (local.get $opId) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $domId (call $label (local.get $domP) (local.get $domN)))
    (if (i32.lt_s (local.get $domId) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $at (i32.add (global.get $NAMES) (i32.mul (global.get $nodes) (i32.const 12))))
    (call $emit (local.get $at) (local.get $nameP) (local.get $nameN))
    (if (i32.or (i32.eqz (local.get $nameN)) (i32.lt_s (i32.load (local.get $at)) (i32.const 0)))
      (then (global.set $unhashed (i32.add (global.get $unhashed) (i32.const 1)))))
    (local.set $at (i32.shl (global.get $nodes) (i32.const 2)))
    (i32.store (i32.add (global.get $HASHES) (local.get $at)) (call $nameHash (local.get $nameP) (local.get $nameN)))
    (i32.store (i32.add (global.get $IN_STARTS) (local.get $at)) (i32.add (global.get $inBase) (global.get $edgesIn)))
    (i32.store (i32.add (global.get $OUT_STARTS) (local.get $at)) (i32.add (global.get $outBase) (global.get $edgesOut)))
    (local.set $at (i32.add (global.get $LABEL_IDS) (i32.shl (global.get $nodes) (i32.const 3))))
    (i32.store (local.get $at) (local.get $opId))
    (i32.store offset=4 (local.get $at) (local.get $domId))
    (local.set $i (i32.const 0))
    (block $inDone
      (loop $in
        (br_if $inDone (i32.ge_u (local.get $i) (local.get $nIn)))
        (local.set $at (i32.add (global.get $ip) (i32.mul (local.get $i) (i32.const 12))))
        (call $emit (local.get $at) (i32.load offset=4 (local.get $at)) (i32.load offset=8 (local.get $at)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $in)))
    (global.set $ip (i32.add (global.get $ip) (i32.mul (local.get $nIn) (i32.const 12))))
    (global.set $edgesIn (i32.add (global.get $edgesIn) (local.get $nIn)))
    (local.set $i (i32.const 0))
    (block $outDone
      (loop $out
        (br_if $outDone (i32.ge_u (local.get $i) (local.get $nOut)))
        (local.set $k (i32.add (global.get $SCRATCH) (i32.shl (local.get $i) (i32.const 3))))
        (call $emit (i32.add (global.get $op) (i32.mul (local.get $i) (i32.const 12))) (i32.load (local.get $k)) (i32.load offset=4 (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $out)))
    (global.set $op (i32.add (global.get $op) (i32.mul (local.get $nOut) (i32.const 12))))
    (global.set $edgesOut (i32.add (global.get $edgesOut) (local.get $nOut)))
    (if (local.get $na)
      (then
        (local.set $at (i32.add (global.get $ATTR_NODES) (i32.shl (global.get $attrNodes) (i32.const 3))))
        (i32.store (local.get $at) (global.get $nodes))
        (i32.store offset=4 (local.get $at) (i32.add (global.get $attrBase) (global.get $attrs)))
        (global.set $attrNodes (i32.add (global.get $attrNodes) (i32.const 1)))
        (global.set $attrs (i32.add (global.get $attrs) (local.get $na)))
        (global.set $ab (i32.add (global.get $ab) (local.get $abytes)))))
    (if (local.get $nc)
      (then
        (i32.store (i32.add (global.get $CONST_ROWS) (i32.shl (global.get $consts) (i32.const 2))) (global.get $nodes))
        (global.set $consts (i32.add (global.get $consts) (i32.const 1)))
        (global.set $tensors (i32.add (global.get $tensors) (i32.const 1)))
        (global.set $tensorsLeft (i32.sub (global.get $tensorsLeft) (i32.const 1)))))
    (i32.const 1))

  ;; A Constant node's AttributeProto [$s, $e) holding its value as a tensor: the name `value`, a type that is none or
  ;; TENSOR, one t that $tensor reads (its record written, tagged 3), other fields skipped. 1: read; 0: left to
  ;; parse.ts (anything else: another field, a second t, a tensor $tensor does not read); 2: no room.
  (func $constValue (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32) (local $v i32) (local $rec i32)
    (local $named i32) (local $held i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (call $key (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
        (local.set $p (global.get $vp))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.or (i32.eq (local.get $f) (global.get $A_NAME)) (i32.eq (local.get $f) (global.get $A_T)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (call $len (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (if (i32.eq (local.get $f) (global.get $A_NAME))
              (then
                ;; "value" (bytes 76 61 6c 75 65)
                (if (i32.or (i32.ne (local.get $n) (i32.const 5))
                            (i32.or (i32.ne (i32.load (local.get $p)) (i32.const 0x756c6176)) (i32.ne (i32.load8_u offset=4 (local.get $p)) (i32.const 0x65))))
                  (then (return (i32.const 0))))
                (local.set $named (i32.const 1)))
              (else
                (if (local.get $held) (then (return (i32.const 0))))
                (local.set $rec (global.get $o))
                (local.set $v (call $tensor (local.get $p) (i32.add (local.get $p) (local.get $n))))
                (if (i32.ne (local.get $v) (i32.const 1)) (then (return (local.get $v))))
                (i32.store (local.get $rec) (i32.const 3))
                (local.set $held (i32.const 1))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_TYPE))
          (then
            (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $v (call $small (local.get $p) (local.get $e)))
            (if (i32.and (i32.ne (local.get $v) (i32.const 0)) (i32.ne (local.get $v) (global.get $TENSOR_TYPE))) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (br $l)))
        (if (i32.or (i32.or (i32.or (i32.eq (local.get $f) (global.get $A_F)) (i32.eq (local.get $f) (global.get $A_I)))
                            (i32.or (i32.eq (local.get $f) (global.get $A_S)) (i32.eq (local.get $f) (global.get $A_G))))
                    (i32.or (i32.or (i32.eq (local.get $f) (global.get $A_FLOATS)) (i32.eq (local.get $f) (global.get $A_INTS)))
                            (i32.or (i32.or (i32.eq (local.get $f) (global.get $A_STRINGS)) (i32.eq (local.get $f) (global.get $A_TENSORS)))
                                    (i32.or (i32.eq (local.get $f) (global.get $A_GRAPHS))
                                            (i32.or (i32.eq (local.get $f) (global.get $A_SPARSE)) (i32.eq (local.get $f) (global.get $A_REF)))))))
          (then (return (i32.const 0))))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.and (local.get $named) (local.get $held)))

  ;; AttributeProto [$s, $e): 1 when it holds only fields parse.ts reads into a plain value — name (a short one), type
  ;; (a plain enum value), f, i, s and strings (within maxStringBytes), floats and ints (packed or not), at most
  ;; maxArrayLength values per list; other fields skipped — each passing parse.ts's checks. 0 for a tensor, graph,
  ;; sparse tensor or reference (reader.ts reads and registers those) and for anything parse.ts might refuse.
  (func $attribute (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32) (local $stop i32)
    (local $floats i32) (local $ints i32) (local $strings i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (call $key (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
        (local.set $p (global.get $vp))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.eq (local.get $f) (global.get $A_NAME))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (call $len (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
            (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0))))
            (local.set $p (i32.add (global.get $vp) (local.get $n)))
            (br $l)))
        (if (i32.or (i32.eq (local.get $f) (global.get $A_S)) (i32.eq (local.get $f) (global.get $A_STRINGS)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (if (i32.eq (local.get $f) (global.get $A_STRINGS))
              (then
                (if (i32.ge_u (local.get $strings) (global.get $arrMax)) (then (return (i32.const 0))))
                (local.set $strings (i32.add (local.get $strings) (i32.const 1)))))
            (local.set $n (call $len (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
            (if (i32.gt_u (local.get $n) (global.get $strMax)) (then (return (i32.const 0))))
            (local.set $p (i32.add (global.get $vp) (local.get $n)))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_TYPE))
          (then
            (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
            (if (i32.lt_s (call $small (local.get $p) (local.get $e)) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_I))
          (then
            (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
            (drop (call $varint (local.get $p) (local.get $e)))
            (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_F))
          (then
            (if (i32.ne (local.get $wt) (i32.const 5)) (then (return (i32.const 0))))
            (if (i32.lt_s (i32.sub (local.get $e) (local.get $p)) (i32.const 4)) (then (return (i32.const 0))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_FLOATS))
          (then
            (if (i32.eq (local.get $wt) (i32.const 5))
              (then
                (if (i32.lt_s (i32.sub (local.get $e) (local.get $p)) (i32.const 4)) (then (return (i32.const 0))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (local.set $floats (i32.add (local.get $floats) (i32.const 1))))
              (else
                (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
                (local.set $n (call $len (local.get $p) (local.get $e)))
                (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                (if (i32.and (local.get $n) (i32.const 3)) (then (return (i32.const 0))))
                (local.set $floats (i32.add (local.get $floats) (i32.shr_u (local.get $n) (i32.const 2))))
                (local.set $p (i32.add (global.get $vp) (local.get $n)))))
            (if (i32.gt_u (local.get $floats) (global.get $arrMax)) (then (return (i32.const 0))))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $A_INTS))
          (then
            (if (i32.eqz (local.get $wt))
              (then
                (drop (call $varint (local.get $p) (local.get $e)))
                (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const 0))))
                (local.set $p (global.get $vp))
                (local.set $ints (i32.add (local.get $ints) (i32.const 1))))
              (else
                (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
                (local.set $n (call $len (local.get $p) (local.get $e)))
                (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                (local.set $p (global.get $vp))
                (local.set $stop (i32.add (local.get $p) (local.get $n)))
                ;; Every packed value a varint of at most 10 bytes ending inside the field (parse.ts checks the first 64 so).
                (block $packed
                  (loop $v
                    (br_if $packed (i32.ge_u (local.get $p) (local.get $stop)))
                    (drop (call $varint (local.get $p) (local.get $stop)))
                    (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))
                    (local.set $ints (i32.add (local.get $ints) (i32.const 1)))
                    (br $v)))))
            (if (i32.gt_u (local.get $ints) (global.get $arrMax)) (then (return (i32.const 0))))
            (br $l)))
        (if (i32.or (i32.or (i32.or (i32.eq (local.get $f) (global.get $A_T)) (i32.eq (local.get $f) (global.get $A_G)))
                            (i32.or (i32.eq (local.get $f) (global.get $A_SPARSE)) (i32.eq (local.get $f) (global.get $A_TENSORS))))
                    (i32.or (i32.eq (local.get $f) (global.get $A_GRAPHS)) (i32.eq (local.get $f) (global.get $A_REF))))
          (then (return (i32.const 0))))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.const 1))

  ;; One dims value at $p for the tensor record at $rec (its dims start at word 10): 0 when not a plain size
  ;; (at most 2^31 − 1) or past maxRank.
  (func $dim (param $rec i32) (param $p i32) (param $e i32) (result i32)
    (local $v i32) (local $nd i32)
    (local.set $v (call $small (local.get $p) (local.get $e)))
    (if (i32.lt_s (local.get $v) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $nd (i32.load offset=36 (local.get $rec)))
    (if (i32.ge_u (local.get $nd) (global.get $rankMax)) (then (return (i32.const 0))))
    (i32.store offset=40 (i32.add (local.get $rec) (i32.shl (local.get $nd) (i32.const 2))) (local.get $v))
    (i32.store offset=36 (local.get $rec) (i32.add (local.get $nd) (i32.const 1)))
    (i32.const 1))

  ;; TensorProto [$s, $e) → record [2, message offset, name (text, start, end), data_type, data_location, raw_data
  ;; offset (-1: none), raw_data length, dims count, each dim]. 1: read; 0: left to parse.ts; 2: no room.
  (func $tensor (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32) (local $v i32) (local $stop i32)
    (local $rec i32) (local $nameP i32) (local $nameN i32)
    (if (i32.eqz (call $room (i32.add (i32.const 10) (global.get $rankMax)) (global.get $nameMax)))
      (then (return (i32.const 2))))
    (local.set $rec (global.get $o))
    (i32.store (local.get $rec) (i32.const 2))
    (i32.store offset=4 (local.get $rec) (local.get $s))
    (i64.store offset=20 (local.get $rec) (i64.const 0))
    (i32.store offset=28 (local.get $rec) (i32.const -1))
    (i64.store offset=32 (local.get $rec) (i64.const 0))
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.eq (local.get $f) (global.get $T_DIMS))
          (then
            (if (i32.eqz (local.get $wt))
              (then
                (if (i32.eqz (call $dim (local.get $rec) (local.get $p) (local.get $e))) (then (return (i32.const 0))))
                (local.set $p (global.get $vp))
                (br $l)))
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (i32.load8_u (local.get $p)))
                (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
                  (else
                    (local.set $n (call $len (local.get $p) (local.get $e)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))))))
            (local.set $stop (i32.add (local.get $p) (local.get $n)))
            (block $packed
              (loop $d
                (br_if $packed (i32.ge_u (local.get $p) (local.get $stop)))
                (if (i32.eqz (call $dim (local.get $rec) (local.get $p) (local.get $stop))) (then (return (i32.const 0))))
                (local.set $p (global.get $vp))
                (br $d)))
            (br $l)))
        (if (i32.or (i32.eq (local.get $f) (global.get $T_TYPE)) (i32.eq (local.get $f) (global.get $T_LOC)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $v (call $small (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $v) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (if (i32.eq (local.get $f) (global.get $T_TYPE))
              (then (i32.store offset=20 (local.get $rec) (local.get $v)))
              (else (i32.store offset=24 (local.get $rec) (local.get $v))))
            (br $l)))
        (if (i32.or (i32.eq (local.get $f) (global.get $T_NAME)) (i32.eq (local.get $f) (global.get $T_RAW)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (i32.load8_u (local.get $p)))
                (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
                  (else
                    (local.set $n (call $len (local.get $p) (local.get $e)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))))))
            (if (i32.eq (local.get $f) (global.get $T_NAME))
              (then
                (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0))))
                (local.set $nameP (local.get $p))
                (local.set $nameN (local.get $n)))
              (else
                ;; A second raw_data stretch (two chunks) is left to parse.ts.
                (if (i32.ge_s (i32.load offset=28 (local.get $rec)) (i32.const 0)) (then (return (i32.const 0))))
                (i32.store offset=28 (local.get $rec) (local.get $p))
                (i32.store offset=32 (local.get $rec) (local.get $n))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (if (i32.or
              (i32.or (i32.or (i32.eq (local.get $f) (global.get $T_SEGMENT)) (i32.eq (local.get $f) (global.get $T_EXTERNAL)))
                      (i32.or (i32.eq (local.get $f) (global.get $T_FLOAT)) (i32.eq (local.get $f) (global.get $T_INT32))))
              (i32.or (i32.or (i32.eq (local.get $f) (global.get $T_STRING)) (i32.eq (local.get $f) (global.get $T_INT64)))
                      (i32.or (i32.eq (local.get $f) (global.get $T_DOUBLE)) (i32.eq (local.get $f) (global.get $T_UINT64)))))
          (then (return (i32.const 0))))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (call $emit (i32.add (local.get $rec) (i32.const 8)) (local.get $nameP) (local.get $nameN))
    (global.set $o (i32.add (i32.add (local.get $rec) (i32.const 40)) (i32.shl (i32.load offset=36 (local.get $rec)) (i32.const 2))))
    (i32.const 1))

;; The length of the name a ValueInfoProto [$s, $e) begins with when it is short and plain — the key of name
  ;; (length-delimited), a one-byte length within nameMax, inside the message — so its check passes; else -1.
  (func $simpleName (param $s i32) (param $e i32) (result i32)
    (local $n i32)
    (if (i32.lt_s (i32.sub (local.get $e) (local.get $s)) (i32.const 2)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load8_u (local.get $s)) (i32.or (i32.shl (global.get $V_NAME) (i32.const 3)) (i32.const 2)))
      (then (return (i32.const -1))))
    (local.set $n (i32.load8_u offset=1 (local.get $s)))
    (if (i32.or (i32.gt_u (local.get $n) (global.get $nameMax))
                (i32.gt_s (i32.add (i32.add (local.get $s) (i32.const 2)) (local.get $n)) (local.get $e)))
      (then (return (i32.const -1))))
    (local.get $n))

  ;; 1 when the ValueInfoProto [$s, $e) is a short plain name followed by the bytes in CHECKED: its checks walk the
  ;; same bytes against the same end after a name that passes, so they pass ($valueInfo is not run again). A graph's
  ;; value_info entries mostly differ only in their names (`t123: float [batch, 8]`).
  (func $checkedBefore (param $s i32) (param $e i32) (result i32)
    (local $n i32) (local $from i32) (local $i i32)
    (if (i32.lt_s (global.get $checkedLen) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $n (call $simpleName (local.get $s) (local.get $e)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $from (i32.add (i32.add (local.get $s) (i32.const 2)) (local.get $n)))
    (if (i32.ne (i32.sub (local.get $e) (local.get $from)) (global.get $checkedLen)) (then (return (i32.const 0))))
    (block $words
      (loop $w
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (global.get $checkedLen)))
        (if (i64.ne (i64.load (i32.add (local.get $from) (local.get $i))) (i64.load (i32.add (global.get $CHECKED) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $w)))
    (block $done
      (loop $b
        (br_if $done (i32.ge_u (local.get $i) (global.get $checkedLen)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $from) (local.get $i))) (i32.load8_u (i32.add (global.get $CHECKED) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $b)))
    (i32.const 1))

  ;; After the ValueInfoProto [$s, $e) (at most 256 bytes) passed its checks: keeps the bytes after its name in
  ;; CHECKED for $checkedBefore (when it begins with a short plain name).
  (func $rememberChecked (param $s i32) (param $e i32)
    (local $n i32) (local $from i32)
    (local.set $n (call $simpleName (local.get $s) (local.get $e)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return)))
    (local.set $from (i32.add (i32.add (local.get $s) (i32.const 2)) (local.get $n)))
    (global.set $checkedLen (i32.sub (local.get $e) (local.get $from)))
    (memory.copy (global.get $CHECKED) (local.get $from) (global.get $checkedLen)))

  ;; The checks parse.ts runs on a deferred ValueInfoProto [$s, $e) (valueInfoBuffered without keep): 1 when they
  ;; pass with nothing charged, 0 otherwise (parse.ts then checks it itself).
  (func $valueInfo (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.or (i32.eq (local.get $f) (global.get $V_NAME)) (i32.eq (local.get $f) (global.get $V_TYPE)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (i32.load8_u (local.get $p)))
                (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
                  (else
                    (local.set $n (call $len (local.get $p) (local.get $e)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))))))
            (if (i32.eq (local.get $f) (global.get $V_NAME))
              (then (if (i32.gt_u (local.get $n) (global.get $nameMax)) (then (return (i32.const 0)))))
              (else (if (i32.eqz (call $typeProto (local.get $p) (i32.add (local.get $p) (local.get $n)))) (then (return (i32.const 0))))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.const 1))

  ;; TypeProto: tensor_type and sparse_tensor_type are walked, other fields skipped.
  (func $typeProto (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.or (i32.eq (local.get $f) (global.get $TY_TENSOR)) (i32.eq (local.get $f) (global.get $TY_SPARSE)))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (i32.load8_u (local.get $p)))
                (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
                  (else
                    (local.set $n (call $len (local.get $p) (local.get $e)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))))))
            (if (i32.eqz (call $tensorType (local.get $p) (i32.add (local.get $p) (local.get $n)))) (then (return (i32.const 0))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.const 1))

  ;; TypeProto.Tensor: elem_type a plain enum value, shape walked.
  (func $tensorType (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.eq (local.get $f) (global.get $TT_ELEM))
          (then
            (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
            (if (i32.lt_s (call $small (local.get $p) (local.get $e)) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $TT_SHAPE))
          (then
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (i32.load8_u (local.get $p)))
            (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
              (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
              (else
                (local.set $n (i32.load8_u (local.get $p)))
                (if (i32.and (i32.lt_u (local.get $n) (i32.const 0x80)) (i32.lt_s (local.get $n) (i32.sub (local.get $e) (local.get $p))))
                  (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
                  (else
                    (local.set $n (call $len (local.get $p) (local.get $e)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $p (global.get $vp))))))
            (if (i32.eqz (call $shape (local.get $p) (i32.add (local.get $p) (local.get $n)))) (then (return (i32.const 0))))
            (local.set $p (i32.add (local.get $p) (local.get $n)))
            (br $l)))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.const 1))

  ;; TensorShapeProto: at most maxRank dims, each dim_value a varint, dim_param a string within maxStringBytes.
  (func $shape (param $s i32) (param $e i32) (result i32)
    (local $p i32) (local $k i32) (local $f i32) (local $wt i32) (local $n i32) (local $rank i32)
    (local $q i32) (local $dEnd i32)
    (local.set $p (local.get $s))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $k (i32.load8_u (local.get $p)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $p (global.get $vp))))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $wt (i32.and (local.get $k) (i32.const 7)))
        (if (i32.eq (local.get $f) (global.get $SH_DIM))
          (then
            (if (i32.ge_u (local.get $rank) (global.get $rankMax)) (then (return (i32.const 0))))
            (local.set $rank (i32.add (local.get $rank) (i32.const 1)))
            (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
            (local.set $n (call $len (local.get $p) (local.get $e)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $q (global.get $vp))
            (local.set $dEnd (i32.add (local.get $q) (local.get $n)))
            ;; Dimension: dim_value a varint, dim_param a string within maxStringBytes, others skipped.
            (block $dimDone
              (loop $d
                (br_if $dimDone (i32.ge_u (local.get $q) (local.get $dEnd)))
                (local.set $k (i32.load8_u (local.get $q)))
        (if (i32.and (i32.lt_u (i32.sub (local.get $k) (i32.const 8)) (i32.const 0x78))
                     (i32.and (i32.shr_u (i32.const 0x27) (i32.and (local.get $k) (i32.const 7))) (i32.const 1)))
          (then (local.set $q (i32.add (local.get $q) (i32.const 1))))
          (else
            (local.set $k (call $key (local.get $q) (local.get $dEnd)))
            (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (i32.const 0))))
            (local.set $q (global.get $vp))))
                (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
                (local.set $wt (i32.and (local.get $k) (i32.const 7)))
                (if (i32.eq (local.get $f) (global.get $DM_VALUE))
                  (then
                    (if (i32.ne (local.get $wt) (i32.const 0)) (then (return (i32.const 0))))
                    (drop (call $varint (local.get $q) (local.get $dEnd)))
                    (if (i32.lt_s (global.get $vp) (i32.const 0)) (then (return (i32.const 0))))
                    (local.set $q (global.get $vp))
                    (br $d)))
                (if (i32.eq (local.get $f) (global.get $DM_PARAM))
                  (then
                    (if (i32.ne (local.get $wt) (i32.const 2)) (then (return (i32.const 0))))
                    (local.set $n (call $len (local.get $q) (local.get $dEnd)))
                    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
                    (if (i32.gt_u (local.get $n) (global.get $strMax)) (then (return (i32.const 0))))
                    (local.set $q (i32.add (global.get $vp) (local.get $n)))
                    (br $d)))
                (local.set $q (call $skip (local.get $wt) (local.get $q) (local.get $dEnd)))
                (if (i32.lt_s (local.get $q) (i32.const 0)) (then (return (i32.const 0))))
                (br $d)))
            (local.set $p (local.get $dEnd))
            (br $l)))
        (local.set $p (call $skip (local.get $wt) (local.get $p) (local.get $e)))
        (if (i32.lt_s (local.get $p) (i32.const 0)) (then (return (i32.const 0))))
        (br $l)))
    (i32.const 1))

  ;; Walks graph fields from $p (an address in IN) up to $limit, reading at most $nodesLeft nodes, $tensorsLeft
  ;; initializers and $valuesLeft value_info entries; returns the address of the first field not read. Tensor
  ;; records start at OUT; nodes fill the node columns, their names and edges cut from text $text; edge starts count
  ;; on from $inBase and $outBase; value_info messages are copied to VALUES, their ends (from $valueBase on) to
  ;; VALUE_ENDS; plain attributes to ATTRS, their ends (from $attrByteBase on) to ATTR_ENDS, their nodes' first
  ;; attributes (from $attrBase on) to ATTR_NODES.
  (func (export "scan") (param $p i32) (param $limit i32) (param $nodesLeft i32) (param $tensorsLeft i32) (param $valuesLeft i32)
      (param $text i32) (param $inBase i32) (param $outBase i32) (param $valueBase i32) (param $attrBase i32) (param $attrByteBase i32) (result i32)
    (local $k i32) (local $f i32) (local $n i32) (local $q i32) (local $e i32) (local $r i32) (local $o0 i32) (local $ap0 i32) (local $na0 i32)
    (global.set $o (global.get $OUT))
    (global.set $ap (global.get $ARENA))
    (global.set $text (local.get $text))
    (global.set $inBase (local.get $inBase))
    (global.set $outBase (local.get $outBase))
    (global.set $valueBase (local.get $valueBase))
    (global.set $attrBase (local.get $attrBase))
    (global.set $attrByteBase (local.get $attrByteBase))
    (global.set $ab (global.get $ATTRS))
    (global.set $attrs (i32.const 0))
    (global.set $attrNodes (i32.const 0))
    (global.set $consts (i32.const 0))
    (global.set $tensorsLeft (local.get $tensorsLeft))
    (global.set $vb (global.get $VALUES))
    (global.set $ip (global.get $INS))
    (global.set $op (global.get $OUTS))
    (global.set $edgesIn (i32.const 0))
    (global.set $edgesOut (i32.const 0))
    (global.set $unhashed (i32.const 0))
    (global.set $nonAscii (i32.const 0))
    ;; At most 1,023 nodes (the node columns' room; parse.ts stops there anyway).
    (if (i32.gt_u (local.get $nodesLeft) (i32.const 1023)) (then (local.set $nodesLeft (i32.const 1023))))
    (global.set $nodes (i32.const 0))
    (global.set $tensors (i32.const 0))
    (global.set $values (i32.const 0))
    (global.set $full (i32.const 0))
    (block $stop
      (loop $l
        (br_if $stop (i32.ge_u (local.get $p) (local.get $limit)))
        (local.set $k (call $key (local.get $p) (local.get $limit)))
        (br_if $stop (i32.lt_s (local.get $k) (i32.const 0)))
        (br_if $stop (i32.ne (i32.and (local.get $k) (i32.const 7)) (i32.const 2)))
        (local.set $f (i32.shr_u (local.get $k) (i32.const 3)))
        (local.set $n (call $len (global.get $vp) (local.get $limit)))
        (br_if $stop (i32.lt_s (local.get $n) (i32.const 0)))
        (local.set $q (global.get $vp))
        (local.set $e (i32.add (local.get $q) (local.get $n)))
        (if (i32.eq (local.get $f) (global.get $G_NODE))
          (then
            (br_if $stop (i32.eqz (local.get $nodesLeft)))
            ;; A node not read leaves no tensor record or name bytes (a Constant's tensor is read before its node is done).
            (local.set $o0 (global.get $o))
            (local.set $ap0 (global.get $ap))
            (local.set $na0 (global.get $nonAscii))
            (local.set $r (call $node (local.get $q) (local.get $e)))
            (if (i32.ne (local.get $r) (i32.const 1))
              (then (global.set $o (local.get $o0)) (global.set $ap (local.get $ap0)) (global.set $nonAscii (local.get $na0))))
            (br_if $stop (i32.eqz (local.get $r)))
            (if (i32.eq (local.get $r) (i32.const 2)) (then (global.set $full (i32.const 1)) (br $stop)))
            (local.set $nodesLeft (i32.sub (local.get $nodesLeft) (i32.const 1)))
            (global.set $nodes (i32.add (global.get $nodes) (i32.const 1)))
            (local.set $p (local.get $e))
            (br $l)))
        (if (i32.eq (local.get $f) (global.get $G_INIT))
          (then
            (br_if $stop (i32.eqz (global.get $tensorsLeft)))
            (local.set $r (call $tensor (local.get $q) (local.get $e)))
            (br_if $stop (i32.eqz (local.get $r)))
            (if (i32.eq (local.get $r) (i32.const 2)) (then (global.set $full (i32.const 1)) (br $stop)))
            (global.set $tensorsLeft (i32.sub (global.get $tensorsLeft) (i32.const 1)))
            (global.set $tensors (i32.add (global.get $tensors) (i32.const 1)))
            (local.set $p (local.get $e))
            (br $l)))
        (if (i32.and (i32.eq (local.get $f) (global.get $G_VI)) (i32.le_u (local.get $n) (i32.const 256)))
          (then
            (br_if $stop (i32.eqz (local.get $valuesLeft)))
            (if (i32.eqz (call $checkedBefore (local.get $q) (local.get $e)))
              (then
                (br_if $stop (i32.eqz (call $valueInfo (local.get $q) (local.get $e))))
                (call $rememberChecked (local.get $q) (local.get $e))))
            (if (i32.or (i32.gt_u (local.get $n) (i32.sub (global.get $VALUES_END) (global.get $vb)))
                        (i32.ge_u (i32.shl (global.get $values) (i32.const 2)) (i32.sub (global.get $VALUE_ENDS_END) (global.get $VALUE_ENDS))))
              (then (global.set $full (i32.const 1)) (br $stop)))
            (memory.copy (global.get $vb) (local.get $q) (local.get $n))
            (global.set $vb (i32.add (global.get $vb) (local.get $n)))
            (i32.store (i32.add (global.get $VALUE_ENDS) (i32.shl (global.get $values) (i32.const 2)))
                       (i32.add (global.get $valueBase) (i32.sub (global.get $vb) (global.get $VALUES))))
            (local.set $valuesLeft (i32.sub (local.get $valuesLeft) (i32.const 1)))
            (global.set $values (i32.add (global.get $values) (i32.const 1)))
            (local.set $p (local.get $e))
            (br $l)))))
    (global.set $outUsed (i32.sub (global.get $o) (global.get $OUT)))
    (global.set $arenaUsed (i32.sub (global.get $ap) (global.get $ARENA)))
    (global.set $valueBytes (i32.sub (global.get $vb) (global.get $VALUES)))
    (global.set $attrBytes (i32.sub (global.get $ab) (global.get $ATTRS)))
    (local.get $p))
)
