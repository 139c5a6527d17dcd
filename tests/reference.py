"""Plain-Python reference of the hashtron network (DESIGN.md §1–§3), written from the spec alone.

Nothing here imports the package's kernels: it is an independent twin that the
numba code is compared against (tests/test_network.py, tests/test_tally.py).
Everything is slow, scalar and literal — one function per concept, in the words
of DESIGN.md. All arithmetic is on Python ints, masked to 32 bits where the
spec says "unsigned 32-bit with wrap-around".

A reference network is described by the architecture *spec* (the list of
`{type: ...}` items, as `Architecture.to_spec()` gives it) and, per hashtron
layer, a list of neurons `(program, filter_bytes)` with `program` a list of
`(salt, modulus)` and `filter_bytes` a list of ints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MASK32 = 0xFFFFFFFF
MAX_OUTPUT_BITS = 16
MAX_HOPS = 64


# --------------------------------------------------------------------------- §1 hash
def hash32(n: int, s: int, max_: int) -> int:
    """hash(n, s, max): m = n - s; xor-shifts; m += s; (m * max) >> 32 in 64 bits."""
    m = (n - s) & MASK32
    m ^= (m << 2) & MASK32
    m ^= (m << 3) & MASK32
    m ^= m >> 5
    m ^= m >> 7
    m ^= (m << 11) & MASK32
    m ^= (m << 13) & MASK32
    m ^= m >> 17
    m ^= (m << 19) & MASK32
    m = (m + s) & MASK32
    return (m * max_) >> 32


def hash64(x: int, s: int, m: int) -> int:
    """The filter's hop hash: hash(x, s, m) when m < 2^32, else ((s << 32) | x) mod m."""
    if m < 2**32:
        return hash32(x, s, m)
    return ((s << 32) | x) % m


def rotr32(x: int, r: int = 1) -> int:
    return ((x >> r) | (x << (32 - r))) & MASK32


# --------------------------------------------------------------------------- §1 filter
def filter_cell(fbytes, h: int) -> int:
    """Cell h is (bytes[h >> 2] >> 2*(h & 3)) & 3."""
    return (int(fbytes[h >> 2]) >> (2 * (h & 3))) & 3


def filter_lookup(fbytes, key: int) -> int:
    """Quaternary filter lookup of a uint32 key (high word 0): 0 empty -> x&1, 1 false, 2 true, 3 rotate+hop."""
    x = key & MASK32
    high = 0
    if len(fbytes) == 0:
        return x & 1
    cells = 4 * len(fbytes)
    for i in range(MAX_HOPS):
        h = hash64(x, high ^ i, cells)
        cell = filter_cell(fbytes, h)
        if cell == 0:
            return x & 1
        if cell == 1:
            return 0
        if cell == 2:
            return 1
        x = rotr32(x, 1)
    return 0


# --------------------------------------------------------------------------- §1 neuron
def run_program(x: int, program) -> int:
    """Each command (salt, modulus) replaces the input with hash(x, salt, modulus)."""
    for salt, mod in program:
        x = hash32(x, int(salt), int(mod))
    return x


def neuron_eval(program, fbytes, x: int, bit: int = 0) -> int:
    """Bit `bit` of a hashtron: input x | (bit << 16), the program, then the filter."""
    x = (x | (bit << 16)) & MASK32
    return filter_lookup(fbytes, run_program(x, program))


def layer_prehash(x: int, i: int, premodulo: int) -> int:
    """Input i of a layer with premodulo P != 0 becomes hash(x_i, i, P); P == 0: unchanged."""
    if premodulo == 0:
        return x & MASK32
    return hash32(x & MASK32, i, premodulo)


# --------------------------------------------------------------------------- §2 combiners
def combiner_cells(comb: dict, prev_width: int) -> int:
    """Length of the cell vector a combiner holds."""
    kind = comb["type"]
    if kind == "majpool2d":
        return (comb["width"] * comb["height"] * comb["subwidth"] * comb["subheight"]
                * comb["repeat"])
    if kind == "full":
        return comb["size"]
    if kind == "sum":
        n = 1
        for d in comb["dims"]:
            n *= d
        return n
    if kind in ("parity", "argmax"):
        return prev_width
    raise ValueError(kind)


def majpool2d_feature(c: dict, cells, m: int) -> int:
    w, h = c["width"], c["height"]
    sw, sh = c["subwidth"], c["subheight"]
    cw, ch = c["capwidth"], c["capheight"]
    bias = c["bias"]
    sub = sw * sh
    matrix = w * h * sub
    base = (m // matrix) * matrix
    q = (m % matrix) // sub
    startx = (q % w) * cw
    starty = (q // w) * ch
    feature = 0
    for y in range(ch):
        for x in range(cw):
            xx = (startx + x) % w
            yy = (starty + y) % h
            vote = 0
            for my in range(sh):
                for mx in range(sw):
                    idx = base + sub * (w * yy + xx) + sw * my + mx
                    if idx >= len(cells):
                        return 0
                    vote += 1 if cells[idx] else -1
            feature = (feature << 1) | (1 if vote > bias else 0)
    return feature & MASK32


def full_feature(c: dict, cells, n: int) -> int:
    size, bits, maxbits = c["size"], c["bits"], c["maxbits"]
    start = n * bits
    feature = 0
    for pos in range(start, start + maxbits):
        if pos >= size:
            return 0
        feature = (feature << 1) | cells[pos]
    return feature


def sum_feature(c: dict, cells, n: int) -> int:
    dims, axis = list(c["dims"]), c["axis"]
    d = dims[axis]
    step = 1
    for k in range(axis):
        step *= dims[k]
    length = len(cells)
    return sum(cells[(n * d + j * step) % length] for j in range(d))


def parity_feature(c: dict, cells, n: int) -> int:
    p = 0
    for v in cells:
        p ^= v
    return p


def argmax_feature(c: dict, cells, n: int) -> int:
    size = len(cells) // c["groups"]
    counts = [sum(cells[g * size:(g + 1) * size]) for g in range(c["groups"])]
    return counts.index(max(counts))


FEATURES = {"majpool2d": majpool2d_feature, "full": full_feature, "sum": sum_feature,
            "parity": parity_feature, "argmax": argmax_feature}


def feature(comb: dict, cells, m: int) -> int:
    """Feature m of a combiner over its full cell vector (cells past the previous layer are false)."""
    return FEATURES[comb["type"]](comb, cells, m)


def disregards(comb: dict, cells, n: int) -> bool:
    """Cell n is disregarded when the vote of its sub block stays on the same side of bias
    with the cell true or false (majpool2d only; the other combiners never disregard)."""
    if comb["type"] != "majpool2d":
        return False
    sub = comb["subwidth"] * comb["subheight"]
    matrix = comb["width"] * comb["height"] * sub
    base = (n // matrix) * matrix
    block = base + ((n % matrix) // sub) * sub
    votes = {}
    for value in (1, 0):
        v = 0
        for j in range(block, block + sub):
            bit = value if j == n else cells[j]
            v += 1 if bit else -1
        votes[value] = v > comb["bias"]
    return votes[1] == votes[0]


# --------------------------------------------------------------------------- §2 network
@dataclass
class RefNet:
    layers: list            # [{"neurons": c, "premodulo": P}]
    combiners: list         # combiners[l] follows layers[l]; None only after the last
    neurons: list           # neurons[l][i] = (program, filter bytes)

    @classmethod
    def from_spec(cls, spec, neurons) -> "RefNet":
        items = spec["layers"] if isinstance(spec, dict) else spec
        layers, combs = [], []
        for item in items:
            if item["type"] == "hashtron":
                layers.append({"neurons": item["neurons"], "premodulo": item.get("premodulo", 0) or 0})
                combs.append(None)
            else:
                combs[-1] = dict(item)
        return cls(layers, combs, neurons)

    @classmethod
    def from_network(cls, net) -> "RefNet":
        """Copy a `hashtron_lab` Network into plain lists (only its spec and neurons are read)."""
        neurons = [[([(int(s), int(m)) for s, m in h.program], [int(b) for b in h.filter])
                    for h in layer] for layer in net.neurons]
        return cls.from_spec(net.architecture.to_spec(), neurons)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def width(self, l: int) -> int:
        return self.layers[l]["neurons"]

    @property
    def output_direct(self) -> bool:
        return self.combiners[-1] is None

    def is_direct(self, l: int) -> bool:
        """The very-last-layer rule applies to layer l."""
        return l == self.n_layers - 1 and self.combiners[l] is None

    @property
    def output_bits(self) -> int:
        return min(self.width(self.n_layers - 1), MAX_OUTPUT_BITS)

    def cell_vector(self, l: int, bits) -> list:
        """The combiner after layer l holds the layer's bits in cells 0.. and false beyond."""
        n = combiner_cells(self.combiners[l], self.width(l))
        return list(bits) + [0] * (n - len(bits))


@dataclass
class RefTrace:
    keys: list = field(default_factory=list)    # keys[l][i]
    cells: list = field(default_factory=list)   # cells[l][i]
    out: int = 0


def layer_inputs(net: RefNet, l: int, x, prev_bits) -> list:
    """Feature read by each neuron of layer l (before the layer premodulo)."""
    c = net.width(l)
    if l == 0:
        source = lambda m: int(x[m])  # noqa: E731
    else:
        vec = net.cell_vector(l - 1, prev_bits)
        source = lambda m: feature(net.combiners[l - 1], vec, m)  # noqa: E731
    if net.is_direct(l):
        f0 = source(0)
        return [f0] * c
    return [source(i) for i in range(c)]


def eval_layer(net: RefNet, l: int, feats) -> tuple[list, list]:
    P = net.layers[l]["premodulo"]
    keys = [layer_prehash(f, i, P) for i, f in enumerate(feats)]
    bits = [neuron_eval(prog, filt, k) for (prog, filt), k in zip(net.neurons[l], keys)]
    return keys, bits


def network_output(net: RefNet, last_bits) -> int:
    """Σ_{j<min(c,16)} feature_j << j (wrapping) after a combiner; else bit j of neuron j."""
    L = net.n_layers
    nbits = net.output_bits
    if net.output_direct:
        return sum(last_bits[j] << j for j in range(nbits))
    vec = net.cell_vector(L - 1, last_bits)
    total = 0
    for j in range(nbits):
        total += feature(net.combiners[L - 1], vec, j) << j
    return total & MASK32


def run_from(net: RefNet, l: int, bits, trace: RefTrace | None = None) -> int:
    """Given the bits of layer l, run the later layers and return the network output."""
    for nxt in range(l + 1, net.n_layers):
        keys, nbits = eval_layer(net, nxt, layer_inputs(net, nxt, None, bits))
        if trace is not None:
            trace.keys.append(keys)
            trace.cells.append(nbits)
        bits = nbits
    return network_output(net, bits)


def forward(net: RefNet, x) -> RefTrace:
    """One sample through the whole network: per-layer keys and bits, and the output integer."""
    t = RefTrace()
    keys, bits = eval_layer(net, 0, layer_inputs(net, 0, x, None))
    t.keys.append(keys)
    t.cells.append(bits)
    t.out = run_from(net, 0, bits, t)
    return t


# --------------------------------------------------------------------------- §3 tally
def popcount(x: int) -> int:
    return bin(x & MASK32).count("1")


def tally_sample(net: RefNet, t: RefTrace, target: int, l: int, i: int) -> tuple[int, bool]:
    """(signed vote, improving) of neuron i of layer l for one sample (DESIGN §3)."""
    bit = t.cells[l][i]
    if net.is_direct(l):
        want = (target >> i) & 1
        return (1 if want else -1), bit != want
    if disregards(net.combiners[l], net.cell_vector(l, t.cells[l]), i):
        return 0, False
    flipped = list(t.cells[l])
    flipped[i] = 1 - bit
    o_as = run_from(net, l, t.cells[l])
    o_fl = run_from(net, l, flipped)
    vote_current = 1 if bit else -1
    if net.output_bits == 1:
        right_as, right_fl = o_as == target, o_fl == target
        if (right_as and right_fl) or o_as == o_fl:
            return 0, False
        if right_as:
            return vote_current, False
        if right_fl:
            return -vote_current, True
        return 0, False
    d_as = popcount(o_as ^ target)
    d_fl = popcount(o_fl ^ target)
    if d_as == 0:
        return vote_current, False
    if d_as == d_fl:
        return 0, False
    w = abs(d_as - d_fl)
    if d_fl < d_as:
        return -vote_current * w, True
    return vote_current * w, False


def key_sums(x_in, votes, salt: int, premodulo: int) -> dict:
    """{key: (vote sum, voting samples)} with key = hash(x, salt, P) (x itself when P == 0)."""
    acc: dict = {}
    for x, v in zip(x_in, votes):
        k = int(x) if premodulo == 0 else hash32(int(x), salt, premodulo)
        s, c = acc.get(k, (0, 0))
        acc[k] = (s + int(v), c + (1 if v != 0 else 0))
    return acc
