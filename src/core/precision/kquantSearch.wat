;; WebAssembly SIMD scale searches of ggml's K-quants and Q8_0's simulation (kquantSearch.ts). Compiled by `npm run build:kernels`
;; (scripts/buildKernels.mjs, wabt) into gen/kquantSearchWasm.ts.
;;
;; These compute exactly what the reference ports in ggmlQuants.ts compute (make_qkx2_quants for Q2_K/Q4_K/Q5_K,
;; make_qx_quants for Q6_K, make_q3_quants for Q3_K, and each element's final code from its sub-block's step): every intermediate is one IEEE float32 operation on float32 operands, in the same order
;; (WebAssembly never contracts a*b + c), each f32x4 lane summing its elements in the reference's order. The
;; searches run eight sub-blocks side by side, one per lane, each taking its trials (make_qkx2, make_qx) or its
;; refinement passes (make_q3) in the reference's order (make_qkx2's trials depend on each other through `min`,
;; which moves when a trial wins). Inputs with NaN are not handled here (`hasNaN`; the caller takes the reference path for
;; them, whose NaN code conversion is JavaScript's).
;;
;; Memory is owned by the caller (kquantSearch.ts); the scratch areas below sit above its buffers.
(module
  (memory (export "memory") 2)

  ;; Scratch (byte offsets): CODES 64 × v128 (one code per lane: f32 in make_qkx2, i32 in make_q3; x³ in make_qx), XT
  ;; and WT 64 × v128 (the searches: eight sub-blocks' values and weights, transposed so that element i of each is two
  ;; v128), LANES 6 × v128 (per-lane results read back by index).
  (global $CODES i32 (i32.const 0x1f000))
  (global $XT i32 (i32.const 0x1f400))
  (global $WT i32 (i32.const 0x1f800))
  (global $LANES i32 (i32.const 0x1fc00))

  ;; 1 when any of the n float32 values at $x is NaN (n a multiple of 4).
  (func (export "hasNaN") (param $x i32) (param $n i32) (result i32)
    (local $i i32) (local $acc v128) (local $v v128)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $acc (v128.or (local.get $acc) (f32x4.ne (local.get $v) (local.get $v))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l)))
    (v128.any_true (local.get $acc)))

  ;; make_qkx2_quants over $nsub runs of $n (≤ 32) float32 values at $x. Weights: $wmode 0 = av_x + |x| with
  ;; av_x = sqrt(Σx²/n) (Q4_K, Q5_K), 1 = |x| (Q2_K). Writes the scale to $outS[sb], −min to $outM[sb] (f32) and
  ;; the codes to $outL[sb·n + i] (u8).
  ;; Eight sub-blocks run side by side, one per f32x4 lane in two groups of four (a: the first four, b: the next;
  ;; transposed into XT/WT, element i of group b 16 bytes after group a's), and each lane takes the reference's
  ;; trials in order: a winner's `min` moves only its own lane, so no trial is ever computed twice. The two groups'
  ;; steps are interleaved for the processor's sake (each sum is a chain of dependent additions). A lane past the
  ;; last sub-block repeats the last one and is not written.
  (func (export "qkx2") (param $x i32) (param $nsub i32) (param $n i32) (param $nmax i32) (param $rmin f32) (param $rdelta f32) (param $nstep i32) (param $mad i32) (param $wmode i32) (param $outS i32) (param $outM i32) (param $outL i32)
    (local $sb i32) (local $i i32) (local $k i32) (local $p i32) (local $q i32) (local $is i32) (local $lanes i32)
    (local $fnmax f32) (local $vnum v128) (local $vnmax v128) (local $inmax v128)
    (local $vxa v128) (local $vwa v128) (local $vla v128) (local $vwla v128) (local $vda v128)
    (local $mina v128) (local $maxa v128) (local $sumWa v128) (local $sumXa v128) (local $flata v128)
    (local $iscale0a v128) (local $min0a v128) (local $scalea v128) (local $besta v128)
    (local $visa v128) (local $sLa v128) (local $sL2a v128) (local $sXLa v128) (local $vDa v128) (local $vSa v128) (local $vMa v128) (local $maska v128)
    (local $cura v128) (local $wina v128) (local $wona v128) (local $isWa v128) (local $minWa v128)
    (local $vxb v128) (local $vwb v128) (local $vlb v128) (local $vwlb v128) (local $vdb v128)
    (local $minb v128) (local $maxb v128) (local $sumWb v128) (local $sumXb v128) (local $flatb v128)
    (local $iscale0b v128) (local $min0b v128) (local $scaleb v128) (local $bestb v128)
    (local $visb v128) (local $sLb v128) (local $sL2b v128) (local $sXLb v128) (local $vDb v128) (local $vSb v128) (local $vMb v128) (local $maskb v128)
    (local $curb v128) (local $winb v128) (local $wonb v128) (local $isWb v128) (local $minWb v128)
    (local.set $fnmax (f32.convert_i32_s (local.get $nmax)))
    (local.set $vnmax (f32x4.splat (local.get $fnmax)))
    (local.set $inmax (i32x4.splat (local.get $nmax)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $lanes (i32.sub (local.get $nsub) (local.get $sb)))
        (if (i32.gt_u (local.get $lanes) (i32.const 8)) (then (local.set $lanes (i32.const 8))))
        ;; transpose: lane k (group k / 4, lane k mod 4) = sub-block min(sb + k, nsub − 1); XT + 32·i + 4·k
        (local.set $k (i32.const 0))
        (block $b0 (loop $l0
          (br_if $b0 (i32.ge_u (local.get $k) (i32.const 8)))
          (local.set $q (i32.add (local.get $sb) (local.get $k)))
          (if (i32.ge_u (local.get $q) (local.get $nsub)) (then (local.set $q (i32.sub (local.get $nsub) (i32.const 1)))))
          (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $q) (local.get $n)) (i32.const 2))))
          (local.set $q (i32.add (global.get $XT) (i32.shl (local.get $k) (i32.const 2))))
          (local.set $i (i32.const 0))
          (block $b0i (loop $l0i
            (br_if $b0i (i32.ge_u (local.get $i) (local.get $n)))
            (f32.store (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 5))) (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l0i)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l0)))
        ;; weights
        (if (i32.eqz (local.get $wmode))
          (then
            (local.set $vda (v128.const i32x4 0 0 0 0))
            (local.set $vdb (v128.const i32x4 0 0 0 0))
            (local.set $i (i32.const 0))
            (block $b1 (loop $l1
              (br_if $b1 (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $p (i32.shl (local.get $i) (i32.const 5)))
              (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
              (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
              (local.set $vda (f32x4.add (local.get $vda) (f32x4.mul (local.get $vxa) (local.get $vxa))))
              (local.set $vdb (f32x4.add (local.get $vdb) (f32x4.mul (local.get $vxb) (local.get $vxb))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l1)))
            ;; av_x
            (local.set $vda (f32x4.sqrt (f32x4.div (local.get $vda) (f32x4.splat (f32.convert_i32_s (local.get $n))))))
            (local.set $vdb (f32x4.sqrt (f32x4.div (local.get $vdb) (f32x4.splat (f32.convert_i32_s (local.get $n))))))
            (local.set $i (i32.const 0))
            (block $b2 (loop $l2
              (br_if $b2 (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $p (i32.shl (local.get $i) (i32.const 5)))
              (v128.store (i32.add (global.get $WT) (local.get $p)) (f32x4.add (local.get $vda) (f32x4.abs (v128.load (i32.add (global.get $XT) (local.get $p))))))
              (v128.store offset=16 (i32.add (global.get $WT) (local.get $p)) (f32x4.add (local.get $vdb) (f32x4.abs (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l2))))
          (else
            (local.set $i (i32.const 0))
            (block $b3 (loop $l3
              (br_if $b3 (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $p (i32.shl (local.get $i) (i32.const 5)))
              (v128.store (i32.add (global.get $WT) (local.get $p)) (f32x4.abs (v128.load (i32.add (global.get $XT) (local.get $p)))))
              (v128.store offset=16 (i32.add (global.get $WT) (local.get $p)) (f32x4.abs (v128.load offset=16 (i32.add (global.get $XT) (local.get $p)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $l3)))))
        ;; min, max, Σw, Σw·x. pmin(a, b) = b < a ? b : a and pmax(a, b) = a < b ? b : a are the reference's
        ;; `if (x < min) min = x` and `if (x > max) max = x` (−0 and +0 kept as met).
        (local.set $mina (v128.load (global.get $XT)))
        (local.set $minb (v128.load offset=16 (global.get $XT)))
        (local.set $maxa (local.get $mina))
        (local.set $maxb (local.get $minb))
        (local.set $sumWa (v128.load (global.get $WT)))
        (local.set $sumWb (v128.load offset=16 (global.get $WT)))
        (local.set $sumXa (f32x4.mul (local.get $sumWa) (local.get $mina)))
        (local.set $sumXb (f32x4.mul (local.get $sumWb) (local.get $minb)))
        (local.set $i (i32.const 1))
        (block $b4 (loop $l4
          (br_if $b4 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          (local.set $vwa (v128.load (i32.add (global.get $WT) (local.get $p))))
          (local.set $vwb (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))))
          (local.set $mina (f32x4.pmin (local.get $mina) (local.get $vxa)))
          (local.set $minb (f32x4.pmin (local.get $minb) (local.get $vxb)))
          (local.set $maxa (f32x4.pmax (local.get $maxa) (local.get $vxa)))
          (local.set $maxb (f32x4.pmax (local.get $maxb) (local.get $vxb)))
          (local.set $sumWa (f32x4.add (local.get $sumWa) (local.get $vwa)))
          (local.set $sumWb (f32x4.add (local.get $sumWb) (local.get $vwb)))
          (local.set $sumXa (f32x4.add (local.get $sumXa) (f32x4.mul (local.get $vwa) (local.get $vxa))))
          (local.set $sumXb (f32x4.add (local.get $sumXb) (f32x4.mul (local.get $vwb) (local.get $vxb))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l4)))
        ;; if (min > 0) min = 0; a lane with max == min is flat: scale 0, codes 0
        (local.set $mina (f32x4.pmin (local.get $mina) (v128.const i32x4 0 0 0 0)))
        (local.set $minb (f32x4.pmin (local.get $minb) (v128.const i32x4 0 0 0 0)))
        (local.set $flata (f32x4.eq (local.get $maxa) (local.get $mina)))
        (local.set $flatb (f32x4.eq (local.get $maxb) (local.get $minb)))
        ;; initial fit, codes by nearest_int: (float)(v + 1.5·2²³) read as int, low 23 bits − 2²²
        (local.set $iscale0a (f32x4.div (local.get $vnmax) (f32x4.sub (local.get $maxa) (local.get $mina))))
        (local.set $iscale0b (f32x4.div (local.get $vnmax) (f32x4.sub (local.get $maxb) (local.get $minb))))
        (local.set $scalea (f32x4.div (f32x4.splat (f32.const 1)) (local.get $iscale0a)))
        (local.set $scaleb (f32x4.div (f32x4.splat (f32.const 1)) (local.get $iscale0b)))
        (local.set $min0a (local.get $mina))
        (local.set $min0b (local.get $minb))
        (local.set $besta (v128.const i32x4 0 0 0 0))
        (local.set $bestb (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $b5 (loop $l5
          (br_if $b5 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          (local.set $vla 
            (f32x4.convert_i32x4_s 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub 
                    (v128.and (f32x4.add (f32x4.mul (local.get $iscale0a) (f32x4.sub (local.get $vxa) (local.get $mina))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) 
                    (i32x4.splat (i32.const 0x400000))) 
                  (local.get $inmax)) 
                (v128.const i32x4 0 0 0 0))))
          (local.set $vlb 
            (f32x4.convert_i32x4_s 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub 
                    (v128.and (f32x4.add (f32x4.mul (local.get $iscale0b) (f32x4.sub (local.get $vxb) (local.get $minb))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) 
                    (i32x4.splat (i32.const 0x400000))) 
                  (local.get $inmax)) 
                (v128.const i32x4 0 0 0 0))))
          (local.set $vda (f32x4.sub (f32x4.add (f32x4.mul (local.get $scalea) (local.get $vla)) (local.get $mina)) (local.get $vxa)))
          (local.set $vdb (f32x4.sub (f32x4.add (f32x4.mul (local.get $scaleb) (local.get $vlb)) (local.get $minb)) (local.get $vxb)))
          (local.set $vda (if (result v128) (local.get $mad) (then (f32x4.abs (local.get $vda))) (else (f32x4.mul (local.get $vda) (local.get $vda)))))
          (local.set $vdb (if (result v128) (local.get $mad) (then (f32x4.abs (local.get $vdb))) (else (f32x4.mul (local.get $vdb) (local.get $vdb)))))
          (local.set $besta (f32x4.add (local.get $besta) (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (local.get $vda))))
          (local.set $bestb (f32x4.add (local.get $bestb) (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (local.get $vdb))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l5)))
        (local.set $wona (v128.const i32x4 0 0 0 0))
        (local.set $wonb (v128.const i32x4 0 0 0 0))
        (local.set $isWa (local.get $iscale0a))
        (local.set $isWb (local.get $iscale0b))
        (local.set $minWa (local.get $mina))
        (local.set $minWb (local.get $minb))
        ;; trial scales
        (local.set $is (i32.const 0))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.gt_s (local.get $is) (local.get $nstep)))
          (local.set $vnum (f32x4.splat (f32.add (f32.add (local.get $rmin) (f32.mul (local.get $rdelta) (f32.convert_i32_s (local.get $is)))) (local.get $fnmax))))
          (local.set $visa (f32x4.div (local.get $vnum) (f32x4.sub (local.get $maxa) (local.get $mina))))
          (local.set $visb (f32x4.div (local.get $vnum) (f32x4.sub (local.get $maxb) (local.get $minb))))
          (local.set $sLa (v128.const i32x4 0 0 0 0))
          (local.set $sLb (v128.const i32x4 0 0 0 0))
          (local.set $sL2a (v128.const i32x4 0 0 0 0))
          (local.set $sL2b (v128.const i32x4 0 0 0 0))
          (local.set $sXLa (v128.const i32x4 0 0 0 0))
          (local.set $sXLb (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (block $b6 (loop $l6
            (br_if $b6 (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $p (i32.shl (local.get $i) (i32.const 5)))
            (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
            (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
            ;; The code clamp(nearest, 0, nmax) as a float, as the integer clamp then conversion would give it:
            ;; pmax(0, r) = 0 < r ? r : 0 (NaN and −0 give +0), pmin(r, nmax) = nmax < r ? nmax : r.
            (local.set $vla 
              (f32x4.pmin 
                (f32x4.pmax 
                  (v128.const i32x4 0 0 0 0) 
                  (f32x4.nearest (f32x4.mul (local.get $visa) (f32x4.sub (local.get $vxa) (local.get $mina))))) 
                (local.get $vnmax)))
            (local.set $vlb 
              (f32x4.pmin 
                (f32x4.pmax 
                  (v128.const i32x4 0 0 0 0) 
                  (f32x4.nearest (f32x4.mul (local.get $visb) (f32x4.sub (local.get $vxb) (local.get $minb))))) 
                (local.get $vnmax)))
            (v128.store (i32.add (global.get $CODES) (local.get $p)) (local.get $vla))
            (v128.store offset=16 (i32.add (global.get $CODES) (local.get $p)) (local.get $vlb))
            (local.set $vwla (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (local.get $vla)))
            (local.set $vwlb (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (local.get $vlb)))
            (local.set $sLa (f32x4.add (local.get $sLa) (local.get $vwla)))
            (local.set $sLb (f32x4.add (local.get $sLb) (local.get $vwlb)))
            (local.set $sL2a (f32x4.add (local.get $sL2a) (f32x4.mul (local.get $vwla) (local.get $vla))))
            (local.set $sL2b (f32x4.add (local.get $sL2b) (f32x4.mul (local.get $vwlb) (local.get $vlb))))
            (local.set $sXLa (f32x4.add (local.get $sXLa) (f32x4.mul (local.get $vwla) (local.get $vxa))))
            (local.set $sXLb (f32x4.add (local.get $sXLb) (f32x4.mul (local.get $vwlb) (local.get $vxb))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l6)))
          (local.set $vDa (f32x4.sub (f32x4.mul (local.get $sumWa) (local.get $sL2a)) (f32x4.mul (local.get $sLa) (local.get $sLa))))
          (local.set $vDb (f32x4.sub (f32x4.mul (local.get $sumWb) (local.get $sL2b)) (f32x4.mul (local.get $sLb) (local.get $sLb))))
          (local.set $vSa (f32x4.div (f32x4.sub (f32x4.mul (local.get $sumWa) (local.get $sXLa)) (f32x4.mul (local.get $sumXa) (local.get $sLa))) (local.get $vDa)))
          (local.set $vSb (f32x4.div (f32x4.sub (f32x4.mul (local.get $sumWb) (local.get $sXLb)) (f32x4.mul (local.get $sumXb) (local.get $sLb))) (local.get $vDb)))
          (local.set $vMa (f32x4.div (f32x4.sub (f32x4.mul (local.get $sL2a) (local.get $sumXa)) (f32x4.mul (local.get $sLa) (local.get $sXLa))) (local.get $vDa)))
          (local.set $vMb (f32x4.div (f32x4.sub (f32x4.mul (local.get $sL2b) (local.get $sumXb)) (f32x4.mul (local.get $sLb) (local.get $sXLb))) (local.get $vDb)))
          (local.set $maska (f32x4.gt (local.get $vMa) (v128.const i32x4 0 0 0 0)))
          (local.set $maskb (f32x4.gt (local.get $vMb) (v128.const i32x4 0 0 0 0)))
          (local.set $vMa (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $vMa) (local.get $maska)))
          (local.set $vMb (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $vMb) (local.get $maskb)))
          (local.set $vSa (v128.bitselect (f32x4.div (local.get $sXLa) (local.get $sL2a)) (local.get $vSa) (local.get $maska)))
          (local.set $vSb (v128.bitselect (f32x4.div (local.get $sXLb) (local.get $sL2b)) (local.get $vSb) (local.get $maskb)))
          ;; error of each lane's fit (one loop per error kind: no branch per element)
          (local.set $cura (v128.const i32x4 0 0 0 0))
          (local.set $curb (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (if (local.get $mad)
            (then
              (block $b7 (loop $l7
                (br_if $b7 (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $p (i32.shl (local.get $i) (i32.const 5)))
                (local.set $vda 
                  (f32x4.abs (f32x4.sub 
                    (f32x4.add (f32x4.mul (local.get $vSa) (v128.load (i32.add (global.get $CODES) (local.get $p)))) (local.get $vMa)) 
                    (v128.load (i32.add (global.get $XT) (local.get $p))))))
                (local.set $vdb 
                  (f32x4.abs (f32x4.sub 
                    (f32x4.add (f32x4.mul (local.get $vSb) (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p)))) (local.get $vMb)) 
                    (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))))
                (local.set $cura (f32x4.add (local.get $cura) (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (local.get $vda))))
                (local.set $curb (f32x4.add (local.get $curb) (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (local.get $vdb))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l7))))
            (else
              (block $b7s (loop $l7s
                (br_if $b7s (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $p (i32.shl (local.get $i) (i32.const 5)))
                (local.set $vda 
                  (f32x4.sub 
                    (f32x4.add (f32x4.mul (local.get $vSa) (v128.load (i32.add (global.get $CODES) (local.get $p)))) (local.get $vMa)) 
                    (v128.load (i32.add (global.get $XT) (local.get $p)))))
                (local.set $vdb 
                  (f32x4.sub 
                    (f32x4.add (f32x4.mul (local.get $vSb) (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p)))) (local.get $vMb)) 
                    (v128.load offset=16 (i32.add (global.get $XT) (local.get $p)))))
                (local.set $cura (f32x4.add (local.get $cura) (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (f32x4.mul (local.get $vda) (local.get $vda)))))
                (local.set $curb (f32x4.add (local.get $curb) (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (f32x4.mul (local.get $vdb) (local.get $vdb)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l7s)))))
          ;; a lane's trial wins when D > 0 and its error is below the lane's best (never in a flat lane)
          (local.set $wina (v128.andnot 
            (v128.and (f32x4.gt (local.get $vDa) (v128.const i32x4 0 0 0 0)) (f32x4.lt (local.get $cura) (local.get $besta))) 
            (local.get $flata)))
          (local.set $winb (v128.andnot 
            (v128.and (f32x4.gt (local.get $vDb) (v128.const i32x4 0 0 0 0)) (f32x4.lt (local.get $curb) (local.get $bestb))) 
            (local.get $flatb)))
          (local.set $besta (v128.bitselect (local.get $cura) (local.get $besta) (local.get $wina)))
          (local.set $bestb (v128.bitselect (local.get $curb) (local.get $bestb) (local.get $winb)))
          (local.set $scalea (v128.bitselect (local.get $vSa) (local.get $scalea) (local.get $wina)))
          (local.set $scaleb (v128.bitselect (local.get $vSb) (local.get $scaleb) (local.get $winb)))
          ;; the winner's codes come from this trial's iscale and the min it started from
          (local.set $isWa (v128.bitselect (local.get $visa) (local.get $isWa) (local.get $wina)))
          (local.set $isWb (v128.bitselect (local.get $visb) (local.get $isWb) (local.get $winb)))
          (local.set $minWa (v128.bitselect (local.get $mina) (local.get $minWa) (local.get $wina)))
          (local.set $minWb (v128.bitselect (local.get $minb) (local.get $minWb) (local.get $winb)))
          (local.set $mina (v128.bitselect (local.get $vMa) (local.get $mina) (local.get $wina)))
          (local.set $minb (v128.bitselect (local.get $vMb) (local.get $minb) (local.get $winb)))
          (local.set $wona (v128.or (local.get $wona) (local.get $wina)))
          (local.set $wonb (v128.or (local.get $wonb) (local.get $winb)))
          (local.set $is (i32.add (local.get $is) (i32.const 1)))
          (br $tLoop)))
        ;; results of the valid lanes: scale (0 when flat), −min, and the codes of each lane's last winner
        (v128.store (global.get $LANES) (v128.andnot (local.get $scalea) (local.get $flata)))
        (v128.store offset=16 (global.get $LANES) (v128.andnot (local.get $scaleb) (local.get $flatb)))
        (v128.store (i32.add (global.get $LANES) (i32.const 32)) (f32x4.neg (local.get $mina)))
        (v128.store offset=16 (i32.add (global.get $LANES) (i32.const 32)) (f32x4.neg (local.get $minb)))
        (local.set $k (i32.const 0))
        (block $b8 (loop $l8
          (br_if $b8 (i32.ge_u (local.get $k) (local.get $lanes)))
          (local.set $p (i32.shl (i32.add (local.get $sb) (local.get $k)) (i32.const 2)))
          (local.set $q (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2))))
          (f32.store (i32.add (local.get $outS) (local.get $p)) (f32.load (local.get $q)))
          (f32.store (i32.add (local.get $outM) (local.get $p)) (f32.load offset=32 (local.get $q)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l8)))
        (local.set $i (i32.const 0))
        (block $b9 (loop $l9
          (br_if $b9 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          ;; trial winner: trunc of the clamped float code; no winner: the initial fit's nearest_int code
          (local.set $vla 
            (v128.bitselect 
              (i32x4.trunc_sat_f32x4_s 
                (f32x4.pmin 
                  (f32x4.pmax (v128.const i32x4 0 0 0 0) (f32x4.nearest (f32x4.mul (local.get $isWa) (f32x4.sub (local.get $vxa) (local.get $minWa))))) 
                  (local.get $vnmax))) 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub 
                    (v128.and (f32x4.add (f32x4.mul (local.get $iscale0a) (f32x4.sub (local.get $vxa) (local.get $min0a))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) 
                    (i32x4.splat (i32.const 0x400000))) 
                  (local.get $inmax)) 
                (v128.const i32x4 0 0 0 0)) 
              (local.get $wona)))
          (local.set $vlb 
            (v128.bitselect 
              (i32x4.trunc_sat_f32x4_s 
                (f32x4.pmin 
                  (f32x4.pmax (v128.const i32x4 0 0 0 0) (f32x4.nearest (f32x4.mul (local.get $isWb) (f32x4.sub (local.get $vxb) (local.get $minWb))))) 
                  (local.get $vnmax))) 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub 
                    (v128.and (f32x4.add (f32x4.mul (local.get $iscale0b) (f32x4.sub (local.get $vxb) (local.get $min0b))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) 
                    (i32x4.splat (i32.const 0x400000))) 
                  (local.get $inmax)) 
                (v128.const i32x4 0 0 0 0)) 
              (local.get $wonb)))
          ;; (a flat lane's code would be nearest_int of ∞·0: a NaN whose bits WebAssembly leaves open)
          (v128.store (global.get $LANES) (v128.andnot (local.get $vla) (local.get $flata)))
          (v128.store offset=16 (global.get $LANES) (v128.andnot (local.get $vlb) (local.get $flatb)))
          (local.set $k (i32.const 0))
          (local.set $q (i32.add (local.get $outL) (i32.add (i32.mul (local.get $sb) (local.get $n)) (local.get $i))))
          (block $b10 (loop $l10
            (br_if $b10 (i32.ge_u (local.get $k) (local.get $lanes)))
            (i32.store8 (local.get $q) (i32.load (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $q (i32.add (local.get $q) (local.get $n)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $l10)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l9)))
        (local.set $sb (i32.add (local.get $sb) (i32.const 8)))
        (br $sbLoop))))

  ;; make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL) over $nsub runs of $n (≤ 32) float32 values at $x. $nums
  ;; holds the 18 trial numerators −(nmax + 0.1·is), is = −9…−1, 1…9 (f32 × 20, the last two unused). Writes the
  ;; scale to $outS[sb] and the codes l + nmax (0 for an all-zero run) to $outL[sb·n + i] (u8).
  ;; Eight sub-blocks side by side as in make_qkx2 (two groups of four lanes, transposed into XT; the weights x² in
  ;; WT and x³ = x²·x in CODES), each lane taking the 18 trials in order. A winner's codes are those of its iscale,
  ;; so only the last winner's iscale is kept and the codes are made once at the end.
  (func (export "qx") (param $x i32) (param $nsub i32) (param $n i32) (param $nmax i32) (param $nums i32) (param $outS i32) (param $outL i32)
    (local $sb i32) (local $i i32) (local $k i32) (local $p i32) (local $q i32) (local $t i32) (local $lanes i32)
    (local $vnum v128) (local $vlo v128) (local $vhi v128) (local $inmax v128)
    (local $vxa v128) (local $vla v128) (local $vlfa v128) (local $vaxa v128) (local $maxa v128) (local $amaxa v128) (local $zeroa v128) (local $maska v128)
    (local $isWa v128) (local $visa v128) (local $slxa v128) (local $sl2a v128) (local $scalea v128) (local $besta v128)
    (local $vxb v128) (local $vlb v128) (local $vlfb v128) (local $vaxb v128) (local $maxb v128) (local $amaxb v128) (local $zerob v128) (local $maskb v128)
    (local $isWb v128) (local $visb v128) (local $slxb v128) (local $sl2b v128) (local $scaleb v128) (local $bestb v128)
    (local.set $vlo (i32x4.splat (i32.sub (i32.const 0) (local.get $nmax))))
    (local.set $vhi (i32x4.splat (i32.sub (local.get $nmax) (i32.const 1))))
    (local.set $inmax (i32x4.splat (local.get $nmax)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $lanes (i32.sub (local.get $nsub) (local.get $sb)))
        (if (i32.gt_u (local.get $lanes) (i32.const 8)) (then (local.set $lanes (i32.const 8))))
        ;; transpose: lane k (group k / 4, lane k mod 4) = sub-block min(sb + k, nsub − 1); XT + 32·i + 4·k
        (local.set $k (i32.const 0))
        (block $b0 (loop $l0
          (br_if $b0 (i32.ge_u (local.get $k) (i32.const 8)))
          (local.set $q (i32.add (local.get $sb) (local.get $k)))
          (if (i32.ge_u (local.get $q) (local.get $nsub)) (then (local.set $q (i32.sub (local.get $nsub) (i32.const 1)))))
          (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $q) (local.get $n)) (i32.const 2))))
          (local.set $q (i32.add (global.get $XT) (i32.shl (local.get $k) (i32.const 2))))
          (local.set $i (i32.const 0))
          (block $b0i (loop $l0i
            (br_if $b0i (i32.ge_u (local.get $i) (local.get $n)))
            (f32.store (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 5))) (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l0i)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l0)))
        ;; max |x| (the first of equal magnitudes, as `if (ax > amax)` keeps it), its signed value, and the weights
        (local.set $amaxa (v128.const i32x4 0 0 0 0))
        (local.set $amaxb (v128.const i32x4 0 0 0 0))
        (local.set $maxa (v128.const i32x4 0 0 0 0))
        (local.set $maxb (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $b1 (loop $l1
          (br_if $b1 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          (local.set $vaxa (f32x4.abs (local.get $vxa)))
          (local.set $vaxb (f32x4.abs (local.get $vxb)))
          (local.set $maska (f32x4.gt (local.get $vaxa) (local.get $amaxa)))
          (local.set $maskb (f32x4.gt (local.get $vaxb) (local.get $amaxb)))
          (local.set $amaxa (v128.bitselect (local.get $vaxa) (local.get $amaxa) (local.get $maska)))
          (local.set $amaxb (v128.bitselect (local.get $vaxb) (local.get $amaxb) (local.get $maskb)))
          (local.set $maxa (v128.bitselect (local.get $vxa) (local.get $maxa) (local.get $maska)))
          (local.set $maxb (v128.bitselect (local.get $vxb) (local.get $maxb) (local.get $maskb)))
          (local.set $vla (f32x4.mul (local.get $vxa) (local.get $vxa)))
          (local.set $vlb (f32x4.mul (local.get $vxb) (local.get $vxb)))
          (v128.store (i32.add (global.get $WT) (local.get $p)) (local.get $vla))
          (v128.store offset=16 (i32.add (global.get $WT) (local.get $p)) (local.get $vlb))
          (v128.store (i32.add (global.get $CODES) (local.get $p)) (f32x4.mul (local.get $vla) (local.get $vxa)))
          (v128.store offset=16 (i32.add (global.get $CODES) (local.get $p)) (f32x4.mul (local.get $vlb) (local.get $vxb)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l1)))
        ;; The reference compares the float32 amax with the double 1e-15. The float32 nearest to 1e-15 (what
        ;; f32.const makes of it) is just above it, with the float32 below it below 1e-15: `amax < that` is the same test.
        (local.set $zeroa (f32x4.lt (local.get $amaxa) (f32x4.splat (f32.const 1e-15))))
        (local.set $zerob (f32x4.lt (local.get $amaxb) (f32x4.splat (f32.const 1e-15))))
        ;; initial fit
        (local.set $isWa (f32x4.div (f32x4.neg (f32x4.convert_i32x4_s (local.get $inmax))) (local.get $maxa)))
        (local.set $isWb (f32x4.div (f32x4.neg (f32x4.convert_i32x4_s (local.get $inmax))) (local.get $maxb)))
        (local.set $slxa (v128.const i32x4 0 0 0 0))
        (local.set $slxb (v128.const i32x4 0 0 0 0))
        (local.set $sl2a (v128.const i32x4 0 0 0 0))
        (local.set $sl2b (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $b2 (loop $l2
          (br_if $b2 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          ;; nearest_int: (float)(v + 1.5·2²³) read as int, low 23 bits − 2²², clamped to [−nmax, nmax − 1]
          (local.set $vlfa 
            (f32x4.convert_i32x4_s 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $isWa) (v128.load (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo))))
          (local.set $vlfb 
            (f32x4.convert_i32x4_s 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $isWb) (v128.load offset=16 (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo))))
          (local.set $slxa (f32x4.add (local.get $slxa) (f32x4.mul (v128.load (i32.add (global.get $CODES) (local.get $p))) (local.get $vlfa))))
          (local.set $slxb (f32x4.add (local.get $slxb) (f32x4.mul (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p))) (local.get $vlfb))))
          (local.set $sl2a (f32x4.add (local.get $sl2a) (f32x4.mul (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (local.get $vlfa)) (local.get $vlfa))))
          (local.set $sl2b (f32x4.add (local.get $sl2b) (f32x4.mul (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (local.get $vlfb)) (local.get $vlfb))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l2)))
        ;; scale = suml2 ≠ 0 ? sumlx / suml2 : 0; best = scale · sumlx
        (local.set $scalea (v128.and (f32x4.div (local.get $slxa) (local.get $sl2a)) (f32x4.ne (local.get $sl2a) (v128.const i32x4 0 0 0 0))))
        (local.set $scaleb (v128.and (f32x4.div (local.get $slxb) (local.get $sl2b)) (f32x4.ne (local.get $sl2b) (v128.const i32x4 0 0 0 0))))
        (local.set $besta (f32x4.mul (local.get $scalea) (local.get $slxa)))
        (local.set $bestb (f32x4.mul (local.get $scaleb) (local.get $slxb)))
        ;; 18 trials
        (local.set $t (i32.const 0))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.ge_u (local.get $t) (i32.const 18)))
          (local.set $vnum (v128.load32_splat (i32.add (local.get $nums) (i32.shl (local.get $t) (i32.const 2)))))
          (local.set $visa (f32x4.div (local.get $vnum) (local.get $maxa)))
          (local.set $visb (f32x4.div (local.get $vnum) (local.get $maxb)))
          (local.set $slxa (v128.const i32x4 0 0 0 0))
          (local.set $slxb (v128.const i32x4 0 0 0 0))
          (local.set $sl2a (v128.const i32x4 0 0 0 0))
          (local.set $sl2b (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (block $b3 (loop $l3
            (br_if $b3 (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $p (i32.shl (local.get $i) (i32.const 5)))
            (local.set $vlfa 
              (f32x4.convert_i32x4_s 
                (i32x4.max_s 
                  (i32x4.min_s 
                    (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $visa) (v128.load (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                    (local.get $vhi)) 
                  (local.get $vlo))))
            (local.set $vlfb 
              (f32x4.convert_i32x4_s 
                (i32x4.max_s 
                  (i32x4.min_s 
                    (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $visb) (v128.load offset=16 (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                    (local.get $vhi)) 
                  (local.get $vlo))))
            (local.set $slxa (f32x4.add (local.get $slxa) (f32x4.mul (v128.load (i32.add (global.get $CODES) (local.get $p))) (local.get $vlfa))))
            (local.set $slxb (f32x4.add (local.get $slxb) (f32x4.mul (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p))) (local.get $vlfb))))
            (local.set $sl2a (f32x4.add (local.get $sl2a) (f32x4.mul (f32x4.mul (v128.load (i32.add (global.get $WT) (local.get $p))) (local.get $vlfa)) (local.get $vlfa))))
            (local.set $sl2b (f32x4.add (local.get $sl2b) (f32x4.mul (f32x4.mul (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))) (local.get $vlfb)) (local.get $vlfb))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l3)))
          ;; a lane's trial wins when suml2 > 0 and sumlx² > best · suml2
          (local.set $maska (v128.and (f32x4.gt (local.get $sl2a) (v128.const i32x4 0 0 0 0)) (f32x4.gt (f32x4.mul (local.get $slxa) (local.get $slxa)) (f32x4.mul (local.get $besta) (local.get $sl2a)))))
          (local.set $maskb (v128.and (f32x4.gt (local.get $sl2b) (v128.const i32x4 0 0 0 0)) (f32x4.gt (f32x4.mul (local.get $slxb) (local.get $slxb)) (f32x4.mul (local.get $bestb) (local.get $sl2b)))))
          (local.set $scalea (v128.bitselect (f32x4.div (local.get $slxa) (local.get $sl2a)) (local.get $scalea) (local.get $maska)))
          (local.set $scaleb (v128.bitselect (f32x4.div (local.get $slxb) (local.get $sl2b)) (local.get $scaleb) (local.get $maskb)))
          (local.set $besta (v128.bitselect (f32x4.mul (local.get $scalea) (local.get $slxa)) (local.get $besta) (local.get $maska)))
          (local.set $bestb (v128.bitselect (f32x4.mul (local.get $scaleb) (local.get $slxb)) (local.get $bestb) (local.get $maskb)))
          (local.set $isWa (v128.bitselect (local.get $visa) (local.get $isWa) (local.get $maska)))
          (local.set $isWb (v128.bitselect (local.get $visb) (local.get $isWb) (local.get $maskb)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $tLoop)))
        ;; results of the valid lanes: scale (0 for an all-zero run) and the codes of the last winner (0 when all-zero)
        (v128.store (global.get $LANES) (v128.andnot (local.get $scalea) (local.get $zeroa)))
        (v128.store offset=16 (global.get $LANES) (v128.andnot (local.get $scaleb) (local.get $zerob)))
        (local.set $k (i32.const 0))
        (block $b8 (loop $l8
          (br_if $b8 (i32.ge_u (local.get $k) (local.get $lanes)))
          (f32.store (i32.add (local.get $outS) (i32.shl (i32.add (local.get $sb) (local.get $k)) (i32.const 2))) (f32.load (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l8)))
        (local.set $i (i32.const 0))
        (block $b9 (loop $l9
          (br_if $b9 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vla 
            (i32x4.add 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $isWa) (v128.load (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo)) 
              (local.get $inmax)))
          (local.set $vlb 
            (i32x4.add 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $isWb) (v128.load offset=16 (i32.add (global.get $XT) (local.get $p)))) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo)) 
              (local.get $inmax)))
          (v128.store (global.get $LANES) (v128.andnot (local.get $vla) (local.get $zeroa)))
          (v128.store offset=16 (global.get $LANES) (v128.andnot (local.get $vlb) (local.get $zerob)))
          (local.set $k (i32.const 0))
          (local.set $q (i32.add (local.get $outL) (i32.add (i32.mul (local.get $sb) (local.get $n)) (local.get $i))))
          (block $b10 (loop $l10
            (br_if $b10 (i32.ge_u (local.get $k) (local.get $lanes)))
            (i32.store8 (local.get $q) (i32.load (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $q (i32.add (local.get $q) (local.get $n)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $l10)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l9)))
        (local.set $sb (i32.add (local.get $sb) (i32.const 8)))
        (br $sbLoop))))

  ;; make_q3_quants(n, nmax, x, L, do_rmse = true) over $nsub runs of $n (≤ 32) float32 values at $x: symmetric fit
  ;; refined element by element (at most 5 passes). Writes the scale to $outS[sb] and the codes l + nmax (0 for an
  ;; all-zero run) to $outL[sb·n + i] (u8).
  ;; Eight sub-blocks side by side as in make_qkx2 (two groups of four lanes; values in XT, weights x² in WT, the codes
  ;; being refined in CODES as i32), each lane refining its own codes in the reference's order. A pass runs while any
  ;; lane changed a code in the one before: a lane that changed none would change none again (same codes, same sums).
  (func (export "q3") (param $x i32) (param $nsub i32) (param $n i32) (param $nmax i32) (param $outS i32) (param $outL i32)
    (local $sb i32) (local $i i32) (local $k i32) (local $p i32) (local $q i32) (local $itry i32) (local $lanes i32)
    (local $vlo v128) (local $vhi v128) (local $inmax v128)
    (local $vxa v128) (local $vwa v128) (local $vwxa v128) (local $lia v128) (local $lfa v128) (local $nla v128) (local $maxa v128) (local $amaxa v128) (local $zeroa v128) (local $maska v128)
    (local $slxa v128) (local $sl2a v128) (local $sumlxa v128) (local $suml2a v128) (local $changeda v128)
    (local $vxb v128) (local $vwb v128) (local $vwxb v128) (local $lib v128) (local $lfb v128) (local $nlb v128) (local $maxb v128) (local $amaxb v128) (local $zerob v128) (local $maskb v128)
    (local $slxb v128) (local $sl2b v128) (local $sumlxb v128) (local $suml2b v128) (local $changedb v128)
    (local.set $vlo (i32x4.splat (i32.sub (i32.const 0) (local.get $nmax))))
    (local.set $vhi (i32x4.splat (i32.sub (local.get $nmax) (i32.const 1))))
    (local.set $inmax (i32x4.splat (local.get $nmax)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $lanes (i32.sub (local.get $nsub) (local.get $sb)))
        (if (i32.gt_u (local.get $lanes) (i32.const 8)) (then (local.set $lanes (i32.const 8))))
        ;; transpose: lane k (group k / 4, lane k mod 4) = sub-block min(sb + k, nsub − 1); XT + 32·i + 4·k
        (local.set $k (i32.const 0))
        (block $b0 (loop $l0
          (br_if $b0 (i32.ge_u (local.get $k) (i32.const 8)))
          (local.set $q (i32.add (local.get $sb) (local.get $k)))
          (if (i32.ge_u (local.get $q) (local.get $nsub)) (then (local.set $q (i32.sub (local.get $nsub) (i32.const 1)))))
          (local.set $p (i32.add (local.get $x) (i32.shl (i32.mul (local.get $q) (local.get $n)) (i32.const 2))))
          (local.set $q (i32.add (global.get $XT) (i32.shl (local.get $k) (i32.const 2))))
          (local.set $i (i32.const 0))
          (block $b0i (loop $l0i
            (br_if $b0i (i32.ge_u (local.get $i) (local.get $n)))
            (f32.store (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 5))) (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l0i)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l0)))
        ;; max |x| (the first of equal magnitudes) and its signed value; the weights x²
        (local.set $amaxa (v128.const i32x4 0 0 0 0))
        (local.set $amaxb (v128.const i32x4 0 0 0 0))
        (local.set $maxa (v128.const i32x4 0 0 0 0))
        (local.set $maxb (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $b1 (loop $l1
          (br_if $b1 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          (local.set $lfa (f32x4.abs (local.get $vxa)))
          (local.set $lfb (f32x4.abs (local.get $vxb)))
          (local.set $maska (f32x4.gt (local.get $lfa) (local.get $amaxa)))
          (local.set $maskb (f32x4.gt (local.get $lfb) (local.get $amaxb)))
          (local.set $amaxa (v128.bitselect (local.get $lfa) (local.get $amaxa) (local.get $maska)))
          (local.set $amaxb (v128.bitselect (local.get $lfb) (local.get $amaxb) (local.get $maskb)))
          (local.set $maxa (v128.bitselect (local.get $vxa) (local.get $maxa) (local.get $maska)))
          (local.set $maxb (v128.bitselect (local.get $vxb) (local.get $maxb) (local.get $maskb)))
          (v128.store (i32.add (global.get $WT) (local.get $p)) (f32x4.mul (local.get $vxa) (local.get $vxa)))
          (v128.store offset=16 (i32.add (global.get $WT) (local.get $p)) (f32x4.mul (local.get $vxb) (local.get $vxb)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l1)))
        ;; all-zero test against the double 1e-15 (see make_qx)
        (local.set $zeroa (f32x4.lt (local.get $amaxa) (f32x4.splat (f32.const 1e-15))))
        (local.set $zerob (f32x4.lt (local.get $amaxb) (f32x4.splat (f32.const 1e-15))))
        ;; initial codes, by nearest_int: (float)(v + 1.5·2²³) read as int, low 23 bits − 2²², clamped to [−nmax, nmax − 1]
        (local.set $nla (f32x4.div (f32x4.neg (f32x4.convert_i32x4_s (local.get $inmax))) (local.get $maxa)))
        (local.set $nlb (f32x4.div (f32x4.neg (f32x4.convert_i32x4_s (local.get $inmax))) (local.get $maxb)))
        (local.set $sumlxa (v128.const i32x4 0 0 0 0))
        (local.set $sumlxb (v128.const i32x4 0 0 0 0))
        (local.set $suml2a (v128.const i32x4 0 0 0 0))
        (local.set $suml2b (v128.const i32x4 0 0 0 0))
        (local.set $i (i32.const 0))
        (block $b2 (loop $l2
          (br_if $b2 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
          (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
          (local.set $lia 
            (i32x4.max_s 
              (i32x4.min_s 
                (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $nla) (local.get $vxa)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                (local.get $vhi)) 
              (local.get $vlo)))
          (local.set $lib 
            (i32x4.max_s 
              (i32x4.min_s 
                (i32x4.sub (v128.and (f32x4.add (f32x4.mul (local.get $nlb) (local.get $vxb)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                (local.get $vhi)) 
              (local.get $vlo)))
          (v128.store (i32.add (global.get $CODES) (local.get $p)) (local.get $lia))
          (v128.store offset=16 (i32.add (global.get $CODES) (local.get $p)) (local.get $lib))
          (local.set $vwa (v128.load (i32.add (global.get $WT) (local.get $p))))
          (local.set $vwb (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))))
          (local.set $lfa (f32x4.convert_i32x4_s (local.get $lia)))
          (local.set $lfb (f32x4.convert_i32x4_s (local.get $lib)))
          (local.set $sumlxa (f32x4.add (local.get $sumlxa) (f32x4.mul (f32x4.mul (local.get $vwa) (local.get $vxa)) (local.get $lfa))))
          (local.set $sumlxb (f32x4.add (local.get $sumlxb) (f32x4.mul (f32x4.mul (local.get $vwb) (local.get $vxb)) (local.get $lfb))))
          (local.set $suml2a (f32x4.add (local.get $suml2a) (f32x4.mul (f32x4.mul (local.get $vwa) (local.get $lfa)) (local.get $lfa))))
          (local.set $suml2b (f32x4.add (local.get $suml2b) (f32x4.mul (f32x4.mul (local.get $vwb) (local.get $lfb)) (local.get $lfb))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l2)))
        ;; refinement passes
        (local.set $itry (i32.const 0))
        (block $tDone (loop $tLoop
          (br_if $tDone (i32.ge_u (local.get $itry) (i32.const 5)))
          (local.set $changeda (v128.const i32x4 0 0 0 0))
          (local.set $changedb (v128.const i32x4 0 0 0 0))
          (local.set $i (i32.const 0))
          (block $b3 (loop $l3
            (br_if $b3 (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $p (i32.shl (local.get $i) (i32.const 5)))
            (local.set $vxa (v128.load (i32.add (global.get $XT) (local.get $p))))
            (local.set $vxb (v128.load offset=16 (i32.add (global.get $XT) (local.get $p))))
            (local.set $vwa (v128.load (i32.add (global.get $WT) (local.get $p))))
            (local.set $vwb (v128.load offset=16 (i32.add (global.get $WT) (local.get $p))))
            (local.set $vwxa (f32x4.mul (local.get $vwa) (local.get $vxa)))
            (local.set $vwxb (f32x4.mul (local.get $vwb) (local.get $vxb)))
            (local.set $lia (v128.load (i32.add (global.get $CODES) (local.get $p))))
            (local.set $lib (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p))))
            (local.set $lfa (f32x4.convert_i32x4_s (local.get $lia)))
            (local.set $lfb (f32x4.convert_i32x4_s (local.get $lib)))
            (local.set $slxa (f32x4.sub (local.get $sumlxa) (f32x4.mul (local.get $vwxa) (local.get $lfa))))
            (local.set $slxb (f32x4.sub (local.get $sumlxb) (f32x4.mul (local.get $vwxb) (local.get $lfb))))
            (local.set $sl2a (f32x4.sub (local.get $suml2a) (f32x4.mul (f32x4.mul (local.get $vwa) (local.get $lfa)) (local.get $lfa))))
            (local.set $sl2b (f32x4.sub (local.get $suml2b) (f32x4.mul (f32x4.mul (local.get $vwb) (local.get $lfb)) (local.get $lfb))))
            (local.set $nla 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.div (f32x4.mul (local.get $vxa) (local.get $sl2a)) (local.get $slxa)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo)))
            (local.set $nlb 
              (i32x4.max_s 
                (i32x4.min_s 
                  (i32x4.sub (v128.and (f32x4.add (f32x4.div (f32x4.mul (local.get $vxb) (local.get $sl2b)) (local.get $slxb)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000))) 
                  (local.get $vhi)) 
                (local.get $vlo)))
            ;; a new code is tried where slx > 0 and it differs, and kept where sl2 > 0 and slx²·suml2 > sumlx²·sl2
            (local.set $maska (v128.andnot (f32x4.gt (local.get $slxa) (v128.const i32x4 0 0 0 0)) (i32x4.eq (local.get $nla) (local.get $lia))))
            (local.set $maskb (v128.andnot (f32x4.gt (local.get $slxb) (v128.const i32x4 0 0 0 0)) (i32x4.eq (local.get $nlb) (local.get $lib))))
            (local.set $lfa (f32x4.convert_i32x4_s (local.get $nla)))
            (local.set $lfb (f32x4.convert_i32x4_s (local.get $nlb)))
            (local.set $slxa (f32x4.add (local.get $slxa) (f32x4.mul (local.get $vwxa) (local.get $lfa))))
            (local.set $slxb (f32x4.add (local.get $slxb) (f32x4.mul (local.get $vwxb) (local.get $lfb))))
            (local.set $sl2a (f32x4.add (local.get $sl2a) (f32x4.mul (f32x4.mul (local.get $vwa) (local.get $lfa)) (local.get $lfa))))
            (local.set $sl2b (f32x4.add (local.get $sl2b) (f32x4.mul (f32x4.mul (local.get $vwb) (local.get $lfb)) (local.get $lfb))))
            (local.set $maska 
              (v128.and (local.get $maska) 
                (v128.and (f32x4.gt (local.get $sl2a) (v128.const i32x4 0 0 0 0)) 
                  (f32x4.gt (f32x4.mul (f32x4.mul (local.get $slxa) (local.get $slxa)) (local.get $suml2a)) (f32x4.mul (f32x4.mul (local.get $sumlxa) (local.get $sumlxa)) (local.get $sl2a))))))
            (local.set $maskb 
              (v128.and (local.get $maskb) 
                (v128.and (f32x4.gt (local.get $sl2b) (v128.const i32x4 0 0 0 0)) 
                  (f32x4.gt (f32x4.mul (f32x4.mul (local.get $slxb) (local.get $slxb)) (local.get $suml2b)) (f32x4.mul (f32x4.mul (local.get $sumlxb) (local.get $sumlxb)) (local.get $sl2b))))))
            (v128.store (i32.add (global.get $CODES) (local.get $p)) (v128.bitselect (local.get $nla) (local.get $lia) (local.get $maska)))
            (v128.store offset=16 (i32.add (global.get $CODES) (local.get $p)) (v128.bitselect (local.get $nlb) (local.get $lib) (local.get $maskb)))
            (local.set $sumlxa (v128.bitselect (local.get $slxa) (local.get $sumlxa) (local.get $maska)))
            (local.set $sumlxb (v128.bitselect (local.get $slxb) (local.get $sumlxb) (local.get $maskb)))
            (local.set $suml2a (v128.bitselect (local.get $sl2a) (local.get $suml2a) (local.get $maska)))
            (local.set $suml2b (v128.bitselect (local.get $sl2b) (local.get $suml2b) (local.get $maskb)))
            (local.set $changeda (v128.or (local.get $changeda) (local.get $maska)))
            (local.set $changedb (v128.or (local.get $changedb) (local.get $maskb)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l3)))
          ;; (an all-zero lane's arithmetic is meaningless: it never keeps a pass going)
          (br_if $tDone (i32.eqz (v128.any_true (v128.or (v128.andnot (local.get $changeda) (local.get $zeroa)) (v128.andnot (local.get $changedb) (local.get $zerob))))))
          (local.set $itry (i32.add (local.get $itry) (i32.const 1)))
          (br $tLoop)))
        ;; results of the valid lanes: scale = suml2 > 0 ? sumlx / suml2 : 0 (0 for an all-zero run), codes l + nmax
        ;; (0 for an all-zero run)
        (v128.store (global.get $LANES) 
          (v128.andnot 
            (v128.and (f32x4.div (local.get $sumlxa) (local.get $suml2a)) (f32x4.gt (local.get $suml2a) (v128.const i32x4 0 0 0 0))) 
            (local.get $zeroa)))
        (v128.store offset=16 (global.get $LANES) 
          (v128.andnot 
            (v128.and (f32x4.div (local.get $sumlxb) (local.get $suml2b)) (f32x4.gt (local.get $suml2b) (v128.const i32x4 0 0 0 0))) 
            (local.get $zerob)))
        (local.set $k (i32.const 0))
        (block $b8 (loop $l8
          (br_if $b8 (i32.ge_u (local.get $k) (local.get $lanes)))
          (f32.store (i32.add (local.get $outS) (i32.shl (i32.add (local.get $sb) (local.get $k)) (i32.const 2))) (f32.load (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2)))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br $l8)))
        (local.set $i (i32.const 0))
        (block $b9 (loop $l9
          (br_if $b9 (i32.ge_u (local.get $i) (local.get $n)))
          (local.set $p (i32.shl (local.get $i) (i32.const 5)))
          (v128.store (global.get $LANES) (v128.andnot (i32x4.add (v128.load (i32.add (global.get $CODES) (local.get $p))) (local.get $inmax)) (local.get $zeroa)))
          (v128.store offset=16 (global.get $LANES) (v128.andnot (i32x4.add (v128.load offset=16 (i32.add (global.get $CODES) (local.get $p))) (local.get $inmax)) (local.get $zerob)))
          (local.set $k (i32.const 0))
          (local.set $q (i32.add (local.get $outL) (i32.add (i32.mul (local.get $sb) (local.get $n)) (local.get $i))))
          (block $b10 (loop $l10
            (br_if $b10 (i32.ge_u (local.get $k) (local.get $lanes)))
            (i32.store8 (local.get $q) (i32.load (i32.add (global.get $LANES) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $q (i32.add (local.get $q) (local.get $n)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $l10)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l9)))
        (local.set $sb (i32.add (local.get $sb) (i32.const 8)))
        (br $sbLoop))))

  ;; Final codes of the affine types: clamp(nearest_int((x + dm[sb]) / dd[sb]), 0, nmax) for the runs of $n values
  ;; whose step dd[sb] ≠ 0 (a zero step keeps the search's codes), four values at a time ($n a multiple of 4).
  (func (export "codesAffine") (param $x i32) (param $nsub i32) (param $n i32) (param $nmax i32) (param $dd i32) (param $dm i32) (param $outL i32)
    (local $sb i32) (local $i i32) (local $xs i32) (local $lo i32) (local $d f32) (local $vd v128) (local $vm v128) (local $l v128) (local $inmax v128)
    (local.set $inmax (i32x4.splat (local.get $nmax)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $d (f32.load (i32.add (local.get $dd) (i32.shl (local.get $sb) (i32.const 2)))))
        (if (f32.ne (local.get $d) (f32.const 0))
          (then
            (local.set $vd (f32x4.splat (local.get $d)))
            (local.set $vm (v128.load32_splat (i32.add (local.get $dm) (i32.shl (local.get $sb) (i32.const 2)))))
            (local.set $xs (i32.add (local.get $x) (i32.shl (i32.mul (local.get $sb) (local.get $n)) (i32.const 2))))
            (local.set $lo (i32.add (local.get $outL) (i32.mul (local.get $sb) (local.get $n))))
            (local.set $i (i32.const 0))
            (block $b1 (loop $l1
              (br_if $b1 (i32.ge_u (local.get $i) (local.get $n)))
              ;; nearest_int: (float)(v + 1.5·2²³) read as int, low 23 bits − 2²²
              (local.set $l
                (i32x4.max_s
                  (i32x4.min_s
                    (i32x4.sub (v128.and (f32x4.add (f32x4.div (f32x4.add (v128.load (i32.add (local.get $xs) (i32.shl (local.get $i) (i32.const 2)))) (local.get $vm)) (local.get $vd)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000)))
                    (local.get $inmax))
                  (v128.const i32x4 0 0 0 0)))
              ;; codes 0…nmax: the low byte of each lane
              (v128.store32_lane 0 (i32.add (local.get $lo) (local.get $i))
                (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $l) (local.get $l)) (v128.const i32x4 0 0 0 0)))
              (local.set $i (i32.add (local.get $i) (i32.const 4)))
              (br $l1)))))
        (local.set $sb (i32.add (local.get $sb) (i32.const 1)))
        (br $sbLoop))))

  ;; Final codes of the symmetric types: clamp(nearest_int(x / dd[sb]), $lo, $hi) − $lo where dd[sb] ≠ 0, four values at
  ;; a time ($n a multiple of 4).
  (func (export "codesSym") (param $x i32) (param $nsub i32) (param $n i32) (param $lo i32) (param $hi i32) (param $dd i32) (param $outL i32)
    (local $sb i32) (local $i i32) (local $xs i32) (local $o i32) (local $d f32) (local $vd v128) (local $l v128) (local $vlo v128) (local $vhi v128)
    (local.set $vlo (i32x4.splat (local.get $lo)))
    (local.set $vhi (i32x4.splat (local.get $hi)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $d (f32.load (i32.add (local.get $dd) (i32.shl (local.get $sb) (i32.const 2)))))
        (if (f32.ne (local.get $d) (f32.const 0))
          (then
            (local.set $vd (f32x4.splat (local.get $d)))
            (local.set $xs (i32.add (local.get $x) (i32.shl (i32.mul (local.get $sb) (local.get $n)) (i32.const 2))))
            (local.set $o (i32.add (local.get $outL) (i32.mul (local.get $sb) (local.get $n))))
            (local.set $i (i32.const 0))
            (block $b1 (loop $l1
              (br_if $b1 (i32.ge_u (local.get $i) (local.get $n)))
              (local.set $l
                (i32x4.sub
                  (i32x4.max_s
                    (i32x4.min_s
                      (i32x4.sub (v128.and (f32x4.add (f32x4.div (v128.load (i32.add (local.get $xs) (i32.shl (local.get $i) (i32.const 2)))) (local.get $vd)) (f32x4.splat (f32.const 12582912))) (i32x4.splat (i32.const 0x7fffff))) (i32x4.splat (i32.const 0x400000)))
                      (local.get $vhi))
                    (local.get $vlo))
                  (local.get $vlo)))
              ;; codes 0…hi − lo: the low byte of each lane
              (v128.store32_lane 0 (i32.add (local.get $o) (local.get $i))
                (i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_u (local.get $l) (local.get $l)) (v128.const i32x4 0 0 0 0)))
              (local.set $i (i32.add (local.get $i) (i32.const 4)))
              (br $l1)))))
        (local.set $sb (i32.add (local.get $sb) (i32.const 1)))
        (br $sbLoop))))

  ;; Q8_0 simulation, first pass: max |x| of each block of 32 float32 values at $x (NaN when the block holds one, ∞ when
  ;; it holds ±∞) to $out[b] (f32).
  (func (export "q8AbsMax") (param $x i32) (param $nblk i32) (param $out i32)
    (local $b i32) (local $p i32) (local $acc v128)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $b) (local.get $nblk)))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $b) (i32.const 7))))
        (local.set $acc
          (f32x4.max
            (f32x4.max
              (f32x4.max (f32x4.abs (v128.load (local.get $p))) (f32x4.abs (v128.load offset=16 (local.get $p))))
              (f32x4.max (f32x4.abs (v128.load offset=32 (local.get $p))) (f32x4.abs (v128.load offset=48 (local.get $p)))))
            (f32x4.max
              (f32x4.max (f32x4.abs (v128.load offset=64 (local.get $p))) (f32x4.abs (v128.load offset=80 (local.get $p))))
              (f32x4.max (f32x4.abs (v128.load offset=96 (local.get $p))) (f32x4.abs (v128.load offset=112 (local.get $p)))))))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $b) (i32.const 2)))
          (f32.max
            (f32.max (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.max (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $l))))

  ;; Q8_0 simulation, second pass, for blocks of finite values whose 1/d is finite: with id = $ids[b] and the decoder's
  ;; step dh = $dhs[b] (f32), each y = x·id (float32), its code c = floor(|y| + ½) with y's sign (roundf: |y| ≤ ~127,
  ;; exact in float64), and the decoded value c·dh as a float64 product stored as float32. `0 − c` keeps a zero code
  ;; +0, as the JavaScript path writes it. Values are overwritten in place.
  (func (export "q8Dequant") (param $x i32) (param $nblk i32) (param $ids i32) (param $dhs i32)
    (local $b i32) (local $p i32) (local $e i32) (local $id v128) (local $dh v128) (local $y v128) (local $h v128) (local $c v128) (local $lo v128)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $b) (local.get $nblk)))
        (local.set $id (v128.load32_splat (i32.add (local.get $ids) (i32.shl (local.get $b) (i32.const 2)))))
        (local.set $dh (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $dhs) (i32.shl (local.get $b) (i32.const 2)))))))
        (local.set $p (i32.add (local.get $x) (i32.shl (local.get $b) (i32.const 7))))
        (local.set $e (i32.add (local.get $p) (i32.const 128)))
        (loop $v
          (local.set $y (f32x4.mul (v128.load (local.get $p)) (local.get $id)))
          ;; lanes 0, 1
          (local.set $h (f64x2.promote_low_f32x4 (local.get $y)))
          (local.set $c (f64x2.floor (f64x2.add (f64x2.abs (local.get $h)) (f64x2.splat (f64.const 0.5)))))
          (local.set $lo
            (f32x4.demote_f64x2_zero
              (f64x2.mul
                (v128.bitselect (f64x2.sub (v128.const i64x2 0 0) (local.get $c)) (local.get $c) (f64x2.lt (local.get $h) (v128.const i64x2 0 0)))
                (local.get $dh))))
          ;; lanes 2, 3
          (local.set $h (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $y) (local.get $y))))
          (local.set $c (f64x2.floor (f64x2.add (f64x2.abs (local.get $h)) (f64x2.splat (f64.const 0.5)))))
          (v128.store (local.get $p)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (local.get $lo)
              (f32x4.demote_f64x2_zero
                (f64x2.mul
                  (v128.bitselect (f64x2.sub (v128.const i64x2 0 0) (local.get $c)) (local.get $c) (f64x2.lt (local.get $h) (v128.const i64x2 0 0)))
                  (local.get $dh)))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $v (i32.lt_u (local.get $p) (local.get $e))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $l))))

  ;; Dequantized values of the affine types, as the block decoders compute them (float64, then float32):
  ;; y = dd[sb] · code − dm[sb] for the runs of $n codes at $codes, four at a time ($n a multiple of 4); written to $out
  ;; (float32).
  (func (export "dequantAffine") (param $nsub i32) (param $n i32) (param $dd i32) (param $dm i32) (param $codes i32) (param $out i32)
    (local $sb i32) (local $k i32) (local $e i32) (local $d v128) (local $m v128) (local $c v128)
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $d (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $dd) (i32.shl (local.get $sb) (i32.const 2)))))))
        (local.set $m (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $dm) (i32.shl (local.get $sb) (i32.const 2)))))))
        (local.set $k (i32.mul (local.get $sb) (local.get $n)))
        (local.set $e (i32.add (local.get $k) (local.get $n)))
        (block $b1 (loop $l1
          (br_if $b1 (i32.ge_u (local.get $k) (local.get $e)))
          ;; four codes as i32 lanes
          (local.set $c (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $codes) (local.get $k))))))
          (v128.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.mul (local.get $d) (f64x2.convert_low_i32x4_u (local.get $c))) (local.get $m)))
              (f32x4.demote_f64x2_zero (f64x2.sub (f64x2.mul (local.get $d) (f64x2.convert_low_i32x4_u (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))) (local.get $m)))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $l1)))
        (local.set $sb (i32.add (local.get $sb) (i32.const 1)))
        (br $sbLoop))))

  ;; Dequantized values of the symmetric types: y = dd[sb] · (code − $bias) in float64, then float32, four at a time.
  (func (export "dequantSym") (param $nsub i32) (param $n i32) (param $bias i32) (param $dd i32) (param $codes i32) (param $out i32)
    (local $sb i32) (local $k i32) (local $e i32) (local $d v128) (local $c v128) (local $vb v128)
    (local.set $vb (i32x4.splat (local.get $bias)))
    (block $allDone
      (loop $sbLoop
        (br_if $allDone (i32.ge_u (local.get $sb) (local.get $nsub)))
        (local.set $d (f64x2.splat (f64.promote_f32 (f32.load (i32.add (local.get $dd) (i32.shl (local.get $sb) (i32.const 2)))))))
        (local.set $k (i32.mul (local.get $sb) (local.get $n)))
        (local.set $e (i32.add (local.get $k) (local.get $n)))
        (block $b1 (loop $l1
          (br_if $b1 (i32.ge_u (local.get $k) (local.get $e)))
          ;; four codes − bias as i32 lanes
          (local.set $c (i32x4.sub (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero (i32.add (local.get $codes) (local.get $k))))) (local.get $vb)))
          (v128.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (f64x2.mul (local.get $d) (f64x2.convert_low_i32x4_s (local.get $c))))
              (f32x4.demote_f64x2_zero (f64x2.mul (local.get $d) (f64x2.convert_low_i32x4_s (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $c) (local.get $c)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 4)))
          (br $l1)))
        (local.set $sb (i32.add (local.get $sb) (i32.const 1)))
        (br $sbLoop))))
)
