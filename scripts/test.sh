#!/usr/bin/env bash
# Install netlm with its test tools into .venv and run every check CI runs:
# ruff (lint + format), mypy --strict on src/, the import fence (lint-imports), then the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools the tests use (Debian packages): dciodvfy (dicom3tools) validates RT Dose;
# a PostgreSQL server for the registry tests; Chromium for the web-application tests;
# pdftotext/pdftoppm (poppler-utils) and Pango (WeasyPrint) for the PDF reports;
# Orthanc with its DICOMweb plugin, the PACS the tests/pacs tests start; Caddy and nginx, the
# TLS reverse proxies of README "Running the service" (tests/api/test_behind_tls_proxy.py).
need=""
command -v dciodvfy >/dev/null 2>&1 || need="$need dicom3tools"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ] || need="$need orthanc"
ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so >/dev/null 2>&1 || need="$need orthanc-dicomweb"
command -v caddy >/dev/null 2>&1 || need="$need caddy"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
ldconfig -p 2>/dev/null | grep -q libpangoft2 || need="$need libpango-1.0-0 libpangoft2-1.0-0"
fc-list 2>/dev/null | grep -qi dejavu || need="$need fonts-dejavu-core"
if [ -n "$need" ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
  # the proxies' packages start a system service on port 80/443; the tests start their own
  for service in caddy nginx; do
    case " $need " in *" $service "*) $SUDO systemctl disable --now "$service" >/dev/null 2>&1 || true ;; esac
  done
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[all,test]"

echo "== ruff"
.venv/bin/ruff check src tests benchmarks docs scripts
.venv/bin/ruff format --check src
echo "== mypy (strict, src/)"
.venv/bin/mypy
echo "== lint-imports (the layer fence, contracts in pyproject.toml)"
.venv/bin/lint-imports
echo "== pytest"
.venv/bin/python -m pytest "$@"
