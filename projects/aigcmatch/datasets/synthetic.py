"""Synthetic ACDC-like short-axis cine-MRI in the SSL4MIS/UniMatch h5 layout.

The generator draws, per patient, a heart (LV blood pool, myocardium ring, RV
crescent) on 8-10 short-axis slices from base to apex in two cardiac phases
(ED, ES), inside a thorax with tissue that is *not* labelled (lungs, liver,
fat, descending aorta, fluid-filled blobs). The appearance (contrast, gamma,
bias field, noise, orientation, scale) varies between patients so that one to
three labelled patients do not cover the whole set: the point is a demo task
where semi-supervision has room to help, which trains on a CPU in minutes.

Everything for one patient comes from one generator seeded with
``[seed, patient_number]``, so a patient does not change when ``num_patients``
changes, and the set is reproducible.
"""
from __future__ import annotations

import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import h5py
import numpy as np
from scipy.ndimage import gaussian_filter

from .io.intensity import normalise_intensity

#: ACDC label convention used by every file this module writes.
ACDC_CLASSES = ('background', 'RV', 'Myo', 'LV')

# The normalised image is stored on an 8-bit grid (exact in float32; UniMatch
# turns images into 8 bit for its strong augmentation anyway): shuffle+gzip
# then stores ~1 byte per pixel, not 4.
_QUANT_LEVELS = 256  # a power of two, so k / 256 is exact in float32

# ACDC's five diagnostic groups; _sample_patient changes the geometry by group.
_GROUPS = ('NOR', 'DCM', 'HCM', 'MINF', 'ARV')


@dataclass
class _Blob:
    """An unlabelled ellipse (fluid, fat, bowel) on a range of slices."""
    cy: float
    cx: float
    ry: float
    rx: float
    angle: float
    level: float
    z_from: float
    z_to: float


@dataclass
class _Patient:
    """All that is drawn once per patient (pixels; intensities in [0, 1])."""
    height: int
    width: int
    num_slices: int
    spacing: Tuple[float, float, float]
    group: str
    # heart geometry
    cy: float
    cx: float
    rv_dir: float  # direction LV centre -> RV, radians, image coordinates
    lv_aspect: float  # LV ellipse axis ratio (>= 1)
    # (2, 2, 2): [endo|epi][harmonic 2|3][amplitude, phase] of the LV contours
    wobble: np.ndarray
    r_lv: float  # ED basal LV cavity radius
    t_myo: float  # ED basal myocardial thickness
    ef: float  # LV ejection fraction
    rv_scale: float  # RV size relative to the LV outer radius
    ef_rv: float
    apex_taper: float  # how fast the LV narrows towards the apex
    z_rv_end: float  # relative slice position beyond which the RV is absent
    # (angle, relative size) of each papillary muscle
    papillary: Tuple[Tuple[float, float], ...]
    # epicardial fat arc: (centre angle, half span or 0 for none, thickness)
    epi_fat: Tuple[float, float, float]
    # (num_slices, 2) centre drift of the heart through the stack
    drift: np.ndarray
    # thorax
    body: Tuple[float, float, float, float]  # cy, cx, ry, rx
    sc_fat: float  # subcutaneous fat thickness
    lungs: Tuple[Tuple[float, float, float, float], ...]
    liver: Tuple[float, float, float, float]
    aorta: Tuple[float, float, float]  # angle from LV centre, gap, radius
    blobs: Tuple[_Blob, ...]
    # appearance
    blood: float
    rv_blood: float
    myo: float
    tissue: float
    fat: float
    lung: float
    liver_level: float
    gamma: float
    bias: np.ndarray  # 5 coefficients of a quadratic log-bias field
    noise: float


def _sample_patient(rng: np.random.Generator, image_size: Tuple[int, int],
                    slices: Tuple[int, int]) -> _Patient:
    """Draw one patient's anatomy and appearance."""
    height = max(16, int(round(image_size[0] * rng.uniform(0.9, 1.1))))
    width = max(16, int(round(image_size[1] * rng.uniform(0.9, 1.1))))
    side = min(height, width)
    num_slices = int(rng.integers(slices[0], slices[1] + 1))
    # Field of view in mm along the short image side, framed around the heart
    # like the crops models are trained on; sizes below are drawn in mm and
    # converted to pixels, so the heart keeps the same fraction of the image at
    # any image_size.
    mm = rng.uniform(170.0, 230.0) / side
    slice_gap = float(rng.choice([5.0, 6.5, 7.0, 8.0, 10.0]))
    spacing = (slice_gap, float(mm), float(mm))

    group = str(rng.choice(_GROUPS))
    r_lv, t_myo = rng.uniform(20.0, 26.0), rng.uniform(6.0, 9.0)
    ef = rng.uniform(0.55, 0.7)
    rv_scale = rng.uniform(0.9, 1.1)
    ef_rv = rng.uniform(0.45, 0.6)
    if group == 'DCM':  # dilated: big thin-walled LV that barely contracts
        r_lv *= rng.uniform(1.2, 1.4)
        t_myo *= 0.85
        ef = rng.uniform(0.12, 0.35)
    elif group == 'HCM':  # hypertrophic: thick wall, small brisk cavity
        r_lv *= rng.uniform(0.75, 0.9)
        t_myo *= rng.uniform(1.4, 1.8)
        ef = rng.uniform(0.65, 0.8)
    elif group == 'MINF':  # after infarction: larger LV, low EF
        r_lv *= rng.uniform(1.05, 1.25)
        ef = rng.uniform(0.2, 0.4)
    elif group == 'ARV':  # abnormal right ventricle: large, stiff RV
        rv_scale = rng.uniform(1.3, 1.6)
        ef_rv = rng.uniform(0.2, 0.4)
    r_lv, t_myo = r_lv / mm, t_myo / mm
    outer = r_lv + t_myo

    # RV usually on the image's left (patient's right); some patients mirrored.
    rv_dir = math.pi + rng.uniform(-0.6, 0.6)
    if rng.random() < 0.15:
        rv_dir = rng.uniform(-0.6, 0.6)
    # Keep the whole heart in the image: move the LV centre off the RV side.
    cy = height * (0.5 + rng.uniform(-0.07, 0.07))
    cy -= 0.35 * outer * math.sin(rv_dir)
    cx = width * (0.5 + rng.uniform(-0.07, 0.07))
    cx -= 0.35 * outer * math.cos(rv_dir)

    papillary = tuple(
        (rv_dir + math.pi + s * rng.uniform(0.5, 1.1), rng.uniform(0.12, 0.2))
        for s in (-1.0, 1.0))
    epi_fat = (rv_dir + math.pi + rng.uniform(-1.0, 1.0),
               rng.uniform(0.4, 1.2) if rng.random() < 0.7 else 0.0,
               rng.uniform(1.5, 3.5) / mm)
    drift = np.cumsum(rng.normal(0.0, 1.0 / mm, size=(num_slices, 2)), axis=0)

    # The thorax is often wider than the field of view (cropped, as in ACDC).
    body = (height / 2 + rng.uniform(-0.05, 0.05) * height,
            width / 2 + rng.uniform(-0.05, 0.05) * width,
            rng.uniform(95.0, 125.0) / mm, rng.uniform(120.0, 170.0) / mm)
    lungs = tuple(
        (cy + rng.uniform(-0.1, 0.05) * height,
         cx + s * rng.uniform(0.24, 0.32) * width,
         rng.uniform(0.14, 0.22) * height, rng.uniform(0.09, 0.14) * width)
        for s in (-1.0, 1.0))
    liver = (cy + rng.uniform(0.28, 0.38) * height,
             cx - rng.uniform(0.0, 0.15) * width,
             rng.uniform(0.2, 0.28) * height, rng.uniform(0.25, 0.35) * width)
    aorta = (rv_dir + math.pi +
             rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0),
             rng.uniform(3.0, 10.0) / mm, rng.uniform(9.0, 13.0) / mm)

    blobs: List[_Blob] = []
    for _ in range(int(rng.integers(2, 6))):
        for _try in range(20):
            by = rng.uniform(0.1, 0.9) * height
            bx = rng.uniform(0.1, 0.9) * width
            ry, rx = rng.uniform(3.0, 12.0) / mm, rng.uniform(3.0, 12.0) / mm
            # Unlabelled bright blobs must not touch the heart, or their label
            # is ambiguous.
            clearance = 2.7 * outer * max(1.0, rv_scale) + max(ry, rx)
            if math.hypot(by - cy, bx - cx) > clearance:
                z0 = rng.uniform(0.0, 0.7)
                blobs.append(
                    _Blob(by, bx, ry, rx, rng.uniform(0, math.pi),
                          rng.uniform(0.45, 1.0), z0,
                          rng.uniform(z0 + 0.2, 1.2)))
                break

    blood = rng.uniform(0.7, 0.95)
    return _Patient(
        height=height,
        width=width,
        num_slices=num_slices,
        spacing=spacing,
        group=group,
        cy=cy,
        cx=cx,
        rv_dir=rv_dir,
        lv_aspect=rng.uniform(1.0, 1.15),
        wobble=np.stack([
            rng.uniform(0.0, 0.06, (2, 2)),
            rng.uniform(0.0, 2 * math.pi, (2, 2))
        ], -1),
        r_lv=r_lv,
        t_myo=t_myo,
        ef=ef,
        rv_scale=rv_scale,
        ef_rv=ef_rv,
        apex_taper=rng.uniform(0.8, 0.93),
        z_rv_end=rng.uniform(0.8, 1.02),
        papillary=papillary,
        epi_fat=epi_fat,
        drift=drift,
        body=body,
        sc_fat=rng.uniform(0.015, 0.04) * side,
        lungs=lungs,
        liver=liver,
        aorta=aorta,
        blobs=tuple(blobs),
        blood=blood,
        rv_blood=blood * rng.uniform(0.9, 1.05),
        myo=rng.uniform(0.12, 0.3),
        tissue=rng.uniform(0.35, 0.55),
        fat=rng.uniform(0.75, 1.0),
        lung=rng.uniform(0.02, 0.1),
        liver_level=rng.uniform(0.35, 0.6),
        gamma=float(np.exp(rng.uniform(-0.5, 0.5))),
        bias=rng.uniform(-0.35, 0.35, size=5),
        noise=rng.uniform(0.01, 0.07))


def _ellipse(yy: np.ndarray,
             xx: np.ndarray,
             cy: float,
             cx: float,
             ry: float,
             rx: float,
             angle: float = 0.0) -> np.ndarray:
    """Boolean mask of a rotated ellipse (semi-axes ``ry``, ``rx``)."""
    c, s = math.cos(angle), math.sin(angle)
    dy, dx = yy - cy, xx - cx
    u, v = dx * c + dy * s, -dx * s + dy * c
    return (u / max(rx, 1e-3))**2 + (v / max(ry, 1e-3))**2 <= 1.0


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int],
                  sigma: float) -> np.ndarray:
    """Zero-mean, unit-std smooth random field (tissue texture)."""
    field = gaussian_filter(
        rng.standard_normal(shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-6)


def _render_slice(p: _Patient, rng: np.random.Generator, z: float, k: int,
                  phase: float) -> Tuple[np.ndarray, np.ndarray]:
    """Render one slice.

    ``z`` is the relative position (base 0 .. apex 1), ``phase`` the cardiac
    phase (ED 0 .. ES 1).

    Returns:
        tuple: the clean-but-textured image (float32, before gamma/bias/noise)
            and the label map.
    """
    h, w = p.height, p.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = p.cy + p.drift[k, 0], p.cx + p.drift[k, 1]

    # Heart geometry at this slice and phase. The myocardium is incompressible:
    # its area per slice is kept from ED to ES, so the wall thickens as the
    # cavity shrinks.
    taper = math.sqrt(max(1.0 - (p.apex_taper * z)**2, 0.0))
    r_ed = p.r_lv * taper
    outer_ed = r_ed + p.t_myo * (1.0 - 0.25 * z)
    r = r_ed * math.sqrt(1.0 - p.ef * phase)
    outer = math.sqrt(r**2 + outer_ed**2 - r_ed**2)
    rv_taper = math.sqrt(max(1.0 - (z / p.z_rv_end)**2, 0.0))
    rv_taper = rv_taper if rv_taper > 0.3 else 0.0
    rv_size = p.rv_scale * rv_taper * math.sqrt(1.0 - p.ef_rv * phase)

    # LV contours: an ellipse in the heart's frame (u towards the RV), made
    # irregular by a few low harmonics so that no two patients share one
    # template.
    a = p.lv_aspect
    c, s = math.cos(p.rv_dir), math.sin(p.rv_dir)
    u, v = (xx - cx) * c + (yy - cy) * s, -(xx - cx) * s + (yy - cy) * c
    rho, phi = np.sqrt((u / a)**2 + (v * a)**2), np.arctan2(v, u)

    def contour(i: int) -> np.ndarray:
        (a2, p2), (a3, p3) = p.wobble[i]
        return 1.0 + a2 * np.cos(2 * phi + p2) + a3 * np.cos(3 * phi + p3)

    lv = rho <= r * contour(0)
    myo_outer = (rho <= outer * contour(1)) | lv
    # The RV is an ellipse beside the LV minus the LV wall: what remains is the
    # crescent that wraps the septum. Its near edge stays behind the LV centre
    # line, whatever its size.
    rv_along = outer * rv_size
    rv_across = 1.5 * outer * math.sqrt(max(rv_size, 0.0))
    rv_cy = cy + (rv_along - 0.15 * outer) * s
    rv_cx = cx + (rv_along - 0.15 * outer) * c
    if rv_size > 0:
        rv_full = _ellipse(yy, xx, rv_cy, rv_cx, rv_across, rv_along, p.rv_dir)
        wall = 2.5 / p.spacing[1]
        rv_wall = _ellipse(yy, xx, rv_cy, rv_cx, rv_across + wall,
                           rv_along + wall, p.rv_dir)
    else:
        rv_full = rv_wall = np.zeros((h, w), bool)
    rv = rv_full & ~myo_outer

    label = np.zeros((h, w), np.uint8)
    label[rv] = 1
    label[myo_outer & ~lv] = 2
    label[lv] = 3

    # Paint from the outside in; later layers cover earlier ones.
    tex = _smooth_noise(rng, (h, w), 1.5)
    tex_coarse = _smooth_noise(rng, (h, w), 4.0)
    img = np.zeros((h, w), np.float32)
    bcy, bcx, bry, brx = p.body
    body = _ellipse(yy, xx, bcy, bcx, bry, brx)
    inner_body = _ellipse(yy, xx, bcy, bcx, bry - p.sc_fat, brx - p.sc_fat)
    img[body] = p.fat
    img[inner_body] = (p.tissue + 0.06 * tex + 0.05 * tex_coarse)[inner_body]
    for ly, lx, lry, lrx in p.lungs:
        shrink = 1.0 - 0.35 * z  # the lungs recede towards the apex
        lung = _ellipse(yy, xx, ly, lx, lry * shrink, lrx * shrink)
        lung &= inner_body
        img[lung] = (p.lung + 0.02 * tex)[lung]
    ly, lx, lry, lrx = p.liver
    grow = 0.4 + 0.8 * z  # the liver dome rises into the apical slices
    liver = _ellipse(yy, xx, ly, lx, lry * grow, lrx * grow) & inner_body
    img[liver] = (p.liver_level + 0.04 * tex)[liver]
    for b in p.blobs:
        if b.z_from <= z <= b.z_to:
            blob = _ellipse(yy, xx, b.cy, b.cx, b.ry, b.rx,
                            b.angle) & inner_body
            img[blob] = (b.level + 0.03 * tex)[blob]
    # Descending aorta: blood-bright disc outside the heart, not labelled.
    ang, gap, rad = p.aorta
    dist = outer_ed * a + gap + rad
    aorta = _ellipse(yy, xx, cy + dist * math.sin(ang),
                     cx + dist * math.cos(ang), rad, rad)
    img[aorta] = p.blood + 0.02 * float(rng.standard_normal())
    # Epicardial fat: a bright arc hugging the LV's free wall, not labelled.
    fat_ang, fat_span, fat_t = p.epi_fat
    if fat_span > 0:
        ang_map = np.arctan2(yy - cy, xx - cx)
        in_arc = np.abs(np.angle(np.exp(1j * (ang_map - fat_ang)))) <= fat_span
        fat_ring = (rho <= outer * contour(1) + fat_t) & in_arc
        img[fat_ring] = p.fat
    img[rv_wall & ~rv & ~myo_outer] = p.myo
    img[rv] = (p.rv_blood + 0.03 * tex)[rv]
    img[myo_outer] = (p.myo + 0.03 * tex)[myo_outer]
    img[lv] = (p.blood + 0.03 * tex)[lv]
    # Papillary muscles: myocardium-dark spots inside the cavity that ACDC
    # labels as LV.
    for pap_ang, pap_size in p.papillary:
        d = 0.65 * r
        pr = max(pap_size * r * (1.0 + 0.6 * phase), 0.6)
        pap = _ellipse(yy, xx, cy + d * math.sin(pap_ang),
                       cx + d * math.cos(pap_ang), pr, pr) & lv
        img[pap] = p.myo
    # Partial-volume blur: boundaries are never one pixel sharp in MR.
    img = gaussian_filter(img, 0.6)
    return img, label


def _acquire(p: _Patient, rng: np.random.Generator,
             clean: np.ndarray) -> np.ndarray:
    """Gamma, smooth multiplicative bias and Rician noise on (D, H, W)."""
    d, h, w = clean.shape
    img = np.clip(clean, 0.0, 1.0)**p.gamma
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    b = p.bias
    bias = np.exp(b[0] * x + b[1] * y + b[2] * x * y + b[3] * x**2 +
                  b[4] * y**2)
    img = img * bias[None]
    # Rician: magnitude of a complex signal with Gaussian noise in both parts.
    n1 = rng.standard_normal(img.shape).astype(np.float32)
    n2 = rng.standard_normal(img.shape).astype(np.float32)
    img = np.sqrt((img + p.noise * n1)**2 + (p.noise * n2)**2)
    return img.astype(np.float32)


def _normalise(volume: np.ndarray) -> np.ndarray:
    """Per-volume normalisation to [0, 1] on an 8-bit grid.

    The converters' default (``'robust_minmax'``); the generator draws no
    extreme voxels, so this is min-max exactly, as the set always was.
    """
    vol, _ = normalise_intensity(volume, 'robust_minmax', warn=False)
    return (np.round(vol * _QUANT_LEVELS) / _QUANT_LEVELS).astype(np.float32)


def _check_args(num_patients: int, image_size: Sequence[int],
                slices: Sequence[int], frames: Sequence[str]) -> None:
    if (not isinstance(num_patients, (int, np.integer))
            or not 1 <= num_patients <= 999):
        raise ValueError(
            'make_synthetic_acdc: num_patients must be an int in 1..999 '
            '(patients are named patient001..patient999), '
            f'got {num_patients!r}')
    if len(image_size) != 2 or any(int(s) != s or s < 16 for s in image_size):
        raise ValueError(
            f'make_synthetic_acdc: image_size must be two ints >= 16 (H, W), '
            f'got {image_size!r}')
    if len(slices) != 2 or any(
            int(s) != s for s in slices) or not 1 <= slices[0] <= slices[1]:
        raise ValueError(
            f'make_synthetic_acdc: slices must be two ints (min, max) with '
            f'1 <= min <= max, got {slices!r}')
    if (isinstance(frames, str) or len(frames) == 0
            or len(set(frames)) != len(frames)
            or any(not isinstance(f, str) or not f or os.sep in f or '_' in f
                   for f in frames)):
        raise ValueError(
            'make_synthetic_acdc: frames must be a non-empty sequence of '
            "distinct names without '_' or '/', e.g. ('frame01', 'frame12'), "
            f'got {frames!r}')


def synthesize_patient(
    patient: int,
    image_size: Tuple[int, int] = (128, 128),
    slices: Tuple[int, int] = (8, 10),
    seed: int = 0,
    frames: Sequence[str] = ('frame01', 'frame12')
) -> Dict[str, dict]:
    """Generate one synthetic patient in memory.

    The first frame is end-diastole, the last end-systole; frames in between
    are interpolated phases. Both share the anatomy and scanner appearance,
    only the heart's contraction and the noise differ.

    Args:
        patient (int): Patient number (1-based, as in ``patient001``).
        image_size (tuple[int, int]): Nominal (H, W); each patient varies by up
            to 10%.
        slices (tuple[int, int]): Inclusive range of the number of short-axis
            slices.
        seed (int): Seed of the whole set; the patient's generator is
            seeded with ``[seed, patient]``.
        frames (Sequence[str]): Frame names, ED first.

    Returns:
        dict: ``{frame: dict(image, label, spacing, group)}`` with ``image``
        float32 (D, H, W) in [0, 1], ``label`` uint8 (D, H, W) in 0..3,
        ``spacing`` (sz, sy, sx) in mm and ``group`` the ACDC-like diagnosis.
    """
    _check_args(1, image_size, slices, frames)
    rng = np.random.default_rng([int(seed), int(patient)])
    p = _sample_patient(rng, (int(image_size[0]), int(image_size[1])),
                        (int(slices[0]), int(slices[1])))
    out = {}
    for f, frame in enumerate(frames):
        phase = f / (len(frames) - 1) if len(frames) > 1 else 0.0
        clean, labels = [], []
        for k in range(p.num_slices):
            z = k / (p.num_slices - 1) if p.num_slices > 1 else 0.0
            img, lab = _render_slice(p, rng, z, k, phase)
            clean.append(img)
            labels.append(lab)
        image = _normalise(_acquire(p, rng, np.stack(clean)))
        out[frame] = dict(
            image=image,
            label=np.stack(labels),
            spacing=p.spacing,
            group=p.group)
    return out


def _write_h5(path: str,
              image: np.ndarray,
              label: np.ndarray,
              spacing=None) -> None:
    # shuffle+gzip: images are on an 8-bit grid, labels are mostly zeros.
    kw = dict(compression='gzip', compression_opts=4, shuffle=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=image, **kw)
        f.create_dataset('label', data=label, **kw)
        if spacing is not None:
            f.attrs['spacing'] = np.asarray(spacing, dtype=np.float64)


def make_synthetic_acdc(root: str,
                        num_patients: int = 100,
                        image_size: tuple = (128, 128),
                        slices: tuple = (8, 10),
                        seed: int = 0,
                        frames: Sequence[str] = ('frame01', 'frame12'),
                        overwrite: bool = False) -> dict:
    """Write a synthetic ACDC-like set in the SSL4MIS/UniMatch h5 layout.

    Files: ``root/data/slices/patientXXX_frameYY_slice_Z.h5`` (keys ``image``
    float32 (H, W), ``label`` uint8 (H, W)) for every slice of every volume,
    and ``root/data/patientXXX_frameYY.h5`` (``image`` float32 (D, H, W),
    ``label`` uint8 (D, H, W), attribute ``spacing`` = (sz, sy, sx) mm). Images
    are min-max normalised per volume; labels follow ACDC: 0 bg, 1 RV, 2 Myo, 3
    LV. Patients are ``patient001``..``patientNNN``, so the shipped ACDC split
    files apply unchanged.

    Args:
        root (str): Output folder (created if missing).
        num_patients (int): Number of patients (1..999). Defaults to 100.
        image_size (tuple[int, int]): Nominal slice size (H, W); varies by up
            to 10% per patient.
        slices (tuple[int, int]): Inclusive range of slices per volume.
            Defaults to (8, 10).
        seed (int): Seed; the same seed gives byte-identical arrays. Defaults
            to 0.
        frames (Sequence[str]): Frame names, ED first, ES last. Defaults to
            ('frame01', 'frame12').
        overwrite (bool): If ``root/data`` already holds h5 files, delete those
            first instead of raising. Defaults to False.

    Returns:
        dict: ``root``, ``num_patients``, ``num_volumes``, ``num_slices`` and
        ``class_fraction`` (fraction of all pixels per class, background
        first).
    """
    _check_args(num_patients, image_size, slices, frames)
    data_dir = osp.join(root, 'data')
    slice_dir = osp.join(data_dir, 'slices')
    existing = [
        osp.join(d, n) for d in (data_dir, slice_dir) if osp.isdir(d)
        for n in os.listdir(d) if n.endswith('.h5')
    ]
    if existing and not overwrite:
        raise FileExistsError(
            f'make_synthetic_acdc: {data_dir} already holds {len(existing)} '
            'h5 files; pass overwrite=True (CLI: --overwrite) to replace them')
    for path in existing:
        os.remove(path)
    os.makedirs(slice_dir, exist_ok=True)

    num_slices = 0
    counts = np.zeros(len(ACDC_CLASSES), np.int64)
    for n in range(1, num_patients + 1):
        case = synthesize_patient(n, image_size, slices, seed, frames)
        for frame, vol in case.items():
            case_id = f'patient{n:03d}_{frame}'
            _write_h5(
                osp.join(data_dir, f'{case_id}.h5'), vol['image'],
                vol['label'], vol['spacing'])
            for k in range(vol['image'].shape[0]):
                _write_h5(
                    osp.join(slice_dir, f'{case_id}_slice_{k}.h5'),
                    vol['image'][k], vol['label'][k])
            num_slices += vol['image'].shape[0]
            counts += np.bincount(
                vol['label'].ravel(), minlength=len(ACDC_CLASSES))
    return dict(
        root=str(root),
        num_patients=int(num_patients),
        num_volumes=int(num_patients * len(frames)),
        num_slices=int(num_slices),
        class_fraction=[
            round(float(c) / float(counts.sum()), 4) for c in counts
        ])
