"""The spec language, version 1: every section, key, type, range and default, one module per
section (``data``, ``model``, ``optimizer``, ``train``, ``gan``, ``actor_critic``, ``search``,
and ``spec``, the whole).

Pydantic checks structure (unknown keys, types, ranges) and reports every problem with its path;
``checks.py`` adds the rules that need Keras's names or span several sections. The JSON Schema
for editors (``nnctl schema``) and README's key reference come from these classes too.
"""

from nnctl.spec.schema.actor_critic import AgentSpec, EnvSpec  # noqa: F401
from nnctl.spec.schema.base import (  # noqa: F401
    Column,
    Finite,
    NonNegativeInt,
    PositiveFinite,
    PositiveInt,
    Rate,
    Section,
)
from nnctl.spec.schema.data import (  # noqa: F401
    DATA_SOURCES,
    FILE_SOURCES,
    MEMORY_TASKS,
    PATH_KEYS,
    STRING_PAIR_SOURCES,
    Addition,
    AssociativeRecall,
    BreastCancer,
    CopyTask,
    Csv,
    DataCommon,
    DataSpec,
    Dates,
    Digits,
    Fixed,
    Idx,
    Imdb,
    Iris,
    KerasImages,
    MakeClassification,
    MakeMoons,
    MakeRegression,
    Npy,
    Npz,
    Preprocess,
    StringPairs,
    Sunspots,
    TextPairs,
    copy_length,
    recall_length,
)
from nnctl.spec.schema.gan import (  # noqa: F401
    ADAM_FAMILY,
    DCGAN_ADAM,
    GAN_LOGS,
    GAN_QUALITY,
    GanNetworkSpec,
    GanOptimizerSpec,
    GanSpec,
    SampleGridSpec,
    ScorerSpec,
)
from nnctl.spec.schema.model import (  # noqa: F401
    INPUT_NAME,
    MAX_LAYERS,
    MERGES,
    NESTED_LAYER_ARGS,
    NODE_KEYS,
    SEQ2SEQ_INPUTS,
    SEQ2SEQ_SIZES,
    SHORT_FORM,
    InputSpec,
    LayerSpec,
    ModelSpec,
    NetworkSpec,
    NodeSpec,
    layer_json_schema,
    short_param,
)
from nnctl.spec.schema.optimizer import (  # noqa: F401
    CLIPPING,
    CosineDecay,
    ExponentialDecay,
    OptimizerSpec,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)
from nnctl.spec.schema.search import DISTRIBUTIONS, Parameter, SearchSpec  # noqa: F401
from nnctl.spec.schema.spec import Spec, _source_first  # noqa: F401
from nnctl.spec.schema.train import CheckpointSpec, EarlyStopping, ExportSpec, Mode, TrainSpec  # noqa: F401
