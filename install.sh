#!/usr/bin/env bash
# Install the Python packages of GPT-SoVITS-MindSpore-WebUI and check the system tools it uses;
# with --models, also fetch the released weights (python -m GPT_SoVITS.download).
# Usage: bash install.sh [--models v2[,v2Pro,...]] [--endpoint URL]        (then: python3 api_ms.py)
#   --models    versions or file sets to download: v1, v2, v2Pro, v2ProPlus, hubert, bert, speaker_verifier, all
#   --endpoint  a Hugging Face mirror for the download, e.g. https://hf-mirror.com
set -euo pipefail
cd "$(dirname "$0")"

MODELS=""
ENDPOINT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=${2:?"--models needs a list, e.g. v2 or v2,v2Pro"}; shift 2 ;;
    --models=*) MODELS=${1#*=}; shift ;;
    --endpoint) ENDPOINT=${2:?"--endpoint needs a URL"}; shift 2 ;;
    --endpoint=*) ENDPOINT=${1#*=}; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see: bash install.sh --help)" >&2; exit 2 ;;
  esac
done

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

if [ -n "$MODELS" ]; then
  # shellcheck disable=SC2086  # the list is split on purpose: v2,v2Pro -> v2 v2Pro
  "$PYTHON" -m GPT_SoVITS.download ${MODELS//,/ } ${ENDPOINT:+--endpoint "$ENDPOINT"}
fi

for folder in GPT_SoVITS/pretrained_models/chinese-hubert-base GPT_SoVITS/pretrained_models/chinese-roberta-wwm-ext-large; do
  if [ ! -d "$folder" ]; then
    echo "install.sh: note: $folder is missing; the service starts and manages voice models, but synthesis" \
         "needs the weights: bash install.sh --models v2 (or python3 -m GPT_SoVITS.download v2)." >&2
    break
  fi
done
echo "install.sh: done. Start the service with: $PYTHON api_ms.py   (then open http://127.0.0.1:9881/index)"
