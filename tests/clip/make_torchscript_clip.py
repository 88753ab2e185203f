"""Writes a CLIP state dict (.safetensors, float32) as a TorchScript archive laid out like OpenAI's .pt files.

Usage: make_torchscript_clip.py WEIGHTS.safetensors OUT.pt

OpenAI's archives are scripted nn.Modules: nested submodules (visual.transformer.resblocks.0.attn...),
the weights as parameters, the integers input_resolution / context_length / vocab_size in the state dict,
and the text blocks' causal mask as a plain tensor attribute (not a weight). This script rebuilds that
shape around the given tensors with torch.jit.script and saves it, so that the C++ loader is tested on a
real TorchScript zip archive written by PyTorch.
"""
import json
import struct
import sys

import numpy as np
import torch


def read_f32_safetensors(path):
    with open(path, "rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", (name, entry["dtype"])
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


class Node(torch.nn.Module):
    """One level of the module tree; forward exists only because TorchScript compiles the root's."""


class Root(Node):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.logit_scale.exp()


def build(tensors):
    root = Root()
    for name, tensor in tensors.items():
        *path, leaf = name.split(".")
        module = root
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, Node())
            module = getattr(module, part)
        module.register_parameter(leaf, torch.nn.Parameter(tensor, requires_grad=False))
    context = tensors["positional_embedding"].shape[0]
    for name in ("input_resolution", "context_length", "vocab_size"):
        root.register_buffer(name, torch.tensor(0))
    root.input_resolution.fill_(tensors["visual.conv1.weight"].shape[-1] *
                                round((tensors["visual.positional_embedding"].shape[0] - 1) ** 0.5))
    root.context_length.fill_(context)
    root.vocab_size.fill_(tensors["token_embedding.weight"].shape[0])
    for block in root.transformer.resblocks.children():
        block.attn_mask = torch.full((context, context), float("-inf")).triu_(1)
    return root


if __name__ == "__main__":
    torch.jit.save(torch.jit.script(build(read_f32_safetensors(sys.argv[1]))), sys.argv[2])
