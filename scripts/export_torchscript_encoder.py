#!/usr/bin/env python3
"""Export a timm ViT (e.g. EVA ViT-L) as a TorchScript patch-token encoder for tedloc.

The workbench's `encoder.type: "torchscript"` loads a module whose forward(images) takes normalised images
[B, 3, H, W] (float32) and returns patch tokens [B, N, C] without class/register tokens, N = gh * gw on a
square grid in row-major order. This script wraps timm's forward_features accordingly.

    python3 scripts/export_torchscript_encoder.py eva02_large_patch14_224.mim_in22k eva_l14.ts --size 224

Needs python3 with torch and timm and the model's weights available to timm (not on these machines).
"""
import argparse

import torch


class PatchTokens(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.prefix = getattr(model, "num_prefix_tokens", 1)  # class (+ register) tokens to drop

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.model.forward_features(images)
        return tokens[:, self.prefix:, :]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="timm model name")
    parser.add_argument("out", help="output TorchScript file")
    parser.add_argument("--size", type=int, default=224, help="input side the module is traced at")
    args = parser.parse_args()
    import timm

    model = PatchTokens(timm.create_model(args.model, pretrained=True).eval())
    example = torch.zeros(1, 3, args.size, args.size)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
        tokens = traced(example)
    side = int(round(tokens.shape[1] ** 0.5))
    assert side * side == tokens.shape[1], f"{tokens.shape[1]} tokens are not a square grid"
    traced.save(args.out)
    print(f"{args.out}: {side}x{side} grid of {tokens.shape[2]}-d tokens")


if __name__ == "__main__":
    main()
