#!/usr/bin/env python3
"""Maps per second of the WSOL reference's box evaluation (clovaai/wsolevaluation's
compute_bboxes_from_scoremaps + BoxEvaluator.accumulate, rewritten here from the rules in
golden/wsol/README.md: one cv2.findContours per cam threshold) on the .npy score maps in MAP_DIR (bench_eval
writes the maps it times), each against the GT box [40, 40, 180, 170].
Usage: reference_speed.py MAP_DIR INTERVAL [multi]   prints 'maps_per_second X' (per second of CPU time).
Needs python3-opencv."""
import os
import sys
import time

import cv2
import numpy as np


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
    map_dir, interval = sys.argv[1], float(sys.argv[2])
    multi = len(sys.argv) > 3 and sys.argv[3] == "multi"
    files = sorted(f for f in os.listdir(map_dir) if f.endswith(".npy"))
    maps = [np.load(os.path.join(map_dir, f)).astype(np.float64) for f in files]  # as the reference loads them
    gts = [[[40, 40, 180, 170]] for _ in maps]
    thresholds = np.arange(0, 1, interval)
    num_correct = {d: np.zeros(len(thresholds)) for d in (30, 50, 70)}
    cv2.setNumThreads(1)
    start = time.process_time()  # CPU time: robust to other load on the machine
    for m, gt in zip(maps, gts):
        evaluate_map(m, gt, thresholds, multi, num_correct)
    print("maps_per_second %.3f" % (len(maps) / (time.process_time() - start)))


if __name__ == "__main__":
    main()
