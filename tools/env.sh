#!/usr/bin/env bash
# Source this file: it makes (once) and activates the Python environment aigcmatch runs in.
#
# The environment is a virtualenv keyed by the hash of requirements/*.txt, kept outside the
# checkout (default ~/.cache/aigcmatch/venv-<hash>), so every clone and every later run with the
# same requirements reuses it and starts in seconds. Set AIGCMATCH_VENV=/path to choose the
# folder, or AIGCMATCH_USE_CURRENT_ENV=1 to use the Python already on PATH as it is (e.g. your
# own env with a CUDA torch and a full mmcv, see docs/install.md). An active virtualenv or conda env
# that already has the pinned stack (mmengine 0.10.7, mmsegmentation 1.2.2, mmcv 2.1) is used as
# it is, so a GPU machine keeps its CUDA torch.
# The repository root goes on PYTHONPATH, so `projects.aigcmatch` imports from this checkout.

_aigc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="${_aigc_root}${PYTHONPATH:+:${PYTHONPATH}}"

if [ "${AIGCMATCH_USE_CURRENT_ENV:-0}" = "1" ]; then
    return 0 2>/dev/null || exit 0
fi
if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && python -c "
import mmcv, mmengine, mmseg, torch, medpy, h5py, nibabel
assert mmengine.__version__ == '0.10.7' and mmseg.__version__ == '1.2.2'
assert mmcv.__version__.startswith('2.1.')" >/dev/null 2>&1; then
    return 0 2>/dev/null || exit 0
fi

_aigc_python="${AIGCMATCH_PYTHON:-python3}"
_aigc_hash="$(cat "${_aigc_root}"/requirements/*.txt | sha256sum | cut -c1-12)"
_aigc_venv="${AIGCMATCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/aigcmatch/venv-${_aigc_hash}}"

if [ ! -f "${_aigc_venv}/.aigcmatch-ready" ]; then
    echo "[aigcmatch] creating the Python environment in ${_aigc_venv} (once; later runs reuse it)" >&2
    mkdir -p "$(dirname "${_aigc_venv}")"
    rm -rf "${_aigc_venv}"
    "${_aigc_python}" -m venv "${_aigc_venv}" || { echo "[aigcmatch] error: '${_aigc_python} -m venv' failed" >&2; return 1 2>/dev/null || exit 1; }
    (
        set -e
        . "${_aigc_venv}/bin/activate"
        # every package at the version it was tested with (requirements/constraints.txt, the lock);
        # the requirement files themselves hold ranges, as setup.cfg's install_requires does
        pip_q="python -m pip install --quiet --disable-pip-version-check -c ${_aigc_root}/requirements/constraints.txt"
        # torch first and alone: an unpinned or newer torch would pull a multi-GB CUDA build.
        # AIGCMATCH_TORCH_INDEX_URL=URL takes it from that index only (e.g. PyTorch's CPU wheels).
        $pip_q ${AIGCMATCH_TORCH_INDEX_URL:+--index-url "$AIGCMATCH_TORCH_INDEX_URL"} \
               -r "${_aigc_root}/requirements/torch.txt"
        $pip_q -r "${_aigc_root}/requirements/mmcv_lite.txt" \
               -r "${_aigc_root}/requirements/runtime.txt" \
               -r "${_aigc_root}/requirements/tests.txt"
        python -c "import torch, mmengine, mmcv, mmseg, medpy, h5py, nibabel" 
    ) 2> "${_aigc_venv}.install.log" || {
        echo "[aigcmatch] error: installing the requirements failed; see ${_aigc_venv}.install.log" >&2
        tail -n 20 "${_aigc_venv}.install.log" >&2
        return 1 2>/dev/null || exit 1
    }
    touch "${_aigc_venv}/.aigcmatch-ready"
fi
. "${_aigc_venv}/bin/activate"
unset _aigc_python _aigc_hash _aigc_venv
