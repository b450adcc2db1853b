"""``train.mode: seq2seq``: strings in, strings out, with teacher forcing in training and one
greedy decoder for evaluation, predictions and the export.

The mode's home: ``strings`` (vocabularies, encoding to token ids, the greedy decoder). Its data
sources are in ``nnctl/data/string_pairs.py``.
"""

from __future__ import annotations

from nnctl.modes.base import ExportTarget, Mode


class Seq2Seq(Mode):
    name = "seq2seq"

    def encode(self, spec, dataset, vocab=None):
        """Strings become token ids, with ``vocab`` (a trained run's) or vocabularies built
        from the training split."""
        from nnctl.modes.seq2seq import strings as seq2seq

        return seq2seq.encode(dataset, spec.data.tokens, vocab)

    def conclude(self, session, metrics):
        """Exact match of greedy decoding on every split; the vocabularies beside the model."""
        from nnctl.modes.seq2seq import strings as seq2seq
        from nnctl.rundir import VOCABULARIES, write_text

        write_text(session.run.file(VOCABULARIES), session.vocab.to_json())
        decode = seq2seq.decoder(session.model, session.vocab)
        for name, figures in metrics.items():
            part = getattr(session.strings, name)
            figures["exact_match"] = seq2seq.exact_match(decode, session.vocab, part)

    def placeholder(self, spec, base_dir):
        """Shapes and vocabulary sizes come from the strings: built only when they can be read."""
        if base_dir is None:
            return None
        from nnctl.build import build_model
        from nnctl.data import load_spec_data, rows

        strings = load_spec_data(spec, base_dir)
        dataset, vocab = self.encode(spec, strings)
        return build_model(spec, rows(dataset.train.x, slice(1)), vocab.sizes)

    def vocabularies(self, run):
        from nnctl.modes.seq2seq.strings import Vocabularies
        from nnctl.rundir import VOCABULARIES

        return Vocabularies.read(run.file(VOCABULARIES))

    def add_figures(self, report, spec, model, data):
        """Greedy decoding's exact-match rate, and examples (the first mistakes first)."""
        import numpy as np

        from nnctl.modes.seq2seq import strings as seq2seq
        from nnctl.training.evaluation import EXAMPLES

        vocab, strings = data["vocab"], data["strings"]
        predicted = seq2seq.decode_all(seq2seq.decoder(model, vocab), strings.x)
        expected = [seq2seq.normalized(str(t), vocab) for t in strings.y]
        triples = [(str(s), e, p) for s, e, p in zip(strings.x, expected, predicted, strict=True)]
        report.metrics["exact_match"] = float(np.mean([e == p for _, e, p in triples]))
        wrong = [t for t in triples if t[1] != t[2]]
        report.examples = (wrong[:EXAMPLES] + [t for t in triples if t[1] == t[2]])[:EXAMPLES]

    def report_sections(self, spec, model, run, evaluation):
        """The learning curves, and decoded examples, mistakes first."""
        from nnctl.training.sections import Section, Table

        rows = [[s, e, p, "ok" if e == p else "wrong"] for s, e, p in evaluation.examples]
        caption = (
            f"Greedy decoding on the {evaluation.split} split, mistakes first; exact match "
            f"{evaluation.metrics.get('exact_match', float('nan')):.3f}."
        )
        table = Table(["input", "expected", "decoded", ""], rows, caption)
        return [
            *super().report_sections(spec, model, run, evaluation),
            Section("Decoded examples", [table]),
        ]

    def export_target(self, spec, model, fmt, samples):
        """The model and its greedy decoder, as one SavedModel of strings in and out."""
        return ExportTarget(model, strings=True)

    def predictor(self, run):
        from nnctl.modes.seq2seq.strings import run_predictor
        from nnctl.task import Task

        return run_predictor(run), Task.SEQ2SEQ
