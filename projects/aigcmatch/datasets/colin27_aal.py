"""A small real labelled set: sagittal slabs of one T1 MRI and its atlas.

The image is the Colin27 single-subject T1 brain MRI (MNI space, 1 mm,
181 x 217 x 181) and the labels are the AAL atlas, which was delineated by
hand on this very brain (Tzourio-Mazoyer et al., NeuroImage 2002). Debian
ships both in the package ``mricron-data`` as
``/usr/share/mricron/templates/{ch2,aal}.nii.gz``;
``tools/dataset_converters/colin27_aal_to_h5.py`` fetches the package and
calls :func:`build_colin27_aal`.

The 116 AAL regions are grouped into three classes of different shape:

* 1 ``cortex``: the cerebral grey-matter regions (AAL 1-70 and 79-90): a
  thin, folded ribbon;
* 2 ``deep_grey``: caudate, putamen, pallidum and thalamus (AAL 71-78):
  small, compact, only in the medial slices;
* 3 ``cerebellum``: the cerebellum and vermis (AAL 91-116).

One subject gives no patients to split, so the "cases" are slabs of
``block`` consecutive sagittal slices with ``gap`` slices left out between
neighbouring slabs (adjacent 1 mm slices are nearly identical; the gap keeps a
test slab from having a training slab as its immediate neighbour). Slabs are
numbered along x (right to left in voxel order) and assigned by a fixed rule
(:func:`assign_slabs`), so that val, test and the unlabeled set each span
the whole brain from one side to the other.
"""
import os.path as osp
import shutil
from typing import Dict, List, Sequence, Tuple

import nibabel as nib
import numpy as np

from .converters import convert_pairs
from .io.errors import ConversionError
from .io.nifti import load_nifti
from .io.staging import commit_output, prepare_output
from .split_files import write_split_files

#: Class names, index = label value.
CLASSES = ('background', 'cortex', 'deep_grey', 'cerebellum')

#: AAL label values (inclusive ranges) of each class.
AAL_GROUPS: Dict[int, Tuple[Tuple[int, int], ...]] = {
    1: ((1, 70), (79, 90)),
    2: ((71, 78), ),
    3: ((91, 116), ),
}

#: Voxels of margin kept around the brain when the slices are cropped.
CROP_MARGIN = 6

#: Share of a slab's labelled voxels that each class must reach for the slab
#: to be eligible as labeled.
MIN_CLASS_SHARE = 0.02


def group_aal(aal: np.ndarray) -> np.ndarray:
    """Map AAL region values to the three classes of :data:`CLASSES`.

    Args:
        aal (np.ndarray): AAL label volume (values 0..116).

    Returns:
        np.ndarray: uint8 volume of the same shape, values 0..3.
    """
    aal = np.asarray(aal)
    out = np.zeros(aal.shape, np.uint8)
    for cls, ranges in AAL_GROUPS.items():
        for low, high in ranges:
            out[(aal >= low) & (aal <= high)] = cls
    return out


def sagittal_slabs(label: np.ndarray, block: int,
                   gap: int) -> List[Tuple[int, int]]:
    """Slabs ``[start, stop)`` along the first (x) axis, over the brain.

    Slabs start at the first sagittal slice holding a labelled voxel and
    follow each other with ``gap`` slices between them; the last slab ends
    at or before the last labelled slice.

    Args:
        label (np.ndarray): Label volume (X, Y, Z).
        block (int): Slices per slab (>= 1).
        gap (int): Slices left out between slabs (>= 0).

    Returns:
        list[tuple[int, int]]: The slabs, in x order.
    """
    if block < 1 or gap < 0:
        raise ConversionError(
            f'slabs need block >= 1 and gap >= 0, got block={block}, '
            f'gap={gap}')
    xs = np.flatnonzero(label.any(axis=(1, 2)))
    if xs.size == 0:
        raise ConversionError('the label volume holds no labelled voxel')
    first, last = int(xs[0]), int(xs[-1])
    return [(s, s + block)
            for s in range(first, last + 1 - block + 1, block + gap)]


def assign_slabs(present: np.ndarray,
                 num_labeled: int = 2) -> Dict[str, List[int]]:
    """Split slab indices into test, val, labeled and unlabeled.

    The rule (slab ``i`` of ``n``, in x order): test = every third slab
    (``i % 3 == 1``); val = ``i % 6 == 3``; labeled = ``num_labeled`` of the
    remaining slabs that hold every class, evenly spaced among them (for 2:
    the outermost two, one on each side of the midline); unlabeled = the
    rest.

    Args:
        present (np.ndarray): Bool (n, num_classes - 1): which foreground
            classes each slab shows well enough to be a labeled slab.
        num_labeled (int): Number of labeled slabs.

    Returns:
        dict[str, list[int]]: ``test``, ``val``, ``labeled``, ``unlabeled``.
    """
    n = len(present)
    test = [i for i in range(n) if i % 3 == 1]
    val = [i for i in range(n) if i % 6 == 3]
    rest = [i for i in range(n) if i not in test and i not in val]
    complete = [i for i in rest if present[i].all()]
    if not 0 < num_labeled <= len(complete):
        raise ConversionError(
            f'num_labeled={num_labeled}: {len(complete)} non-test, non-val '
            'slab(s) hold every class; expected 1..that many')
    picks = np.round(np.linspace(0, len(complete) - 1, num_labeled))
    labeled = [complete[int(p)] for p in picks]
    unlabeled = [i for i in rest if i not in labeled]
    return dict(test=test, val=val, labeled=labeled, unlabeled=unlabeled)


def _slab_nifti(data: np.ndarray, affine: np.ndarray, start: int,
                stop: int) -> nib.Nifti1Image:
    """Slab ``data[start:stop]`` with the sagittal axis last, as a NIfTI
    whose affine keeps every voxel's world position."""
    slab = np.ascontiguousarray(np.transpose(data[start:stop], (1, 2, 0)))
    new = np.eye(4)
    new[:3, 0] = affine[:3, 1]
    new[:3, 1] = affine[:3, 2]
    new[:3, 2] = affine[:3, 0]
    new[:3, 3] = affine[:3, 3] + start * affine[:3, 0]
    img = nib.Nifti1Image(slab, new)
    img.set_qform(new, code=1)
    img.set_sform(new, code=1)
    return img


def build_colin27_aal(image_path: str,
                      atlas_path: str,
                      out_root: str,
                      block: int = 4,
                      gap: int = 2,
                      num_labeled: int = 2,
                      overwrite: bool = False) -> dict:
    """Write the slab dataset in the h5 layout, with its split files.

    The slabs go through the project's NIfTI converter
    (:func:`~.converters.convert_pairs`: per-case min-max normalisation,
    volume and slice files); the split files ``OUT/splits/{labeled,
    unlabeled,val,test}.txt`` follow :func:`assign_slabs`.

    Args:
        image_path (str): ``ch2.nii.gz`` (Colin27 T1).
        atlas_path (str): ``aal.nii.gz`` on the same grid.
        out_root (str): ROOT of the layout.
        block (int): Sagittal slices per slab. Defaults to 4.
        gap (int): Slices left out between slabs. Defaults to 2.
        num_labeled (int): Labeled slabs. Defaults to 2.
        overwrite (bool): Replace existing ``OUT/data`` and ``OUT/splits``.

    Returns:
        dict: ``splits`` (name -> slab ids), ``num_slabs``, ``crop``
        ((y0, y1), (z0, z1) voxel ranges kept), ``class_voxels`` (per class,
        whole brain).
    """
    image = load_nifti(image_path)
    atlas = load_nifti(atlas_path)
    if image.shape != atlas.shape or not np.allclose(
            image.affine, atlas.affine, atol=1e-3):
        raise ConversionError(
            f'{atlas_path}: expected the grid of {image_path} (shape '
            f'{image.shape}); got shape {atlas.shape} and affine\n'
            f'{np.round(atlas.affine, 3)}')
    label = group_aal(np.asanyarray(atlas.dataobj))
    data = np.asanyarray(image.dataobj)
    # Crop y and z to the brain (plus a margin): the model sees more anatomy
    # per pixel at a given input size.
    crop = []
    for axis in (1, 2):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(label.any(axis=other))
        crop.append((max(0, int(idx[0]) - CROP_MARGIN),
                     min(label.shape[axis],
                         int(idx[-1]) + 1 + CROP_MARGIN)))
    (y0, y1), (z0, z1) = crop
    shift = np.eye(4)
    shift[:3, 3] = [0, y0, z0]
    affine = image.affine @ shift
    data, label = data[:, y0:y1, z0:z1], label[:, y0:y1, z0:z1]

    slabs = sagittal_slabs(label, block, gap)
    counts = np.stack([[(label[a:b] == c).sum() for c in (1, 2, 3)]
                       for a, b in slabs])
    # A labeled slab must show every class well, not a few stray voxels.
    present = counts >= MIN_CLASS_SHARE * counts.sum(1, keepdims=True)
    parts = assign_slabs(present, num_labeled)
    ids = [f'colin27_slab{i:02d}' for i in range(len(slabs))]
    splits = {name: [ids[i] for i in idx] for name, idx in parts.items()}

    # Everything is written into a scratch folder and moved into place at the
    # end, so a failure leaves the user's earlier output (or nothing).
    scratch = prepare_output(out_root, overwrite, ('data', 'splits'))
    try:
        pairs = []
        for cid, (a, b) in zip(ids, slabs):
            img_path = osp.join(scratch, f'{cid}.nii.gz')
            lab_path = osp.join(scratch, f'{cid}_label.nii.gz')
            nib.save(_slab_nifti(data, affine, a, b), img_path)
            nib.save(_slab_nifti(label, affine, a, b), lab_path)
            pairs.append((cid, img_path, lab_path))
        h5_root = osp.join(scratch, 'h5')
        convert_pairs(pairs, h5_root, num_classes=len(CLASSES), ratios=None)
        write_split_files(splits, osp.join(h5_root, 'splits'))
        commit_output(h5_root, out_root, ('data', 'splits'))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dict(
        splits=splits,
        num_slabs=len(slabs),
        crop=((y0, y1), (z0, z1)),
        class_voxels={
            name: int((label == c).sum())
            for c, name in enumerate(CLASSES) if c
        })


def slab_positions_mm(affine: np.ndarray,
                      slabs: Sequence[Tuple[int, int]]) -> List[float]:
    """World x (mm) of each slab's centre, for documentation."""
    return [
        float((affine @ np.array([(a + b - 1) / 2, 0, 0, 1]))[0])
        for a, b in slabs
    ]
