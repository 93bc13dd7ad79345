"""The synthetic patient's anatomy and appearance, and how a slice of it is
drawn: the drawing half of ``synthetic.py``, which turns these slices into
volumes and h5 files.

``_sample_patient`` draws, once per patient, the heart (LV blood pool,
myocardium ring, RV crescent, papillary muscles, epicardial fat), the thorax
around it (lungs, liver, subcutaneous fat, descending aorta, unlabelled
blobs) and the scanner's appearance (intensities, gamma, bias field, noise);
``_render_slice`` paints one short-axis slice of it at a position from base
to apex and a cardiac phase from ED to ES, with its ACDC label map;
``_acquire`` applies the scanner's gamma, bias and Rician noise to a stack.
All randomness comes from the generator passed in, so the caller's seeding
decides what is drawn.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter

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
