#!/usr/bin/env bash
# setup.sh - install the Debian 12 packages samc needs to build and test.
# Skips apt when everything is already installed.
set -euo pipefail

PACKAGES="build-essential cmake pkg-config llvm-19-dev liblua5.4-dev lua5.4 \
libcmocka-dev zlib1g-dev libcjson-dev libopenblas-dev dataset-fashion-mnist \
python3-torch python3-numpy libdnnl-dev libcairo2-dev libopenmpi-dev openmpi-bin"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
if [ -z "$missing" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "samc setup: these Debian packages are missing:$missing" >&2
  echo "samc setup: installing them needs root: run this script as root (or: sudo $0)" >&2
  exit 1
fi
echo "samc setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
