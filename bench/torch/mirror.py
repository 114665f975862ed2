"""PyTorch mirrors of what rpelab's benchmark times, for `npm run bench -- --suites vs-torch`.

The same attention layer as the layer suite (x [1, L, 512] -> fused q, k, v projection, 8 heads
of 64, feature map elu + 1, the encoding, linear attention with the denominator, output
projection; forward and the backward of mean(y^2)) and the same small causal LM as the train suite
(2 pre-LayerNorm blocks of width 64, 4 heads, feed-forward 256, bytes, batch 8 x 256; one AdamW
step), written the way a PyTorch user would write them, each with its best plain-PyTorch form:

- linear attention, bidirectional: phi(Q) (phi(K)^T V) with einsum; causal: chunks of 64, the
  masked in-chunk product plus an exclusive cumulative sum of the chunks' K^T V (rpelab's algorithm);
  the denominator phi(q_s) . sum_t phi(k_t) over the unencoded features, as rpelab's layer;
- LRPE (Qin et al. 2023) with P = Householder: rotation (pairs rotated by s theta), permutation
  (Pi^s by an index table), unitary ([x cos s theta, x sin s theta]);
- gated sineSPE (Liutkus et al. 2021): K sines, R realizations drawn per call, the gated codes
  applied to q and k with the sine part reassociated into one product per head (no [L, H, D, R]
  code tensor: several times faster than the authors' `spe` package form here);
- softmax: torch.nn.functional.scaled_dot_product_attention where this PyTorch has it (2.0 and
  later), else softmax(Q K^T / sqrt(d)) V.

A line server: one JSON request per line on stdin, one JSON reply per line on stdout.
  {"op": "info"}                                              -> {"torch": ..., "threads": ..., "sdpa": ...}
  {"op": "layer", "id": "a", "encoding": "none", "L": 1024, "causal": false}   -> {"ok": true}
  {"op": "train", "id": "b", "encoding": "lrpe-unitary"}      -> {"ok": true, "params": n}
  {"op": "time", "id": "a", "calls": 1}                       -> {"ms": [...], "cpu_ms": [...]}
  {"op": "free", "id": "a"}                                   -> {"ok": true}
Errors reply {"error": "..."}; the server keeps serving.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HEADS, HEAD_DIM, CHUNK = 8, 64, 64
SPE_K, SPE_R = 10, 64
HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


def elu1(x):
    return F.elu(x) + 1


def householder(d, gen):
    v = torch.randn(d, generator=gen)
    return torch.eye(d) - 2 * torch.outer(v, v) / v.dot(v)


class Lrpe(nn.Module):
    """LRPE with P = Householder: x [B, L, H, D] -> [B, L, H, D] (2D for unitary)."""

    def __init__(self, core, d, gen):
        super().__init__()
        self.core = core
        self.register_buffer("P", householder(d, gen))
        n = d // 2 if core == "rotation" else d
        self.theta = nn.Parameter(10000 ** (-2 * torch.arange(n, dtype=torch.float32) / d))
        self.register_buffer("perm", torch.randperm(d, generator=gen))
        self.tables = {}

    def powers(self, L):
        if L not in self.tables:
            rows = [torch.arange(len(self.perm))]
            for _ in range(L - 1):
                rows.append(rows[-1][self.perm])
            self.tables[L] = torch.stack(rows)
        return self.tables[L]

    def forward(self, x):
        B, L, H, D = x.shape
        x = x @ self.P
        if self.core == "permutation":
            idx = self.powers(L)[None, :, None, :].expand(B, L, H, D)
            return x.gather(-1, idx)
        phase = torch.arange(L, dtype=x.dtype)[:, None] * self.theta  # [L, n]
        c, s = phase.cos()[:, None, :], phase.sin()[:, None, :]
        if self.core == "unitary":
            return torch.cat([x * c, x * s], -1)
        x1, x2 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).flatten(-2)


class SineSpe(nn.Module):
    """Gated sineSPE: q, k [B, L, H, D] -> [B, L, H, R], fresh codes at every call."""

    def __init__(self, h, d, gen):
        super().__init__()
        self.freqs = nn.Parameter(torch.randn(h, d, SPE_K, generator=gen))
        self.offsets = nn.Parameter(torch.randn(h, d, SPE_K, generator=gen))
        self.gains = nn.Parameter(torch.randn(h, d, SPE_K, generator=gen))
        self.gate = nn.Parameter(torch.randn(h, d, generator=gen))

    def forward(self, q, k):
        B, L, H, D = q.shape
        pos = torch.arange(L, dtype=q.dtype)[:, None, None, None]
        freqs = torch.sigmoid(self.freqs) / 2
        gains = F.softplus(self.gains).repeat_interleave(2, -1)  # [H, D, 2K]
        z = torch.randn(H, D * 2 * SPE_K, SPE_R) / math.sqrt(2 * SPE_K)
        noise = torch.randn(L, H, D, SPE_R)
        gate = torch.sigmoid(self.gate)  # [H, D]
        scale = D ** -0.25

        def codes(x, phase):
            # sum_d x_d qbar_{l,d,r}, qbar = sqrt(1 - gate) sum_k (gain cos | sin)(phase) z + sqrt(gate) noise,
            # reassociated as (x_d * omega_{l,d,k}) z: one product per head, no [L, H, D, R] code tensor.
            omega = torch.stack([phase.cos(), phase.sin()], -1).flatten(-2) * gains  # [L, H, D, 2K]
            u = ((x * (1 - gate).sqrt())[..., None] * omega).flatten(-2)  # [B, L, H, D 2K]
            sine = torch.einsum("blhm,hmr->blhr", u, z)
            return (sine + torch.einsum("blhd,lhdr->blhr", x * gate.sqrt(), noise)) * scale

        return codes(q, 2 * math.pi * pos * freqs + self.offsets), codes(k, 2 * math.pi * pos * freqs)


def linear_sums(q, k, v, causal):
    """q, k [B, L, H, F], v [B, L, H, E] -> [B, L, H, E]: sum_t (q_s . k_t) v_t over t (<= s when causal)."""
    if not causal:
        return torch.einsum("blhf,bhfe->blhe", q, torch.einsum("blhf,blhe->bhfe", k, v))
    B, L, H, Fd = q.shape
    E = v.shape[-1]
    n = -(-L // CHUNK)
    pad = n * CHUNK - L

    def chunks(x):
        x = F.pad(x, (0, 0, 0, 0, 0, pad)) if pad else x
        return x.view(B, n, CHUNK, H, x.shape[-1]).permute(0, 3, 1, 2, 4)  # [B, H, n, C, X]

    qc, kc, vc = chunks(q), chunks(k), chunks(v)
    mask = torch.ones(CHUNK, CHUNK).tril()
    out = ((qc @ kc.transpose(-1, -2)) * mask) @ vc
    kv = kc.transpose(-1, -2) @ vc  # [B, H, n, F, E]
    out = out + qc @ (kv.cumsum(2) - kv)
    return out.permute(0, 2, 3, 1, 4).reshape(B, n * CHUNK, H, E)[:, :L]


class Attention(nn.Module):
    """One attention layer: x [B, L, model] -> [B, L, model]."""

    def __init__(self, model, heads, encoding, gen):
        super().__init__()
        self.heads, self.dim, self.encoding = heads, model // heads, encoding
        self.qkv = nn.Linear(model, 3 * model)
        self.out = nn.Linear(model, model)
        self.lrpe = Lrpe(encoding[5:], self.dim, gen) if encoding.startswith("lrpe-") else None
        self.spe = SineSpe(heads, self.dim, gen) if encoding == "spe-sine" else None

    def forward(self, x, causal):
        B, L, _ = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, self.dim).unbind(2)
        if self.encoding == "softmax":
            qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))
            if HAS_SDPA:
                y = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal)
            else:
                s = qh @ kh.transpose(-1, -2) / math.sqrt(self.dim)
                if causal:
                    s = s.masked_fill(torch.ones(L, L, dtype=torch.bool).triu(1), float("-inf"))
                y = s.softmax(-1) @ vh
            return self.out(y.transpose(1, 2).reshape(B, L, -1))
        if self.spe is not None:
            q, k = self.spe(q, k)
        fq, fk = elu1(q), elu1(k)
        nq, nk = (self.lrpe(fq), self.lrpe(fk)) if self.lrpe is not None else (fq, fk)
        num = linear_sums(nq, nk, v, causal)
        ks = fk.cumsum(1) if causal else fk.sum(1, keepdim=True)
        den = (fq * ks).sum(-1, keepdim=True).clamp_min(1e-6)
        return self.out((num / den).reshape(B, L, -1))


class Block(nn.Module):
    def __init__(self, model, heads, hidden, encoding, gen):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(model), nn.LayerNorm(model)
        self.attn = Attention(model, heads, encoding, gen)
        self.ff = nn.Sequential(nn.Linear(model, hidden), nn.GELU(), nn.Linear(hidden, model))

    def forward(self, x):
        x = x + self.attn(self.ln1(x), causal=True)
        return x + self.ff(self.ln2(x))


class SmallLM(nn.Module):
    """The train suite's model: bytes, 2 blocks of width 64, 4 heads, feed-forward 256, no APE."""

    def __init__(self, encoding, gen):
        super().__init__()
        self.embed = nn.Embedding(256, 64)
        self.blocks = nn.ModuleList([Block(64, 4, 256, encoding, gen) for _ in range(2)])
        self.ln = nn.LayerNorm(64)
        self.head = nn.Linear(64, 256)

    def forward(self, ids):
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x))


def layer_call(encoding, L, causal):
    gen = torch.Generator().manual_seed(1)
    layer = Attention(HEADS * HEAD_DIM, HEADS, encoding, gen)
    x = torch.randn(1, L, HEADS * HEAD_DIM, generator=torch.Generator().manual_seed(2))

    def call():
        layer.zero_grad(set_to_none=True)
        layer(x, causal).square().mean().backward()

    return call


def train_call(encoding):
    gen = torch.Generator().manual_seed(0)
    model = SmallLM(encoding, gen)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    seq = torch.randint(0, 256, (8, 257), generator=torch.Generator().manual_seed(3))
    ids, targets = seq[:, :-1], seq[:, 1:]

    def call():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids).reshape(-1, 256), targets.reshape(-1)).backward()
        opt.step()

    return call, sum(p.numel() for p in model.parameters())


def check():
    """The fast forms against the plain formulas: raises AssertionError on a mismatch."""
    g = torch.Generator().manual_seed(5)
    B, L, H, Fd, E = 2, 100, 3, 8, 5  # L not a multiple of CHUNK
    q, k = torch.rand(B, L, H, Fd, generator=g), torch.rand(B, L, H, Fd, generator=g)
    v = torch.randn(B, L, H, E, generator=g)
    scores = torch.einsum("bshf,bthf->bhst", q, k)
    for causal in (False, True):
        w = scores.tril() if causal else scores
        want = torch.einsum("bhst,bthe->bshe", w, v)
        assert torch.allclose(linear_sums(q, k, v, causal), want, atol=1e-4), f"linear_sums causal={causal}"
    lrpe = Lrpe("unitary", Fd, g)
    x, y = torch.randn(1, 6, 1, Fd, generator=g), torch.randn(1, 6, 1, Fd, generator=g)
    ex, ey = lrpe(x), lrpe(y)
    # relative: <M_s x, M_t y> depends on t - s only (shift both positions by one)
    a = (ex[0, 1, 0] * ey[0, 3, 0]).sum()
    xs, ys = torch.roll(x, 1, 1), torch.roll(y, 1, 1)
    b = (lrpe(xs)[0, 2, 0] * lrpe(ys)[0, 4, 0]).sum()
    assert torch.allclose(a, b, atol=1e-4), "LRPE unitary is not relative"
    perm = Lrpe("permutation", Fd, g)
    t = perm.powers(4)
    assert torch.equal(t[2], perm.perm[perm.perm]), "permutation powers"
    return "ok"


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        print(check())
        return
    if len(sys.argv) > 1:
        torch.set_num_threads(int(sys.argv[1]))
    calls = {}
    for line in sys.stdin:
        try:
            req = json.loads(line)
            op = req["op"]
            if op == "info":
                reply = {"torch": torch.__version__, "threads": torch.get_num_threads(), "sdpa": HAS_SDPA}
            elif op == "layer":
                calls[req["id"]] = layer_call(req["encoding"], int(req["L"]), bool(req["causal"]))
                reply = {"ok": True}
            elif op == "train":
                calls[req["id"]], params = train_call(req["encoding"])
                reply = {"ok": True, "params": params}
            elif op == "time":
                call = calls[req["id"]]
                ms, cpu = [], []
                for _ in range(int(req.get("calls", 1))):
                    c0, w0 = time.process_time(), time.perf_counter()
                    call()
                    ms.append((time.perf_counter() - w0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                reply = {"ms": ms, "cpu_ms": cpu}
            elif op == "free":
                calls.pop(req["id"], None)
                reply = {"ok": True}
            else:
                reply = {"error": f"op: unknown operation {op!r}"}
        except Exception as e:  # the client shows the message; the server keeps serving
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
