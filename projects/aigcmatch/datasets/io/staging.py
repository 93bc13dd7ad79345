"""Output written into a scratch folder, then moved into place: a bad input
met half-way leaves the old output (or nothing) rather than a mix."""
from __future__ import annotations

import os
import os.path as osp
import shutil
import tempfile
from typing import Sequence

def prepare_output(
    out_root: str, overwrite: bool,
    managed: Sequence[str] = ('data', )) -> str:
    """Refuse to replace output unless asked; make a scratch folder for it.

    Conversion writes into the scratch folder and :func:`commit_output` moves
    it into place, so a bad input file met half-way leaves the old output (or
    nothing) rather than a mix.

    Args:
        out_root (str): ROOT of the layout.
        overwrite (bool): Allow replacing non-empty managed sub-folders.
        managed (Sequence[str]): Sub-folders of ``out_root`` written.

    Returns:
        str: The scratch folder (inside ``out_root``, so the move is a rename).
    """
    for sub in managed:
        path = osp.join(out_root, sub)
        if osp.exists(path) and (not osp.isdir(path)
                                 or os.listdir(path)) and not overwrite:
            raise FileExistsError(
                f'{path} already exists and is not empty; pass --overwrite '
                f'(overwrite=True) to replace it')
    os.makedirs(out_root, exist_ok=True)
    return tempfile.mkdtemp(prefix='.converting-', dir=out_root)


def commit_output(scratch: str,
                  out_root: str,
                  managed: Sequence[str] = ('data', )) -> None:
    """Move every ``scratch/<sub>`` to ``out_root/<sub>``; drop scratch.

    Args:
        scratch (str): Folder from :func:`prepare_output`.
        out_root (str): ROOT of the layout.
        managed (Sequence[str]): Sub-folders to move (replacing old ones).
    """
    for sub in managed:
        src, dst = osp.join(scratch, sub), osp.join(out_root, sub)
        if not osp.exists(src):
            continue
        if osp.isdir(dst):
            shutil.rmtree(dst)
        elif osp.exists(dst):
            os.remove(dst)
        os.replace(src, dst)
    shutil.rmtree(scratch, ignore_errors=True)

