"""SGF (FF[4]) game records: read, write and replay through the checked rules."""

from alphago_jax.sgf.sgf import (
    GameRecord,
    SGFError,
    read_sgf,
    replay,
    result_string,
    rules_for,
    save_sgf,
    setup_actions,
    setup_state,
    write_sgf,
)

__all__ = [
    "GameRecord", "SGFError", "read_sgf", "replay", "result_string", "rules_for", "save_sgf",
    "setup_actions", "setup_state", "write_sgf",
]
