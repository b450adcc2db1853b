"""The workbench: what a user does across runs — list them (``runs``), set them side by side
(``compare``) and start a spec for their own data (``init``). No TensorFlow is imported here."""
