#!/usr/bin/env bash
# Installs what hotich needs on Debian/Ubuntu, idempotently: system packages only when missing
# (apt-get as root or through sudo), a virtualenv at .venv, and the package with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng poppler-utils fonts-freefont-ttf fonts-liberation2 fonts-dejavu-core python3-venv)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# python3-venv is only needed when the interpreter cannot make a venv by itself (pyenv builds can).
if [[ " ${missing[*]} " == *" python3-venv "* ]] && python3 -m venv --help >/dev/null 2>&1 && python3 -c "import ensurepip" 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if ((${#missing[@]})); then
  echo "hotich: cài gói hệ thống còn thiếu: ${missing[*]}"
  if [[ $EUID -eq 0 ]]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "hotich: cần quyền root để cài: apt-get install -y ${missing[*]}" >&2; exit 3
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "hotich: cần Python 3.11 trở lên (đang có $("$PYTHON" --version))" >&2; exit 3; }
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
# Reinstall only when pyproject.toml changed since the last install: a re-run takes a second.
stamp=.venv/.hotich-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
echo "hotich: cài đặt xong ($(.venv/bin/hotich --help >/dev/null && echo 'lệnh .venv/bin/hotich sẵn sàng'))"
