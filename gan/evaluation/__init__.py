"""Scoring generators: the protocol (`protocol`: features of generated and real images, metrics
with the settings they were computed under), the metrics, the feature networks (FID's Inception,
the embedded dataset's evaluator) and recognisability, which needs no network.

Nothing here imports `gan.training`: evaluation reads a train state, it does not make one.
"""
