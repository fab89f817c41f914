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
    """The default search without its Go-knowledge rules (toy positions test the search)."""
    plain = dict(no_eye_fill=False, pass_when_won=False, pass_only_to_win=False)
    return TrainConfig().search_settings()._replace(**{**plain, **given})


def selfplay_settings(**given) -> SelfPlaySettings:
    return TrainConfig().selfplay_settings()._replace(**given)
