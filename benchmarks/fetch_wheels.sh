#!/usr/bin/env bash
# Download the wheels benchmarks/gpu.sh installs on a GPU machine that has Python 3.12, PyTorch with
# CUDA, numpy, scipy, h5py, opencv, matplotlib, regex, rich, pyyaml and pillow, but not the OpenMMLab
# stack (and that cannot reach a package index). Run here, from the repository root; the wheels land
# in .whl/ (git-ignored; carry it to the GPU machine with the checkout).
#
#   bash benchmarks/fetch_wheels.sh            # into .whl/
#   WHEEL_DIR=/tmp/w PYVER=3.12 bash benchmarks/fetch_wheels.sh
#
# Pure-Python wheels (py3-none-any) match any platform; the few binary ones are asked for as
# manylinux x86_64 builds for CPython $PYVER. A package published only as a source archive (medpy)
# is built into a pure-Python wheel here with `pip wheel`.
set -u -o pipefail

WHEEL_DIR="${WHEEL_DIR:-.whl}"
PYVER="${PYVER:-3.12}"
PIP="${PIP:-python3 -m pip}"

# name==version, as pinned in requirements/*.txt (and the dependencies those pull in).
PACKAGES=(
    mmengine==0.10.7
    mmcv-lite==2.1.0
    mmsegmentation==1.2.2
    addict==2.4.0
    yapf==0.43.0
    platformdirs==4.14.8
    termcolor==3.3.0
    prettytable==3.18.0
    wcwidth==0.9.4
    ftfy==6.3.1
    nibabel==5.4.2
    medpy==0.5.2
)

mkdir -p "$WHEEL_DIR"
failed=()
for spec in "${PACKAGES[@]}"; do
    name="${spec%%==*}"
    if ls "$WHEEL_DIR" | grep -qi "^$(echo "$name" | tr '-' '_')-${spec##*==}-"; then
        echo "have $spec"
        continue
    fi
    if $PIP download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version "$PYVER" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any \
        -d "$WHEEL_DIR" "$spec"; then
        echo "downloaded $spec"
    elif $PIP wheel --quiet --disable-pip-version-check --no-deps -w "$WHEEL_DIR" "$spec"; then
        # only a source archive on the index: a pure-Python build works anywhere
        echo "built $spec"
    else
        echo "FAILED $spec" >&2
        failed+=("$spec")
    fi
done
du -sh "$WHEEL_DIR"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "could not get: ${failed[*]}" >&2
    exit 1
fi
