"""``nnctl tune``: a spec's ``search`` section run as an Optuna study, one run directory a trial."""
