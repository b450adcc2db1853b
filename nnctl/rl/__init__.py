"""``train.mode: actor_critic``: an agent learning from episodes in a Gymnasium environment.

``env`` makes and seeds the environment, ``returns`` turns rewards into learning targets,
``agent`` builds and checks the two-headed network, ``play`` runs the policy for evaluation and
export, and ``checks`` holds the spec rules that need no TensorFlow.
"""
