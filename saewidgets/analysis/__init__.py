"""The analysis layer: pure results objects computed from a model and its SAEs.

trace, feature statistics, labels, evaluation, steering and attribution. Nothing here touches
the DOM or traitlets.
"""
