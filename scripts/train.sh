#!/usr/bin/env bash
# Trains the model only when domain, config or data changed.
#
# The model is named after a hash of everything that goes into training, so an unchanged
# assistant reuses models/<hash>.tar.gz and a changed one trains anew (seeds are fixed in
# config.yml and oneDNN's instruction set below, so a retrain of the same data gives the same model).
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false
# oneDNN's kernels capped at AVX2, so the same data gives the same model on every host
# (rasa_compat/reproducible_training.py; an operator's own value is kept)
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"

hash=$(cat config.yml domain.yml $(find data -type f -name '*.yml' | sort) | sha256sum | cut -c1-16)
model="models/blaupause-$hash.tar.gz"
# a link left pointing at a deleted model would stop `rasa train`, which reads models/ first
if [ -L models/current.tar.gz ] && [ ! -e models/current.tar.gz ]; then rm models/current.tar.gz; fi
if [ -f "$model" ]; then
  echo "train: data unchanged, using $model"
else
  echo "train: training $model"
  .venv/bin/rasa train --fixed-model-name "blaupause-$hash" --out models --quiet
fi
ln -sf "blaupause-$hash.tar.gz" models/current.tar.gz
