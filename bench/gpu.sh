#!/bin/bash
# Samples a second on a GPU, nnctl against Keras fit(), with and without mixed precision and XLA.
# Run from the repository root on a machine with an NVIDIA GPU (and the project installed, or
# this script installs it into .venv-gpu):  bash bench/gpu.sh
# Writes bench/results/gpu.{json,md}; copy the table into bench/README.md with the date and GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import nnctl, tensorflow" 2>/dev/null; then
    python3 -m venv .venv-gpu
    . .venv-gpu/bin/activate
    pip install -q -e . "tensorflow[and-cuda]>=2.21,<2.22"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python -c "import tensorflow as tf; gpus = tf.config.list_physical_devices('GPU'); print('GPUs:', gpus); assert gpus, 'no GPU visible to TensorFlow'"
python bench/gpu.py "$@"
