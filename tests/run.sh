#!/usr/bin/env bash
# The test command (README.md, .ci/run): installs what the tests need, then runs the whole suite.
# System packages: ffmpeg (clip decoding), espeak-ng + sox (real speech clips), chromium + a CJK font
# (browser tests and their screenshots), redis-server (the Redis task queue's tests); installed with
# apt-get as root, or through sudo when it needs no password.
# Data beside the checkout (../shared): golden/models (the large golden weights), refdata and
# nltk_data (exact English, the pinyin table). Whatever is missing makes the tests that need it skip,
# listed at the end; with CI=true, TESTS_NO_SKIP=1 or --no-skip each of them fails instead, saying
# what is missing and how to get it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing_packages() {
  command -v ffmpeg >/dev/null || echo ffmpeg
  command -v espeak-ng >/dev/null || echo espeak-ng
  command -v sox >/dev/null || echo sox
  [ -x /usr/bin/chromium ] || echo chromium
  [ -d /usr/share/fonts/truetype/wqy ] || echo fonts-wqy-microhei  # Chinese text in screenshots
  command -v redis-server >/dev/null || echo redis-server  # the Redis-backed task queue's tests
}

need_apt=($(missing_packages))
if [ ${#need_apt[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  as_root=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root="sudo -n"; else as_root="none"; fi
  fi
  if [ "$as_root" != none ]; then
    $as_root apt-get update -qq && $as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "${need_apt[@]}" >/dev/null || true
  fi
fi
still=($(missing_packages))
if [ ${#still[@]} -gt 0 ]; then
  echo "tests/run.sh: missing system packages: ${still[*]} (sudo apt-get install ${still[*]});" \
       "the tests that need them skip, or fail under CI=true / TESTS_NO_SKIP=1" >&2
fi
for folder in ../shared/golden/models ../shared/refdata ../shared/nltk_data; do
  [ -d "$folder" ] || echo "tests/run.sh: $folder (beside the checkout) is missing; the tests that need it" \
                          "skip, or fail under CI=true / TESTS_NO_SKIP=1" >&2
done

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
