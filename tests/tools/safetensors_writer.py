"""Writes a .safetensors file (8-byte little-endian header length, JSON header, raw tensors), as
Hugging Face's safetensors does. Shared by the reference-model generator and the benchmark."""
import json
import struct

import numpy as np


def save_safetensors(path, arrays, dtype="F32"):
    """arrays: name -> numpy array; dtype: "F32" or "BF16" (rounded toward zero)."""
    header, blobs, off = {}, [], 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        if dtype == "BF16":
            b = (a.view(np.uint32) >> 16).astype(np.uint16).tobytes()
        elif dtype == "F32":
            b = a.tobytes()
        else:
            raise ValueError(f"unsupported dtype {dtype}")
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
