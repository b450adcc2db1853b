"""What the user wrote: YAML with line marks, the schema and its checks. Imports no TensorFlow."""
