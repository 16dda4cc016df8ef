#!/bin/sh
# What the tests need besides Node and npm, checked before `npm ci` so a machine that lacks one
# fails in a second, naming it and how to install it (README.md, "Prerequisites"):
#   python3 with numpy (writes the NumPy fixtures), openssl (writes the TLS test certificates).
# Exit 0 when all are there, 1 otherwise (every missing one listed on stderr).
missing=''
add() { missing="$missing
  - $1"; }

if ! command -v python3 >/dev/null 2>&1; then
  add 'python3 with numpy — Debian/Ubuntu: apt-get install python3 python3-numpy'
elif ! python3 -c 'import numpy' >/dev/null 2>&1; then
  add 'numpy for python3 — Debian/Ubuntu: apt-get install python3-numpy (or: python3 -m pip install numpy)'
fi
if ! command -v openssl >/dev/null 2>&1; then
  add 'openssl — Debian/Ubuntu: apt-get install openssl'
fi

if [ -n "$missing" ]; then
  echo "check-prereqs: missing what the tests need:$missing
See README.md, \"Prerequisites\"." >&2
  exit 1
fi
