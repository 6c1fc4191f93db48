;; WebAssembly SIMD kernels of static sensitivity (errorKernels.ts). Compiled by `npm run build:kernels`
;; (scripts/buildKernels.mjs, wabt) into gen/errorKernelsWasm.ts; the JS fallbacks in errorKernels.ts compute the
;; same arithmetic (float64, round half to even) and unit tests compare the two.
;;
;; Memory is owned by the caller: it places inputs, outputs, histograms and accumulators and grows the memory.
;; Accumulator block (float64 × 5 at $acc): signal Σx², noise Σd², max |d|, finite count, overflow count.
(module
  (memory (export "memory") 1)

  ;; FP16 bits (u16 × n at $src) → float32 (at $dst). Exact, incl. subnormals, ±Inf and NaN (payload kept).
  ;; (h & 0x7fff) << 13 read as float32 is |h| × 2^-112 for normal and subnormal halves; × 2^112 restores it.
  (func (export "decodeF16") (param $src i32) (param $n i32) (param $dst i32)
    (local $i i32) (local $v v128) (local $k i32) (local $h i32) (local $w v128) (local $em v128) (local $bits v128) (local $f v128)
    (local $c7fff v128) (local $c8000 v128) (local $cInf v128) (local $cExp v128) (local $cMul v128)
    (local.set $c7fff (i32x4.splat (i32.const 0x7fff)))
    (local.set $c8000 (i32x4.splat (i32.const 0x8000)))
    (local.set $cInf (i32x4.splat (i32.const 0x7c00)))
    (local.set $cExp (i32x4.splat (i32.const 0x7f800000)))
    (local.set $cMul (f32x4.splat (f32.const 0x1p112)))
    ;; Blocks without ±Inf/NaN codes (the usual case) skip the Inf/NaN fix-up: one cheap max over the codes first.
    (local.set $w (v128.const i64x2 0 0))
    (block $chkDone
      (loop $chk
        (br_if $chkDone (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $w (i16x8.max_u (local.get $w) (v128.and (v128.load align=2 (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))) (i16x8.splat (i32.const 0x7fff)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $chk)))
    (local.set $k (i32.eqz (i16x8.bitmask (i16x8.eq (local.get $w) (i16x8.max_u (local.get $w) (i16x8.splat (i32.const 0x7c00)))))))
    (local.set $i (i32.const 0))
    (if (local.get $k)
      (then
        (block $fastDone
          (loop $fast
            (br_if $fastDone (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
            (local.set $v (v128.load align=2 (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
            (local.set $w (i32x4.extend_low_i16x8_u (local.get $v)))
            (v128.store align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
              (v128.or
                (f32x4.mul (i32x4.shl (v128.and (local.get $w) (local.get $c7fff)) (i32.const 13)) (local.get $cMul))
                (i32x4.shl (v128.and (local.get $w) (local.get $c8000)) (i32.const 16))))
            (local.set $w (i32x4.extend_high_i16x8_u (local.get $v)))
            (v128.store offset=16 align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
              (v128.or
                (f32x4.mul (i32x4.shl (v128.and (local.get $w) (local.get $c7fff)) (i32.const 13)) (local.get $cMul))
                (i32x4.shl (v128.and (local.get $w) (local.get $c8000)) (i32.const 16))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $fast)))))
    (block $done
      (loop $vec
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $v (v128.load align=2 (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
        (local.set $w (i32x4.extend_low_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $w) (local.get $c7fff)))
        (local.set $bits (i32x4.shl (local.get $em) (i32.const 13)))
        (local.set $f (v128.or
          (v128.bitselect
            (v128.or (local.get $bits) (local.get $cExp))
            (f32x4.mul (local.get $bits) (local.get $cMul))
            (i32x4.ge_u (local.get $em) (local.get $cInf)))
          (i32x4.shl (v128.and (local.get $w) (local.get $c8000)) (i32.const 16))))
        (v128.store align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (local.get $f))
        (local.set $w (i32x4.extend_high_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $w) (local.get $c7fff)))
        (local.set $bits (i32x4.shl (local.get $em) (i32.const 13)))
        (local.set $f (v128.or
          (v128.bitselect
            (v128.or (local.get $bits) (local.get $cExp))
            (f32x4.mul (local.get $bits) (local.get $cMul))
            (i32x4.ge_u (local.get $em) (local.get $cInf)))
          (i32x4.shl (v128.and (local.get $w) (local.get $c8000)) (i32.const 16))))
        (v128.store offset=16 align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2))) (local.get $f))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $vec)))
    (block $end
      (loop $tail
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
        (local.set $k (i32.and (local.get $h) (i32.const 0x7fff)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (f32.reinterpret_i32 (i32.or
            (i32.shl (i32.and (local.get $h) (i32.const 0x8000)) (i32.const 16))
            (if (result i32) (i32.ge_u (local.get $k) (i32.const 0x7c00))
              (then (i32.or (i32.shl (local.get $k) (i32.const 13)) (i32.const 0x7f800000)))
              (else (i32.reinterpret_f32 (f32.mul (f32.reinterpret_i32 (i32.shl (local.get $k) (i32.const 13))) (f32.const 0x1p112))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; BF16 bits (u16 × n at $src) → float32 (at $dst): the bits are the top half of a float32.
  (func (export "decodeBf16") (param $src i32) (param $n i32) (param $dst i32)
    (local $i i32) (local $v v128)
    (block $done
      (loop $vec
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $v (v128.load align=2 (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))))
        (v128.store align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (i32x4.shl (i32x4.extend_low_i16x8_u (local.get $v)) (i32.const 16)))
        (v128.store offset=16 align=4 (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (i32x4.shl (i32x4.extend_high_i16x8_u (local.get $v)) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $vec)))
    (block $end
      (loop $tail
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (i32.shl (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Counts the u16 codes at $src into two u32[65536] histograms at $hist and $hist + 256 KiB (alternating, so
  ;; runs of equal codes do not serialize on one counter); the caller adds the two.
  (func (export "histogram16") (param $src i32) (param $n i32) (param $hist i32)
    (local $p i32) (local $end i32) (local $a i32) (local $b i32)
    (local.set $p (local.get $src))
    (local.set $end (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -2)) (i32.const 1))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32.add (local.get $hist) (i32.shl (i32.load16_u (local.get $p)) (i32.const 2))))
        (local.set $b (i32.add (local.get $hist) (i32.add (i32.const 262144) (i32.shl (i32.load16_u offset=2 (local.get $p)) (i32.const 2)))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
        (i32.store (local.get $b) (i32.add (i32.load (local.get $b)) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $l)))
    (if (i32.and (local.get $n) (i32.const 1))
      (then
        (local.set $a (i32.add (local.get $hist) (i32.shl (i32.load16_u (local.get $p)) (i32.const 2))))
        (i32.store (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1))))))

  ;; Rounds a non-negative finite float64 like errorKernels.ts toHalf: first to float32, then to FP16 (round half
  ;; to even, subnormal step 2^-24, ≥ 65520 → +Inf).
  (func $toHalf (param $v f64) (result f64)
    (local $b i32)
    (local.set $b (i32.and (i32.reinterpret_f32 (f32.demote_f64 (local.get $v))) (i32.const 0x7fffffff)))
    (if (i32.ge_u (local.get $b) (i32.const 0x477ff000)) (then (return (f64.const inf))))
    (if (i32.lt_u (local.get $b) (i32.const 0x38800000))
      (then (return (f64.div (f64.nearest (f64.mul (f64.promote_f32 (f32.reinterpret_i32 (local.get $b))) (f64.const 16777216))) (f64.const 16777216)))))
    (f64.promote_f32 (f32.reinterpret_i32 (i32.and
      (i32.add (local.get $b) (i32.add (i32.const 0xfff) (i32.and (i32.shr_u (local.get $b) (i32.const 13)) (i32.const 1))))
      (i32.const 0xffffe000)))))

;; Symmetric integer quantization error of $n float32 values at $x laid out in rows of $rowLen, in groups of
  ;; $group along each row (a row's last group may be shorter). Per group: amax = max |x| ($mode 0), the constant
  ;; $amaxConst ($mode 1), or float32 $amaxPtr[row] ($mode 2); scale = fp16(amax/qmax) when $fp16Scale, else
  ;; float32(amax/qmax); 0 when amax is 0 or not finite (error = x). A scale that overflows FP16 counts the group's
  ;; elements as overflowed (error = x). q = clamp(RNE(x / scale), qmin, qmax) with x / scale computed as
  ;; x × (1 / scale) in float64. Non-finite x are skipped. Adds Σd² to $acc[0], max |d| to $acc[1] (max; tracked
  ;; as max d², whose square root is exactly max |d| since d ≠ 0 is ≥ 2^-149 and squares stay normal),
  ;; overflowed elements to $acc[2] (float64). Σx² and the count come from the statistics pass.
  ;; Fast path (mode 0, all values of the group finite, |x|/scale provably inside [qmin − ½, qmax + ½)): no
  ;; finiteness mask and no clamp; otherwise the masked, clamped loop.
  (func $intError (export "intError") (param $x i32) (param $n i32) (param $rowLen i32) (param $group i32)
    (param $qmax f64) (param $qmin f64) (param $fp16Scale i32) (param $mode i32) (param $amaxConst f64) (param $amaxPtr i32) (param $acc i32)
    (local $row i32) (local $rowEnd i32) (local $s i32) (local $e i32) (local $i i32) (local $rowIndex i32)
    (local $amaxV v128) (local $nanV v128) (local $amax f64) (local $sc f64) (local $iv f64) (local $a f64) (local $safe i32)
    (local $v v128) (local $h v128) (local $fin v128) (local $q v128) (local $d v128)
    (local $noise v128) (local $mx v128) (local $cnt v128) (local $zero v128)
    (local $ivV v128) (local $scV v128) (local $qmaxV v128) (local $qminV v128)
    (local $xs f64) (local $qs f64) (local $ds f64)
    (local $snoise f64) (local $smx f64) (local $ovf f64) (local $ovfGroup i32) (local $gcnt f64) (local $k i32)
    (local.set $qmaxV (f64x2.splat (local.get $qmax)))
    (local.set $qminV (f64x2.splat (local.get $qmin)))
    (local.set $zero (v128.const i64x2 0 0))
    (local.set $row (i32.const 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $n)))
        (local.set $rowEnd (i32.add (local.get $row) (local.get $rowLen)))
        (if (i32.gt_u (local.get $rowEnd) (local.get $n)) (then (local.set $rowEnd (local.get $n))))
        (local.set $s (local.get $row))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $s) (local.get $rowEnd)))
            (local.set $e (i32.add (local.get $s) (local.get $group)))
            (if (i32.gt_u (local.get $e) (local.get $rowEnd)) (then (local.set $e (local.get $rowEnd))))
            ;; amax (mode 0) and whether the group holds a NaN
            (local.set $safe (i32.const 0))
            (if (i32.eqz (local.get $mode))
              (then
                (local.set $amaxV (local.get $zero))
                (local.set $nanV (local.get $zero))
                (local.set $i (local.get $s))
                (block $aDone
                  (loop $aLoop
                    (br_if $aDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                    (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                    (local.set $amaxV (f32x4.pmax (local.get $amaxV) (f32x4.abs (local.get $v))))
                    (local.set $nanV (v128.or (local.get $nanV) (f32x4.ne (local.get $v) (local.get $v))))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (br $aLoop)))
                (local.set $amax (f64.promote_f32 (f32.max
                  (f32.max (f32x4.extract_lane 0 (local.get $amaxV)) (f32x4.extract_lane 1 (local.get $amaxV)))
                  (f32.max (f32x4.extract_lane 2 (local.get $amaxV)) (f32x4.extract_lane 3 (local.get $amaxV))))))
                (local.set $safe (i32.eqz (v128.any_true (local.get $nanV))))
                (block $atDone
                  (loop $at
                    (br_if $atDone (i32.ge_u (local.get $i) (local.get $e)))
                    (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
                    (if (f64.ne (local.get $xs) (local.get $xs)) (then (local.set $safe (i32.const 0))))
                    (local.set $a (f64.abs (local.get $xs)))
                    (if (f64.gt (local.get $a) (local.get $amax)) (then (local.set $amax (local.get $a))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $at)))))
            (if (i32.eq (local.get $mode) (i32.const 1)) (then (local.set $amax (local.get $amaxConst))))
            (if (i32.eq (local.get $mode) (i32.const 2))
              (then (local.set $amax (f64.promote_f32 (f32.load (i32.add (local.get $amaxPtr) (i32.shl (local.get $rowIndex) (i32.const 2))))))))
            ;; scale
            (local.set $sc (f64.const 0))
            (if (i32.and (f64.gt (local.get $amax) (f64.const 0)) (f64.lt (local.get $amax) (f64.const inf)))
              (then
                (local.set $sc (if (result f64) (local.get $fp16Scale)
                  (then (call $toHalf (f64.div (local.get $amax) (local.get $qmax))))
                  (else (f64.promote_f32 (f32.demote_f64 (f64.div (local.get $amax) (local.get $qmax)))))))))
            (local.set $ovfGroup (i32.const 0))
            (if (f64.eq (local.get $sc) (f64.const inf))
              (then (local.set $sc (f64.const 0)) (local.set $ovfGroup (i32.const 1))))
            (local.set $iv (if (result f64) (f64.gt (local.get $sc) (f64.const 0)) (then (f64.div (f64.const 1) (local.get $sc))) (else (f64.const 0))))
            ;; safe: finite values only (amax < Inf, no NaN) and RNE(±amax/scale) cannot leave [qmin, qmax]
            (local.set $safe (i32.and (local.get $safe) (i32.and (f64.lt (local.get $amax) (f64.const inf))
              (i32.and (f64.lt (f64.mul (local.get $amax) (local.get $iv)) (f64.add (local.get $qmax) (f64.const 0.5)))
                       (f64.gt (f64.neg (f64.mul (local.get $amax) (local.get $iv))) (f64.sub (local.get $qmin) (f64.const 0.5)))))))
            (local.set $ivV (f64x2.splat (local.get $iv)))
            (local.set $scV (f64x2.splat (local.get $sc)))
            (local.set $noise (local.get $zero))
            (local.set $mx (local.get $zero))
            (local.set $cnt (local.get $zero))
            (local.set $i (local.get $s))
            (if (local.get $safe)
              (then
                (block $fDone
                  (loop $fLoop
                    (br_if $fDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                    (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                    (local.set $h (f64x2.promote_low_f32x4 (local.get $v)))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivV))) (local.get $scV))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noise (f64x2.add (local.get $noise) (local.get $d)))
                    (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
                    (local.set $h (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivV))) (local.get $scV))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noise (f64x2.add (local.get $noise) (local.get $d)))
                    (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (br $fLoop))))
              (else
                (block $vDone
                  (loop $vLoop
                    (br_if $vDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                    (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                    (local.set $k (i32.const 0))
                    (loop $lanes
                      (local.set $h (if (result v128) (local.get $k)
                        (then (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
                        (else (f64x2.promote_low_f32x4 (local.get $v)))))
                      (local.set $fin (f64x2.eq (f64x2.sub (local.get $h) (local.get $h)) (local.get $zero)))
                      (local.set $h (v128.and (local.get $h) (local.get $fin)))
                      (local.set $q (f64x2.pmin (f64x2.pmax (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivV))) (local.get $qminV)) (local.get $qmaxV)))
                      (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (local.get $q) (local.get $scV))))
                      (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                      (local.set $noise (f64x2.add (local.get $noise) (local.get $d)))
                      (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
                      (local.set $cnt (i64x2.sub (local.get $cnt) (local.get $fin)))
                      (local.set $k (i32.add (local.get $k) (i32.const 1)))
                      (br_if $lanes (i32.lt_u (local.get $k) (i32.const 2))))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (br $vLoop)))))
            (local.set $snoise (f64.add (local.get $snoise) (f64.add (f64x2.extract_lane 0 (local.get $noise)) (f64x2.extract_lane 1 (local.get $noise)))))
            (local.set $smx (f64.max (local.get $smx) (f64.max (f64x2.extract_lane 0 (local.get $mx)) (f64x2.extract_lane 1 (local.get $mx)))))
            (local.set $gcnt (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $cnt)) (i64x2.extract_lane 1 (local.get $cnt)))))
            (if (local.get $safe) (then (local.set $gcnt (f64.convert_i32_u (i32.and (i32.sub (local.get $i) (local.get $s)) (i32.const -4))))))
            (block $tDone
              (loop $tLoop
                (br_if $tDone (i32.ge_u (local.get $i) (local.get $e)))
                (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
                (if (f64.eq (f64.sub (local.get $xs) (local.get $xs)) (f64.const 0))
                  (then
                    (local.set $qs (f64.nearest (f64.mul (local.get $xs) (local.get $iv))))
                    (if (f64.gt (local.get $qs) (local.get $qmax)) (then (local.set $qs (local.get $qmax))))
                    (if (f64.lt (local.get $qs) (local.get $qmin)) (then (local.set $qs (local.get $qmin))))
                    (local.set $ds (f64.sub (local.get $xs) (f64.mul (local.get $qs) (local.get $sc))))
                    (local.set $snoise (f64.add (local.get $snoise) (f64.mul (local.get $ds) (local.get $ds))))
                    (if (f64.gt (f64.mul (local.get $ds) (local.get $ds)) (local.get $smx)) (then (local.set $smx (f64.mul (local.get $ds) (local.get $ds)))))
                    (local.set $gcnt (f64.add (local.get $gcnt) (f64.const 1)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $tLoop)))
            (if (local.get $ovfGroup) (then (local.set $ovf (f64.add (local.get $ovf) (local.get $gcnt)))))
            (local.set $s (local.get $e))
            (br $groups)))
        (local.set $rowIndex (i32.add (local.get $rowIndex) (i32.const 1)))
        (local.set $row (local.get $rowEnd))
        (br $rows)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc)) (local.get $snoise)))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc)) (f64.sqrt (local.get $smx))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc)) (local.get $ovf))))

  ;; Two integer formats in one pass over each row, for the common pair "per-row scale" (A: float32 scale,
  ;; e.g. INT8 per channel) + "groups along the row" (B: FP16 scale per $group, e.g. INT4 g128). Same arithmetic as
  ;; two intError calls; a row that is not provably safe for the fast loop (NaN/Inf, a clamp could trigger, a
  ;; scale overflows) is handed to intError for both formats. $modeA 0: row amax computed; 2: float32
  ;; $amaxPtr[row]. $scratch holds 16 bytes per group of a row (the caller sizes it for groups ≥ 32).
  (func (export "intErrorPair") (param $x i32) (param $n i32) (param $rowLen i32) (param $group i32)
    (param $qmaxA f64) (param $qminA f64) (param $modeA i32) (param $amaxPtr i32)
    (param $qmaxB f64) (param $qminB f64) (param $scratch i32) (param $accA i32) (param $accB i32)
    (local $row i32) (local $rowEnd i32) (local $s i32) (local $e i32) (local $i i32) (local $rowIndex i32) (local $g i32)
    (local $v v128) (local $amaxV v128) (local $nanV v128) (local $zero v128)
    (local $h v128) (local $d v128) (local $noiseA v128) (local $mxA v128) (local $noiseB v128) (local $mxB v128)
    (local $ivA v128) (local $scA v128) (local $ivBv v128) (local $scBv v128)
    (local $amax f64) (local $rowAmax f64) (local $amaxA f64) (local $xs f64) (local $a f64) (local $ds f64)
    (local $scAs f64) (local $ivAs f64) (local $scB f64) (local $ivB f64)
    (local $snA f64) (local $smA f64) (local $snB f64) (local $smB f64) (local $safe i32)
    (local.set $zero (v128.const i64x2 0 0))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $n)))
        (local.set $rowEnd (i32.add (local.get $row) (local.get $rowLen)))
        (if (i32.gt_u (local.get $rowEnd) (local.get $n)) (then (local.set $rowEnd (local.get $n))))
        ;; pass 1: group maxima (NaN-free?) and the row maximum
        (local.set $safe (i32.const 1))
        (local.set $rowAmax (f64.const 0))
        (local.set $s (local.get $row))
        (local.set $g (local.get $scratch))
        (block $p1Done
          (loop $p1
            (br_if $p1Done (i32.ge_u (local.get $s) (local.get $rowEnd)))
            (local.set $e (i32.add (local.get $s) (local.get $group)))
            (if (i32.gt_u (local.get $e) (local.get $rowEnd)) (then (local.set $e (local.get $rowEnd))))
            (local.set $amaxV (local.get $zero))
            (local.set $nanV (local.get $zero))
            (local.set $i (local.get $s))
            (block $aDone
              (loop $aLoop
                (br_if $aDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $amaxV (f32x4.pmax (local.get $amaxV) (f32x4.abs (local.get $v))))
                (local.set $nanV (v128.or (local.get $nanV) (f32x4.ne (local.get $v) (local.get $v))))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (br $aLoop)))
            (local.set $amax (f64.promote_f32 (f32.max
              (f32.max (f32x4.extract_lane 0 (local.get $amaxV)) (f32x4.extract_lane 1 (local.get $amaxV)))
              (f32.max (f32x4.extract_lane 2 (local.get $amaxV)) (f32x4.extract_lane 3 (local.get $amaxV))))))
            (if (v128.any_true (local.get $nanV)) (then (local.set $safe (i32.const 0))))
            (block $atDone
              (loop $at
                (br_if $atDone (i32.ge_u (local.get $i) (local.get $e)))
                (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
                (if (f64.ne (local.get $xs) (local.get $xs)) (then (local.set $safe (i32.const 0))))
                (local.set $a (f64.abs (local.get $xs)))
                (if (f64.gt (local.get $a) (local.get $amax)) (then (local.set $amax (local.get $a))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $at)))
            ;; B's scale for this group (0 when amax is 0); unsafe when it overflows FP16 or a clamp could trigger
            (local.set $scB (f64.const 0))
            (if (f64.gt (local.get $amax) (f64.const 0))
              (then (local.set $scB (call $toHalf (f64.div (local.get $amax) (local.get $qmaxB))))))
            (local.set $ivB (if (result f64) (f64.gt (local.get $scB) (f64.const 0)) (then (f64.div (f64.const 1) (local.get $scB))) (else (f64.const 0))))
            (if (i32.eqz (i32.and (i32.and (f64.lt (local.get $amax) (f64.const inf)) (f64.lt (local.get $scB) (f64.const inf)))
                  (i32.and (f64.lt (f64.mul (local.get $amax) (local.get $ivB)) (f64.add (local.get $qmaxB) (f64.const 0.5)))
                           (f64.gt (f64.neg (f64.mul (local.get $amax) (local.get $ivB))) (f64.sub (local.get $qminB) (f64.const 0.5))))))
              (then (local.set $safe (i32.const 0))))
            (f64.store offset=0 (local.get $g) (local.get $scB))
            (f64.store offset=8 (local.get $g) (local.get $ivB))
            (if (f64.gt (local.get $amax) (local.get $rowAmax)) (then (local.set $rowAmax (local.get $amax))))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $s (local.get $e))
            (br $p1)))
        ;; A's scale for the row
        (local.set $amaxA (if (result f64) (i32.eq (local.get $modeA) (i32.const 2))
          (then (f64.promote_f32 (f32.load (i32.add (local.get $amaxPtr) (i32.shl (local.get $rowIndex) (i32.const 2))))))
          (else (local.get $rowAmax))))
        (local.set $scAs (f64.const 0))
        (if (i32.and (f64.gt (local.get $amaxA) (f64.const 0)) (f64.lt (local.get $amaxA) (f64.const inf)))
          (then (local.set $scAs (f64.promote_f32 (f32.demote_f64 (f64.div (local.get $amaxA) (local.get $qmaxA)))))))
        (local.set $ivAs (if (result f64) (f64.gt (local.get $scAs) (f64.const 0)) (then (f64.div (f64.const 1) (local.get $scAs))) (else (f64.const 0))))
        (if (i32.eqz (i32.and (f64.lt (local.get $rowAmax) (f64.const inf))
              (i32.and (f64.lt (f64.mul (local.get $rowAmax) (local.get $ivAs)) (f64.add (local.get $qmaxA) (f64.const 0.5)))
                       (f64.gt (f64.neg (f64.mul (local.get $rowAmax) (local.get $ivAs))) (f64.sub (local.get $qminA) (f64.const 0.5))))))
          (then (local.set $safe (i32.const 0))))
        (if (local.get $safe)
          (then
            ;; pass 2: both errors from one load of each value
            (local.set $ivA (f64x2.splat (local.get $ivAs)))
            (local.set $scA (f64x2.splat (local.get $scAs)))
            (local.set $noiseA (local.get $zero))
            (local.set $mxA (local.get $zero))
            (local.set $noiseB (local.get $zero))
            (local.set $mxB (local.get $zero))
            (local.set $s (local.get $row))
            (local.set $g (local.get $scratch))
            (block $p2Done
              (loop $p2
                (br_if $p2Done (i32.ge_u (local.get $s) (local.get $rowEnd)))
                (local.set $e (i32.add (local.get $s) (local.get $group)))
                (if (i32.gt_u (local.get $e) (local.get $rowEnd)) (then (local.set $e (local.get $rowEnd))))
                (local.set $scB (f64.load offset=0 (local.get $g)))
                (local.set $ivB (f64.load offset=8 (local.get $g)))
                (local.set $scBv (f64x2.splat (local.get $scB)))
                (local.set $ivBv (f64x2.splat (local.get $ivB)))
                (local.set $i (local.get $s))
                (block $vDone
                  (loop $vLoop
                    (br_if $vDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                    (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
                    (local.set $h (f64x2.promote_low_f32x4 (local.get $v)))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivA))) (local.get $scA))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noiseA (f64x2.add (local.get $noiseA) (local.get $d)))
                    (local.set $mxA (f64x2.pmax (local.get $mxA) (local.get $d)))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivBv))) (local.get $scBv))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noiseB (f64x2.add (local.get $noiseB) (local.get $d)))
                    (local.set $mxB (f64x2.pmax (local.get $mxB) (local.get $d)))
                    (local.set $h (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivA))) (local.get $scA))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noiseA (f64x2.add (local.get $noiseA) (local.get $d)))
                    (local.set $mxA (f64x2.pmax (local.get $mxA) (local.get $d)))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivBv))) (local.get $scBv))))
                    (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                    (local.set $noiseB (f64x2.add (local.get $noiseB) (local.get $d)))
                    (local.set $mxB (f64x2.pmax (local.get $mxB) (local.get $d)))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (br $vLoop)))
                (block $tDone
                  (loop $tLoop
                    (br_if $tDone (i32.ge_u (local.get $i) (local.get $e)))
                    (local.set $xs (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
                    (local.set $ds (f64.sub (local.get $xs) (f64.mul (f64.nearest (f64.mul (local.get $xs) (local.get $ivAs))) (local.get $scAs))))
                    (local.set $ds (f64.mul (local.get $ds) (local.get $ds)))
                    (local.set $snA (f64.add (local.get $snA) (local.get $ds)))
                    (if (f64.gt (local.get $ds) (local.get $smA)) (then (local.set $smA (local.get $ds))))
                    (local.set $ds (f64.sub (local.get $xs) (f64.mul (f64.nearest (f64.mul (local.get $xs) (local.get $ivB))) (local.get $scB))))
                    (local.set $ds (f64.mul (local.get $ds) (local.get $ds)))
                    (local.set $snB (f64.add (local.get $snB) (local.get $ds)))
                    (if (f64.gt (local.get $ds) (local.get $smB)) (then (local.set $smB (local.get $ds))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $tLoop)))
                (local.set $g (i32.add (local.get $g) (i32.const 16)))
                (local.set $s (local.get $e))
                (br $p2)))
            (local.set $snA (f64.add (local.get $snA) (f64.add (f64x2.extract_lane 0 (local.get $noiseA)) (f64x2.extract_lane 1 (local.get $noiseA)))))
            (local.set $smA (f64.max (local.get $smA) (f64.max (f64x2.extract_lane 0 (local.get $mxA)) (f64x2.extract_lane 1 (local.get $mxA)))))
            (local.set $snB (f64.add (local.get $snB) (f64.add (f64x2.extract_lane 0 (local.get $noiseB)) (f64x2.extract_lane 1 (local.get $noiseB)))))
            (local.set $smB (f64.max (local.get $smB) (f64.max (f64x2.extract_lane 0 (local.get $mxB)) (f64x2.extract_lane 1 (local.get $mxB))))))
          (else
            (call $intError (i32.add (local.get $x) (i32.shl (local.get $row) (i32.const 2))) (i32.sub (local.get $rowEnd) (local.get $row))
              (local.get $rowLen) (local.get $rowLen) (local.get $qmaxA) (local.get $qminA) (i32.const 0) (local.get $modeA) (f64.const 0)
              (i32.add (local.get $amaxPtr) (i32.shl (local.get $rowIndex) (i32.const 2))) (local.get $accA))
            (call $intError (i32.add (local.get $x) (i32.shl (local.get $row) (i32.const 2))) (i32.sub (local.get $rowEnd) (local.get $row))
              (local.get $rowLen) (local.get $group) (local.get $qmaxB) (local.get $qminB) (i32.const 1) (i32.const 0) (f64.const 0)
              (i32.const 0) (local.get $accB))))
        (local.set $rowIndex (i32.add (local.get $rowIndex) (i32.const 1)))
        (local.set $row (local.get $rowEnd))
        (br $rows)))
    (f64.store offset=0 (local.get $accA) (f64.add (f64.load offset=0 (local.get $accA)) (local.get $snA)))
    (f64.store offset=8 (local.get $accA) (f64.max (f64.load offset=8 (local.get $accA)) (f64.sqrt (local.get $smA))))
    (f64.store offset=0 (local.get $accB) (f64.add (f64.load offset=0 (local.get $accB)) (local.get $snB)))
    (f64.store offset=8 (local.get $accB) (f64.max (f64.load offset=8 (local.get $accB)) (f64.sqrt (local.get $smB)))))

  ;; Weight statistics of $n float32 values at $x, added to 12 float64 at $acc: [0] finite count, [1] max |x|
  ;; (finite), [2] Σx, [3] Σx², [4] Σx³, [5] Σx⁴, [6] Σ|x|, [7] |x| > 65504, [8] zeros, [9] all values,
  ;; [10] NaN count, [11] max |x| including ±Inf — sensitivity.ts WeightStatsAccumulator.add's sums in float64.
  ;; Counts, maxima and the finiteness mask on float32 lanes (4 values per step); the sums in float64, the two
  ;; halves of a step added together first (one dependent add per sum and step). A last partial step is padded
  ;; with zeros, which add nothing but a finite zero each (subtracted at the end).
  (func (export "stats32") (param $x i32) (param $n i32) (param $acc i32)
    (local $i i32) (local $step i32) (local $pad i32) (local $p i32)
    (local $v v128) (local $a v128) (local $fin v128) (local $vz v128) (local $az v128)
    (local $hl v128) (local $hh v128) (local $ql v128) (local $qh v128)
    (local $mx v128) (local $mxAll v128) (local $cnt v128) (local $nan v128) (local $beyond v128) (local $zeros v128)
    (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $sa v128)
    (local $cAbs v128) (local $cInf v128) (local $cLim v128) (local $zero v128)
    (local.set $cAbs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $cInf (f32x4.splat (f32.const inf)))
    (local.set $cLim (f32x4.splat (f32.const 65504)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $n))
          (then
            (local.set $v (v128.load align=4 (local.get $p)))
            (local.set $step (i32.const 4)))
          (else
            (local.set $step (i32.sub (local.get $n) (local.get $i)))
            (local.set $pad (i32.sub (i32.const 4) (local.get $step)))
            (local.set $v (f32x4.replace_lane 0 (local.get $zero) (f32.load (local.get $p))))
            (if (i32.gt_u (local.get $step) (i32.const 1))
              (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $p))))))
            (if (i32.gt_u (local.get $step) (i32.const 2))
              (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $p))))))))
        (local.set $a (v128.and (local.get $v) (local.get $cAbs)))
        (local.set $mxAll (f32x4.pmax (local.get $mxAll) (local.get $a)))
        (local.set $nan (i32x4.sub (local.get $nan) (f32x4.ne (local.get $v) (local.get $v))))
        (local.set $fin (f32x4.lt (local.get $a) (local.get $cInf)))
        (local.set $az (v128.and (local.get $a) (local.get $fin)))
        (local.set $vz (v128.and (local.get $v) (local.get $fin)))
        (local.set $mx (f32x4.pmax (local.get $mx) (local.get $az)))
        (local.set $cnt (i32x4.sub (local.get $cnt) (local.get $fin)))
        (local.set $beyond (i32x4.sub (local.get $beyond) (f32x4.gt (local.get $az) (local.get $cLim))))
        (local.set $zeros (i32x4.sub (local.get $zeros) (f32x4.eq (local.get $v) (local.get $zero))))
        (local.set $hl (f64x2.promote_low_f32x4 (local.get $vz)))
        (local.set $hh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $vz) (local.get $vz))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.add (local.get $hl) (local.get $hh))))
        (local.set $ql (f64x2.mul (local.get $hl) (local.get $hl)))
        (local.set $qh (f64x2.mul (local.get $hh) (local.get $hh)))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.add (local.get $ql) (local.get $qh))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.add (f64x2.mul (local.get $ql) (local.get $hl)) (f64x2.mul (local.get $qh) (local.get $hh)))))
        (local.set $s4 (f64x2.add (local.get $s4) (f64x2.add (f64x2.mul (local.get $ql) (local.get $ql)) (f64x2.mul (local.get $qh) (local.get $qh)))))
        (local.set $sa (f64x2.add (local.get $sa) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $az))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $az) (local.get $az))))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $vec)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc))
      (f64.convert_i32_s (i32.sub (call $sum4 (local.get $cnt)) (local.get $pad)))))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc)) (call $max4 (local.get $mx))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
    (f64.store offset=24 (local.get $acc) (f64.add (f64.load offset=24 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
    (f64.store offset=32 (local.get $acc) (f64.add (f64.load offset=32 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3)))))
    (f64.store offset=40 (local.get $acc) (f64.add (f64.load offset=40 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s4)) (f64x2.extract_lane 1 (local.get $s4)))))
    (f64.store offset=48 (local.get $acc) (f64.add (f64.load offset=48 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $sa)) (f64x2.extract_lane 1 (local.get $sa)))))
    (f64.store offset=56 (local.get $acc) (f64.add (f64.load offset=56 (local.get $acc)) (f64.convert_i32_s (call $sum4 (local.get $beyond)))))
    (f64.store offset=64 (local.get $acc) (f64.add (f64.load offset=64 (local.get $acc))
      (f64.convert_i32_s (i32.sub (call $sum4 (local.get $zeros)) (local.get $pad)))))
    (f64.store offset=80 (local.get $acc) (f64.add (f64.load offset=80 (local.get $acc)) (f64.convert_i32_s (call $sum4 (local.get $nan)))))
    (f64.store offset=72 (local.get $acc) (f64.add (f64.load offset=72 (local.get $acc)) (f64.convert_i32_u (local.get $n))))
    (f64.store offset=88 (local.get $acc) (f64.max (f64.load offset=88 (local.get $acc)) (call $max4 (local.get $mxAll)))))

  ;; stats32 and roundError16 for FP16 and for BF16 in one pass over $n float32 values at $x (the default formats
  ;; of float32 weights): the statistics added to 12 float64 at $acc as stats32 does, the FP16 and BF16 errors to
  ;; the accumulator blocks at $acc16 and $accB as roundError16 does (max |d| kept as float32: d is exact there).
  (func (export "statsRound16") (param $x i32) (param $n i32) (param $acc i32) (param $acc16 i32) (param $accB i32)
    (local $i i32) (local $step i32) (local $pad i32) (local $p i32)
    (local $v v128) (local $a v128) (local $fin v128) (local $vz v128) (local $az v128)
    (local $hl v128) (local $hh v128) (local $ql v128) (local $qh v128) (local $r v128) (local $big v128) (local $d v128)
    (local $mx v128) (local $mxAll v128) (local $cnt v128) (local $nan v128) (local $beyond v128) (local $zeros v128)
    (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $s4 v128) (local $sa v128)
    (local $n16 v128) (local $m16 v128) (local $o16 v128) (local $nB v128) (local $mB v128) (local $oB v128)
    (local $cAbs v128) (local $cInf v128) (local $cLim v128) (local $zero v128) (local $cHalf v128) (local $cSub v128) (local $cOvf v128)
    (local.set $cAbs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $cInf (i32x4.splat (i32.const 0x7f800000)))
    (local.set $cLim (f32x4.splat (f32.const 65504)))
    (local.set $cHalf (f32x4.splat (f32.const 0.5)))
    (local.set $cSub (i32x4.splat (i32.const 0x38800000)))
    (local.set $cOvf (i32x4.splat (i32.const 0x477ff000)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $n))
          (then
            (local.set $v (v128.load align=4 (local.get $p)))
            (local.set $step (i32.const 4)))
          (else
            ;; padded with zeros: no error, one finite zero each (subtracted at the end)
            (local.set $step (i32.sub (local.get $n) (local.get $i)))
            (local.set $pad (i32.sub (i32.const 4) (local.get $step)))
            (local.set $v (f32x4.replace_lane 0 (local.get $zero) (f32.load (local.get $p))))
            (if (i32.gt_u (local.get $step) (i32.const 1))
              (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (local.get $p))))))
            (if (i32.gt_u (local.get $step) (i32.const 2))
              (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (local.get $p))))))))
        ;; statistics (as stats32)
        (local.set $a (v128.and (local.get $v) (local.get $cAbs)))
        (local.set $mxAll (f32x4.pmax (local.get $mxAll) (local.get $a)))
        (local.set $nan (i32x4.sub (local.get $nan) (f32x4.ne (local.get $v) (local.get $v))))
        (local.set $fin (i32x4.lt_s (local.get $a) (local.get $cInf)))
        (local.set $az (v128.and (local.get $a) (local.get $fin)))
        (local.set $vz (v128.and (local.get $v) (local.get $fin)))
        (local.set $mx (f32x4.pmax (local.get $mx) (local.get $az)))
        (local.set $cnt (i32x4.sub (local.get $cnt) (local.get $fin)))
        (local.set $beyond (i32x4.sub (local.get $beyond) (f32x4.gt (local.get $az) (local.get $cLim))))
        (local.set $zeros (i32x4.sub (local.get $zeros) (f32x4.eq (local.get $v) (local.get $zero))))
        (local.set $hl (f64x2.promote_low_f32x4 (local.get $vz)))
        (local.set $hh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $vz) (local.get $vz))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.add (local.get $hl) (local.get $hh))))
        (local.set $ql (f64x2.mul (local.get $hl) (local.get $hl)))
        (local.set $qh (f64x2.mul (local.get $hh) (local.get $hh)))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.add (local.get $ql) (local.get $qh))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.add (f64x2.mul (local.get $ql) (local.get $hl)) (f64x2.mul (local.get $qh) (local.get $hh)))))
        (local.set $s4 (f64x2.add (local.get $s4) (f64x2.add (f64x2.mul (local.get $ql) (local.get $ql)) (f64x2.mul (local.get $qh) (local.get $qh)))))
        (local.set $sa (f64x2.add (local.get $sa) (f64x2.add
          (f64x2.promote_low_f32x4 (local.get $az))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $az) (local.get $az))))))
        ;; FP16 (as roundError16 with $bf16 = 0)
        (local.set $r (v128.and
          (i32x4.add (local.get $a) (i32x4.add (i32x4.splat (i32.const 0xfff)) (v128.and (i32x4.shr_u (local.get $a) (i32.const 13)) (i32x4.splat (i32.const 1)))))
          (i32x4.splat (i32.const 0xffffe000))))
        (local.set $r (v128.or (v128.andnot (local.get $v) (local.get $cAbs)) (v128.bitselect
          (f32x4.sub (f32x4.add (local.get $a) (local.get $cHalf)) (local.get $cHalf))
          (local.get $r) (i32x4.lt_s (local.get $a) (local.get $cSub)))))
        (local.set $big (v128.and (local.get $fin) (i32x4.ge_s (local.get $a) (local.get $cOvf))))
        (local.set $d (v128.and (v128.bitselect (local.get $v) (f32x4.sub (local.get $v) (local.get $r)) (local.get $big)) (local.get $fin)))
        (local.set $o16 (i32x4.sub (local.get $o16) (local.get $big)))
        (local.set $m16 (f32x4.pmax (local.get $m16) (v128.and (local.get $d) (local.get $cAbs))))
        (local.set $hl (f64x2.promote_low_f32x4 (local.get $d)))
        (local.set $hh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d) (local.get $d))))
        (local.set $n16 (f64x2.add (local.get $n16) (f64x2.add (f64x2.mul (local.get $hl) (local.get $hl)) (f64x2.mul (local.get $hh) (local.get $hh)))))
        ;; BF16 (as roundError16 with $bf16 = 1)
        (local.set $r (v128.and
          (i32x4.add (local.get $v) (i32x4.add (i32x4.splat (i32.const 0x7fff)) (v128.and (i32x4.shr_u (local.get $v) (i32.const 16)) (i32x4.splat (i32.const 1)))))
          (i32x4.splat (i32.const 0xffff0000))))
        (local.set $big (v128.and (local.get $fin) (i32x4.eq (v128.and (local.get $r) (local.get $cAbs)) (local.get $cInf))))
        (local.set $d (v128.and (v128.bitselect (local.get $v) (f32x4.sub (local.get $v) (local.get $r)) (local.get $big)) (local.get $fin)))
        (local.set $oB (i32x4.sub (local.get $oB) (local.get $big)))
        (local.set $mB (f32x4.pmax (local.get $mB) (v128.and (local.get $d) (local.get $cAbs))))
        (local.set $hl (f64x2.promote_low_f32x4 (local.get $d)))
        (local.set $hh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d) (local.get $d))))
        (local.set $nB (f64x2.add (local.get $nB) (f64x2.add (f64x2.mul (local.get $hl) (local.get $hl)) (f64x2.mul (local.get $hh) (local.get $hh)))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $vec)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc))
      (f64.convert_i32_s (i32.sub (call $sum4 (local.get $cnt)) (local.get $pad)))))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc)) (call $max4 (local.get $mx))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s1)) (f64x2.extract_lane 1 (local.get $s1)))))
    (f64.store offset=24 (local.get $acc) (f64.add (f64.load offset=24 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s2)) (f64x2.extract_lane 1 (local.get $s2)))))
    (f64.store offset=32 (local.get $acc) (f64.add (f64.load offset=32 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s3)) (f64x2.extract_lane 1 (local.get $s3)))))
    (f64.store offset=40 (local.get $acc) (f64.add (f64.load offset=40 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $s4)) (f64x2.extract_lane 1 (local.get $s4)))))
    (f64.store offset=48 (local.get $acc) (f64.add (f64.load offset=48 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $sa)) (f64x2.extract_lane 1 (local.get $sa)))))
    (f64.store offset=56 (local.get $acc) (f64.add (f64.load offset=56 (local.get $acc)) (f64.convert_i32_s (call $sum4 (local.get $beyond)))))
    (f64.store offset=64 (local.get $acc) (f64.add (f64.load offset=64 (local.get $acc))
      (f64.convert_i32_s (i32.sub (call $sum4 (local.get $zeros)) (local.get $pad)))))
    (f64.store offset=80 (local.get $acc) (f64.add (f64.load offset=80 (local.get $acc)) (f64.convert_i32_s (call $sum4 (local.get $nan)))))
    (f64.store offset=72 (local.get $acc) (f64.add (f64.load offset=72 (local.get $acc)) (f64.convert_i32_u (local.get $n))))
    (f64.store offset=88 (local.get $acc) (f64.max (f64.load offset=88 (local.get $acc)) (call $max4 (local.get $mxAll))))
    (f64.store offset=0 (local.get $acc16) (f64.add (f64.load offset=0 (local.get $acc16)) (f64.add (f64x2.extract_lane 0 (local.get $n16)) (f64x2.extract_lane 1 (local.get $n16)))))
    (f64.store offset=8 (local.get $acc16) (f64.max (f64.load offset=8 (local.get $acc16)) (call $max4 (local.get $m16))))
    (f64.store offset=16 (local.get $acc16) (f64.add (f64.load offset=16 (local.get $acc16)) (f64.convert_i32_s (call $sum4 (local.get $o16)))))
    (f64.store offset=0 (local.get $accB) (f64.add (f64.load offset=0 (local.get $accB)) (f64.add (f64x2.extract_lane 0 (local.get $nB)) (f64x2.extract_lane 1 (local.get $nB)))))
    (f64.store offset=8 (local.get $accB) (f64.max (f64.load offset=8 (local.get $accB)) (call $max4 (local.get $mB))))
    (f64.store offset=16 (local.get $accB) (f64.add (f64.load offset=16 (local.get $accB)) (f64.convert_i32_s (call $sum4 (local.get $oB))))))

  ;; Sum of the four i32 lanes (counts of one call: n < 2^31).
  (func $sum4 (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; Largest of four non-negative float32 lanes (NaN-free), as float64.
  (func $max4 (param $v v128) (result f64)
    (f64.promote_f32 (f32.max
      (f32.max (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.max (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v))))))

  ;; Element-wise rounding error of $n float32 values at $x (errorKernels.ts elementwiseQuantizer, in float64):
  ;; y = x × $inv; |y| < $lo → RNE(y × $loInv) / $loInv (subnormals); else y rounded to the bits of the Veltkamp
  ;; constant $c (t = c·y; r = t − (t − y)); |y| ≥ $hi → $kind 0: ±Inf, counted as overflowed (error x);
  ;; $kind 1: ±$hi (saturation; normal results are also clamped to ±$hi). q = r × $scale, d = x − q.
  ;; Non-finite x are skipped. Adds Σd² to $acc[0], max |d| to $acc[1], overflowed elements to $acc[2].
  (func (export "elementError") (param $x i32) (param $n i32) (param $kind i32) (param $c f64) (param $lo f64) (param $loInv f64)
    (param $hi f64) (param $inv f64) (param $scale f64) (param $acc i32)
    (local $i i32) (local $v v128) (local $h v128) (local $y v128) (local $t v128)
    (local $r v128) (local $big v128) (local $small v128) (local $d v128) (local $dl v128)
    (local $cV v128) (local $loV v128) (local $loInvV v128) (local $loStepV v128) (local $hiV v128) (local $nhiV v128) (local $invV v128) (local $scaleV v128)
    (local $cAbs v128) (local $cInf v128)
    (local $noise v128) (local $mx v128) (local $ovf v128) (local $step i32)
    (local.set $cV (f64x2.splat (local.get $c)))
    (local.set $loV (f64x2.splat (local.get $lo)))
    (local.set $loInvV (f64x2.splat (local.get $loInv)))
    ;; $loInv is a power of two: × 1/$loInv is exactly ÷ $loInv (and much cheaper)
    (local.set $loStepV (f64x2.splat (f64.div (f64.const 1) (local.get $loInv))))
    (local.set $hiV (f64x2.splat (local.get $hi)))
    (local.set $nhiV (f64x2.splat (f64.neg (local.get $hi))))
    (local.set $invV (f64x2.splat (local.get $inv)))
    (local.set $scaleV (f64x2.splat (local.get $scale)))
    (local.set $cAbs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $cInf (f32x4.splat (f32.const inf)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        ;; 4 values per step; the last partial step reads NaN (skipped) for lanes past $n
        (if (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $n))
          (then
            (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $step (i32.const 4)))
          (else
            (local.set $step (i32.sub (local.get $n) (local.get $i)))
            (local.set $v (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000))
            (local.set $v (f32x4.replace_lane 0 (local.get $v) (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
            (if (i32.gt_u (local.get $step) (i32.const 1))
              (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))))
            (if (i32.gt_u (local.get $step) (i32.const 2))
              (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))))))
        ;; non-finite values (and padding) become 0: error 0, nothing counted
        (local.set $v (v128.and (local.get $v) (f32x4.lt (v128.and (local.get $v) (local.get $cAbs)) (local.get $cInf))))
        ;; low two values, then the high two; their squared errors are added together before the running sum.
        ;; Subnormal rounding (|y| < lo: RNE(y × loInv) / loInv) only when a lane needs it.
          (local.set $h (f64x2.promote_low_f32x4 (local.get $v)))
          (local.set $y (f64x2.mul (local.get $h) (local.get $invV)))
          (local.set $t (f64x2.mul (local.get $cV) (local.get $y)))
          (local.set $r (f64x2.sub (local.get $t) (f64x2.sub (local.get $t) (local.get $y))))
          (local.set $small (f64x2.lt (f64x2.abs (local.get $y)) (local.get $loV)))
          (if (v128.any_true (local.get $small))
            (then (local.set $r (v128.bitselect
              (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $y) (local.get $loInvV))) (local.get $loStepV))
              (local.get $r) (local.get $small)))))
          (if (local.get $kind)
            (then
              ;; saturation: |y| ≥ hi rounds to ≥ hi (rounding is monotonic, hi is on the grid), so the clamp
              ;; alone gives ±hi (c·y cannot overflow: |y| < 2^277)
              (local.set $r (f64x2.pmin (f64x2.pmax (local.get $r) (local.get $nhiV)) (local.get $hiV)))
              (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (local.get $r) (local.get $scaleV)))))
            (else
              ;; overflow to ±Inf: error x, counted
              (local.set $big (f64x2.ge (f64x2.abs (local.get $y)) (local.get $hiV)))
              (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (local.get $r) (local.get $scaleV))))
              (local.set $d (v128.bitselect (local.get $h) (local.get $d) (local.get $big)))
              (local.set $ovf (i64x2.sub (local.get $ovf) (local.get $big)))))
          (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
          (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
          (local.set $dl (local.get $d))
          (local.set $h (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
          (local.set $y (f64x2.mul (local.get $h) (local.get $invV)))
          (local.set $t (f64x2.mul (local.get $cV) (local.get $y)))
          (local.set $r (f64x2.sub (local.get $t) (f64x2.sub (local.get $t) (local.get $y))))
          (local.set $small (f64x2.lt (f64x2.abs (local.get $y)) (local.get $loV)))
          (if (v128.any_true (local.get $small))
            (then (local.set $r (v128.bitselect
              (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $y) (local.get $loInvV))) (local.get $loStepV))
              (local.get $r) (local.get $small)))))
          (if (local.get $kind)
            (then
              ;; saturation: |y| ≥ hi rounds to ≥ hi (rounding is monotonic, hi is on the grid), so the clamp
              ;; alone gives ±hi (c·y cannot overflow: |y| < 2^277)
              (local.set $r (f64x2.pmin (f64x2.pmax (local.get $r) (local.get $nhiV)) (local.get $hiV)))
              (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (local.get $r) (local.get $scaleV)))))
            (else
              ;; overflow to ±Inf: error x, counted
              (local.set $big (f64x2.ge (f64x2.abs (local.get $y)) (local.get $hiV)))
              (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (local.get $r) (local.get $scaleV))))
              (local.set $d (v128.bitselect (local.get $h) (local.get $d) (local.get $big)))
              (local.set $ovf (i64x2.sub (local.get $ovf) (local.get $big)))))
          (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
          (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
          (local.set $noise (f64x2.add (local.get $noise) (f64x2.add (local.get $dl) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $vec)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $noise)) (f64x2.extract_lane 1 (local.get $noise)))))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc))
      (f64.sqrt (f64.max (f64x2.extract_lane 0 (local.get $mx)) (f64x2.extract_lane 1 (local.get $mx))))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc))
      (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $ovf)) (i64x2.extract_lane 1 (local.get $ovf)))))))

  ;; FP16 ($bf16 = 0) or BF16 ($bf16 = 1) rounding error of $n float32 values at $x by integer rounding of the
  ;; float32 bits, four lanes at a time — the same results as elementError with the FP16/BF16 parameters
  ;; (round half to even; FP16 subnormals by (|x| + 0.5) − 0.5 in float32, exact below 2^-14; overflow to ±Inf
  ;; counted with error x). d = x − r is exact in float32 (r is within half a step of x), then squared and
  ;; summed in float64. Adds Σd² to $acc[0], max |d| to $acc[1], overflowed elements to $acc[2].
  (func (export "roundError16") (param $x i32) (param $n i32) (param $bf16 i32) (param $acc i32)
    (local $i i32) (local $k i32) (local $v v128) (local $b v128) (local $a v128) (local $sign v128) (local $fin v128)
    (local $r v128) (local $rs v128) (local $big v128) (local $d v128) (local $h v128) (local $hh v128) (local $step i32)
    (local $noise v128) (local $mx v128) (local $ovf v128)
    (local $cAbs v128) (local $cSign v128) (local $cInf v128) (local $cHalf v128) (local $cSub v128) (local $cOvf v128)
    (local.set $cAbs (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $cSign (i32x4.splat (i32.const 0x80000000)))
    (local.set $cInf (i32x4.splat (i32.const 0x7f800000)))
    (local.set $cHalf (f32x4.splat (f32.const 0.5)))
    (local.set $cSub (i32x4.splat (i32.const 0x38800000)))
    (local.set $cOvf (i32x4.splat (i32.const 0x477ff000)))
    (block $done
      (loop $vec
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $n))
          (then
            (local.set $v (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $step (i32.const 4)))
          (else
            ;; last partial step: lanes past $n hold NaN (skipped as non-finite)
            (local.set $step (i32.sub (local.get $n) (local.get $i)))
            (local.set $v (v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000))
            (local.set $v (f32x4.replace_lane 0 (local.get $v) (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
            (if (i32.gt_u (local.get $step) (i32.const 1))
              (then (local.set $v (f32x4.replace_lane 1 (local.get $v) (f32.load offset=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))))
            (if (i32.gt_u (local.get $step) (i32.const 2))
              (then (local.set $v (f32x4.replace_lane 2 (local.get $v) (f32.load offset=8 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))))))
        (local.set $a (v128.and (local.get $v) (local.get $cAbs)))
        (local.set $fin (i32x4.lt_s (local.get $a) (local.get $cInf)))
        (if (local.get $bf16)
          (then
            (local.set $r (v128.and
              (i32x4.add (local.get $v) (i32x4.add (i32x4.splat (i32.const 0x7fff)) (v128.and (i32x4.shr_u (local.get $v) (i32.const 16)) (i32x4.splat (i32.const 1)))))
              (i32x4.splat (i32.const 0xffff0000))))
            (local.set $big (v128.and (local.get $fin) (i32x4.eq (v128.and (local.get $r) (local.get $cAbs)) (local.get $cInf)))))
          (else
            (local.set $sign (v128.and (local.get $v) (local.get $cSign)))
            (local.set $r (v128.and
              (i32x4.add (local.get $a) (i32x4.add (i32x4.splat (i32.const 0xfff)) (v128.and (i32x4.shr_u (local.get $a) (i32.const 13)) (i32x4.splat (i32.const 1)))))
              (i32x4.splat (i32.const 0xffffe000))))
            (local.set $rs (f32x4.sub (f32x4.add (local.get $a) (local.get $cHalf)) (local.get $cHalf)))
            (local.set $r (v128.or (local.get $sign) (v128.bitselect (local.get $rs) (local.get $r) (i32x4.lt_s (local.get $a) (local.get $cSub)))))
            (local.set $big (v128.and (local.get $fin) (i32x4.ge_s (local.get $a) (local.get $cOvf))))))
        ;; d = x − r (x where it overflows), 0 for non-finite x
        (local.set $d (v128.bitselect (local.get $v) (f32x4.sub (local.get $v) (local.get $r)) (local.get $big)))
        (local.set $d (v128.and (local.get $d) (local.get $fin)))
        (local.set $ovf (i32x4.sub (local.get $ovf) (local.get $big)))
        (local.set $h (f64x2.promote_low_f32x4 (local.get $d)))
        (local.set $h (f64x2.mul (local.get $h) (local.get $h)))
        (local.set $mx (f64x2.pmax (local.get $mx) (local.get $h)))
        (local.set $hh (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $d) (local.get $d))))
        (local.set $hh (f64x2.mul (local.get $hh) (local.get $hh)))
        (local.set $mx (f64x2.pmax (local.get $mx) (local.get $hh)))
        ;; the two halves' squares are added together first: one dependent add per step
        (local.set $noise (f64x2.add (local.get $noise) (f64x2.add (local.get $h) (local.get $hh))))
        (local.set $i (i32.add (local.get $i) (local.get $step)))
        (br $vec)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $noise)) (f64x2.extract_lane 1 (local.get $noise)))))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc))
      (f64.sqrt (f64.max (f64x2.extract_lane 0 (local.get $mx)) (f64x2.extract_lane 1 (local.get $mx))))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc))
      (f64.convert_i32_s (i32.add
        (i32.add (i32x4.extract_lane 0 (local.get $ovf)) (i32x4.extract_lane 1 (local.get $ovf)))
        (i32.add (i32x4.extract_lane 2 (local.get $ovf)) (i32x4.extract_lane 3 (local.get $ovf))))))))

  ;; NF4 error (quantize.ts nf4Error, bitsandbytes NormalFloat: FP32 absmax m per $group along each row of $rowLen)
  ;; of $n float32 values at $x, two values per step in float64: y = x / m; k = the number of codebook midpoints
  ;; below y (15 compares; the constants are quantize.ts NF4_CODEBOOK's midpoints, exactly); q = float32(codebook[k]
  ;; × m), the codebook (NF4_CODEBOOK exactly) looked up in a 128-byte table the kernel writes at $tbl; d = x − q,
  ;; and where d is not finite (m = ±Inf) the error is x, counted as overflowed. Non-finite x are skipped. Adds Σd²
  ;; to $acc[0], max |d| to $acc[1] (max; kept as max d², exact: d is a float32 value), overflowed elements to
  ;; $acc[2], Σx² to $acc[3] and the finite count to $acc[4].
  (func (export "nf4Error") (param $x i32) (param $n i32) (param $rowLen i32) (param $group i32) (param $acc i32) (param $tbl i32)
    (local $row i32) (local $rowEnd i32) (local $s i32) (local $e i32) (local $i i32) (local $p i32)
    (local $v v128) (local $amaxV v128) (local $mV v128) (local $h v128) (local $fin v128) (local $y v128) (local $q v128) (local $kk v128)
    (local $d v128) (local $dfin v128) (local $noise v128) (local $mx v128) (local $sig v128) (local $cnt v128) (local $ovf v128)
    (local $amax f32) (local $a f32) (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128) (local $m8 v128) (local $m9 v128) (local $m10 v128) (local $m11 v128) (local $m12 v128) (local $m13 v128) (local $m14 v128)
    ;; the codebook table
    (f64.store offset=0 (local.get $tbl) (f64.const -0x1.0000000000000p0))
    (f64.store offset=8 (local.get $tbl) (f64.const -0x1.6473620000000p-1))
    (f64.store offset=16 (local.get $tbl) (f64.const -0x1.0cd6600000000p-1))
    (f64.store offset=24 (local.get $tbl) (f64.const -0x1.9465400000000p-2))
    (f64.store offset=32 (local.get $tbl) (f64.const -0x1.23449a0000000p-2))
    (f64.store offset=40 (local.get $tbl) (f64.const -0x1.7a6a7e0000000p-3))
    (f64.store offset=48 (local.get $tbl) (f64.const -0x1.74f0e20000000p-4))
    (f64.store offset=56 (local.get $tbl) (f64.const 0))
    (f64.store offset=64 (local.get $tbl) (f64.const 0x1.45f5fe0000000p-4))
    (f64.store offset=72 (local.get $tbl) (f64.const 0x1.4995c60000000p-3))
    (f64.store offset=80 (local.get $tbl) (f64.const 0x1.f809ba0000000p-3))
    (f64.store offset=88 (local.get $tbl) (f64.const 0x1.5a06740000000p-2))
    (f64.store offset=96 (local.get $tbl) (f64.const 0x1.c349700000000p-2))
    (f64.store offset=104 (local.get $tbl) (f64.const 0x1.200f560000000p-1))
    (f64.store offset=112 (local.get $tbl) (f64.const 0x1.7227660000000p-1))
    (f64.store offset=120 (local.get $tbl) (f64.const 0x1.0000000000000p0))
    (local.set $m0 (v128.const f64x2 -0x1.b239b10000000p-1 -0x1.b239b10000000p-1))
    (local.set $m1 (v128.const f64x2 -0x1.38a4e10000000p-1 -0x1.38a4e10000000p-1))
    (local.set $m2 (v128.const f64x2 -0x1.d709000000000p-2 -0x1.d709000000000p-2))
    (local.set $m3 (v128.const f64x2 -0x1.5bd4ed0000000p-2 -0x1.5bd4ed0000000p-2))
    (local.set $m4 (v128.const f64x2 -0x1.e079d90000000p-3 -0x1.e079d90000000p-3))
    (local.set $m5 (v128.const f64x2 -0x1.1a71778000000p-3 -0x1.1a71778000000p-3))
    (local.set $m6 (v128.const f64x2 -0x1.74f0e20000000p-5 -0x1.74f0e20000000p-5))
    (local.set $m7 (v128.const f64x2 0x1.45f5fe0000000p-5 0x1.45f5fe0000000p-5))
    (local.set $m8 (v128.const f64x2 0x1.ec90c50000000p-4 0x1.ec90c50000000p-4))
    (local.set $m9 (v128.const f64x2 0x1.a0cfc00000000p-3 0x1.a0cfc00000000p-3))
    (local.set $m10 (v128.const f64x2 0x1.2b05a88000000p-2 0x1.2b05a88000000p-2))
    (local.set $m11 (v128.const f64x2 0x1.8ea7f20000000p-2 0x1.8ea7f20000000p-2))
    (local.set $m12 (v128.const f64x2 0x1.00da070000000p-1 0x1.00da070000000p-1))
    (local.set $m13 (v128.const f64x2 0x1.491b5e0000000p-1 0x1.491b5e0000000p-1))
    (local.set $m14 (v128.const f64x2 0x1.b913b30000000p-1 0x1.b913b30000000p-1))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $n)))
        (local.set $rowEnd (i32.add (local.get $row) (local.get $rowLen)))
        (if (i32.gt_u (local.get $rowEnd) (local.get $n)) (then (local.set $rowEnd (local.get $n))))
        (local.set $s (local.get $row))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $s) (local.get $rowEnd)))
            (local.set $e (i32.add (local.get $s) (local.get $group)))
            (if (i32.gt_u (local.get $e) (local.get $rowEnd)) (then (local.set $e (local.get $rowEnd))))
            ;; m = max |x| of the group, ±Inf included, NaN ignored (quantize.ts absMax)
            (local.set $amaxV (v128.const i64x2 0 0))
            (local.set $i (local.get $s))
            (block $aDone
              (loop $aLoop
                (br_if $aDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $e)))
                (local.set $amaxV (f32x4.pmax (local.get $amaxV) (f32x4.abs (v128.load align=4 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (br $aLoop)))
            (local.set $amax (f32.max
              (f32.max (f32x4.extract_lane 0 (local.get $amaxV)) (f32x4.extract_lane 1 (local.get $amaxV)))
              (f32.max (f32x4.extract_lane 2 (local.get $amaxV)) (f32x4.extract_lane 3 (local.get $amaxV)))))
            (block $atDone
              (loop $at
                (br_if $atDone (i32.ge_u (local.get $i) (local.get $e)))
                (local.set $a (f32.abs (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))))
                (if (f32.gt (local.get $a) (local.get $amax)) (then (local.set $amax (local.get $a))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $at)))
            (local.set $mV (f64x2.splat (f64.promote_f32 (local.get $amax))))
            ;; two values per step; an odd last value is paired with a NaN (skipped)
            (local.set $i (local.get $s))
            (block $vDone
              (loop $vLoop
                (br_if $vDone (i32.ge_u (local.get $i) (local.get $e)))
                (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2))))
                (local.set $h (if (result v128) (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $e))
                  (then (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (local.get $p))))
                  (else (f64x2.replace_lane 0 (v128.const f64x2 nan nan) (f64.promote_f32 (f32.load (local.get $p)))))))
                (local.set $fin (f64x2.eq (f64x2.sub (local.get $h) (local.get $h)) (v128.const i64x2 0 0)))
                (local.set $y (f64x2.div (local.get $h) (local.get $mV)))
                (local.set $kk (v128.const i64x2 0 0))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m0))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m1))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m2))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m3))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m4))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m5))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m6))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m7))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m8))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m9))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m10))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m11))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m12))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m13))))
                (local.set $kk (i64x2.sub (local.get $kk) (f64x2.gt (local.get $y) (local.get $m14))))
                (local.set $q (f64x2.replace_lane 1 (f64x2.splat (f64.load (i32.add (local.get $tbl) (i32.shl (i32.wrap_i64 (i64x2.extract_lane 0 (local.get $kk))) (i32.const 3))))) (f64.load (i32.add (local.get $tbl) (i32.shl (i32.wrap_i64 (i64x2.extract_lane 1 (local.get $kk))) (i32.const 3))))))
                (local.set $q (f64x2.promote_low_f32x4 (f32x4.demote_f64x2_zero (f64x2.mul (local.get $q) (local.get $mV)))))
                (local.set $d (f64x2.sub (local.get $h) (local.get $q)))
                (local.set $dfin (f64x2.eq (f64x2.sub (local.get $d) (local.get $d)) (v128.const i64x2 0 0)))
                (local.set $ovf (i64x2.sub (local.get $ovf) (v128.andnot (local.get $fin) (local.get $dfin))))
                (local.set $d (v128.and (v128.bitselect (local.get $d) (local.get $h) (local.get $dfin)) (local.get $fin)))
                (local.set $h (v128.and (local.get $h) (local.get $fin)))
                (local.set $d (f64x2.mul (local.get $d) (local.get $d)))
                (local.set $noise (f64x2.add (local.get $noise) (local.get $d)))
                (local.set $mx (f64x2.pmax (local.get $mx) (local.get $d)))
                (local.set $sig (f64x2.add (local.get $sig) (f64x2.mul (local.get $h) (local.get $h))))
                (local.set $cnt (i64x2.sub (local.get $cnt) (local.get $fin)))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (br $vLoop)))
            (local.set $s (local.get $e))
            (br $groups)))
        (local.set $row (local.get $rowEnd))
        (br $rows)))
    (f64.store offset=0 (local.get $acc) (f64.add (f64.load offset=0 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $noise)) (f64x2.extract_lane 1 (local.get $noise)))))
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc))
      (f64.sqrt (f64.max (f64x2.extract_lane 0 (local.get $mx)) (f64x2.extract_lane 1 (local.get $mx))))))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc))
      (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $ovf)) (i64x2.extract_lane 1 (local.get $ovf))))))
    (f64.store offset=24 (local.get $acc) (f64.add (f64.load offset=24 (local.get $acc)) (f64.add (f64x2.extract_lane 0 (local.get $sig)) (f64x2.extract_lane 1 (local.get $sig)))))
    (f64.store offset=32 (local.get $acc) (f64.add (f64.load offset=32 (local.get $acc))
      (f64.convert_i64_s (i64.add (i64x2.extract_lane 0 (local.get $cnt)) (i64x2.extract_lane 1 (local.get $cnt)))))))
)
