"""The python side of bench_train: one TeD-Loc training step built with torch.nn, mirroring the C++ layer by
layer (core/clip/clip_model.cpp's VisionTransformer at ViT-Tiny shapes, core/method/modules.cpp's Decoder and
PatchHead, core/method/losses.cpp's kd_pcl_icl terms, the same SGD), random weights, on CPU.

Usage: bench_train.py --mode {encoder,nocache,cache} --batch B --warmup W --iters I --threads T
Prints two lines: `params E T` (parameter counts of the encoder and of D + g) and `seconds t_1 ... t_I`, one
per timed call: encoder = the frozen encoder's tokens alone; nocache = tokens + the D/g step; cache = the
D/g step on tokens looked up per image in a dict and stacked (a token-cache hit). The FG/BG cells are drawn
at random once: the step's cost does not depend on which cells they are.
"""
import argparse
import math
import time
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

IMAGE, GRID, TEXT_WIDTH, CLASSES, CELLS_PER_IMAGE = 224, 14, 512, 200, 10


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(width * 4, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):
        # The encoder runs without gradients, where core's SelfAttention takes PyTorch's fused kernel;
        # nn.MultiheadAttention of 1.13 refuses that kernel for an odd head count (ViT-Tiny has 3), so call it.
        a, h = self.attn, self.ln_1(x)
        x = x + torch._native_multi_head_attention(h, h, h, a.embed_dim, a.num_heads, a.in_proj_weight, a.in_proj_bias,
                                                   a.out_proj.weight, a.out_proj.bias, None, False)[0]
        return x + self.mlp(self.ln_2(x))


class VisionTransformer(nn.Module):
    def __init__(self, patch=16, width=192, layers=6, heads=3, output_dim=TEXT_WIDTH):
        super().__init__()
        scale = width ** -0.5
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(GRID * GRID + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Sequential(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def patch_tokens(self, images):
        """VisionTransformerImpl::patch_tokens: every final token after ln_post and proj, class token dropped."""
        x = self.conv1(images).flatten(2).transpose(1, 2)
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = self.transformer(self.ln_pre(torch.cat([cls, x], 1) + self.positional_embedding))
        return (self.ln_post(x) @ self.proj)[:, 1:]


class Decoder(nn.Module):
    """1x1 conv; per stage: bilinear x2, 3x3 conv without bias, group norm, ReLU; 1x1 conv to d."""

    def __init__(self, in_channels, out_channels, width=256, stages=2, groups=8):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, width, 1)
        layers = []
        for _ in range(stages):
            layers += [nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False),
                       nn.Conv2d(width, width, 3, padding=1, bias=False), nn.GroupNorm(groups, width), nn.ReLU()]
        self.stages = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, out_channels, 1)

    def forward(self, tokens, grid_h, grid_w):
        x = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, grid_h, grid_w)
        return self.out(self.stages(self.proj(x)))


class PatchHead(nn.Module):
    """The linear g: a 1x1 conv to one FG logit per cell."""

    def __init__(self, in_channels):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(in_channels, 1, 1))

    def forward(self, z):
        return self.layers(z).squeeze(1)


def gather_cells(x, cells):
    flat = x.flatten(2) if x.dim() == 4 else x.flatten(1).unsqueeze(1)
    # losses.cpp checks every cell index against the grid; so does this, to do the same work.
    if not (cells.min().item() >= 0 and cells.max().item() < flat.shape[2]):
        raise ValueError("cell index outside the grid")
    picked = flat.gather(2, cells.unsqueeze(1).expand(flat.shape[0], flat.shape[1], cells.shape[1]))
    return picked.transpose(1, 2) if x.dim() == 4 else picked.squeeze(1)


def kd_pcl_icl(z, g_logits, anchors, labels, fg, bg):
    """total_loss with lambdas 1 and mean reduction: returns (kd, pcl, icl, total)."""
    logits = gather_cells(z, fg) @ anchors.t()
    b, s = logits.shape[:2]
    kd = F.cross_entropy(logits.reshape(b * s, -1), labels.repeat_interleave(s), reduction="none").view(b, s).mean()
    cell_fg, cell_bg = gather_cells(g_logits, fg), gather_cells(g_logits, bg)
    targets = torch.cat([torch.ones_like(cell_fg), torch.zeros_like(cell_bg)], 1)
    pcl = F.binary_cross_entropy_with_logits(torch.cat([cell_fg, cell_bg], 1), targets, reduction="none").mean()
    a = torch.softmax(F.logsigmoid(g_logits.flatten(1)), 1)
    icl = F.cross_entropy(torch.bmm(z.flatten(2), a.unsqueeze(2)).squeeze(2) @ anchors.t(), labels)
    total = torch.zeros((), dtype=z.dtype)
    for term in (kd, pcl, icl):
        total = total + 1.0 * term
    return kd, pcl, icl, total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["encoder", "nocache", "cache"], required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--iters", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vit = VisionTransformer().eval().requires_grad_(False)
    decoder, head = Decoder(TEXT_WIDTH, TEXT_WIDTH).train(), PatchHead(TEXT_WIDTH).train()
    trainable = list(decoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.SGD(trainable, lr=0.01, momentum=0.9, weight_decay=1e-4)
    anchors = torch.linalg.qr(torch.randn(TEXT_WIDTH, CLASSES))[0].t().contiguous()
    images = torch.randn(a.batch, 3, IMAGE, IMAGE)
    labels = torch.randint(CLASSES, (a.batch,))
    cells = (GRID * 4) ** 2
    fg, bg = (torch.randint(cells, (a.batch, CELLS_PER_IMAGE)) for _ in range(2))
    keys = [f"{i}|train:r256:c224:x16:y16:f0" for i in range(a.batch)]
    with torch.no_grad():
        fresh = vit.patch_tokens(images)
    cache = {key: fresh[i] for i, key in enumerate(keys)}

    def encode():
        with torch.no_grad():
            return vit.patch_tokens(images)

    def cached():
        with torch.no_grad():
            return torch.stack([cache[key] for key in keys])

    def step(tokens):
        z = decoder(tokens, GRID, GRID)
        g_logits = head(z)
        kd, pcl, icl, total = kd_pcl_icl(z, g_logits, anchors, labels, fg, bg)
        if not math.isfinite(total.item() + kd.item() + pcl.item() + icl.item()):
            raise ValueError("the loss is not finite")
        optimizer.zero_grad()
        total.backward()
        optimizer.step()

    run = {"encoder": encode, "nocache": lambda: step(encode()), "cache": lambda: step(cached())}[a.mode]
    times = []
    for i in range(a.warmup + a.iters):
        start = time.perf_counter()
        run()
        if i >= a.warmup:
            times.append(time.perf_counter() - start)
    print("params", sum(t.numel() for t in vit.parameters()), sum(t.numel() for t in trainable))
    print("seconds", *times)


if __name__ == "__main__":
    main()
