#!/usr/bin/env bash
# Test AUROC of motiflens' cnn, rnn and cnn-rnn on three DeepBind ENCODE ChIP-seq sets,
# for docs/benchmarks.md. Run from the repository root:
#
#   bash bench/deepbind_auroc.sh                      # all 3 TFs x 3 models, DeMo preset
#   MODELS=rnn LR=0.001 TAG=lr0.001 bash bench/deepbind_auroc.sh   # one retry at a lower lr
#
# Settings (environment): DATA (folder holding deepbind_encode_*), WORK (scratch folder,
# outside the repo), TFS, MODELS, MAX_EPOCHS, PATIENCE, LR (empty = the preset's 0.01),
# SEED, TAG (suffix of run names). Trainings run one after another on one thread each.
# Results are appended to $WORK/results.tsv (one row per run).
set -euo pipefail

DATA=${DATA:-../shared/data}
WORK=${WORK:-/tmp/motiflens-deepbind}
TFS=${TFS:-"GABPA_GM12878 SRF_H1-hESC ZBTB7A_HepG2"}
MODELS=${MODELS:-"cnn rnn cnn-rnn"}
MAX_EPOCHS=${MAX_EPOCHS:-20}
PATIENCE=${PATIENCE:-5}
LR=${LR:-}
SEED=${SEED:-1}
TAG=${TAG:-lr${LR:-0.01}}
ML=${ML:-.venv/bin/motiflens}

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
[ -s "$RESULTS" ] || printf 'tf\tmodel\ttag\tlr\tepochs_run\tbest_epoch\tbest_val_auroc\ttrain_s\twall_s\ttest_auroc\ttest_auprc\n' >"$RESULTS"

for TF in $TFS; do
  D=$DATA/deepbind_encode_$TF
  # train_AC positives + one dinucleotide shuffle each (10% held out for validation,
  # each shuffle in its positive's split); test = test_B as it is (500 peaks + 500 shuffles).
  [ -f "$WORK/$TF.h5" ] || "$ML" dataset sequences "$D/train_AC.seq.gz" -o "$WORK/$TF.h5" \
    --test-file "$D/test_B.seq.gz" --negatives shuffle --seed "$SEED"
  for MODEL in $MODELS; do
    RUN=$WORK/$TF-$MODEL-$TAG
    rm -rf "$RUN"
    start=$(date +%s.%N)
    "$ML" train "$WORK/$TF.h5" "$RUN" --model "$MODEL" --preset demo \
      --max-epochs "$MAX_EPOCHS" --patience "$PATIENCE" --seed "$SEED" ${LR:+--lr "$LR"} \
      --no-progress 2>&1 | tee "$RUN.train.log"
    "$ML" test "$RUN" --no-progress 2>&1 | tee "$RUN.test.log"   # test split = test_B
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    # training.tsv: epoch val_loss val_auroc val_auprc train_loss lr seconds
    read -r epochs best_epoch best_val train_s < <(awk -F'\t' 'NR > 1 {
        n++; s += $7; if ($3 > b) { b = $3; e = $1 } }
        END { printf "%d %d %.4f %.1f\n", n, e, b, s }' "$RUN/metrics/training.tsv")
    read -r auroc auprc < <(awk -F'\t' 'NR == 2 { print $4, $5 }' "$RUN/metrics/test.tsv")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.4f\t%.4f\n' "$TF" "$MODEL" "$TAG" \
      "${LR:-0.01}" "$epochs" "$best_epoch" "$best_val" "$train_s" "$wall" "$auroc" "$auprc" \
      >>"$RESULTS"
  done
done
column -t -s $'\t' "$RESULTS"
