#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what the tests need, then runs the whole suite.
# System packages: ffmpeg (clip decoding), espeak-ng + sox (real speech clips), chromium + a CJK font
# (browser tests and their screenshots), redis-server (the Redis task queue's tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v sox >/dev/null || need_apt+=(sox)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -d /usr/share/fonts/truetype/wqy ] || need_apt+=(fonts-wqy-microhei)  # Chinese text in screenshots
command -v redis-server >/dev/null || need_apt+=(redis-server)  # the Redis-backed task queue's tests
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "tests/run.sh: please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install -q --disable-pip-version-check -r requirements.txt

set +e
"$PYTHON" -m pytest "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "tests/run.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit $status
