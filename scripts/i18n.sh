#!/usr/bin/env bash
# Regenerate the message catalogues: collect strings, fill Chinese from locale/, compile.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEBUG=1 $PY manage.py makemessages -l zh_Hans -l en --ignore "tests/*" --ignore "var/*" --ignore ".venv/*" -v0
$PY locale/fill_po.py
DEBUG=1 $PY manage.py compilemessages -v0 --ignore ".venv/*"
