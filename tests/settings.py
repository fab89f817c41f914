"""Settings for tests, derived from `TrainConfig` defaults like the package's own (the settings
types have no defaults of their own): `net_config(blocks=1)`, `search_settings(...)`, ..."""

from __future__ import annotations

from alphago_jax.config import TrainConfig
from alphago_jax.nets import NetConfig, Network
from alphago_jax.search.mcts import SearchSettings
from alphago_jax.selfplay.selfplay import SelfPlaySettings


def net_config(**given) -> NetConfig:
    """`TrainConfig().net_config()` with `given` fields replaced (unchecked until built)."""
    import dataclasses

    return dataclasses.replace(TrainConfig().net_config(), **given)


def network(num_planes: int, **given) -> Network:
    return Network(net_config(**given), num_planes)


def search_settings(**given) -> SearchSettings:
    return TrainConfig().search_settings()._replace(**given)


def selfplay_settings(**given) -> SelfPlaySettings:
    return TrainConfig().selfplay_settings()._replace(**given)
