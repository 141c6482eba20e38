"""Training SAEs: the activation cache, the trainer and the recipes of the shipped SAEs."""

from saewidgets.training.trainer import TrainConfig, TrainResult, train_sae, train_saes

__all__ = ["TrainConfig", "TrainResult", "train_sae", "train_saes"]
