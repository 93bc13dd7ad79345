"""How a slice is shown: orientation from the affine, the intensity window,
a readable size, a title and a class legend.

* Orientation (radiological convention): for an axial slice anterior at the
  top and the patient's right on the image's left; coronal: superior at the
  top, right on the left; sagittal: superior at the top, anterior on the
  left. The axes come from the volume's affine (``nib.aff2axcodes``) and the
  layout's ``nifti_axes`` attribute (``'zyx'``: h5 rows are NIfTI j,
  columns NIfTI i). Files without an affine (e.g. SSL4MIS's ACDC) are shown
  as stored.
* Window: CT (a ``modality`` attribute ``'CT'``, or a stored intensity
  range reaching below -500, which only Hounsfield units of air do) gets a
  soft-tissue window, level 40 / width 400 HU, mapped through the volume's
  ``intensity_range``; anything else its own min-max.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

#: The (row, column) directions of the display, by the slice axis's family.
_TARGETS = {'S': ('P', 'L'), 'A': ('I', 'L'), 'L': ('I', 'P')}
_FAMILY = {'L': 'L', 'R': 'L', 'A': 'A', 'P': 'A', 'S': 'S', 'I': 'S'}
#: Soft-tissue CT window (level, width) in HU.
CT_WINDOW = (40.0, 400.0)
#: A stored minimum below this is Hounsfield units (air is -1000 HU).
_CT_MIN_HU = -500.0

_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class SliceView:
    """How to turn a stored (H, W) slice into its display orientation.

    Attributes:
        transpose (bool): Swap rows and columns first.
        flip_rows (bool): Then flip top-bottom.
        flip_cols (bool): Then flip left-right.
        codes (str): The display's (row, column) directions, e.g. ``'PL'``
            (rows run to posterior, columns to the patient's left), or ``''``
            when shown as stored.
    """
    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False
    codes: str = ''

    def apply(self, array: np.ndarray) -> np.ndarray:
        """The slice (H, W[, C]) in display orientation."""
        if self.transpose:
            array = np.swapaxes(array, 0, 1)
        if self.flip_rows:
            array = array[::-1]
        if self.flip_cols:
            array = array[:, ::-1]
        return np.ascontiguousarray(array)


def radiological_view(affine: Optional[np.ndarray],
                      nifti_axes: str = 'zyx') -> SliceView:
    """The view that shows a slice of the layout in radiological convention.

    Args:
        affine (np.ndarray, optional): The source NIfTI's (4, 4) affine.
        nifti_axes (str): The layout's ``nifti_axes`` (h5 axes d, h, w are
            NIfTI axes k, j, i for ``'zyx'``, the converters' convention).

    Returns:
        SliceView: Identity without an affine or for another axis layout.
    """
    if affine is None or nifti_axes != 'zyx':
        return SliceView()
    import nibabel as nib
    codes = nib.aff2axcodes(np.asarray(affine, np.float64))
    rows, cols, normal = codes[1], codes[0], codes[2]
    target_rows, target_cols = _TARGETS[_FAMILY[normal]]
    transpose = _FAMILY[rows] != _FAMILY[target_rows]
    if transpose:
        rows, cols = cols, rows
    return SliceView(transpose, rows != target_rows, cols != target_cols,
                     target_rows + target_cols)


def is_ct(attrs: Dict[str, object]) -> bool:
    """Whether a volume's h5 attributes say CT (see the module doc)."""
    modality = attrs.get('modality')
    if modality is not None:
        if isinstance(modality, bytes):
            modality = modality.decode()
        return str(modality).upper() == 'CT'
    rng = attrs.get('intensity_range')
    return rng is not None and float(np.asarray(rng).ravel()[0]) < _CT_MIN_HU


def display_window(image: np.ndarray,
                   attrs: Dict[str, object]) -> Tuple[float, float]:
    """(low, high) of the stored values shown black and white.

    CT: level 40 / width 400 HU through the stored ``intensity_range``
    (stored = (HU - low) / (high - low)); otherwise the slice's min-max.
    """
    rng = attrs.get('intensity_range')
    if is_ct(attrs) and rng is not None:
        lo, hi = (float(v) for v in np.asarray(rng).ravel()[:2])
        if hi > lo:
            level, width = CT_WINDOW
            return ((level - width / 2 - lo) / (hi - lo),
                    (level + width / 2 - lo) / (hi - lo))
    return float(np.min(image)), float(np.max(image))


def slice_dice(pred: np.ndarray, gt: np.ndarray,
               num_classes: int) -> Dict[int, Optional[float]]:
    """Dice (percent) of each foreground class on one slice; None where the
    class is in neither (no score), 0 where only one of them has it."""
    scores: Dict[int, Optional[float]] = {}
    valid = gt != 255
    for cls in range(1, num_classes):
        p, g = (pred == cls) & valid, gt == cls
        total = int(p.sum()) + int(g.sum())
        scores[cls] = None if total == 0 else 200.0 * float(
            (p & g).sum()) / total
    return scores


def display_size(shape: Sequence[int],
                 spacing: Optional[Sequence[float]] = None,
                 min_size: int = 320,
                 max_size: int = 768) -> Tuple[int, int]:
    """(height, width) of a panel: square millimetres (when the in-plane
    spacing is known), the shorter side at least ``min_size`` pixels and the
    longer at most ``max_size``."""
    h, w = float(shape[0]), float(shape[1])
    if spacing is not None and len(spacing) >= 2 and min(spacing[-2:]) > 0:
        h, w = h * float(spacing[-2]), w * float(spacing[-1])
    scale = min(min_size / min(h, w), max_size / max(h, w))
    return max(1, int(round(h * scale))), max(1, int(round(w * scale)))


def _text_band(width: int, lines: List[Tuple[str, int]],
               height: int) -> np.ndarray:
    band = np.full((height, width, 3), 255, np.uint8)
    for text, x in lines:
        cv2.putText(band, text, (x, height - 8), _FONT, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return band


def legend_band(width: int, class_names: Sequence[str],
                palette: Sequence[Sequence[int]]) -> np.ndarray:
    """A white band with a colour swatch and the name of every foreground
    class (RGB)."""
    items = [(str(n), tuple(int(c) for c in palette[i]))
             for i, n in enumerate(class_names) if i > 0 and i < len(palette)]
    rows, x, y = [], 8, 0
    for name, color in items:
        size = cv2.getTextSize(name, _FONT, 0.5, 1)[0][0] + 36
        if x + size > width and x > 8:
            x, y = 8, y + 1
        rows.append((name, color, x, y))
        x += size
    band = np.full((26 * (y + 1) + 4, width, 3), 255, np.uint8)
    for name, color, x, row in rows:
        top = 6 + 26 * row
        cv2.rectangle(band, (x, top), (x + 16, top + 16), color, -1)
        cv2.rectangle(band, (x, top), (x + 16, top + 16), (0, 0, 0), 1)
        cv2.putText(band, name, (x + 22, top + 14), _FONT, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return band


def titled_panel(panels: Sequence[np.ndarray], headers: Sequence[str],
                 title: str, class_names: Sequence[str],
                 palette: Sequence[Sequence[int]],
                 gap: int = 4) -> np.ndarray:
    """``title`` on top, a header over each panel, the panels side by side
    and the class legend below (all RGB uint8)."""
    height = panels[0].shape[0]
    sep = np.full((height, gap, 3), 255, np.uint8)
    row, offsets, x = [], [], 0
    for i, panel in enumerate(panels):
        if i:
            row.append(sep)
            x += gap
        offsets.append(x)
        row.append(panel)
        x += panel.shape[1]
    body = np.concatenate(row, axis=1)
    width = body.shape[1]
    head = _text_band(width, [(title, 6)], 28)
    labels = _text_band(width, [(h, o + 4) for h, o in zip(headers, offsets)],
                        24)
    return np.concatenate(
        [head, labels, body,
         legend_band(width, class_names, palette)], axis=0)
