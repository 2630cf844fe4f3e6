#!/usr/bin/env bash
# Builds qf-initiator and qf-executor (QuickFIX C++ 1.15.1, Debian's
# libquickfix-dev) into OUT_DIR and copies FIX44.xml next to them.
#
#   tests/quickfix/build.sh OUT_DIR
#
# Needs: apt-get install -y g++ libquickfix-dev
# QuickFIX 1.15.1's headers use dynamic exception specifications
# (throw(...)), which C++17 forbids, so this compiles as C++14.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$1"
mkdir -p "$OUT"

if [ ! -f /usr/include/quickfix/Session.h ]; then
  echo "QuickFIX headers not found: apt-get install -y libquickfix-dev" >&2
  exit 1
fi

CXX="${CXX:-g++}"
FLAGS=(-O2 -std=c++14 -Wall -Wno-deprecated -Wno-deprecated-declarations -pthread "-DQFH_SOURCE_DIR=\"$SRC\"")

"$CXX" "${FLAGS[@]}" -o "$OUT/qf-initiator" "$SRC/initiator.cpp" -lquickfix -lpthread
"$CXX" "${FLAGS[@]}" -o "$OUT/qf-executor" "$SRC/executor.cpp" -lquickfix -lpthread
cp "$SRC/spec/FIX44.xml" "$OUT/FIX44.xml"
echo "built $OUT/qf-initiator $OUT/qf-executor ($OUT/FIX44.xml)"
