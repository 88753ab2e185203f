#!/usr/bin/env python3
"""Maps per second of the WSOL reference's box evaluation (clovaai/wsolevaluation's
compute_bboxes_from_scoremaps + BoxEvaluator.accumulate, rewritten here from the rules in
golden/wsol/README.md: one cv2.findContours per cam threshold) on random realistic 224x224 maps.
Usage: reference_speed.py [NUM_MAPS] [INTERVAL] [multi]   prints 'maps_per_second X' (per second of CPU time). Needs python3-opencv."""
import sys
import time

import cv2
import numpy as np


def realistic_map(rng):
    if rng.random() < 0.5:  # mixture of Gaussian blobs
        yy, xx = np.mgrid[0:224, 0:224]
        m = np.zeros((224, 224))
        for _ in range(int(rng.integers(1, 4))):
            cy, cx = rng.random(2) * 224
            sy, sx = 10 + rng.random(2) * 50
            m += rng.random() * np.exp(-((yy - cy) ** 2 / (2 * sy * sy) + (xx - cx) ** 2 / (2 * sx * sx)))
    else:  # low-resolution CAM upsampled
        k = int(rng.choice([7, 14, 28]))
        m = cv2.resize(rng.random((k, k)).astype(np.float32), (224, 224), interpolation=cv2.INTER_CUBIC)
    m = m - m.min()
    return (m / max(m.max(), 1e-12)).astype(np.float32).astype(np.float64)


def iou(box_a, box_b):
    a = box_a[:, None, :]
    b = box_b[None, :, :]
    w = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    h = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    area = lambda c: (c[..., 2] - c[..., 0] + 1) * (c[..., 3] - c[..., 1] + 1)
    inter = w * h
    return inter / (area(a) + area(b) - inter)


def evaluate_map(scoremap, gt, thresholds, multi, num_correct):
    height, width = scoremap.shape
    img = np.expand_dims((scoremap * 255).astype(np.uint8), 2)
    boxes, counts = [], []
    for t in thresholds:
        _, binary = cv2.threshold(src=img, thresh=int(t * np.max(img)), maxval=255, type=cv2.THRESH_BINARY)
        contours = cv2.findContours(image=binary, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE)[0]
        if len(contours) == 0:
            boxes.append(np.asarray([[0, 0, 0, 0]]))
            counts.append(1)
            continue
        if not multi:
            contours = [max(contours, key=cv2.contourArea)]
        est = []
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            est.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
        boxes.append(np.asarray(est))
        counts.append(len(contours))
    ious = iou(np.concatenate(boxes), np.asarray(gt)).max(1)
    idx, best = 0, []
    for n in counts:
        best.append(max(ious[idx:idx + n]))
        idx += n
    for d in num_correct:
        num_correct[d][np.where(np.asarray(best) >= d / 100)[0]] += 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.001
    multi = len(sys.argv) > 3 and sys.argv[3] == "multi"
    rng = np.random.default_rng(0)
    maps = [realistic_map(rng) for _ in range(n)]
    gts = [[[40, 40, 180, 170]] for _ in range(n)]
    thresholds = np.arange(0, 1, interval)
    num_correct = {d: np.zeros(len(thresholds)) for d in (30, 50, 70)}
    cv2.setNumThreads(1)
    start = time.process_time()  # CPU time: robust to other load on the machine
    for m, gt in zip(maps, gts):
        evaluate_map(m, gt, thresholds, multi, num_correct)
    print("maps_per_second %.3f" % (n / (time.process_time() - start)))


if __name__ == "__main__":
    main()
