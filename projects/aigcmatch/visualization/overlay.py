"""Label overlays on 1-channel medical images, as RGB uint8 arrays.

Unlike mmseg's ``SegLocalVisualizer``, background pixels are left as they are
(no black wash over the anatomy), each foreground class is tinted and
outlined, and the image is windowed by its own min-max range, which is what a
float MRI/CT slice needs.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Color = Tuple[int, int, int]

# ACDC's classes first (as ACDCDataset.METAINFO: RV red, Myo green, LV
# blue), then more.
_BASE_COLORS: Tuple[Color,
                    ...] = ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255),
                            (255, 255, 0), (255, 0, 255), (0, 255, 255),
                            (255, 128, 0), (128, 0, 255), (0, 128,
                                                           255), (128, 255, 0))


def default_palette(num_classes: int) -> List[Color]:
    """One RGB colour per class; beyond the fixed ones, seeded random."""
    colors = list(_BASE_COLORS[:num_classes])
    rng = np.random.default_rng(0)
    while len(colors) < num_classes:
        colors.append(tuple(int(v) for v in rng.integers(64, 256, 3)))
    return colors


def to_gray_rgb(
        image: np.ndarray,
        value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Window a float (H, W) image to uint8 gray, replicated to 3 channels.

    Args:
        image (np.ndarray): (H, W) intensities.
        value_range (tuple[float, float], optional): (low, high) mapped to
            0 and 255; defaults to the image's min and max (e.g. pass the
            volume's range so all slices of a volume share one window).

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(
            f'to_gray_rgb: expected an (H, W) image, got shape {image.shape}')
    lo, hi = value_range if value_range is not None else (float(image.min()),
                                                          float(image.max()))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    gray = np.clip((image - lo) * scale, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def overlay_labels(gray_rgb: np.ndarray,
                   labels: np.ndarray,
                   palette: Sequence[Sequence[int]],
                   alpha: float = 0.4,
                   contour: bool = True,
                   background: int = 0) -> np.ndarray:
    """Tint each foreground class and draw its outline.

    Args:
        gray_rgb (np.ndarray): (H, W, 3) uint8 image.
        labels (np.ndarray): (H, W) class indices.
        palette (Sequence[Sequence[int]]): RGB colour per class index.
        alpha (float): Opacity of the tint. Defaults to 0.4.
        contour (bool): Draw 1-pixel class outlines at full colour.
            Defaults to True.
        background (int): Class left untouched. Defaults to 0.

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    labels = np.asarray(labels)
    if labels.shape != gray_rgb.shape[:2]:
        raise ValueError(
            f'overlay_labels: labels of shape {labels.shape} do not match the '
            f'image of shape {gray_rgb.shape[:2]}')
    out = gray_rgb.astype(np.float32)
    for cls in np.unique(labels):
        cls = int(cls)
        if cls == background or cls >= len(palette):
            continue
        mask = labels == cls
        out[mask] = (1 - alpha) * out[mask] + alpha * np.asarray(
            palette[cls], np.float32)
    out = out.astype(np.uint8)
    if contour:
        for cls in np.unique(labels):
            cls = int(cls)
            if cls == background or cls >= len(palette):
                continue
            found = cv2.findContours((labels == cls).astype(np.uint8),
                                     cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)[-2]
            cv2.drawContours(out, found, -1,
                             tuple(int(c) for c in palette[cls]), 1)
    return out


def side_by_side(panels: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Concatenate equally tall (H, W, 3) panels with white gaps."""
    height = panels[0].shape[0]
    sep = np.full((height, gap, 3), 255, np.uint8)
    parts = []
    for i, panel in enumerate(panels):
        if panel.shape[0] != height:
            raise ValueError('side_by_side: panels must have the same height')
        parts.extend([sep, panel] if i else [panel])
    return np.concatenate(parts, axis=1)


def save_volume_overlays(image: np.ndarray,
                         labels: np.ndarray,
                         palette: Sequence[Sequence[int]],
                         out_dir: str,
                         case_id: str,
                         alpha: float = 0.4) -> List[str]:
    """Write one ``[image | overlay]`` PNG per slice.

    Args:
        image (np.ndarray): (D, H, W) or (H, W) intensities.
        labels (np.ndarray): Class indices of the same shape.
        palette (Sequence[Sequence[int]]): RGB colour per class.
        out_dir (str): Folder (created if missing).
        case_id (str): File name prefix: ``<case_id>_slice_<k>.png`` (or
            ``<case_id>.png`` for a 2D image).
        alpha (float): Opacity of the tint.

    Returns:
        list[str]: The written files.
    """
    if image.shape != labels.shape:
        raise ValueError(
            f'save_volume_overlays: image {image.shape} and labels '
            f'{labels.shape} differ in shape')
    os.makedirs(out_dir, exist_ok=True)
    window = (float(image.min()), float(image.max())
              )  # one window for the whole volume
    volume = image[None] if image.ndim == 2 else image
    label_volume = labels[None] if labels.ndim == 2 else labels
    paths = []
    for k in range(volume.shape[0]):
        gray = to_gray_rgb(volume[k], window)
        panel = side_by_side(
            [gray, overlay_labels(gray, label_volume[k], palette, alpha)])
        name = (f'{case_id}.png'
                if image.ndim == 2 else f'{case_id}_slice_{k}.png')
        path = osp.join(out_dir, name)
        cv2.imwrite(path, cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths
