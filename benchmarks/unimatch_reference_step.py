"""UniMatch's medical training step, as the baseline of the step benchmark.

Written from a reading of UniMatch's medical training loop
(``more-scenarios/medical/unimatch.py`` of github.com/LiheYoung/UniMatch),
not copied from it. One step, in UniMatch's order and precision:

1. the CutMix partners (a *second* unlabeled batch) are predicted in eval mode
   without gradient (their pseudo-labels and confidences are pasted into the
   boxes);
2. the boxes (drawn by the data loader, uniform position) paste the partner
   batch's strong views into this batch's strong views;
3. labeled + weak unlabeled images go through the encoder once, and the decoder
   decodes their clean features and a ``Dropout2d(0.5)`` copy of them in one
   pass (the feature-perturbation branch);
4. both strong views go through the whole model in one batch;
5. labeled loss ``(CE + Dice) / 2``, unlabeled Dice on pixels whose weak-view
   confidence is at least ``conf_thresh`` (computed class by class with
   boolean selection, as UniMatch does: :func:`per_class_dice_loss`), total
   ``(x + 0.25 s1 + 0.25 s2 + 0.5 fp) / 2``; SGD step; the logged values are
   read back with ``.item()`` every step, as UniMatch's logger does.

Everything runs in fp32, default memory format, eager mode. The network is
given by the caller: ours (``AttUNetHead``; its attention maps are simply not
used) or UniMatch's plain UNet decoder (``attention=False``).
"""
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def soft_dice_loss(logits: Tensor, target: Tensor, mask: Tensor,
                   num_classes: int, smooth: float = 1e-5) -> Tensor:
    """SSL4MIS-style Dice over all classes with a pixel mask, vectorised.

    Args:
        logits (Tensor): (B, C, H, W).
        target (Tensor): Class indices (B, H, W).
        mask (Tensor): Pixel weights (B, H, W), 0 excludes a pixel.
        num_classes (int): C.
        smooth (float): Added to numerator and denominator.

    Returns:
        Tensor: Scalar loss, ``1 - dice`` averaged over classes.
    """
    prob = logits.float().softmax(dim=1)
    onehot = F.one_hot(target.long(), num_classes).permute(0, 3, 1,
                                                           2).float()
    m = mask.float()[:, None]
    inter = (prob * onehot * m).sum((0, 2, 3))
    denom = (prob * prob * m).sum((0, 2, 3)) + (onehot * m).sum((0, 2, 3))
    return (1 - (2 * inter + smooth) / (denom + smooth)).mean()


def per_class_dice_loss(logits: Tensor, target: Tensor, mask: Tensor,
                        num_classes: int, smooth: float = 1e-5) -> Tensor:
    """The same loss computed the way UniMatch's medical code does it.

    The value equals :func:`soft_dice_loss` (tested); the work does not: the
    one-hot target is built class by class (a comparison with a tensor of
    the class index each), and every class selects the kept pixels of its
    probability and target planes with a boolean mask recomputed for each of
    the six selections of its three sums (a copy each), and reads its Dice
    back with ``.item()`` (UniMatch keeps them in a list; on a GPU each is a
    host-device sync). This is the reference's Dice so that its step costs
    what UniMatch's step costs.
    """
    prob = logits.float().softmax(dim=1)
    target = target.long()[:, None]
    onehot = torch.cat([target == k * torch.ones_like(target)
                        for k in range(num_classes)], dim=1).float()
    drop = (mask == 0).float()  # UniMatch passes the pixels to ignore
    loss = 0.0
    per_class = []
    for k in range(num_classes):
        p_k, t_k = prob[:, k], onehot[:, k]
        inter = (p_k[drop != 1] * t_k[drop != 1]).sum()
        t_sum = (t_k[drop != 1] * t_k[drop != 1]).sum()
        p_sum = (p_k[drop != 1] * p_k[drop != 1]).sum()
        dice = (2 * inter + smooth) / (t_sum + p_sum + smooth)
        per_class.append(dice.item())
        loss = loss + (1 - dice)
    return loss / num_classes


class UniMatchReferenceStep:
    """One UniMatch training step on a plain UNet, for timing.

    Args:
        encoder (nn.Module): Returns a tuple of feature maps.
        decoder (nn.Module): Decodes that tuple to logits at input size.
        num_classes (int): Number of classes.
        lr (float): SGD learning rate. Defaults to 0.01.
        conf_thresh (float): Confidence threshold. Defaults to 0.95.
        fp_drop (float): Dropout2d probability of the FP branch.
            Defaults to 0.5.
        device (torch.device | str): Where the model runs. Defaults to 'cpu'.
    """

    def __init__(self,
                 encoder: nn.Module,
                 decoder: nn.Module,
                 num_classes: int,
                 lr: float = 0.01,
                 conf_thresh: float = 0.95,
                 fp_drop: float = 0.5,
                 device='cpu') -> None:
        self.device = torch.device(device)
        self.model = nn.ModuleDict(
            dict(encoder=encoder, decoder=decoder)).to(self.device)
        self.num_classes = num_classes
        self.conf_thresh = conf_thresh
        self.fp_drop = fp_drop
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)

    def forward(self, img: Tensor, need_fp: bool = False):
        """The UNet; with ``need_fp`` also the perturbed-feature logits."""
        feats = self.model['encoder'](img)
        if not need_fp:
            return self.model['decoder'](feats)
        both = [
            torch.cat([f, F.dropout2d(f, self.fp_drop, training=True)])
            for f in feats
        ]
        return self.model['decoder'](both).chunk(2)

    def step(self, batch: Dict[str, Tensor]) -> Dict[str, float]:
        """One training iteration.

        Args:
            batch (dict): CPU tensors ``img_x`` (B, 1, H, W), ``mask_x``
                (B, H, W), ``img_u_w``, ``img_u_s1``, ``img_u_s2`` (B, 1, H,
                W), the partner batch ``img_u_w_mix``, ``img_u_s1_mix``,
                ``img_u_s2_mix`` and the boxes ``box1``, ``box2`` (B, H, W)
                bool.

        Returns:
            dict: The logged values as Python floats.
        """
        b = {k: v.to(self.device) for k, v in batch.items()}
        num_x = b['img_x'].shape[0]

        with torch.no_grad():
            self.model.eval()
            pred_mix = self.forward(b['img_u_w_mix']).detach()
            conf_mix, mask_mix = pred_mix.softmax(dim=1).max(dim=1)
        self.model.train()

        img_u_s1, img_u_s2 = b['img_u_s1'].clone(), b['img_u_s2'].clone()
        box1, box2 = b['box1'][:, None].expand_as(img_u_s1), \
            b['box2'][:, None].expand_as(img_u_s2)
        img_u_s1[box1] = b['img_u_s1_mix'][box1]
        img_u_s2[box2] = b['img_u_s2_mix'][box2]

        preds, preds_fp = self.forward(
            torch.cat([b['img_x'], b['img_u_w']]), need_fp=True)
        pred_x, pred_u_w = preds.split([num_x, b['img_u_w'].shape[0]])
        pred_u_w_fp = preds_fp[num_x:]
        pred_u_s1, pred_u_s2 = self.forward(torch.cat([img_u_s1,
                                                       img_u_s2])).chunk(2)

        pred_u_w = pred_u_w.detach()
        conf_u_w, mask_u_w = pred_u_w.softmax(dim=1).max(dim=1)
        mixed = []
        for box in (b['box1'], b['box2']):
            mask_cut, conf_cut = mask_u_w.clone(), conf_u_w.clone()
            mask_cut[box] = mask_mix[box]
            conf_cut[box] = conf_mix[box]
            mixed.append((mask_cut, conf_cut))

        ones = torch.ones_like(conf_u_w)
        loss_x = (F.cross_entropy(pred_x, b['mask_x'].long()) +
                  per_class_dice_loss(pred_x, b['mask_x'], ones,
                                      self.num_classes)) / 2.0
        loss_s = [
            per_class_dice_loss(pred, mask_cut, conf_cut >= self.conf_thresh,
                                self.num_classes)
            for pred, (mask_cut, conf_cut) in zip((pred_u_s1, pred_u_s2),
                                                  mixed)
        ]
        loss_fp = per_class_dice_loss(pred_u_w_fp, mask_u_w,
                                      conf_u_w >= self.conf_thresh,
                                      self.num_classes)
        loss = (loss_x + 0.25 * loss_s[0] + 0.25 * loss_s[1] +
                0.5 * loss_fp) / 2.0

        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

        mask_ratio = (conf_u_w >= self.conf_thresh).float().mean()
        return dict(
            loss=loss.item(),
            loss_x=loss_x.item(),
            loss_s=(loss_s[0].item() + loss_s[1].item()) / 2.0,
            loss_fp=loss_fp.item(),
            mask_ratio=mask_ratio.item())


def random_boxes(batch: int, size: Tuple[int, int], prob: float = 0.5,
                 generator=None) -> Tensor:
    """UniMatch's CutMix boxes, as its data loader draws them (on the CPU).

    Args:
        batch (int): Number of boxes.
        size (tuple[int, int]): (H, W).
        prob (float): Probability that a sample has a box. Defaults to 0.5.
        generator (torch.Generator, optional): Random source.

    Returns:
        Tensor: Bool (B, H, W).
    """
    height, width = size
    out = torch.zeros(batch, height, width, dtype=torch.bool)
    for i in range(batch):
        if torch.rand((), generator=generator) > prob:
            continue
        # The area once; aspect and corner are redrawn until the box fits.
        area = float(torch.empty(()).uniform_(0.02, 0.4, generator=generator))
        while True:
            ratio = float(torch.empty(()).uniform_(0.3, 1 / 0.3,
                                                   generator=generator))
            h = int((area * height * width * ratio)**0.5)
            w = int((area * height * width / ratio)**0.5)
            top = int(torch.randint(0, height, (), generator=generator))
            left = int(torch.randint(0, width, (), generator=generator))
            if top + h <= height and left + w <= width:
                break
        out[i, top:top + h, left:left + w] = True
    return out
