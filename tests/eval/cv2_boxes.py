#!/usr/bin/env python3
"""Writes random score maps and the boxes OpenCV gives for them, following the WSOL reference's
compute_bboxes_from_scoremaps (clovaai/wsolevaluation) line by line: uint8 truncation, cv2.threshold at
int(t * max), cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE), max by cv2.contourArea, boundingRect, clipping.
Usage: cv2_boxes.py OUT_DIR NUM_MAPS SEED   (needs python3-opencv and numpy)"""
import json
import os
import sys

import cv2
import numpy as np


def random_map(rng):
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # few levels: many components, holes, equal areas
        levels = np.array([0.0, 0.3, 0.6, 1.0])
        m = levels[rng.integers(0, 4, size=(h, w))]
    elif kind == 1:  # binary with random density
        m = (rng.random((h, w)) < rng.random()).astype(np.float64)
    elif kind == 2:  # blobs plus noise
        yy, xx = np.mgrid[0:h, 0:w]
        m = np.zeros((h, w))
        for _ in range(int(rng.integers(1, 4))):
            cy, cx, s = rng.random() * h, rng.random() * w, 1 + rng.random() * max(h, w) / 3
            m += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        m += 0.2 * rng.random((h, w))
        m /= m.max()
    else:  # blocky upsampled noise
        small = rng.random((max(1, h // 4), max(1, w // 4)))
        m = np.kron(small, np.ones((4, 4)))[:h, :w]
        if m.shape != (h, w):
            m = np.resize(m, (h, w))
    return m.astype(np.float32 if rng.random() < 0.5 else np.float64)


def boxes(scoremap, threshold, multi):
    height, width = scoremap.shape
    img = np.expand_dims((scoremap.astype(np.float64) * 255).astype(np.uint8), 2)
    _, binary = cv2.threshold(src=img, thresh=int(threshold * np.max(img)), maxval=255, type=cv2.THRESH_BINARY)
    contours = cv2.findContours(image=binary, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return [[0, 0, 0, 0]]
    if not multi:
        contours = [max(contours, key=cv2.contourArea)]
    out = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        out.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
    return out


def main():
    out_dir, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    thresholds = np.arange(0, 1, 0.01)
    records = []
    for k in range(n):
        m = random_map(rng)
        path = os.path.join(out_dir, "map%04d.npy" % k)
        np.save(path, m)
        records.append({"file": path,
                        "single": [boxes(m, t, False) for t in thresholds],
                        "multi": [boxes(m, t, True) for t in thresholds]})
    with open(os.path.join(out_dir, "boxes.json"), "w") as f:
        json.dump({"opencv": cv2.__version__, "thresholds": thresholds.tolist(), "maps": records}, f)


if __name__ == "__main__":
    main()
