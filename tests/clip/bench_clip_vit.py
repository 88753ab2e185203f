"""The python side of bench_clip: OpenAI CLIP's image tower (clip/model.py's VisionTransformer, same
modules: nn.MultiheadAttention over [tokens, batch, width], LayerNorm, QuickGELU) built with torch.nn,
random weights, timed on CPU under inference_mode.

Usage: bench_clip_vit.py --batch B --iters I --warmup W --threads T [--batch-first]
Prints one line: `seconds t_1 ... t_I` (one forward pass each).
--batch-first builds nn.MultiheadAttention(batch_first=True), which lets PyTorch take its fused
inference path (torch._native_multi_head_attention); OpenAI's layout cannot take it.
"""
import argparse
import time
from collections import OrderedDict

import torch
from torch import nn


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads, batch_first):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=batch_first)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    def __init__(self, resolution=224, patch=16, width=768, layers=12, heads=12, output_dim=512, batch_first=False):
        super().__init__()
        scale = width ** -0.5
        self.batch_first = batch_first
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn((resolution // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Sequential(*[ResidualAttentionBlock(width, heads, batch_first) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x):
        x = self.conv1(x).flatten(2).permute(0, 2, 1)
        cls = self.class_embedding + torch.zeros(x.shape[0], 1, x.shape[-1], dtype=x.dtype)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        if self.batch_first:
            x = self.transformer(x)
        else:
            x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--iters", type=int, required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batch-first", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = VisionTransformer(batch_first=a.batch_first).eval()
    images = torch.randn(a.batch, 3, 224, 224)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.iters):
            start = time.perf_counter()
            model(images)
            if i >= a.warmup:
                times.append(time.perf_counter() - start)
    print("seconds", *times)


if __name__ == "__main__":
    main()
