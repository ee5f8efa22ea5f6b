#!/usr/bin/env bash
# K562- vs HepG2-specific DHS with a held-out-chromosome split: each model against the
# k-mer baseline that `motiflens test` fits on the same split (docs/benchmarks.md).
# Run from the repository root:
#
#   bash bench/dhs_baseline.sh                 # basset-demo and cnn-rnn, seed 1
#   MODELS=cnn SEEDS="1 2" bash bench/dhs_baseline.sh
#
# "basset-demo" is Basset's architecture at the size of configs/demo.yaml (the full-size
# Basset takes about 2 min an epoch on one CPU thread here), trained with Basset's optimizer
# for at most 50 epochs, patience 10 and reverse-complement augmentation; the other models
# use the defaults.
# Validation = chr2 (the folder's own validation rows), test = chr3 + chr4 (taken from the
# training rows; the folder's own chr1 test rows are held out of it). One thread per run.
set -euo pipefail

DATA=${DATA:-../shared/data/dhs_k562_hepg2_celltype_specific}
WORK=${WORK:-/tmp/motiflens-dhs}
MODELS=${MODELS:-"basset-demo cnn-rnn"}
SEEDS=${SEEDS:-1}
ML=${ML:-.venv/bin/motiflens}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}

mkdir -p "$WORK"
[ -f "$WORK/dhs.h5" ] || "$ML" dataset sequences "$DATA"/K562_ENCLB843GMH.train_val.tsv.gz \
  "$DATA"/HepG2_ENCLB029COU.train_val.tsv.gz -o "$WORK/dhs.h5" \
  --label-column K562_ENCLB843GMH --label-column HepG2_ENCLB029COU --name-column dhs_id \
  --valid-chrom chr2 --test-chrom chr3 --test-chrom chr4
for SEED in $SEEDS; do
  for MODEL in $MODELS; do
    RUN=$WORK/$MODEL-seed$SEED
    rm -rf "$RUN"
    if [ "$MODEL" = basset-demo ]; then
      ARGS=(--config configs/demo.yaml --max-epochs 50 --patience 10)
    else
      ARGS=(--model "$MODEL")
    fi
    "$ML" train "$WORK/dhs.h5" "$RUN" "${ARGS[@]}" --seed "$SEED" --no-progress >"$RUN.log" 2>&1
    "$ML" test "$RUN" --no-progress >>"$RUN.log" 2>&1
    # test.tsv: target n positives auroc auprc ... baseline_auroc baseline_auprc
    awk -F'\t' -v m="$MODEL" -v s="$SEED" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
      NR > 1 { printf "%s\tseed %s\t%s\tAUROC %.4f\tbaseline %.4f\tAUPRC %.4f\tbaseline %.4f\n",
        m, s, $c["target"], $c["auroc"], $c["baseline_auroc"], $c["auprc"], $c["baseline_auprc"] }' \
      "$RUN/metrics/test.tsv" | tee -a "$WORK/results.tsv"
  done
done
