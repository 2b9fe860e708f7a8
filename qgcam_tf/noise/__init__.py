"""Noise tier: noise models, hardware presets, noisy circuits and executors (imports
``quantum`` only)."""

# Names known without importing TensorFlow or Cirq (the CLI's choices); equal to the noise
# modules' presets() and simulation methods (tests/cli).
PRESET_NAMES = ("rainbow", "weber", "depolarizing", "amplitude_damping", "phase_damping", "readout")
SIMULATION_METHODS = ("auto", "density", "trajectories")
