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
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $i) (i32.const 2)))
          (f32x4.extract_lane 0 (call $half4 (i32x4.splat (local.get $h)) (local.get $c7fff) (local.get $c8000) (local.get $cInf) (local.get $cExp) (local.get $cMul))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; Four FP16 bit patterns (one per i32 lane) → float32.
  (func $half4 (param $w v128) (param $c7fff v128) (param $c8000 v128) (param $cInf v128) (param $cExp v128) (param $cMul v128) (result v128)
    (local $em v128) (local $bits v128)
    (local.set $em (v128.and (local.get $w) (local.get $c7fff)))
    (local.set $bits (i32x4.shl (local.get $em) (i32.const 13)))
    (v128.or
      (v128.bitselect
        (v128.or (local.get $bits) (local.get $cExp))
        (f32x4.mul (local.get $bits) (local.get $cMul))
        (i32x4.ge_u (local.get $em) (local.get $cInf)))
      (i32x4.shl (v128.and (local.get $w) (local.get $c8000)) (i32.const 16))))

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
  ;; x × (1 / scale) in float64. Non-finite x are skipped. Adds Σd² to $acc[0], max |d| to $acc[1] (max),
  ;; overflowed elements to $acc[2] (float64). Σx² and the count come from the statistics pass.
  ;; Fast path (mode 0, all values of the group finite, |x|/scale provably inside [qmin − ½, qmax + ½)): no
  ;; finiteness mask and no clamp; otherwise the masked, clamped loop.
  (func (export "intError") (param $x i32) (param $n i32) (param $rowLen i32) (param $group i32)
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
                    (local.set $noise (f64x2.add (local.get $noise) (f64x2.mul (local.get $d) (local.get $d))))
                    (local.set $mx (f64x2.pmax (local.get $mx) (f64x2.abs (local.get $d))))
                    (local.set $h (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
                    (local.set $d (f64x2.sub (local.get $h) (f64x2.mul (f64x2.nearest (f64x2.mul (local.get $h) (local.get $ivV))) (local.get $scV))))
                    (local.set $noise (f64x2.add (local.get $noise) (f64x2.mul (local.get $d) (local.get $d))))
                    (local.set $mx (f64x2.pmax (local.get $mx) (f64x2.abs (local.get $d))))
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
                      (local.set $noise (f64x2.add (local.get $noise) (f64x2.mul (local.get $d) (local.get $d))))
                      (local.set $mx (f64x2.pmax (local.get $mx) (f64x2.abs (local.get $d))))
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
                    (if (f64.gt (f64.abs (local.get $ds)) (local.get $smx)) (then (local.set $smx (f64.abs (local.get $ds)))))
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
    (f64.store offset=8 (local.get $acc) (f64.max (f64.load offset=8 (local.get $acc)) (local.get $smx)))
    (f64.store offset=16 (local.get $acc) (f64.add (f64.load offset=16 (local.get $acc)) (local.get $ovf))))
)
