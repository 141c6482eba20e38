"""Steering: feature interventions during generation (`steer`, `steering_sweep`)."""

from saewidgets.analysis.steering.interventions import Intervention, SteeringError
from saewidgets.analysis.steering.run import SteeringResult, SweepResult, steer, steering_sweep
from saewidgets.analysis.steering.screen import find_steering_features

__all__ = [
    "Intervention",
    "SteeringError",
    "SteeringResult",
    "SweepResult",
    "find_steering_features",
    "steer",
    "steering_sweep",
]
