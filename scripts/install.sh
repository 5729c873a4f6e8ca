#!/usr/bin/env bash
# Installs what hotich needs on Debian/Ubuntu, idempotently: system packages only when missing
# (apt-get as root or through sudo), a virtualenv at .venv, and the package with its dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the review app's browser tests drive Debian's build through Playwright (nothing is
# downloaded at test time; `playwright install` is never run).
APT_PACKAGES=(tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng poppler-utils fonts-freefont-ttf fonts-liberation2 fonts-dejavu-core python3-venv chromium)

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
# Tesseract's tessdata_best `vie` model (integer build), as published in the npm registry by the
# tesseract.js project; pinned by version and SHA-256. Used when HOTICH_OCR_MODEL=best.
BEST_URL=https://registry.npmjs.org/@tesseract.js-data/vie/-/vie-1.0.0.tgz
BEST_SHA256=4f0a17b39722269c1c5e5f10d7aa3acd9a74fe46b109621973450caa4d9fe19f
best_dir=.venv/share/hotich/tessdata
if [[ ! -s $best_dir/vie.traineddata ]]; then
  .venv/bin/python - "$BEST_URL" "$BEST_SHA256" "$best_dir" <<'PY'
import gzip, hashlib, io, sys, tarfile, urllib.request
from pathlib import Path
url, sha, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
data = urllib.request.urlopen(url, timeout=120).read()
if hashlib.sha256(data).hexdigest() != sha:
    sys.exit(f"hotich: mô hình tải về từ {url} sai mã SHA-256")
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    model = gzip.decompress(tar.extractfile("package/4.0.0_best_int/vie.traineddata.gz").read())
out.mkdir(parents=True, exist_ok=True)
(out / "vie.traineddata.part").write_bytes(model)
(out / "vie.traineddata.part").replace(out / "vie.traineddata")
PY
fi
# The numbers pass reads with vie+eng: the best folder borrows Debian's eng and osd models.
system_tessdata=$(tesseract --list-langs 2>/dev/null | sed -n 's/.*"\(.*\)".*/\1/p' | head -1)
system_tessdata=${system_tessdata%/}
for lang in eng osd; do
  [[ -e $best_dir/$lang.traineddata || ! -e $system_tessdata/$lang.traineddata ]] || \
    ln -s "$system_tessdata/$lang.traineddata" "$best_dir/$lang.traineddata"
done

echo "hotich: cài đặt xong ($(.venv/bin/hotich --help >/dev/null && echo 'lệnh .venv/bin/hotich sẵn sàng'))"
