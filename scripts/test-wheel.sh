#!/usr/bin/env bash
# Builds the self-contained wheel and checks that it runs without the Debian
# runtime libraries (`make test-wheel`):
#   1. `pip wheel .` (the extension links Debian's oneTBB, cpuinfo and Gloo),
#   2. `auditwheel repair` (pinned, in a tool venv under $BUILD; Debian's
#      patchelf) copies those libraries and their own dependencies into
#      frugal.libs/ and points the extension at them,
#   3. installs the repaired wheel into a fresh venv and, with the system
#      copies of those libraries hidden from the loader (bind mounts of an
#      empty file over them in a private mount namespace: root, unshare -m),
#      checks with ldd that every bundled library resolves inside the wheel
#      and runs the README's Python quick start.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
DATA=${DATA:-../shared/data}
AUDITWHEEL_VERSION=6.4.2
TOOLS=$BUILD/wheel-tools
OUT=$BUILD/wheel
ENV=$BUILD/wheel-venv

test -x "$TOOLS/bin/python" || python3 -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install -q "auditwheel==$AUDITWHEEL_VERSION"
rm -rf "$OUT" && mkdir -p "$OUT/raw" "$OUT/repaired"
"$TOOLS/bin/python" -m pip wheel -q --no-deps -w "$OUT/raw" .
raw=$(ls "$OUT"/raw/frugal-*.whl)
"$TOOLS/bin/auditwheel" show "$raw"
"$TOOLS/bin/auditwheel" repair -w "$OUT/repaired" "$raw"
wheel=$(ls "$OUT"/repaired/frugal-*.whl)
echo "test-wheel: repaired $wheel"

rm -rf "$ENV"
python3 -m venv "$ENV"
"$ENV/bin/python" -m pip install -q "$wheel"
ext=$(ls "$ENV"/lib/python3*/site-packages/frugal/_frugal*.so)
libs=$(dirname "$ext")/../frugal.libs
ls "$libs"

# The system libraries the wheel must not need: the extension's own
# dependencies from Debian's -dev packages (Highway is compiled into the
# static core, so the extension does not link libhwy) and theirs.
hidden=()
while read -r path; do
  hidden+=("$(readlink -f "$path")")
done < <(ldconfig -p | grep -E '(libtbb|libtbbmalloc|libcpuinfo|libgloo|libhiredis|libibverbs|libnl-3|libnl-route-3|libhwy)\.so' |
         sed -E 's/.* => //')
mapfile -t hidden < <(printf '%s\n' "${hidden[@]}" | sort -u)
echo "test-wheel: hiding ${#hidden[@]} system libraries: ${hidden[*]}"

quickstart=$OUT/quickstart.py
"$ENV/bin/python" - "$DATA" "$quickstart" <<'EOF'
import os, re, sys
data, out = sys.argv[1], sys.argv[2]
readme = open("README.md").read()
section = readme[readme.index("## Python\n"):]
code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
open(out, "w").write(code.replace("../shared/data", os.path.abspath(data)))
EOF

if [[ $(id -u) -ne 0 ]] || ! unshare -m true 2>/dev/null; then
  echo "test-wheel: needs root and unshare -m to hide the system libraries" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/empty"
unshare -m bash -euo pipefail -c '
  empty=$1 ext=$2 python=$3 script=$4 work=$5; shift 5
  for f in "$@"; do mount --bind "$empty" "$f"; done
  for f in "$@"; do [[ ! -s $f ]] || { echo "test-wheel: $f still visible" >&2; exit 1; }; done
  echo "--- ldd (system copies hidden)"
  ldd "$ext" | tee "$work/ldd.txt"
  if grep -E "not found" "$work/ldd.txt"; then echo "test-wheel: unresolved" >&2; exit 1; fi
  for lib in libtbb libcpuinfo libgloo; do
    line=$(grep -m1 "$lib" "$work/ldd.txt") || { echo "test-wheel: $lib not linked" >&2; exit 1; }
    case $line in
      *frugal.libs/*) ;;
      *) echo "test-wheel: $lib resolves outside the wheel: $line" >&2; exit 1 ;;
    esac
  done
  cd "$work" && "$python" "$script"
' _ "$work/empty" "$ext" "$(cd "$ENV" && pwd)/bin/python" "$(readlink -f "$quickstart")" \
  "$work" "${hidden[@]}"
echo "test-wheel: the repaired wheel runs the quick start with the system libraries hidden"
