"""The Differentiable Neural Computer (Graves et al., Nature 538, 2016), written from the paper.

An LSTM controller reads and writes an external memory of ``memory_size`` slots of ``word_size``
numbers through one write head and ``read_heads`` read heads. The addressing pieces below are pure
functions of batch-first tensors (``B`` batch, ``N`` slots, ``W`` word size, ``R`` read heads), each
one equation of the paper's Methods, so each can be tested on its own:

- content weighting: a softmax over slots of cosine similarity to a key, sharpened by a strength
- usage: raised by writes, lowered where free gates release what the read heads last read
- allocation: the least-used slots first (slots sorted by usage)
- the temporal link matrix: ``L[i, j]`` is how much slot ``i`` was written right after slot ``j``,
  so reads can move forward or backward in the order of writing
- read modes: each read head mixes backward, content and forward weightings

``DNCCell`` is one time step; ``DNC`` runs it over a sequence, like ``keras.layers.LSTM``. The
cell's output is the controller output and the new read vectors side by side; a ``Dense`` layer
after it is the paper's output map ``W_y h + W_r [r^1 .. r^R]``.
"""

from __future__ import annotations

from nnctl.keras_env import import_keras

keras = import_keras()
ops = keras.ops

EPSILON = 1e-6  # keeps norms differentiable at zero memory and usage below 1 in the sort
READ_MODES = 3  # backward, content, forward


# ----------------------------------------------------------------------------------- addressing
def oneplus(x):
    """``1 + softplus(x)``: a key strength in [1, inf)."""
    return 1.0 + ops.softplus(x)


def cosine_similarity(memory, keys):
    """(B, N, W), (B, H, W) -> (B, H, N): cosine of each key with each memory row."""
    dot = ops.einsum("bhw,bnw->bhn", keys, memory)
    memory_norm = ops.sqrt(ops.sum(ops.square(memory), axis=-1) + EPSILON)  # (B, N)
    key_norm = ops.sqrt(ops.sum(ops.square(keys), axis=-1) + EPSILON)  # (B, H)
    return dot / (key_norm[:, :, None] * memory_norm[:, None, :] + EPSILON)


def content_weighting(memory, keys, strengths):
    """(B, N, W), (B, H, W), (B, H) -> (B, H, N): softmax over slots of strength * similarity."""
    return ops.softmax(cosine_similarity(memory, keys) * strengths[:, :, None], axis=-1)


def retention(free_gates, read_weights):
    """(B, R), (B, R, N) -> (B, N): psi, how much of each slot the free gates keep."""
    return ops.prod(1.0 - free_gates[:, :, None] * read_weights, axis=1)


def update_usage(usage, write_weights, retained):
    """(B, N) x3 -> (B, N): the last write raises usage, then the freed share is released."""
    return (usage + write_weights - usage * write_weights) * retained


def allocation_weighting(usage):
    """(B, N) -> (B, N): ``a[phi_j] = (1 - u[phi_j]) * prod_{i<j} u[phi_i]``, with ``phi`` the
    slots in increasing usage, so the least-used slot gets the most. Sums to at most 1."""
    usage = EPSILON + (1.0 - EPSILON) * usage
    free_list = ops.argsort(usage, axis=-1)  # phi: least used first
    sorted_usage = ops.take_along_axis(usage, free_list, axis=-1)
    ones = ops.ones_like(sorted_usage[:, :1])
    before = ops.cumprod(ops.concatenate([ones, sorted_usage[:, :-1]], axis=-1), axis=-1)
    sorted_allocation = (1.0 - sorted_usage) * before
    return ops.take_along_axis(sorted_allocation, ops.argsort(free_list, axis=-1), axis=-1)


def write_weighting(allocation, write_content, allocation_gate, write_gate):
    """(B, N), (B, N), (B, 1), (B, 1) -> (B, N): ``g_w (g_a a + (1 - g_a) c)``."""
    mixed = allocation_gate * allocation + (1.0 - allocation_gate) * write_content
    return write_gate * mixed


def write_memory(memory, write_weights, erase, values):
    """(B, N, W), (B, N), (B, W), (B, W) -> (B, N, W): erase, then add ``values``."""
    weights = write_weights[:, :, None]
    return memory * (1.0 - weights * erase[:, None, :]) + weights * values[:, None, :]


def update_precedence(precedence, write_weights):
    """(B, N) x2 -> (B, N): ``p`` moves toward the slots just written, by how much was written."""
    written = ops.sum(write_weights, axis=-1, keepdims=True)
    return (1.0 - written) * precedence + write_weights


def update_link(link, precedence, write_weights):
    """(B, N, N), (B, N) previous precedence, (B, N) -> (B, N, N), zero on the diagonal:
    ``L[i, j] = (1 - w[i] - w[j]) L[i, j] + w[i] p[j]``."""
    w_i, w_j = write_weights[:, :, None], write_weights[:, None, :]
    link = (1.0 - w_i - w_j) * link + w_i * precedence[:, None, :]
    size = ops.shape(link)[-1]
    return link * (1.0 - ops.eye(size, dtype=link.dtype))


def directional_weightings(link, read_weights):
    """(B, N, N), (B, R, N) previous read weights -> (forward, backward), each (B, R, N):
    forward ``L w`` steps to what was written after, backward ``L^T w`` to what was before."""
    forward = ops.einsum("bij,brj->bri", link, read_weights)
    backward = ops.einsum("bji,brj->bri", link, read_weights)
    return forward, backward


def read_weighting(modes, backward, content, forward):
    """(B, R, 3) mode probabilities, then three (B, R, N) -> (B, R, N)."""
    return modes[..., 0:1] * backward + modes[..., 1:2] * content + modes[..., 2:3] * forward


def read_memory(memory, read_weights):
    """(B, N, W), (B, R, N) -> (B, R, W): each head's weighted sum of memory rows."""
    return ops.einsum("brn,bnw->brw", read_weights, memory)


# ------------------------------------------------------------------------------------ the cell
def interface_sizes(word_size: int, read_heads: int) -> dict[str, int]:
    """The parts of the interface vector the controller emits each step, in order."""
    r, w = read_heads, word_size
    return {
        "read_keys": r * w,
        "read_strengths": r,
        "write_key": w,
        "write_strength": 1,
        "erase": w,
        "write_vector": w,
        "free_gates": r,
        "allocation_gate": 1,
        "write_gate": 1,
        "read_modes": r * READ_MODES,
    }


STATE_PARTS = ("h", "c", "memory", "usage", "link", "precedence", "read_weights",
               "write_weights", "read_vectors")  # fmt: skip


@keras.saving.register_keras_serializable(package="nnctl")
class DNCCell(keras.layers.Layer):
    """One DNC time step, for ``keras.layers.RNN``: input (B, D) -> output (B, units + R * W).

    States are flat (B, size) tensors in ``STATE_PARTS`` order; ``unpack_state`` shapes them.
    """

    def __init__(
        self,
        units: int,
        memory_size: int = 16,
        word_size: int = 16,
        read_heads: int = 1,
        clip_value: float | None = 20.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("units", units), ("memory_size", memory_size),
                            ("word_size", word_size), ("read_heads", read_heads)):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Expected a positive integer. Received: {name}={value!r}")
        if clip_value is not None and not clip_value > 0:
            raise ValueError(f"Expected a positive clip_value or None. Received: {clip_value}")
        self.units, self.memory_size, self.word_size = units, memory_size, word_size
        self.read_heads, self.clip_value = read_heads, clip_value
        self.sizes = interface_sizes(word_size, read_heads)
        self.controller = keras.layers.LSTMCell(units, name="controller")
        self.interface = keras.layers.Dense(sum(self.sizes.values()), name="interface")
        n, r, w = memory_size, read_heads, word_size
        self.state_size = [units, units, n * w, n, n * n, n, r * n, n, r * w]
        self.output_size = units + r * w

    def build(self, input_shape):
        reads = self.read_heads * self.word_size
        self.controller.build((input_shape[0], input_shape[-1] + reads))
        self.interface.build((input_shape[0], self.units))
        self.built = True

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_size]

    def unpack_state(self, states) -> dict:
        """Flat states -> named tensors of their real shapes."""
        n, r, w = self.memory_size, self.read_heads, self.word_size
        shapes = {"memory": (n, w), "link": (n, n), "read_weights": (r, n), "read_vectors": (r, w)}
        return {
            part: ops.reshape(state, (-1, *shapes[part])) if part in shapes else state
            for part, state in zip(STATE_PARTS, states, strict=True)
        }

    def parse_interface(self, vector) -> dict:
        """The interface vector (B, I) -> its parts, squashed into their ranges."""
        parts, start = {}, 0
        for name, size in self.sizes.items():
            parts[name] = vector[:, start : start + size]
            start += size
        r, w = self.read_heads, self.word_size
        return {
            "read_keys": ops.reshape(parts["read_keys"], (-1, r, w)),
            "read_strengths": oneplus(parts["read_strengths"]),
            "write_key": parts["write_key"][:, None, :],
            "write_strength": oneplus(parts["write_strength"]),
            "erase": ops.sigmoid(parts["erase"]),
            "write_vector": parts["write_vector"],
            "free_gates": ops.sigmoid(parts["free_gates"]),
            "allocation_gate": ops.sigmoid(parts["allocation_gate"]),
            "write_gate": ops.sigmoid(parts["write_gate"]),
            "read_modes": ops.softmax(ops.reshape(parts["read_modes"], (-1, r, READ_MODES))),
        }

    def call(self, inputs, states, training=False):
        prev = self.unpack_state(states)
        reads = ops.reshape(prev["read_vectors"], (-1, self.read_heads * self.word_size))
        h, (_, c) = self.controller(
            ops.concatenate([inputs, reads], axis=-1), [prev["h"], prev["c"]], training=training
        )
        xi = self.parse_interface(self._clip(self.interface(self._clip(h))))
        new = self.address(prev, xi)
        read_vectors = read_memory(new["memory"], new["read_weights"])
        output = ops.concatenate(
            [self._clip(h), ops.reshape(read_vectors, (-1, self.read_heads * self.word_size))],
            axis=-1,
        )
        new |= {"h": h, "c": c, "read_vectors": read_vectors}
        sizes = zip(STATE_PARTS, self.state_size, strict=True)
        return output, [ops.reshape(new[part], (-1, size)) for part, size in sizes]

    def address(self, prev: dict, xi: dict) -> dict:
        """Write, then read: the new memory, usage, link, precedence and head weightings."""
        retained = retention(xi["free_gates"], prev["read_weights"])
        usage = update_usage(prev["usage"], prev["write_weights"], retained)
        write_content = content_weighting(prev["memory"], xi["write_key"], xi["write_strength"])
        write_weights = write_weighting(
            allocation_weighting(usage),
            write_content[:, 0, :],
            xi["allocation_gate"],
            xi["write_gate"],
        )
        memory = write_memory(prev["memory"], write_weights, xi["erase"], xi["write_vector"])
        link = update_link(prev["link"], prev["precedence"], write_weights)
        forward, backward = directional_weightings(link, prev["read_weights"])
        read_content = content_weighting(memory, xi["read_keys"], xi["read_strengths"])
        return {
            "memory": memory,
            "usage": usage,
            "link": link,
            "precedence": update_precedence(prev["precedence"], write_weights),
            "write_weights": write_weights,
            "read_weights": read_weighting(xi["read_modes"], backward, read_content, forward),
        }

    def _clip(self, x):
        if self.clip_value is None:
            return x
        return ops.clip(x, -self.clip_value, self.clip_value)

    def get_config(self):
        return super().get_config() | {
            "units": self.units,
            "memory_size": self.memory_size,
            "word_size": self.word_size,
            "read_heads": self.read_heads,
            "clip_value": self.clip_value,
        }


@keras.saving.register_keras_serializable(package="nnctl")
class DNC(keras.layers.RNN):
    """A Differentiable Neural Computer over a sequence (batch, time, features).

    Args:
        units: size of the LSTM controller.
        memory_size: number of memory slots, N.
        word_size: numbers per slot, W.
        read_heads: read heads, R (one write head).
        clip_value: controller output and interface are clipped to [-clip_value, clip_value]
            (None: not clipped).
        return_sequences: output every step (batch, time, units + R * W), or only the last.

    Output per step: the controller output and the R read vectors, concatenated.
    """

    def __init__(
        self,
        units: int,
        memory_size: int = 16,
        word_size: int = 16,
        read_heads: int = 1,
        clip_value: float | None = 20.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs,
    ):
        cell_args = {"dtype": kwargs.get("dtype"), "trainable": kwargs.get("trainable", True)}
        cell = DNCCell(
            units, memory_size, word_size, read_heads, clip_value, name="dnc_cell", **cell_args
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell = self.cell
        return config | {
            "units": cell.units,
            "memory_size": cell.memory_size,
            "word_size": cell.word_size,
            "read_heads": cell.read_heads,
            "clip_value": cell.clip_value,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
