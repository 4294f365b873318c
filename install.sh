#!/usr/bin/env bash
# Install the Python packages of GPT-SoVITS-MindSpore-WebUI and check the system tools it uses.
# Usage: bash install.sh        (then: python3 api_ms.py)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    print(f"install.sh: warning: Python 3.11 is the tested version; this is {sys.version.split()[0]}", file=sys.stderr)
PY
"$PYTHON" -m pip install --disable-pip-version-check -r requirements.txt

if ! command -v ffmpeg >/dev/null; then
  cat >&2 <<'MSG'
install.sh: ffmpeg is not installed. It decodes uploaded reference clips (MP3, M4A, OGG, ...).
  Debian/Ubuntu: sudo apt-get install ffmpeg     conda: conda install -c conda-forge ffmpeg
  Without it only the formats libsndfile reads (WAV, FLAC, OGG) are accepted.
MSG
fi

for folder in GPT_SoVITS/pretrained_models/chinese-hubert-base GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large; do
  if [ ! -d "$folder" ]; then
    echo "install.sh: note: $folder is missing; the service starts and manages voice models, but synthesis" \
         "needs the weights (see README.md, 'Models and weights')." >&2
    break
  fi
done
echo "install.sh: done. Start the service with: $PYTHON api_ms.py   (then open http://127.0.0.1:9881/index)"
