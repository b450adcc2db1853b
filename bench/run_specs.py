"""Run every shipped spec in full and report the result it reaches.

    python bench/run_specs.py [SPEC ...] [--write-readme] [--no-run]

Each spec is trained with `nnctl train` in a fresh process; the test metrics, epochs run and wall
time are printed as a Markdown table and saved to bench/results/specs.json. With --write-readme the
table replaces README's spec-results block. Specs whose data cannot be had here (a download on an
offline machine) are reported as not run, with nnctl's message. Results of specs not run this
time are kept from bench/results/specs.json; --no-run only rewrites the table from it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from course_baselines import MEASURED  # the course specs' references, measured after a run

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "specs.json"
RUNS = ROOT / "bench" / "runs"

# A GAN's samples against real data and the untrained generator, as the scorer sees them.
GAN_REFERENCE = (
    "real {data}: confidence {{baseline_real_confidence:.4g}}, class_entropy "
    "{{baseline_real_class_entropy:.4g}}, classifier_score {{baseline_real_classifier_score:.4g}}"
    "; untrained generator: {{baseline_untrained_confidence:.4g}}, "
    "{{baseline_untrained_class_entropy:.4g}}, {{baseline_untrained_classifier_score:.4g}} "
    "(scorer accuracy {{baseline_scorer_accuracy:.3g}})"
)
# What each spec is, and the reference its result is compared with.
ABOUT = {
    "seq2seq_addition": (
        '"123+45" -> "168" as characters: BiLSTM encoder, LSTM decoder with attention, '
        "teacher forcing, greedy decoding (seq2seq mode)",
        "keras.io's addition RNN: ≈99% accuracy (3 digits, 50k examples, ~100 epochs)",
    ),
    "seq2seq_dates": (
        '"Thursday, 05/03/79", "3 may 79", ... -> "1979-05-03", eight formats; the same '
        "encoder-decoder with attention (seq2seq mode)",
        "exact match ≈1.0 is reachable: every format determines the date (1950-2049)",
    ),
    "quickstart": ("64-64 ReLU MLP, digits (offline)", "≈0.98 (64-64 MLP + Adam, 80/20 split)"),
    "bilstm_text": (
        "TextVectorization + Embedding + 2 bidirectional LSTMs on raw text (keras.io's IMDB "
        "BiLSTM); measured on the offline stand-in: 8,000 generated reviews whose labels need "
        "word order (tests/text_data.py), padded to 32 words instead of 200",
        "bag of words (logistic regression on word counts), same split: "
        "{baseline_bag_of_words_accuracy:.3f}; keras.io on IMDB: 0.84 after 2 epochs",
    ),
    "linear_regression": (
        "one linear neuron, SGD, step decay, make_regression",
        "closed-form least squares on the same split: test MSE {ols_mse:.4g}",
    ),
    "mnist_mlp": ("256-256 MLP, Adam, MNIST", "≈0.98 test accuracy"),
    "mnist_keras_mlp": (
        "512-Dropout-512-Dropout MLP, 2 epochs, MNIST",
        "0.97 test accuracy (course)",
    ),
    "cnn_fashion_mnist": (
        "3-conv CNN, pooling, dropout, augmentation, Fashion-MNIST",
        "0.926 (Fashion-MNIST benchmark's Keras 3-conv net with dropout)",
    ),
    "resnet_fashion_mnist": (
        "small ResNet (graph form, blocks/repeat), Fashion-MNIST",
        "≈0.949 (ResNet-18, far larger)",
    ),
    "resnet_cifar10": ("the same small ResNet, CIFAR-10", "not measured here"),
    "autoencoder_digits": (
        "dense 64-32-8-32-64 autoencoder, digits",
        "predict-the-mean-image baseline: test MSE {baseline_mean_image_mse:.4g}",
    ),
    "denoising_autoencoder_fashion_mnist": (
        "convolutional denoising autoencoder (7x7x8 code), Fashion-MNIST",
        "predict-the-mean-image baseline: test MSE {baseline_mean_image_mse:.4g}",
    ),
    "lstm_sunspots": (
        "LSTM forecast of yearly sunspots (statsmodels, offline), last 20% of years as test",
        'naive "next = last" forecast on the same test years: MSE '
        "{baseline_naive_forecast_mse:.4g}",
    ),
    "rnn_sunspots": (
        "SimpleRNN (32 units) forecast of yearly sunspots, last 20% of years as test",
        'naive "next = last" forecast: MSE {baseline_naive_forecast_mse:.4g}; lstm_sunspots.yaml '
        "(LSTM, 32 units): MSE {baseline_lstm_mse:.4g}",
    ),
    "neuron_moons": (
        "16-16 tanh MLP, one sigmoid output neuron, SGD with Nesterov momentum, make_moons "
        "(1,000 points, noise 0.2)",
        "logistic regression (a straight boundary), same split: accuracy "
        "{baseline_logistic_regression_accuracy:.4g} (bench/course_baselines.py)",
    ),
    "regularized_digits": (
        "256-256 MLP with L1/L2 penalties, BatchNormalization, Dropout, early stopping, RMSProp; "
        "digits, 449 training images",
        "the same net without any of them (bench/course_baselines.py): accuracy "
        "{baseline_unregularized_accuracy:.4g}, loss {baseline_unregularized_loss:.4g}",
    ),
    "rotated_digits": (
        "small CNN with RandomRotation (up to 18 degrees) and GaussianNoise augmentation, digits",
        "test digits turned 15 degrees each way: {baseline_rotated_accuracy:.4g}; the same CNN "
        "unaugmented: {baseline_unaugmented_accuracy:.4g}, turned "
        "{baseline_unaugmented_rotated_accuracy:.4g} (bench/course_baselines.py)",
    ),
    "fashion_mnist_mlp": (
        "512-Dropout-512-Dropout MLP, 2 epochs, Fashion-MNIST (Debian package)",
        "≈0.86 (same net, measured here with plain Keras); MLPs reach 0.88–0.90",
    ),
    "tuned_fashion_mnist": (
        "fashion_mnist_mlp.yaml with a `search:` section (a grid over epochs and learning "
        "rate); `nnctl train` trains the hand-set values, `nnctl tune` searches",
        "nnctl tune, 4 trials (README, Hyperparameter search): the best trial's test accuracy "
        "0.878, loss 0.3414",
    ),
    "tuned_digits": (
        "regularized_digits.yaml with a `search:` section (learning rate, width, dropout rates, "
        "batch size, patience); `nnctl train` trains the hand-set values, `nnctl tune` searches",
        "nnctl tune, 12 trials (README, Hyperparameter search): the hand-set values stayed best",
    ),
    "actor_critic_cartpole": (
        "advantage actor-critic, one 128-unit trunk with policy and value heads, on CartPole "
        "with 200-step episodes as in keras.io's example; solved: running reward above 195 "
        "(actor_critic mode); evaluation: 100 episodes of the trained policy",
        "keras.io's example solves at episode 322 (its published run), 403–672 ported to Keras "
        "3.15 (3 seeds). bench/actor_critic_seeds.py, seeds {seeds}: this spec solves at "
        "episodes {spec_solved} (median {spec_median}); keras.io's settings in nnctl at "
        "{reference_solved} (median {reference_median})",
    ),
    "dnc_copy": (
        "Differentiable Neural Computer (LSTM controller, 32x16 memory), copy task, 6 bits, "
        "lengths 1-10; longer lengths: bench/memory_generalisation.py copy",
        "lstm_copy.yaml, same data and similar size; chance: bit error 0.5",
    ),
    "lstm_copy": (
        "LSTM (80 units) of similar parameter count on the same copy task",
        "dnc_copy.yaml; chance: bit error 0.5",
    ),
    "dnc_recall": (
        "Differentiable Neural Computer (LSTM controller, 16x16 memory), associative recall, "
        "6 bits, items of 2 vectors, 2-6 items; more items: bench/memory_generalisation.py recall",
        "lstm_recall.yaml, same data and similar size; chance: bit error 0.5",
    ),
    "lstm_recall": (
        "LSTM (80 units) of similar parameter count on the same associative recall task",
        "dnc_recall.yaml; chance: bit error 0.5",
    ),
    "gan_digits": (
        "MLP GAN, digits; samples scored by an MLP classifier of the real digits",
        GAN_REFERENCE.format(data="test digits"),
    ),
    "dcgan_fashion_mnist": (
        "DCGAN (transposed convolutions, batch norm), 20,000 Fashion-MNIST images; samples "
        "scored by an MLP classifier of the real images",
        GAN_REFERENCE.format(data="test images"),
    ),
}


def offline_text(spec: Path) -> tuple[list[str], dict[str, float]]:
    """bilstm_text (IMDB downloads) on generated reviews; padding to 32 words, which holds every
    review, gives the same model outputs as 200 (padding is masked) in a sixth of the time. The
    reference: a bag of words on the same splits, which cannot see word order."""
    sys.path.insert(0, str(ROOT / "tests"))
    from text_data import write_csv

    RUNS.mkdir(parents=True, exist_ok=True)
    path = write_csv(RUNS / f"{spec.stem}-reviews.csv", 8000, seed=0)
    overrides = [
        f"data={{source: csv, path: {json.dumps(str(path))}, target: label, text: true}}",
        "model.layers[0].output_sequence_length=32",
    ]
    baselines = {"baseline_bag_of_words_accuracy": bag_of_words_accuracy(spec, overrides)}
    return [a for o in overrides for a in ("--set", o)], baselines


OFFLINE = {"bilstm_text": offline_text}  # specs whose data downloads: measured on other data


def run_spec(spec: Path) -> dict:
    out = RUNS / spec.stem
    started = time.perf_counter()
    extra, baselines = OFFLINE[spec.stem](spec) if spec.stem in OFFLINE else ([], {})
    cmd = [
        sys.executable,
        "-m",
        "nnctl",
        "train",
        str(spec),
        "--out",
        str(out),
        "--force",
        "--quiet",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
        return {"spec": spec.stem, "ran": False, "reason": reason, "exit": proc.returncode}
    metrics = json.loads((out / "metrics.json").read_text())
    info = json.loads((out / "run.json").read_text())
    evaluated = subprocess.run(
        [sys.executable, "-m", "nnctl", "evaluate", str(out), "--json"],
        capture_output=True,
        text=True,
    )
    report = json.loads(evaluated.stdout) if evaluated.returncode == 0 else {}
    if spec.stem in MEASURED:
        baselines |= MEASURED[spec.stem](spec, out)
    return {
        "spec": spec.stem,
        "ran": True,
        "test": metrics.get("test") or agent_figures(metrics),
        "baselines": {k: v for k, v in report.items() if k.startswith("baseline_")} | baselines,
        "epochs": info.get("epochs", info.get("episodes")),
        **({"unit": "episodes"} if "episodes" in info else {}),  # actor_critic
        "wall_seconds": round(seconds, 1),
    }


def agent_figures(metrics: dict) -> dict:
    """actor_critic: the episode that solved the environment, and the evaluation's returns."""
    trained, played = metrics.get("train", {}), metrics.get("evaluation", {})
    figures = {k: trained[k] for k in ("solved_at_episode",) if k in trained}
    return figures | {f"evaluation_{k}": played[k] for k in ("mean_return", "std_return")}


def actor_critic_seeds() -> dict:
    """Episodes to solve per seed, from bench/actor_critic_seeds.py's results."""
    path = ROOT / "bench" / "results" / "actor_critic_seeds.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    figures = {}
    for label in ("spec", "reference"):
        runs = results.get(label, {}).get("runs", [])
        solved = [str(r.get("solved_at_episode") or "unsolved") for r in runs]
        figures[f"{label}_solved"] = ", ".join(solved) or "not measured"
        summary = results.get(label, {}).get("summary", {})
        figures[f"{label}_median"] = summary.get("median_episodes_to_solve", "-")
        figures["seeds"] = figures.get("seeds") or ", ".join(str(r["seed"]) for r in runs)
    return figures


def bag_of_words_accuracy(spec: Path, overrides: list[str]) -> float:
    """Test accuracy of logistic regression on word counts, trained on the spec's training split."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    sys.path.insert(0, str(ROOT))
    from nnctl.data import load_dataset
    from nnctl.spec.validate import load_spec

    parsed, _ = load_spec(spec, overrides)
    data = load_dataset(parsed.data, parsed.train.validation, parsed.seed, spec.parent)
    counts = CountVectorizer()
    words = counts.fit_transform(data.train.x[:, 0])
    model = LogisticRegression(max_iter=2000).fit(words, data.train.y)
    return float(model.score(counts.transform(data.test.x[:, 0]), data.test.y))


def least_squares_mse(spec: Path) -> float:
    """Test MSE of the exact least-squares line on the spec's split: the best a line can do."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from nnctl.data import load_dataset
    from nnctl.spec.validate import load_spec

    parsed, _ = load_spec(spec)
    data = load_dataset(parsed.data, parsed.train.validation, parsed.seed, spec.parent)
    design = np.c_[data.train.x, np.ones(len(data.train.x))]
    coef, *_ = np.linalg.lstsq(design, data.train.y, rcond=None)
    predicted = np.c_[data.test.x, np.ones(len(data.test.x))] @ coef
    return float(np.mean((predicted - data.test.y) ** 2))


def row(result: dict) -> str:
    what, reference = ABOUT.get(result["spec"], ("", ""))
    if "{baseline_" in reference and result.get("baselines"):
        reference = reference.format(**result["baselines"])
    if "{spec_solved" in reference:
        reference = reference.format(**actor_critic_seeds())
    if "{ols_mse" in reference:
        reference = reference.format(
            ols_mse=least_squares_mse(ROOT / "specs" / f"{result['spec']}.yaml")
        )
    if not result["ran"] and "could not download" in result["reason"]:
        outcome = "not run here: the data downloads and this machine is offline"
    elif not result["ran"]:
        outcome = f"not run here: {result['reason']}"
    else:
        test = result["test"]
        if "classifier_score" in test:  # a GAN: its samples' quality (losses in metrics.json)
            test = {k: test[k] for k in ("confidence", "class_entropy", "classifier_score")}
        figures = ", ".join(f"{k} {v:.4g}" for k, v in test.items())
        unit = result.get("unit", "epochs")  # an agent: episodes, and no test split
        label = "" if unit == "episodes" else "test "
        outcome = f"{label}{figures} ({result['epochs']} {unit}, {result['wall_seconds']:.0f} s)"
    return f"| `{result['spec']}.yaml` | {what} | {outcome} | {reference} |"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    specs = [Path(a) for a in args] or sorted((ROOT / "specs").glob("*.yaml"))
    if "--no-run" in sys.argv:
        specs = []
    fresh = {}
    for spec in specs:
        print(f"running {spec.name} ...", file=sys.stderr, flush=True)
        fresh[spec.stem] = run_spec(spec)
    # keep earlier measurements of the specs not run this time
    earlier = json.loads(RESULTS.read_text())["results"] if RESULTS.exists() else []
    merged = {r["spec"]: r for r in earlier} | fresh
    shipped = {p.stem for p in (ROOT / "specs").glob("*.yaml")}
    results = [merged[name] for name in sorted(merged) if name in shipped]
    table = ["| spec | what | result here | reference |", "|---|---|---|---|"]
    table += [row(r) for r in results]
    print("\n".join(table))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    RESULTS.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    if "--write-readme" in sys.argv:
        readme = ROOT / "README.md"
        text = readme.read_text()
        head, rest = text.split("<!-- spec-results:begin -->\n")
        _, tail = rest.split("<!-- spec-results:end -->")
        block = "\n".join(table) + "\n"
        readme.write_text(
            f"{head}<!-- spec-results:begin -->\n{block}<!-- spec-results:end -->{tail}"
        )


if __name__ == "__main__":
    main()
